"""Where a URL in a page leads: its host and path, read the way a browser's URL parser does.

Pure: standard library only. Follows the WHATWG URL Standard where it decides which
server a browser contacts for an ``http``/``https`` URL:

* leading and trailing C0 controls and spaces are stripped, ASCII tab and newline removed
  anywhere;
* backslashes count as slashes, and a special scheme needs no slashes at all
  (``https:host/x`` on an ``http`` page, or with no known base, is ``https://host/x``);
* the host is percent-decoded (``googletagmanager%2ecom``), mapped the IDNA way (case
  folded, compatibility forms such as full-width letters normalised, the "mapped to
  nothing" code points dropped) and every IDNA dot (U+3002, U+FF0E, U+FF61) is a dot;
* user info and port are dropped, trailing dots ignored;
* a relative URL resolves against a base (a document's ``<base href>``) when one is known.

Over-reading is safe here (a URL wrongly read as a tracker's is only blocked), so where the
standard would reject a host outright this module still returns its best reading.
"""

from __future__ import annotations

import re
import stringprep
import unicodedata
from typing import Final, NamedTuple
from urllib.parse import unquote_to_bytes

__all__ = ["HostPath", "host_path", "map_host"]

_C0_SPACE: Final = "".join(chr(c) for c in range(0x21))
_TAB_NL: Final = str.maketrans("", "", "\t\n\r")
_SCHEME: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_SPECIAL: Final = frozenset({"http", "https", "ws", "wss", "ftp"})
_LOADING: Final = frozenset({"http", "https"})
_DOTS: Final = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_AUTHORITY_END: Final = re.compile(r"[/\\?#]")
_PATH_END: Final = re.compile(r"[?#]")


class HostPath(NamedTuple):
    """Where an ``http``/``https`` URL leads."""

    scheme: str
    host: str
    """ASCII lower case where the URL parser maps it so; no trailing dot, no port."""
    path: str
    """Starts with ``/``; no query or fragment; backslashes as slashes."""


def map_host(raw: str) -> str:
    """A URL's host as the browser looks it up: decoded, IDNA-mapped, lower case."""
    if "%" in raw:
        raw = unquote_to_bytes(raw).decode("utf-8", "replace")
    if raw.isascii():
        host = raw.lower()
    else:
        # nameprep's mapping (RFC 3491): what UTS 46 maps too for every character a
        # tracker's ASCII name could be spelled with
        mapped = "".join(
            "" if stringprep.in_table_b1(ch) else stringprep.map_table_b2(ch) for ch in raw
        )
        host = unicodedata.normalize("NFKC", mapped).translate(_DOTS).lower()
    return host.rstrip(".")


def _split_authority(rest: str) -> tuple[str, str]:
    """``(host, path)`` from what follows the slashes of a special URL."""
    found = _AUTHORITY_END.search(rest)
    end = found.start() if found is not None else len(rest)
    host = rest[:end].rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.partition(":")[0]
    return map_host(host), _path(rest[end:])


def _path(rest: str) -> str:
    """The path as the server reads it: dot segments resolved, percent-decoded."""
    found = _PATH_END.search(rest)
    path = (rest[: found.start()] if found is not None else rest).replace("\\", "/")
    if "%" in path:
        path = unquote_to_bytes(path).decode("utf-8", "replace")
    if not path.startswith("/"):
        path = "/" + path
    if "." in path:
        segments: list[str] = []
        for segment in path.split("/")[1:]:
            if segment == "..":
                if segments:
                    segments.pop()
            elif segment != ".":
                segments.append(segment)
        path = "/" + "/".join(segments)
    return path


def host_path(url: str, base: HostPath | None = None) -> HostPath | None:
    """Where *url* leads if it is (or resolves against *base* to) an http(s) URL, else ``None``.

    *url* is the attribute value as the browser reads it (character references decoded).
    Without *base*, relative URLs give ``None``.
    """
    url = url.strip(_C0_SPACE).translate(_TAB_NL)
    scheme_match = _SCHEME.match(url)
    if scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        if scheme not in _SPECIAL:
            return None
        rest = url[scheme_match.end() :]
        if base is not None and base.scheme == scheme and rest[:1] not in ("/", "\\"):
            # "https:x" on an https page is relative to it
            return _relative(rest, base)
        if scheme not in _LOADING:
            return None
        host, path = _split_authority(rest.lstrip("/\\"))
        return HostPath(scheme, host, path) if host else None
    if url[:2].replace("\\", "/") == "//":
        if base is None:
            scheme = "https"
        elif base.scheme in _LOADING:
            scheme = base.scheme
        else:
            return None
        host, path = _split_authority(url.lstrip("/\\"))
        return HostPath(scheme, host, path) if host else None
    if base is None:
        return None
    return _relative(url, base)


def _relative(url: str, base: HostPath) -> HostPath:
    if url[:1] in ("/", "\\"):
        return HostPath(base.scheme, base.host, _path(url))
    if url[:1] in ("?", "#", ""):
        return base
    directory = base.path.rpartition("/")[0]
    return HostPath(base.scheme, base.host, _path(directory + "/" + url))
