"""Compression bombs in app-supplied HTML: decoding stops at a configurable cap (A6)."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable

import brotli
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConfigError, ConsentMiddleware
from consentkit.web.encodings import BodyTooLarge, CorruptBody, codec_for

from ..conftest import SECRET, site_policy

MIB = 1024 * 1024
_ZEROS = b"\0" * MIB


def _gzip_bomb(mib: int) -> bytes:
    """About 1 KiB per MiB of zeros: 300 MiB in a 299 KiB body."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(c.compress(_ZEROS) for _ in range(mib)) + c.flush()


def _deflate_bomb(mib: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    return b"".join(c.compress(_ZEROS) for _ in range(mib)) + c.flush()


def _brotli_bomb(mib: int) -> bytes:
    """313 MiB of zeros in under 1 KiB."""
    c = brotli.Compressor(quality=5)
    return b"".join(bytes(c.process(_ZEROS)) for _ in range(mib)) + bytes(c.finish())


BOMBS: list[tuple[str, Callable[[int], bytes]]] = [
    ("gzip", _gzip_bomb),
    ("deflate", _deflate_bomb),
    ("br", _brotli_bomb),
]


@pytest.mark.parametrize(("encoding", "bomb"), BOMBS)
def test_decoders_refuse_a_bomb_without_allocating_it(
    encoding: str, bomb: Callable[[int], bytes]
) -> None:
    body = bomb(313)
    assert len(body) < 320 * 1024
    codec = codec_for(encoding, 1 * MIB)
    assert codec is not None
    decoder = codec[0]
    produced = 0
    tracemalloc.start()
    try:
        refused = False
        # Fed in chunks, as a streaming app sends it.
        for start in range(0, len(body), 16 * 1024):
            try:
                produced += len(decoder.decode(body[start : start + 16 * 1024]))
            except BodyTooLarge:
                refused = True
                break
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused
    assert produced <= 1 * MIB
    assert peak < 8 * MIB, f"peak {peak} bytes"
    assert issubclass(BodyTooLarge, CorruptBody)


@pytest.mark.parametrize(("encoding", "bomb"), BOMBS)
def test_decoders_pass_bodies_within_the_cap(encoding: str, bomb: Callable[[int], bytes]) -> None:
    codec = codec_for(encoding, 2 * MIB)
    assert codec is not None
    assert codec[0].decode(bomb(2)) == b"\0" * (2 * MIB)


@pytest.mark.parametrize("encoding", [name for name, _ in BOMBS])
def test_middleware_ends_a_bomb_page_at_the_cap(encoding: str) -> None:
    prefix = b"<!doctype html><html><head></head><body><p>hi</p>"
    body = _bomb_page(encoding, prefix, 64)

    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html", headers={"Content-Encoding": encoding})

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        ConsentMiddleware, policy=site_policy(), secret_key=SECRET, max_decoded_size=MIB
    )
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    # Decoded by the test client: the page ends within the cap, nothing past it is
    # passed through unrewritten, and the banner is still there.
    assert len(response.content) <= MIB + 64 * 1024
    assert b"consentkit.js" in response.content


def _bomb_page(encoding: str, prefix: bytes, mib: int) -> bytes:
    if encoding == "br":
        c: object = brotli.Compressor(quality=5)
        parts = [bytes(c.process(prefix))]  # type: ignore[attr-defined]
        parts += [bytes(c.process(_ZEROS)) for _ in range(mib)]  # type: ignore[attr-defined]
        return b"".join(parts) + bytes(c.finish())  # type: ignore[attr-defined]
    wbits = 31 if encoding == "gzip" else zlib.MAX_WBITS
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return z.compress(prefix) + b"".join(z.compress(_ZEROS) for _ in range(mib)) + z.flush()


@pytest.mark.parametrize("value", [0, 1024, -1, True, "1"])
def test_max_decoded_size_is_validated(value: object) -> None:
    with pytest.raises(ConfigError, match="max_decoded_size"):
        ConsentMiddleware(
            Starlette(), policy=site_policy(), secret_key=SECRET, max_decoded_size=value
        )
