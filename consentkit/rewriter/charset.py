"""Which charset a document uses, and the UTF-16 detour around the byte-level tokenizer."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from ..mime import extract_mime_type
from .labels import REPLACEMENT, whatwg_codec

__all__ = ["REPLACEMENT", "ascii_compatible", "canonical", "sniff_charset", "transcode"]

_META_CHARSET = re.compile(
    rb"""<meta[\t\n\f\r /][^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I
)
_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.S)


def canonical(label: str) -> str | None:
    """The Python codec a browser's decoder matches for *label*; ``None`` when no browser
    knows the label; :data:`REPLACEMENT` for the encodings a browser refuses to decode."""
    return whatwg_codec(label)


def sniff_charset(content_type: str | None, first_bytes: bytes) -> str | None:
    """Return the Python codec name of a document, or ``None`` when nothing says.

    A byte order mark wins, then the ``charset`` of the Content-Type header (*content_type*
    is the combined value of every ``Content-Type`` line, read as Fetch does), then a
    ``<meta charset>`` / ``<meta http-equiv content>`` in the first 1024 bytes (where, as
    browsers do, a declared UTF-16 means UTF-8). Only WHATWG labels count: a label no
    browser knows is skipped, as browsers skip it.
    """
    if first_bytes.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if first_bytes.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if first_bytes.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    mime = extract_mime_type(content_type) if content_type else None
    if mime is not None and mime.charset is not None:
        name = canonical(mime.charset)
        if name is not None:
            return name
    found_meta = _META_CHARSET.search(_COMMENT.sub(b"", first_bytes[:1024]))
    if found_meta is not None:
        name = canonical(found_meta.group(1).decode("ascii", "replace"))
        if name is not None:
            return "utf-8" if name.startswith("utf-16") else name
    return None


def ascii_compatible(encoding: str) -> bool:
    """Whether markup characters have their ASCII bytes in *encoding*."""
    probe = "<a b='c' d=\"e\">\t\n\f\r/!?-=</a>"
    try:
        return probe.encode(encoding) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def transcode(
    inner: Callable[[bytes, bool], bytes],
    decoder: codecs.IncrementalDecoder,
    recoder: codecs.IncrementalDecoder,
    encoding: str,
    chunk: bytes,
    final: bool,
) -> bytes:
    """Run a UTF-16 chunk through the byte-level *inner* as UTF-8 and back, losslessly."""
    tail = b""
    text = decoder.decode(chunk, False)
    if final:
        rest = decoder.getstate()[0]
        try:
            text += decoder.decode(b"", True)
        except UnicodeDecodeError:
            tail = rest
    out = inner(text.encode("utf-8", "surrogatepass"), final)
    return recoder.decode(out, final).encode(encoding, "surrogatepass") + tail
