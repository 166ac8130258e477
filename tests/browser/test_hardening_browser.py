"""Attacks judged by a real Chromium: what the browser stores or runs, not what we parse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from consentkit import ConsentMiddleware, Policy

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-0123456789abcdef"
# Dates RFC 6265bis reads as 1970 and Chromium reads as no date (a session cookie).
CHROMIUM_IGNORES = [
    "Thu, 01 Jan 1970:00:00 00:00:00 GMT",
    "01 Jan 70x 00:00:00",
    "Jan 1 00:00:00 1970abc",
]
# Read as 1970 by Chromium too, but not by every browser: still no deletion for us.
AMBIGUOUS = ["1 Jan 1970 00:00:00:00"]


async def _set(request: Request) -> Response:
    """Sends the Set-Cookie line given in the query, verbatim."""
    response = PlainTextResponse("ok")
    response.raw_headers.append((b"set-cookie", request.query_params["line"].encode()))
    return response


def _cookie_app(*, enforced: bool) -> Starlette:
    app = Starlette(routes=[Route("/set", _set)])
    if enforced:
        app.add_middleware(ConsentMiddleware, policy=Policy(), secret_key=SECRET)
    return app


def _cookies_after(context: BrowserContext, url: str, lines: list[str]) -> dict[str, str]:
    page = context.new_page()
    for line in lines:
        page.request.get(f"{url}/set", params={"line": line})
    return {c["name"]: c["value"] for c in context.cookies(url)}


@pytest.mark.parametrize("date", CHROMIUM_IGNORES + AMBIGUOUS)
def test_chromium_stores_a_lookalike_deletion_and_the_middleware_drops_it(
    date: str, serve: Callable[..., str], new_context: Callable[..., BrowserContext]
) -> None:
    line = f"_fbp=X; Expires={date}; Path=/"
    # The judge: without enforcement Chromium ignores the date and keeps the cookie.
    raw = serve(_cookie_app(enforced=False))
    stored = _cookies_after(new_context(), raw, [line]).get("_fbp")
    assert stored == ("X" if date in CHROMIUM_IGNORES else None)
    enforced = serve(_cookie_app(enforced=True))
    assert "_fbp" not in _cookies_after(new_context(), enforced, [line])


def test_chromium_applies_the_canonical_deletion(
    serve: Callable[..., str], new_context: Callable[..., BrowserContext]
) -> None:
    url = serve(_cookie_app(enforced=True))
    context = new_context()
    # Set through the middleware's own path, as a necessary cookie would be, then delete.
    context.add_cookies([{"name": "_fbp", "value": "old", "url": url}])
    cookies = _cookies_after(
        context, url, ["_fbp=tracker-id; Max-Age=0; Expires=Thu, 01 Jan 2099 00:00:00 GMT"]
    )
    assert "_fbp" not in cookies
