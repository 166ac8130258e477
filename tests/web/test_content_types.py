"""Pages with odd ``Content-Type`` headers are enforced under ASGI and WSGI, or withheld."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from ..content_types import ODD_HTML_TYPES, WITHHELD
from .test_middleware_html import (
    PAGE,
    TRACKER,
    body_of,
    call,
    middleware,
    raw_app,
    split,
    start_of,
)
from .test_wsgi import call as wsgi_call
from .test_wsgi import html_app, wrap

LIVE_TRACKER = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1">'


def assert_enforced(content_type: str, body: bytes) -> None:
    assert LIVE_TRACKER not in body
    if content_type in WITHHELD:
        assert body == b""
    else:
        assert b'data-ck-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in body


@pytest.mark.parametrize("content_type", ODD_HTML_TYPES)
async def test_asgi_blocks_the_tracker(content_type: str) -> None:
    assert TRACKER.startswith(LIVE_TRACKER)
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(PAGE)).encode()),
    ]
    sent = await call(middleware(raw_app([PAGE], headers)))
    assert start_of(sent)["status"] == 200
    assert_enforced(content_type, body_of(sent))


async def test_asgi_joins_repeated_content_type_lines() -> None:
    headers = [(b"content-type", b"text/plain"), (b"Content-Type", b"text/html")]
    sent = await call(middleware(raw_app([PAGE], headers)))
    assert_enforced("text/html", body_of(sent))


@pytest.mark.parametrize("content_type", ODD_HTML_TYPES)
def test_wsgi_blocks_the_tracker(content_type: str) -> None:
    got = wsgi_call(wrap(html_app(content_type=content_type)))
    assert got.status.startswith("200")
    assert_enforced(content_type, got.body)


# -- no Content-Type: the browser sniffs the body ------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4 + b"<script src=x></script>"


@pytest.mark.parametrize("size", [1, 7, 64, len(PAGE)])
async def test_asgi_sniffs_a_page_without_content_type_at_every_split(size: int) -> None:
    headers = [(b"content-length", str(len(PAGE)).encode())]
    sent = await call(middleware(raw_app(split(PAGE, size), headers)))
    body = body_of(sent)
    assert_enforced("text/html", body)
    assert b"data-ck-banner" in body
    lengths = [v for k, v in start_of(sent)["headers"] if k.lower() == b"content-length"]
    assert lengths in ([], [str(len(body)).encode()])
    assert b"private" in dict(start_of(sent)["headers"]).get(b"cache-control", b"")
    # Said outright: what goes in front of the page must not change what a browser sniffs.
    assert dict(start_of(sent)["headers"]).get(b"content-type") == b"text/html"


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (PNG, []),
        (b"hello <script src=x></script>", []),
        (PAGE, [(b"x-content-type-options", b"nosniff")]),
    ],
)
async def test_asgi_leaves_what_a_browser_would_not_render_as_html(
    data: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [(b"content-length", str(len(data)).encode()), *extra]
    sent = await call(middleware(raw_app(split(data, 5), headers)))
    assert body_of(sent) == data
    lengths = [v for k, v in start_of(sent)["headers"] if k.lower() == b"content-length"]
    assert lengths == [str(len(data)).encode()]


@pytest.mark.parametrize("generator", [False, True])
def test_wsgi_sniffs_a_page_without_content_type(generator: bool) -> None:
    def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(len(PAGE)))])
        return iter(split(PAGE, 9)) if generator else [PAGE]

    got = wsgi_call(wrap(app))
    assert_enforced("text/html", got.body)
    assert got.getlist("content-length") in ([], [str(len(got.body))])


def test_wsgi_leaves_a_binary_body_without_content_type() -> None:
    def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(len(PNG)))])
        return [PNG]

    got = wsgi_call(wrap(app))
    assert got.body == PNG
    assert got.getlist("content-length") == [str(len(PNG))]


@pytest.mark.parametrize("encoding", ["zstd", "gzip, br", "exotic"])
async def test_asgi_withholds_a_body_without_content_type_it_cannot_decode(
    encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A browser would decode it, sniff the page inside and run its trackers.
    wire = bytes(range(256)) * 3
    headers = [
        (b"content-length", str(len(wire)).encode()),
        (b"content-encoding", encoding.encode()),
    ]
    with caplog.at_level("WARNING", logger="consentkit"):
        sent = await call(middleware(raw_app(split(wire, 100), headers)))
    assert body_of(sent) == b""
    start = dict(start_of(sent)["headers"])
    assert b"content-encoding" not in start
    assert start.get(b"content-length", b"0") == b"0"
    assert any(encoding in r.getMessage() for r in caplog.records)


def test_wsgi_withholds_a_body_without_content_type_it_cannot_decode() -> None:
    wire = bytes(range(256)) * 3

    def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Encoding", "zstd")])
        return [wire]

    got = wsgi_call(wrap(app))
    assert got.body == b""
    assert got.getlist("content-encoding") == []


async def test_asgi_still_passes_a_decodable_binary_body_without_content_type() -> None:
    import gzip

    wire = gzip.compress(PNG)
    headers = [(b"content-length", str(len(wire)).encode()), (b"content-encoding", b"gzip")]
    sent = await call(middleware(raw_app(split(wire, 50), headers)))
    assert body_of(sent) == wire
