"""Attacks judged by a real Chromium: what the browser stores or runs, not what we parse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import BrowserContext, Page
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


# --------------------------------------------------------------------------- nonce CSP

NONCE = "r4nd0mN0nce"
REFLECTED = (
    "<script type='text/plain' data-category='analytics'>window.ran.push('injected')</script>"
    '<script type="text/plain" data-ck-blocked data-ck-category="performance">'
    "window.ran.push('premarked')</script>"
    '<script type="text/plain" data-ck-blocked="guess" data-ck-category="performance">'
    "window.ran.push('guessed-key')</script>"
)
CSP_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Search</title>
<script nonce="{NONCE}">window.ran = [];</script></head>
<body><h1>Results for</h1><div class="q">{{reflected}}</div>
<script nonce="{NONCE}" type="text/plain" data-category="analytics">window.ran.push('own')</script>
<script nonce="{NONCE}" data-consent="performance">window.ran.push('own-marked')</script>
</body></html>"""


async def _search(request: Request) -> Response:
    # A page that reflects visitor input as HTML: the attacker's markup sits in it.
    body = CSP_PAGE.replace("{reflected}", request.query_params.get("q", ""))
    response = Response(body, media_type="text/html")
    response.headers["Content-Security-Policy"] = f"script-src 'nonce-{NONCE}'"
    return response


def _search_site(serve: Callable[..., str], search: Callable[..., Any]) -> str:
    app = Starlette(routes=[Route("/search", search)])
    app.add_middleware(ConsentMiddleware, policy=Policy(), secret_key=SECRET)
    return serve(app)


def _accept_all(page: Page) -> None:
    """Accept everything in the first layer; the page's own marked scripts run then."""
    page.get_by_role("dialog", name="We value your privacy").get_by_role(
        "button", name="Accept all"
    ).click()
    page.wait_for_function("() => window.ran.length >= 2")


def test_accept_all_runs_only_what_the_server_blocked_with_its_own_nonce(
    serve: Callable[..., str], new_context: Callable[..., BrowserContext]
) -> None:
    url = _search_site(serve, _search)
    page = new_context().new_page()
    page.goto(f"{url}/search?q={quote(REFLECTED)}")
    assert page.evaluate("window.ran") == []
    _accept_all(page)
    page.wait_for_timeout(300)  # give anything else that might run its chance
    assert sorted(page.evaluate("window.ran")) == ["own", "own-marked"]


EMPTY_KEY = (
    '<script type="text/plain" data-ck-blocked="" data-ck-category="performance">'
    "window.ran.push('empty-key')</script>"
    '<meta data-ck-key=""><script type="text/plain" data-ck-blocked data-ck-category="targeting">'
    "window.ran.push('bare-attribute')</script>"
)


async def _search_without_csp(request: Request) -> Response:
    response = await _search(request)
    del response.headers["Content-Security-Policy"]
    return response


def test_a_page_with_nothing_blocked_activates_nothing_on_a_new_choice(
    serve: Callable[..., str], new_context: Callable[..., BrowserContext]
) -> None:
    # A visitor who accepted everything gets pages where nothing is blocked, with an empty
    # key: choosing again on such a page must not run markup the page reflects (no CSP
    # here to stop it).
    url = _search_site(serve, _search_without_csp)
    page = new_context().new_page()
    page.goto(f"{url}/search?q=")
    _accept_all(page)
    page.goto(f"{url}/search?q={quote(REFLECTED + EMPTY_KEY)}")
    assert page.locator("meta[data-ck-key='']").count() == 2  # ours, then the page's
    # Nothing blocked: the page's own marked script runs as it is served.
    assert page.evaluate("window.ran") == ["own-marked"]
    page.evaluate("consentkit.showPreferences()")
    page.get_by_role("dialog", name="Cookie preferences").get_by_role(
        "button", name="Accept all"
    ).click()
    page.wait_for_timeout(300)  # give anything that might run its chance
    assert page.evaluate("window.ran") == ["own-marked"]
