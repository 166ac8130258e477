"""Chromium judges odd ``Content-Type`` headers: without enforcement it renders each page as
HTML and requests the tracker; through the middleware it requests nothing offsite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext
from starlette.types import Receive, Scope, Send

from consentkit import ConsentMiddleware, Policy

from ..content_types import ODD_HTML_TYPES, WITHHELD
from .conftest import Offsite

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-0123456789abcdef"
TRACKER_URL = "https://www.googletagmanager.com/gtag/js?id=G-odd"
PAGE = (
    b"<!doctype html><html><head><title>odd</title></head><body><p>hello</p>"
    b'<script src="' + TRACKER_URL.encode() + b'"></script></body></html>'
)


def page_app(content_type: str) -> Callable[[Scope, Receive, Send], object]:
    """Serves PAGE with the given Content-Type, verbatim."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type.encode("latin-1"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    return app


def tracker_requests(offsite: Offsite) -> list[str]:
    return [url for url in offsite.urls if url.startswith("https://www.googletagmanager.com/")]


@pytest.mark.parametrize("content_type", [t for t in ODD_HTML_TYPES if t not in WITHHELD])
def test_chromium_loads_the_tracker_of_an_odd_page_unless_enforced(
    content_type: str,
    serve: Callable[..., str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
) -> None:
    # The judge: served as is, Chromium renders the page as HTML and requests the tracker.
    raw = serve(page_app(content_type))
    new_context().new_page().goto(raw, wait_until="load")
    assert tracker_requests(offsite) == [TRACKER_URL]
    offsite.urls.clear()
    enforced = serve(ConsentMiddleware(page_app(content_type), policy=Policy(), secret_key=SECRET))
    page = new_context().new_page()
    page.goto(enforced, wait_until="load")
    assert tracker_requests(offsite) == []
    assert page.locator("script[data-ck-blocked]").count() == 1


@pytest.mark.parametrize("content_type", sorted(WITHHELD))
def test_a_page_in_the_replacement_encoding_is_withheld(
    content_type: str,
    serve: Callable[..., str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
) -> None:
    enforced = serve(ConsentMiddleware(page_app(content_type), policy=Policy(), secret_key=SECRET))
    page = new_context().new_page()
    response = page.goto(enforced, wait_until="load")
    assert response is not None
    assert response.status == 200
    assert tracker_requests(offsite) == []
    assert response.body() == b""


def bare_app(body: bytes, headers: list[tuple[bytes, bytes]]) -> Callable[..., object]:
    """Serves *body* with exactly *headers* (none of them a Content-Type)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    ("body", "headers", "chromium_loads"),
    [
        (PAGE, [], True),
        (b"\n  <p>news</p>" + PAGE[PAGE.index(b"<script") :], [], True),
        (PAGE, [(b"x-content-type-options", b"nosniff")], False),
        (b"note: " + PAGE, [], False),
    ],
    ids=["doctype", "leading-p", "nosniff", "text-first"],
)
def test_a_page_without_content_type_is_judged_as_chromium_sniffs_it(
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    chromium_loads: bool,
    serve: Callable[..., str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
) -> None:
    # The judge: served raw, does Chromium sniff it as HTML and request the tracker?
    raw = serve(bare_app(body, headers))
    new_context().new_page().goto(raw, wait_until="load")
    assert tracker_requests(offsite) == ([TRACKER_URL] if chromium_loads else [])
    offsite.urls.clear()
    enforced = serve(ConsentMiddleware(bare_app(body, headers), policy=Policy(), secret_key=SECRET))
    page = new_context().new_page()
    response = page.goto(enforced, wait_until="load")
    assert response is not None
    assert tracker_requests(offsite) == []
    if chromium_loads:
        assert page.locator("script[data-ck-blocked]").count() == 1
    else:  # not HTML to the browser: the bytes pass untouched
        assert response.body() == body


def test_a_page_without_content_type_in_an_encoding_consentkit_cannot_decode_is_withheld(
    serve: Callable[..., str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
) -> None:
    import gzip

    import brotli

    # gzip, then brotli: Chromium undoes both, sniffs the page inside and runs its tracker.
    body = brotli.compress(gzip.compress(PAGE))
    headers = [(b"content-encoding", b"gzip, br")]
    raw = serve(bare_app(body, headers))
    new_context().new_page().goto(raw, wait_until="load")
    assert tracker_requests(offsite) == [TRACKER_URL]
    offsite.urls.clear()
    enforced = serve(ConsentMiddleware(bare_app(body, headers), policy=Policy(), secret_key=SECRET))
    response = new_context().new_page().goto(enforced, wait_until="load")
    assert response is not None
    assert tracker_requests(offsite) == []
    assert response.body() == b""
