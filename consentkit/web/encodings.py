"""Content codecs for rewriting compressed HTML: one table, as httpx keeps its decoders.

Each entry of :data:`CODECS` builds a fresh decoder/encoder pair for one response.
A decoder has ``decode(chunk) -> bytes`` and raises :class:`CorruptBody` on bad
input; an encoder has ``encode(chunk, final=...) -> bytes`` and flushes at every
chunk so a streamed page reaches the browser as it is written.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol

__all__ = ["CODECS", "CorruptBody", "Decoder", "Encoder", "codec_for"]


class CorruptBody(Exception):
    """A compressed body that does not decode."""


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


class GzipDecoder:
    """gzip, including several members back to back as some servers stream it."""

    _MAGIC: Final = b"\x1f\x8b"

    def __init__(self) -> None:
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
                out.append(self._obj.decompress(data))
            except zlib.error as exc:
                raise CorruptBody(str(exc)) from None
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)


class DeflateDecoder:
    """``deflate`` is zlib-wrapped by the standard but raw in some servers: accept both."""

    def __init__(self) -> None:
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
            return bytes(self._obj.decompress(data))
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
    def __init__(self, module: Any) -> None:
        self._obj = module.Decompressor()
        self._error: type[Exception] = module.error

    def decode(self, data: bytes) -> bytes:
        try:
            return bytes(self._obj.process(data))
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


def _brotli() -> tuple[Decoder, Encoder] | None:
    try:
        import brotli
    except ImportError:
        return None  # the optional ``consentkit[brotli]`` extra is not installed
    return BrotliDecoder(brotli), BrotliEncoder(brotli)


CODECS: Final[Mapping[str, Callable[[], tuple[Decoder, Encoder] | None]]] = MappingProxyType(
    {
        "identity": lambda: (IdentityDecoder(), IdentityEncoder()),
        "gzip": lambda: (GzipDecoder(), ZlibEncoder(31)),
        "x-gzip": lambda: (GzipDecoder(), ZlibEncoder(31)),
        "deflate": lambda: (DeflateDecoder(), ZlibEncoder(zlib.MAX_WBITS)),
        "br": _brotli,
    }
)
"""``Content-Encoding`` (lowered) to a factory of a fresh decoder/encoder pair."""


def codec_for(encoding: str) -> tuple[Decoder, Encoder] | None:
    """A fresh decoder/encoder pair for *encoding*, or ``None`` when it cannot be handled."""
    factory = CODECS.get(encoding)
    return factory() if factory is not None else None
