"""Pages with odd ``Content-Type`` headers are enforced under ASGI and WSGI, or withheld."""

from __future__ import annotations

import pytest

from ..content_types import ODD_HTML_TYPES, WITHHELD
from .test_middleware_html import PAGE, TRACKER, body_of, call, middleware, raw_app, start_of
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
