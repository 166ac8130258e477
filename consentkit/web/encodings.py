"""Content codecs for rewriting compressed HTML: one table, as httpx keeps its decoders.

Each entry of :data:`CODECS` builds a fresh decoder/encoder pair for one response.
A decoder has ``decode(chunk) -> bytes`` and raises :class:`CorruptBody` on bad
input, and :class:`BodyTooLarge` (a :class:`CorruptBody`) before its total output
would pass its limit: a small compression bomb never becomes hundreds of MiB. An
encoder has ``encode(chunk, final=...) -> bytes`` and flushes at every
chunk so a streamed page reaches the browser as it is written.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol

__all__ = [
    "CODECS",
    "DEFAULT_MAX_DECODED",
    "BodyTooLarge",
    "CorruptBody",
    "Decoder",
    "Encoder",
    "codec_for",
]

DEFAULT_MAX_DECODED: Final = 32 * 1024 * 1024
"""Default cap on one compressed HTML body's decoded size (``max_decoded_size``)."""


class CorruptBody(Exception):
    """A compressed body that does not decode."""


class BodyTooLarge(CorruptBody):
    """A compressed body that decodes to more than the configured limit."""


class _Budget:
    """The decoded bytes one body may still produce."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def bound(self) -> int:
        """The most a decompression call may return: one byte past the budget."""
        return self.left + 1

    def take(self, out: bytes) -> bytes:
        if len(out) > self.left:
            raise BodyTooLarge(f"decoded body exceeds the limit of {self.left} more bytes")
        self.left -= len(out)
        return out


class Decoder(Protocol):
    def decode(self, data: bytes) -> bytes: ...


class Encoder(Protocol):
    def encode(self, data: bytes, *, final: bool) -> bytes: ...


class IdentityDecoder:
    def decode(self, data: bytes) -> bytes:
        return data


class IdentityEncoder:
    def encode(self, data: bytes, *, final: bool) -> bytes:
        return data


_IDENTITY: Final = (IdentityDecoder(), IdentityEncoder())
"""Identity keeps no state: one pair serves every body."""


class GzipDecoder:
    """gzip, including several members back to back as some servers stream it."""

    _MAGIC: Final = b"\x1f\x8b"

    def __init__(self, limit: int = DEFAULT_MAX_DECODED) -> None:
        self._budget = _Budget(limit)
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._between = b""
        self._trailing = False

    def decode(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data and not self._trailing:
            if self._obj.eof:
                data = self._between + data
                if len(data) < 2:
                    self._between = data
                    break
                self._between = b""
                if not data.startswith(self._MAGIC):
                    # Padding after the last member is ignored, as gzip readers do.
                    self._trailing = True
                    break
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out.append(self._budget.take(self._obj.decompress(data, self._budget.bound())))
            except zlib.error as exc:
                raise CorruptBody(str(exc)) from None
            # Within the budget the call consumed all of its input (or ended a member).
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)


class DeflateDecoder:
    """``deflate`` is zlib-wrapped by the standard but raw in some servers: accept both."""

    def __init__(self, limit: int = DEFAULT_MAX_DECODED) -> None:
        self._budget = _Budget(limit)
        self._obj: Any = None
        self._pending = b""

    def decode(self, data: bytes) -> bytes:
        if self._obj is None:
            self._pending += data
            if len(self._pending) < 2:
                return b""
            first = self._pending[0]
            wbits = (
                zlib.MAX_WBITS
                if first & 0x0F == 8 and (first << 8 | self._pending[1]) % 31 == 0
                else -zlib.MAX_WBITS
            )
            self._obj = zlib.decompressobj(wbits)
            data, self._pending = self._pending, b""
        try:
            return self._budget.take(bytes(self._obj.decompress(data, self._budget.bound())))
        except zlib.error as exc:
            raise CorruptBody(str(exc)) from None


class ZlibEncoder:
    """gzip (``wbits=31``) or zlib-wrapped deflate (``wbits=15``) at level 6."""

    def __init__(self, wbits: int) -> None:
        self._obj = zlib.compressobj(6, zlib.DEFLATED, wbits)

    def encode(self, data: bytes, *, final: bool) -> bytes:
        out = self._obj.compress(data)
        if final:
            out += self._obj.flush()
        elif data:
            out += self._obj.flush(zlib.Z_SYNC_FLUSH)
        return out


class BrotliDecoder:
    def __init__(self, module: Any, limit: int = DEFAULT_MAX_DECODED) -> None:
        self._budget = _Budget(limit)
        self._obj = module.Decompressor()
        self._error: type[Exception] = module.error

    def decode(self, data: bytes) -> bytes:
        try:
            out = self._obj.process(data, output_buffer_limit=self._budget.bound())
            return self._budget.take(bytes(out))
        except self._error as exc:
            raise CorruptBody(str(exc)) from None


class BrotliEncoder:
    def __init__(self, module: Any) -> None:
        self._obj = module.Compressor()

    def encode(self, data: bytes, *, final: bool) -> bytes:
        out = bytes(self._obj.process(data))
        if final:
            return out + bytes(self._obj.finish())
        if data:
            out += bytes(self._obj.flush())
        return out


def _brotli(limit: int) -> tuple[Decoder, Encoder] | None:
    try:
        import brotli
    except ImportError:
        return None  # the optional ``consentkit[brotli]`` extra is not installed
    return BrotliDecoder(brotli, limit), BrotliEncoder(brotli)


CODECS: Final[Mapping[str, Callable[[int], tuple[Decoder, Encoder] | None]]] = MappingProxyType(
    {
        "identity": lambda limit: _IDENTITY,
        "gzip": lambda limit: (GzipDecoder(limit), ZlibEncoder(31)),
        "x-gzip": lambda limit: (GzipDecoder(limit), ZlibEncoder(31)),
        "deflate": lambda limit: (DeflateDecoder(limit), ZlibEncoder(zlib.MAX_WBITS)),
        "br": _brotli,
    }
)
"""``Content-Encoding`` (lowered) to a factory of a fresh decoder/encoder pair (identity's
pair is shared: it keeps no state).

The factory takes the most bytes the decoder may produce for the whole body.
"""


def codec_for(
    encoding: str, max_decoded: int = DEFAULT_MAX_DECODED
) -> tuple[Decoder, Encoder] | None:
    """A decoder/encoder pair for *encoding* (fresh, but for identity's stateless one), or
    ``None`` when it cannot be handled.

    The decoder raises :class:`BodyTooLarge` before producing more than *max_decoded* bytes.
    """
    factory = CODECS.get(encoding)
    return factory(max_decoded) if factory is not None else None
