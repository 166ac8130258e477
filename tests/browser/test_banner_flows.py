"""The banner in real Chromium: choices with and without JavaScript, keyboard, axe-core.

The test site has one item per optional category (scripts, an iframe, a pixel), each
leaving a marker when it runs, and sets one cookie per category from the server and
two from JavaScript.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from consentkit import ConsentMiddleware, CookieRule, Policy

from .conftest import Offsite, run_axe, screenshot

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-0123456789abcdef"
RECEIPT_KEY = "browser-test-receipt-key-fedcba987654"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 740}
NECESSARY = {"sessionid", "consentkit"}
BANNER_NAME = "We value your privacy"
PREFS_NAME = "Cookie preferences"

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test shop</title>
<script>window.ckMarks = []; window.ckOrder = [];</script>
</head>
<body>
<header><nav aria-label="Site"><a href="/">Home</a> <a href="/other">Other page</a></nav></header>
<main>
<h1>Test shop</h1>
<p>Everything on this page that needs consent leaves a marker when it runs.</p>
<script data-consent="performance" src="/asset/perf.js"></script>
<script data-consent="performance">
  window.ckMarks.push("perf-inline");
  window.ckOrder.push("perf-inline after " + typeof window.perfLib);
</script>
<script data-consent="targeting" src="/asset/ads.js"></script>
<iframe data-consent="functionality" src="/embed" title="Store map" width="300"></iframe>
<img data-consent="targeting" src="/pixel.gif" alt="" width="1" height="1">
<p>More content below the embeds.</p>
</main>
</body>
</html>"""

SCRIPTS = {
    # perf.js is slow on purpose: the inline script after it must still run after it.
    "perf.js": (
        0.3,
        'window.perfLib = function () {}; window.ckMarks.push("perf-ext");'
        ' window.ckOrder.push("perf-ext"); document.cookie = "_pk_id=42; path=/";',
    ),
    "ads.js": (
        0.0,
        'window.ckMarks.push("ads-ext"); document.cookie = "_gcl_au=7; path=/";',
    ),
}
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def site_policy() -> Policy:
    return Policy(
        revision="2026-11",
        knowledge_base=False,
        privacy_url="/privacy",
        cookies=(
            CookieRule(
                "sessionid", "necessary", provider="Test shop", purpose="Login", retention="session"
            ),
            CookieRule(
                "lang",
                "functionality",
                provider="Test shop",
                purpose="Language",
                retention="1 year",
            ),
            CookieRule(
                "_ga",
                "performance",
                provider="Google Analytics",
                purpose="Visits",
                retention="2 years",
            ),
            CookieRule(
                "_pk_id", "performance", provider="Matomo", purpose="Visits", retention="13 months"
            ),
            CookieRule("_fbp", "targeting", provider="Meta", purpose="Ads", retention="90 days"),
            CookieRule(
                "_gcl_au", "targeting", provider="Google Ads", purpose="Ads", retention="90 days"
            ),
        ),
    )


class Site:
    """The test app and what the server saw."""

    def __init__(self, store: Path) -> None:
        self.requests: list[str] = []
        app = Starlette(
            routes=[
                Route("/", self.page),
                Route("/other", self.page),
                Route("/privacy", self.privacy),
                Route("/asset/{name}", self.asset),
                Route("/embed", self.embed),
                Route("/pixel.gif", self.pixel),
            ]
        )
        self.app: ASGIApp = ConsentMiddleware(
            app,
            policy=site_policy(),
            secret_key=SECRET,
            store=f"sqlite:///{store}",
            receipt_key=RECEIPT_KEY,
        )

    async def page(self, request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("sessionid", "s1", httponly=True)
        response.set_cookie("lang", "en", max_age=3600)
        response.set_cookie("_ga", "GA1.1.1", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1", max_age=3600)
        return response

    async def privacy(self, request: Request) -> Response:
        return HTMLResponse("<!doctype html><html lang='en'><title>Privacy</title><h1>Privacy</h1>")

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.requests.append(f"/asset/{name}")
        delay, code = SCRIPTS.get(name, (0.0, ""))
        await asyncio.sleep(delay)
        return Response(code, media_type="text/javascript")

    async def embed(self, request: Request) -> Response:
        self.requests.append("/embed")
        return HTMLResponse(
            "<!doctype html><html lang='en'><title>Map</title><body><p>Map</p></body></html>"
        )

    async def pixel(self, request: Request) -> Response:
        self.requests.append("/pixel.gif")
        return Response(GIF, media_type="image/gif")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "consent.db")


@pytest.fixture
def url(site: Site, serve: Callable[[ASGIApp], str]) -> str:
    return serve(site.app)


@pytest.fixture
def js_page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(viewport=DESKTOP).new_page()


@pytest.fixture
def nojs_page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(viewport=DESKTOP, java_script_enabled=False).new_page()


@pytest.fixture(autouse=True)
def nothing_left_the_machine(offsite: Offsite) -> Iterator[None]:
    yield
    assert offsite.urls == []


def cookie_names(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


def marks(page: Page) -> list[str]:
    result: list[str] = page.evaluate("window.ckMarks")
    return result


def first_layer(page: Page) -> Locator:
    return page.get_by_role("dialog", name=BANNER_NAME)


def preferences(page: Page) -> Locator:
    return page.get_by_role("dialog", name=PREFS_NAME)


def blocked_items_untouched(page: Page, site: Site) -> None:
    assert marks(page) == []
    assert site.requests == []
    assert page.locator("iframe").get_attribute("src") is None
    assert page.locator("img[data-ck-blocked]").get_attribute("src") is None


# -- before any choice -----------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False])
def test_first_paint_shows_the_banner_and_blocks_everything(
    new_context: Callable[..., BrowserContext], url: str, site: Site, javascript: bool
) -> None:
    page = new_context(viewport=DESKTOP, java_script_enabled=javascript).new_page()
    page.goto(url, wait_until="load")
    layer = first_layer(page)
    expect(layer).to_be_visible()
    box = layer.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= DESKTOP["height"] + 1
    assert layer.evaluate("el => getComputedStyle(el).position") == "fixed"
    buttons = layer.get_by_role("button")
    expect(buttons).to_have_text(["Accept all", "Reject all", "Customize"])
    sizes = {
        (round(b["width"]), round(b["height"]))
        for b in (x.bounding_box() for x in buttons.all())
        if b
    }
    assert len(sizes) == 1, "the three choices have the same size"
    if javascript:
        blocked_items_untouched(page, site)
    else:
        assert site.requests == []
    assert cookie_names(page) == {"sessionid"}


# -- with JavaScript -------------------------------------------------------------------------


def test_reject_all_keeps_only_necessary_cookies(js_page: Page, url: str, site: Site) -> None:
    js_page.goto(url)
    js_page.evaluate("window.stillHere = true")
    first_layer(js_page).get_by_role("button", name="Reject all").click()
    expect(first_layer(js_page)).to_be_hidden()
    expect(js_page.get_by_role("status")).to_have_text("Optional cookies rejected.")
    assert js_page.evaluate("window.stillHere") is True
    assert cookie_names(js_page) == NECESSARY
    blocked_items_untouched(js_page, site)
    js_page.reload()
    expect(first_layer(js_page)).to_have_count(0)
    expect(js_page.get_by_role("button", name="Cookie settings")).to_be_visible()
    blocked_items_untouched(js_page, site)
    assert cookie_names(js_page) == NECESSARY


def test_accept_all_runs_every_blocked_item_in_place(js_page: Page, url: str, site: Site) -> None:
    js_page.goto(url)
    js_page.evaluate("window.stillHere = true")
    first_layer(js_page).get_by_role("button", name="Accept all").click()
    js_page.wait_for_function("window.ckMarks.length === 3")
    assert sorted(marks(js_page)) == ["ads-ext", "perf-ext", "perf-inline"]
    # In document order, the inline script after waiting for the slow external one.
    assert js_page.evaluate("window.ckOrder") == ["perf-ext", "perf-inline after function"]
    assert js_page.evaluate("window.stillHere") is True, "no reload"
    frame = js_page.locator("iframe")
    expect(frame).to_be_visible()
    assert frame.get_attribute("src") == "/embed"
    expect(js_page.locator("[data-ck-placeholder]")).to_have_count(0)
    js_page.wait_for_function("document.querySelector('img[alt=\"\"]').complete")
    assert js_page.locator("img").first.get_attribute("src") == "/pixel.gif"
    assert {"/asset/perf.js", "/asset/ads.js", "/embed", "/pixel.gif"} <= set(site.requests)
    assert js_page.evaluate(
        "dataLayer.some(a => a[0] === 'consent' && a[1] === 'update'"
        " && a[2].ad_storage === 'granted' && a[2].analytics_storage === 'granted')"
    )
    assert js_page.evaluate("window.consentkit.allows('targeting')") is True
    js_page.reload()
    assert {"_ga", "_fbp", "lang", "_pk_id", "_gcl_au"} <= cookie_names(js_page)


def test_customize_grants_exactly_one_category(js_page: Page, url: str, site: Site) -> None:
    js_page.goto(url)
    js_page.evaluate(
        "window.changes = []; document.addEventListener('consentkit:change',"
        " e => window.changes.push(e.detail.granted))"
    )
    # The page carries no centre: "Customize" fetches it (once) into the dialog.
    assert js_page.locator("[role=switch]").count() == 0
    with js_page.expect_response(lambda r: "/_consent/preferences?fragment=1" in r.url) as got:
        first_layer(js_page).get_by_role("button", name="Customize").click()
    assert got.value.status == 200
    assert "/_consent/preferences" not in js_page.url
    dialog = preferences(js_page)
    expect(dialog).to_be_visible()
    switches = dialog.get_by_role("switch")
    expect(switches).to_have_count(4)
    for name in ("Performance", "Functionality", "Targeting"):
        expect(dialog.get_by_role("switch", name=name)).not_to_be_checked()
    expect(dialog.get_by_role("switch", name="Strictly necessary")).to_be_checked()
    expect(dialog.get_by_role("switch", name="Strictly necessary")).to_be_disabled()
    dialog.get_by_role("switch", name="Performance").check()
    dialog.get_by_role("button", name="Save choices").click()
    expect(dialog).to_be_hidden()
    js_page.wait_for_function("window.ckMarks.length === 2")
    assert sorted(marks(js_page)) == ["perf-ext", "perf-inline"]
    assert js_page.evaluate("window.changes") == [["necessary", "performance"]]
    assert "/asset/ads.js" not in site.requests
    assert js_page.locator("iframe").get_attribute("src") is None
    recorded = js_page.evaluate("fetch('/_consent').then(r => r.json())")
    assert recorded["decision"]["granted"] == ["necessary", "performance"]
    js_page.reload()
    names = cookie_names(js_page)
    assert {"_ga", "_pk_id"} <= names
    assert not names & {"_fbp", "_gcl_au", "lang"}


def test_decided_visitor_opens_the_fetched_centre_from_cookie_settings(
    js_page: Page, url: str
) -> None:
    js_page.goto(url)
    first_layer(js_page).get_by_role("button", name="Reject all").click()
    expect(js_page.get_by_role("status")).to_have_text("Optional cookies rejected.")
    js_page.reload()
    expect(first_layer(js_page)).to_have_count(0)
    # A decided page holds only the control; its centre is fetched on the first open.
    assert js_page.locator("[role=switch]").count() == 0
    settings = js_page.get_by_role("button", name="Cookie settings")
    with js_page.expect_response(lambda r: "fragment=1" in r.url):
        settings.click()
    dialog = preferences(js_page)
    expect(dialog).to_be_visible()
    assert focused(js_page)["text"] == PREFS_NAME
    expect(dialog.get_by_role("switch", name="Targeting")).not_to_be_checked()
    js_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused(js_page)["text"] == "Cookie settings"
    settings.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("switch", name="Functionality").check()
    dialog.get_by_role("button", name="Save choices").click()
    expect(dialog).to_be_hidden()
    expect(js_page.get_by_role("status")).to_have_text("Your cookie choices have been saved.")
    # Re-activation still works on a decided page: the blocked frame loads in place.
    expect(js_page.locator("iframe")).to_have_attribute("src", "/embed")
    recorded = js_page.evaluate("fetch('/_consent').then(r => r.json())")
    assert recorded["decision"]["granted"] == ["necessary", "functionality"]


def test_placeholder_load_is_one_off_and_always_allow_records(
    js_page: Page, url: str, site: Site
) -> None:
    js_page.goto(url)
    holder = js_page.locator("[data-ck-placeholder]")
    expect(holder).to_contain_text("Functionality")
    holder.get_by_role("button", name="Load").click()
    expect(js_page.locator("iframe")).to_be_visible()
    assert "consentkit" not in cookie_names(js_page), "loading once records nothing"
    js_page.reload()
    holder = js_page.locator("[data-ck-placeholder]")
    holder.get_by_role("button", name="Always allow Functionality").click()
    expect(js_page.locator("iframe")).to_be_visible()
    assert js_page.evaluate("window.consentkit.decision.granted") == ["necessary", "functionality"]
    assert marks(js_page) == []


def test_withdraw_removes_the_cookies_of_withdrawn_categories(js_page: Page, url: str) -> None:
    js_page.goto(url)
    first_layer(js_page).get_by_role("button", name="Accept all").click()
    js_page.wait_for_function("window.ckMarks.length === 3")
    js_page.reload()
    assert {"_pk_id", "_gcl_au", "_ga", "_fbp"} <= cookie_names(js_page)

    # Refuse targeting only: its cookies go, including the one JavaScript wrote.
    js_page.get_by_role("button", name="Cookie settings").click()
    dialog = preferences(js_page)
    expect(dialog.get_by_role("switch", name="Targeting")).to_be_checked()
    dialog.get_by_role("switch", name="Targeting").uncheck()
    with js_page.expect_navigation():
        dialog.get_by_role("button", name="Save choices").click()
    names = cookie_names(js_page)
    assert not names & {"_gcl_au", "_fbp"}
    assert {"_pk_id", "_ga"} <= names
    assert "ads-ext" not in marks(js_page)

    # Withdraw everything.
    js_page.get_by_role("button", name="Cookie settings").click()
    with js_page.expect_navigation():
        preferences(js_page).get_by_role("button", name="Withdraw consent").click()
    assert cookie_names(js_page) == NECESSARY
    assert marks(js_page) == []


def test_page_api(js_page: Page, url: str) -> None:
    js_page.goto(url)
    assert js_page.evaluate("consentkit.allows('necessary')") is True
    assert js_page.evaluate("consentkit.allows('performance')") is False
    assert js_page.evaluate("consentkit.decision.pending") == [
        "performance",
        "functionality",
        "targeting",
    ]
    # (A trailing value: Playwright would call a returned function, here the unsubscriber.)
    js_page.evaluate("window.seen = []; consentkit.onChange(d => window.seen.push(d.decided)); 0")
    js_page.evaluate("consentkit.showPreferences()")
    expect(preferences(js_page)).to_be_visible()
    preferences(js_page).get_by_role("button", name="Reject all").click()
    js_page.wait_for_function("window.seen.length === 1")
    assert js_page.evaluate("window.seen") == [True]
    js_page.evaluate("consentkit.show()")
    expect(first_layer(js_page)).to_be_visible()
    js_page.reload()
    expect(first_layer(js_page)).to_have_count(0)
    js_page.evaluate("consentkit.show()")
    expect(preferences(js_page)).to_be_visible()


# -- without JavaScript ----------------------------------------------------------------------


def test_nojs_reject_all(nojs_page: Page, url: str, site: Site) -> None:
    nojs_page.goto(url + "/other?x=1")
    with nojs_page.expect_navigation():
        first_layer(nojs_page).get_by_role("button", name="Reject all").click()
    assert nojs_page.url == url + "/other?x=1"
    expect(first_layer(nojs_page)).to_have_count(0)
    assert cookie_names(nojs_page) == NECESSARY
    assert site.requests == []


def test_nojs_accept_all(nojs_page: Page, url: str, site: Site) -> None:
    nojs_page.goto(url)
    with nojs_page.expect_navigation():
        first_layer(nojs_page).get_by_role("button", name="Accept all").click()
    nojs_page.wait_for_load_state("load")
    assert nojs_page.locator("iframe").get_attribute("src") == "/embed"
    assert nojs_page.locator("[data-ck-blocked]").count() == 0
    assert {"/embed", "/pixel.gif"} <= set(site.requests)
    assert {"_ga", "_fbp", "lang"} <= cookie_names(nojs_page)


def test_nojs_customize_one_category(nojs_page: Page, url: str, site: Site) -> None:
    nojs_page.goto(url + "/other")
    with nojs_page.expect_navigation():
        first_layer(nojs_page).get_by_role("button", name="Customize").click()
    assert "/_consent/preferences" in nojs_page.url
    expect(nojs_page.get_by_role("heading", level=1)).to_have_text(PREFS_NAME)
    screenshot(nojs_page, "preferences-page-desktop")
    for name in ("Performance", "Functionality", "Targeting"):
        expect(nojs_page.get_by_role("switch", name=name)).not_to_be_checked()
    nojs_page.get_by_role("switch", name="Functionality").check()
    with nojs_page.expect_navigation():
        nojs_page.get_by_role("button", name="Save choices").click()
    assert nojs_page.url == url + "/other"
    nojs_page.wait_for_load_state("load")
    assert nojs_page.locator("iframe").get_attribute("src") == "/embed"
    assert nojs_page.locator("script[data-ck-blocked]").count() == 3
    names = cookie_names(nojs_page)
    assert "lang" in names
    assert not names & {"_ga", "_fbp"}


def test_nojs_settings_and_withdraw(nojs_page: Page, url: str) -> None:
    nojs_page.goto(url)
    with nojs_page.expect_navigation():
        first_layer(nojs_page).get_by_role("button", name="Accept all").click()
    assert {"_ga", "_fbp", "lang"} <= cookie_names(nojs_page)
    with nojs_page.expect_navigation():
        nojs_page.get_by_role("button", name="Cookie settings").click()
    expect(nojs_page.get_by_role("switch", name="Targeting")).to_be_checked()
    with nojs_page.expect_navigation():
        nojs_page.get_by_role("button", name="Withdraw consent").click()
    assert cookie_names(nojs_page) == NECESSARY


def test_nojs_declaration_page(nojs_page: Page, url: str) -> None:
    nojs_page.goto(url)
    with nojs_page.expect_navigation():
        first_layer(nojs_page).get_by_role("link", name="Cookie declaration").click()
    expect(nojs_page.get_by_role("heading", level=1)).to_have_text("Cookie declaration")
    expect(nojs_page.get_by_role("heading", level=2)).to_have_count(4)
    expect(nojs_page.get_by_role("row", name="_gcl_au Google Ads Ads 90 days")).to_have_count(1)
    screenshot(nojs_page, "cookie-declaration-desktop")


# -- keyboard only -------------------------------------------------------------------------------


def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        """() => { const el = document.activeElement;
        return { text: (el.innerText || el.getAttribute('aria-label') || '').trim(),
                 role: el.getAttribute('role'), tag: el.tagName.toLowerCase(),
                 inDialog: !!el.closest('dialog'), outline: getComputedStyle(el).outlineStyle,
                 value: el.value || '' }; }"""
    )
    return info


def tab_to(
    page: Page, predicate: Callable[[dict[str, Any]], bool], limit: int = 40
) -> dict[str, Any]:
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if predicate(info):
            return info
    raise AssertionError("never reached the control with Tab")


def test_keyboard_only_customize(js_page: Page, url: str) -> None:
    js_page.goto(url)
    assert focused(js_page)["tag"] == "body", "the banner does not steal focus on load"
    # The first layer is the first thing Tab reaches.
    js_page.keyboard.press("Tab")
    assert js_page.evaluate("!!document.activeElement.closest('[role=dialog]')")
    info = tab_to(js_page, lambda f: f["text"] == "Customize")
    assert info["outline"] != "none", "visible focus ring"
    js_page.keyboard.press("Enter")
    expect(preferences(js_page)).to_be_visible()
    tab_to(js_page, lambda f: f["role"] == "switch" and f["value"] == "performance")
    js_page.keyboard.press("Space")
    expect(preferences(js_page).get_by_role("switch", name="Performance")).to_be_checked()
    tab_to(js_page, lambda f: f["text"] == "Save choices")
    js_page.keyboard.press("Enter")
    js_page.wait_for_function("window.ckMarks.length === 2")
    expect(preferences(js_page)).to_be_hidden()
    assert focused(js_page)["text"] == "Cookie settings"


def test_keyboard_dialog_traps_focus_and_escape_returns_it(js_page: Page, url: str) -> None:
    js_page.goto(url)
    tab_to(js_page, lambda f: f["text"] == "Reject all")
    js_page.keyboard.press("Space")
    expect(first_layer(js_page)).to_be_hidden()
    assert focused(js_page)["text"] == "Cookie settings"
    js_page.keyboard.press("Enter")
    expect(preferences(js_page)).to_be_visible()
    for _ in range(25):
        js_page.keyboard.press("Tab")
        assert focused(js_page)["inDialog"], "Tab stays inside the modal dialog"
    for _ in range(5):
        js_page.keyboard.press("Shift+Tab")
        assert focused(js_page)["inDialog"]
    js_page.keyboard.press("Escape")
    expect(preferences(js_page)).to_be_hidden()
    assert focused(js_page)["text"] == "Cookie settings"


# -- accessibility and looks ------------------------------------------------------------------


def assert_no_violations(page: Page) -> None:
    violations = run_axe(page)
    summary = [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    assert violations == [], summary


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "375px"])
def test_axe_and_screenshots_of_both_layers(
    new_context: Callable[..., BrowserContext], url: str, viewport: dict[str, int]
) -> None:
    tag = "desktop" if viewport is DESKTOP else "375px"
    page = new_context(viewport=viewport).new_page()
    page.goto(url)
    expect(first_layer(page)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"first-layer-{tag}")
    assert_no_violations(page)
    first_layer(page).get_by_role("button", name="Customize").click()
    expect(preferences(page)).to_be_visible()
    box = preferences(page).bounding_box()
    assert box is not None
    assert box["width"] <= viewport["width"]
    screenshot(page, f"preferences-dialog-{tag}")
    assert_no_violations(page)


@pytest.mark.parametrize("path", ["/_consent/preferences", "/_consent/cookies"])
def test_axe_on_the_full_pages(
    new_context: Callable[..., BrowserContext], url: str, path: str
) -> None:
    page = new_context(viewport=MOBILE).new_page()
    page.goto(url + path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    screenshot(page, path.rsplit("/", 1)[-1] + "-page-375px")
    assert_no_violations(page)
