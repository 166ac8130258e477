"""Per-service consent in real Chromium: YouTube without Meta, one service withdrawn.

The page embeds a YouTube frame and runs a Meta pixel, both marked the way other consent
tools mark them (``data-service``) and served from 127.0.0.1; the server sets one cookie of
each service, and the pixel script writes one more from JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentkit import ConsentMiddleware, CookieRule, Policy

from .conftest import Offsite, run_axe

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-0123456789abcdef"

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Videos</title>
<script>window.ckMarks = [];</script>
<script data-service="meta-pixel" src="/asset/pixel.js"></script>
</head>
<body>
<main>
<h1>Videos</h1>
<iframe data-service="youtube" src="/embed/video" title="Product video" width="300"></iframe>
<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView" alt="" width="1" height="1">
</main>
</body>
</html>"""
PIXEL_JS = 'window.ckMarks.push("pixel"); document.cookie = "_fbc=fb.1.js; path=/";'


def make_app() -> ConsentMiddleware:
    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("sessionid", "s1", httponly=True)
        response.set_cookie("_fbp", "fb.1.1", max_age=3600)  # Meta Pixel
        response.set_cookie("YSC", "yt1", max_age=3600)  # YouTube
        return response

    async def pixel(request: Request) -> Response:
        return Response(PIXEL_JS, media_type="text/javascript")

    async def video(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>video</title><p id=v>Playing</p>")

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/asset/pixel.js", pixel),
            Route("/embed/video", video),
        ]
    )
    policy = Policy(
        revision="1",
        cookies=(
            CookieRule("sessionid", "necessary", provider="Videos"),
            CookieRule("_fbp", "targeting", provider="Meta", purpose="Ads"),
            CookieRule("YSC", "targeting", provider="YouTube", purpose="Video statistics"),
        ),
    )
    return ConsentMiddleware(app, policy=policy, secret_key=SECRET)


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve(make_app())


def cookie_names(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


def frame_plays(page: Page) -> bool:
    frame = page.frame_locator("iframe[title='Product video']")
    try:
        expect(frame.locator("#v")).to_have_text("Playing", timeout=3000)
    except AssertionError:
        return False
    return True


def marks(page: Page) -> list[str]:
    return list(page.evaluate("window.ckMarks"))


def test_youtube_only_with_javascript(page: Page, url: str, offsite: Offsite) -> None:
    page.goto(url)
    assert marks(page) == []
    holder = page.locator("[data-ck-placeholder]")
    expect(holder.get_by_role("button", name="Load content from YouTube")).to_be_visible()
    holder.get_by_role("button", name="Always allow YouTube").click()
    assert frame_plays(page)
    assert page.evaluate("consentkit.allowsService('youtube')") is True
    assert page.evaluate("consentkit.allowsService('meta-pixel')") is False
    assert page.evaluate("consentkit.allows('targeting')") is False
    page.reload()
    assert frame_plays(page)
    assert marks(page) == []
    names = cookie_names(page)
    assert "YSC" in names
    assert not names & {"_fbp", "_fbc"}
    assert not [u for u in offsite.urls if "facebook" in u]


def test_youtube_only_without_javascript(
    new_context: Callable[..., BrowserContext], url: str, offsite: Offsite
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(url)
    holder = page.locator("[data-ck-placeholder]")
    with page.expect_navigation():
        holder.get_by_role("button", name="Always allow YouTube").click()
    assert page.locator("iframe[title='Product video']").get_attribute("src") == "/embed/video"
    assert frame_plays(page)
    assert page.locator("script[data-service='meta-pixel']").get_attribute("src") is None
    page.reload()
    names = cookie_names(page)
    assert "YSC" in names
    assert "_fbp" not in names
    assert not [u for u in offsite.urls if "facebook" in u]


def test_refusing_one_service_after_its_category(page: Page, url: str) -> None:
    page.goto(url)
    page.locator("[data-ck-banner]").get_by_role("button", name="Accept all").click()
    page.wait_for_function("window.ckMarks.length === 1")
    page.reload()
    assert {"_fbp", "_fbc", "YSC"} <= cookie_names(page)
    assert marks(page) == ["pixel"]
    # Refuse Meta Pixel only, through the page's own script.
    page.evaluate(
        """() => fetch('/_consent', {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
             body: JSON.stringify({action: 'save',
               categories: ['performance', 'functionality', 'targeting'],
               refused_services: ['meta-pixel']})}).then(r => r.json())"""
    )
    names = cookie_names(page)
    assert not names & {"_fbp", "_fbc"}, "the server expired the service's cookies"
    assert "YSC" in names
    page.reload()
    assert marks(page) == [], "its script stops on reload"
    assert frame_plays(page)
    assert not cookie_names(page) & {"_fbp", "_fbc"}
    assert page.evaluate("consentkit.allowsService('meta-pixel')") is False
    assert page.evaluate("consentkit.allows('targeting')") is True


def preferences(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Cookie preferences")


def test_preferences_centre_lists_services_with_their_own_switches(page: Page, url: str) -> None:
    page.goto(url)
    page.locator("[data-ck-banner]").get_by_role("button", name="Customize").click()
    dialog = preferences(page)
    expect(dialog).to_be_visible()
    youtube = dialog.get_by_role("switch", name="YouTube")
    meta = dialog.get_by_role("switch", name="Meta Pixel")
    targeting = dialog.get_by_role("switch", name="Targeting")
    # Nothing is ticked before a choice.
    for switch in (youtube, meta, targeting):
        expect(switch).not_to_be_checked()
    # The category switch sets all of its services; each can then be changed alone, by keyboard.
    targeting.check()
    expect(youtube).to_be_checked()
    expect(meta).to_be_checked()
    meta.focus()
    page.keyboard.press("Space")
    expect(meta).not_to_be_checked()
    violations = run_axe(page, "#ck-prefs")
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    dialog.get_by_role("button", name="Save choices").click()
    page.wait_for_function("window.consentkit.decision.decided === true")
    assert page.evaluate("consentkit.allowsService('youtube')") is True
    assert page.evaluate("consentkit.allowsService('meta-pixel')") is False
    assert page.evaluate("consentkit.allows('targeting')") is True
    assert frame_plays(page)
    page.reload()
    assert marks(page) == []
    assert "_fbp" not in cookie_names(page)
    assert "YSC" in cookie_names(page)


def test_preferences_page_without_javascript_refuses_one_service(
    new_context: Callable[..., BrowserContext], url: str
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(url)
    with page.expect_navigation():
        page.locator("[data-ck-banner]").get_by_role("button", name="Accept all").click()
    assert {"_fbp", "YSC"} <= cookie_names(page)
    page.goto(url + "/_consent/preferences?return_to=/")
    expect(page.get_by_role("switch", name="Meta Pixel")).to_be_checked()
    expect(page.get_by_role("switch", name="YouTube")).to_be_checked()
    page.get_by_role("switch", name="Meta Pixel").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Save choices").click()
    names = cookie_names(page)
    assert "_fbp" not in names, "the refused service's cookie was expired"
    assert "YSC" in names
    assert page.locator("script[data-service='meta-pixel']").get_attribute("src") is None
    assert page.locator("iframe[title='Product video']").get_attribute("src") == "/embed/video"
