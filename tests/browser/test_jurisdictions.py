"""Regions, GPC and the consent lifecycle in real Chromium.

The site trusts Cloudflare's location headers; each browser context sends the headers of
one kind of visitor. The page carries a performance script, a targeting script, a
targeting iframe and a targeting pixel, each of which the server sees when it is fetched;
the scripts leave a marker and write a cookie when they run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from consentkit import ConsentMiddleware, Policy
from consentkit.categories import CATEGORIES
from consentkit.decision import ConsentCodec, StoredConsent
from consentkit.receipts import Receipt
from consentkit.stores import open_store

from ..helpers import GOOGLE_ADS_RULE, MATOMO_RULE, shop_policy
from .conftest import Offsite

pytestmark = pytest.mark.browser

SECRET = "browser-jurisdiction-secret-0123456789"
RECEIPT_KEY = "browser-jurisdiction-receipt-key-98765"
REVISION = "2"
EU = {"CF-IPCountry": "DE"}
CALIFORNIA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
GPC = {"Sec-GPC": "1"}
OPT_IN_TITLE = "We value your privacy"
OPT_OUT_TITLE = "Your privacy choices"
DO_NOT_SELL = "Do Not Sell or Share My Personal Information"
GPC_LINE = "Global Privacy Control signal was honoured"
TARGETING_COOKIES = {"_fbp", "_gcl_au"}
NECESSARY = {"sessionid"}

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop</title>
<script>window.ckMarks = [];</script>
</head>
<body>
<main>
<h1>Shop</h1>
<script data-consent="performance" src="/asset/perf.js"></script>
<script data-consent="targeting" src="/asset/ads.js"></script>
<iframe data-consent="targeting" src="/ad-frame" title="Advert" width="300"></iframe>
<img data-consent="targeting" src="/pixel.gif" alt="" width="1" height="1">
</main>
</body>
</html>"""

SCRIPTS = {
    "perf.js": 'window.ckMarks.push("perf"); document.cookie = "_pk_id=1; path=/";',
    "ads.js": 'window.ckMarks.push("ads"); document.cookie = "_gcl_au=1; path=/";',
}
TARGETING_FETCHES = {"/asset/ads.js", "/ad-frame", "/pixel.gif"}
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def site_policy() -> Policy:
    return shop_policy(MATOMO_RULE, GOOGLE_ADS_RULE, revision=REVISION)


class Site:
    """The shop behind the middleware, and every consent-gated fetch the server saw."""

    def __init__(self, store: Path) -> None:
        self.store_url = f"sqlite:///{store}"
        self.requests: list[str] = []
        app = Starlette(
            routes=[
                Route("/", self.page),
                Route("/asset/{name}", self.asset),
                Route("/ad-frame", self.frame),
                Route("/pixel.gif", self.pixel),
            ]
        )
        self.app: ASGIApp = ConsentMiddleware(
            app,
            policy=site_policy(),
            secret_key=SECRET,
            store=self.store_url,
            receipt_key=RECEIPT_KEY,
            trusted_headers=["cloudflare"],
        )

    async def page(self, request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("sessionid", "s1", httponly=True)
        response.set_cookie("lang", "en", max_age=3600)
        response.set_cookie("_ga", "GA1.1.1", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1", max_age=3600)
        return response

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.requests.append(f"/asset/{name}")
        await asyncio.sleep(0)
        return Response(SCRIPTS.get(name, ""), media_type="text/javascript")

    async def frame(self, request: Request) -> Response:
        self.requests.append("/ad-frame")
        return HTMLResponse("<!doctype html><html lang='en'><title>Ad</title><p>Ad</p></html>")

    async def pixel(self, request: Request) -> Response:
        self.requests.append("/pixel.gif")
        return Response(GIF, media_type="image/gif")

    def receipts(self) -> list[Receipt]:
        store = open_store(self.store_url, receipt_keys=[RECEIPT_KEY])
        try:
            return list(store.iter_receipts())
        finally:
            store.close()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "consent.db")


@pytest.fixture
def url(site: Site, serve: Callable[[ASGIApp], str]) -> str:
    return serve(site.app)


@pytest.fixture(autouse=True)
def nothing_left_the_machine(offsite: Offsite) -> Iterator[None]:
    yield
    assert offsite.urls == []


def visitor(
    new_context: Callable[..., BrowserContext], headers: dict[str, str], **options: Any
) -> Page:
    return new_context(extra_http_headers=headers, **options).new_page()


def cookie_names(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


def marks(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.ckMarks")
    return found


def first_layer(page: Page, title: str) -> Locator:
    return page.get_by_role("dialog", name=title)


def nothing_optional_ran(page: Page, site: Site) -> None:
    assert marks(page) == []
    assert site.requests == []
    assert page.locator("iframe").get_attribute("src") is None
    assert page.locator("img[data-ck-blocked]").get_attribute("src") is None
    assert cookie_names(page) - {"consentkit"} == NECESSARY


def targeting_did_not_run(page: Page, site: Site) -> None:
    assert "ads" not in marks(page)
    assert not TARGETING_FETCHES & set(site.requests)
    assert not TARGETING_COOKIES & cookie_names(page)
    assert page.locator("iframe").get_attribute("src") is None


def mint(*, revision: str = REVISION, age_days: float = 1.0) -> str:
    """The consent cookie an "Accept all" made *age_days* ago under *revision*."""
    policy = site_policy()
    stored = StoredConsent(
        consent_id="browser-minted-consent-1",
        granted=frozenset(CATEGORIES),
        refused=frozenset(),
        revision=revision,
        decided_at=datetime.now(UTC) - timedelta(days=age_days),
        fingerprints={c: policy.fingerprint(c) for c in CATEGORIES},
        action="accept_all",
    )
    return ConsentCodec(SECRET).dumps(stored)


# -- 1. an EU visitor --------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False])
def test_eu_visitor_nothing_optional_before_consent(
    new_context: Callable[..., BrowserContext], url: str, site: Site, javascript: bool
) -> None:
    page = visitor(new_context, EU, java_script_enabled=javascript)
    page.goto(url, wait_until="load")
    layer = first_layer(page, OPT_IN_TITLE)
    expect(layer).to_be_visible()
    expect(layer.get_by_role("button", name="Reject all")).to_be_visible()
    expect(page.get_by_role("button", name=DO_NOT_SELL)).to_have_count(0)
    if javascript:
        nothing_optional_ran(page, site)
    else:
        assert site.requests == []
        assert cookie_names(page) == NECESSARY
    assert site.receipts() == []


# -- 2. a California visitor with GPC ---------------------------------------------------------


def test_california_with_gpc_refuses_targeting_and_records_the_signal(
    new_context: Callable[..., BrowserContext], url: str, site: Site
) -> None:
    page = visitor(new_context, {**CALIFORNIA, **GPC})
    page.goto(url, wait_until="load")
    layer = first_layer(page, OPT_OUT_TITLE)
    expect(layer).to_be_visible()
    expect(layer).to_contain_text(GPC_LINE)
    expect(layer.get_by_role("button", name=DO_NOT_SELL)).to_be_visible()
    # Opt-out: performance runs before any choice; targeting does not.
    page.wait_for_function("window.ckMarks.includes('perf')")
    targeting_did_not_run(page, site)
    assert {"_ga", "_pk_id", "lang", "consentkit"} <= cookie_names(page)
    page.reload(wait_until="load")
    targeting_did_not_run(page, site)
    rows = site.receipts()
    assert [r.action for r in rows] == ["gpc"], "recorded once, not per page view"
    (row,) = rows
    assert (row.consent_model, row.jurisdiction, row.collection) == ("opt_out", "US-CA", "signal")
    assert "targeting" in row.refused
    assert "performance" in row.granted


# -- 3. a California visitor using "Do Not Sell or Share" --------------------------------------


def test_california_do_not_sell_stops_targeting(
    new_context: Callable[..., BrowserContext], url: str, site: Site
) -> None:
    page = visitor(new_context, CALIFORNIA)
    page.goto(url, wait_until="load")
    layer = first_layer(page, OPT_OUT_TITLE)
    expect(layer).to_be_visible()
    expect(layer).not_to_contain_text(GPC_LINE)
    # Before the choice, opt-out lets targeting run.
    page.wait_for_function("window.ckMarks.includes('ads') && window.ckMarks.includes('perf')")
    page.wait_for_function("document.querySelector('img[alt=\"\"]').complete")
    assert {"/asset/ads.js", "/pixel.gif", "/ad-frame"} <= set(site.requests)
    assert cookie_names(page) >= TARGETING_COOKIES
    assert site.receipts() == []

    # Scripts that ran cannot be unloaded: the page reloads without them.
    with page.expect_navigation():
        layer.get_by_role("button", name=DO_NOT_SELL).click()
    page.wait_for_load_state("load")
    site.requests.clear()
    page.reload(wait_until="load")
    page.wait_for_function("window.ckMarks.includes('perf')")
    targeting_did_not_run(page, site)
    assert {"_ga", "_pk_id", "lang"} <= cookie_names(page)
    expect(first_layer(page, OPT_OUT_TITLE)).to_have_count(0)

    (row,) = site.receipts()
    assert (row.action, row.consent_model, row.jurisdiction) == ("save", "opt_out", "US-CA")
    assert tuple(row.refused) == ("targeting",)
    assert tuple(row.granted) == ("necessary", "performance", "functionality")


def test_california_do_not_sell_without_javascript(
    new_context: Callable[..., BrowserContext], url: str, site: Site
) -> None:
    page = visitor(new_context, CALIFORNIA, java_script_enabled=False)
    page.goto(url, wait_until="load")
    # Without JavaScript the pixel and the frame still show opt-out letting targeting through.
    assert {"/pixel.gif", "/ad-frame"} <= set(site.requests)
    assert "_fbp" in cookie_names(page)
    with page.expect_navigation():
        first_layer(page, OPT_OUT_TITLE).get_by_role("button", name=DO_NOT_SELL).click()
    page.wait_for_load_state("load")
    assert page.url.rstrip("/") == url
    site.requests.clear()
    page.reload(wait_until="load")
    assert not TARGETING_FETCHES & set(site.requests)
    assert not TARGETING_COOKIES & cookie_names(page)
    assert {"_ga", "lang"} <= cookie_names(page)
    (row,) = site.receipts()
    assert (row.action, row.collection, tuple(row.refused)) == ("save", "html_form", ("targeting",))


# -- 4 and 5. a decision that no longer counts ------------------------------------------------


@pytest.mark.parametrize(
    ("token_options", "asked_again"),
    [
        pytest.param({}, False, id="fresh"),
        pytest.param({"age_days": 200}, True, id="expired"),
        pytest.param({"revision": "1"}, True, id="new_revision"),
    ],
)
def test_an_old_decision_asks_again(
    new_context: Callable[..., BrowserContext],
    url: str,
    site: Site,
    token_options: dict[str, Any],
    asked_again: bool,
) -> None:
    context = new_context(extra_http_headers=EU)
    # The browser still holds the consent cookie and what the old "Accept all" let in.
    context.add_cookies(
        [
            {"name": "consentkit", "value": mint(**token_options), "url": url},
            {"name": "_ga", "value": "GA1.1.1", "url": url},
            {"name": "_fbp", "value": "fb.1.1", "url": url},
        ]
    )
    page = context.new_page()
    page.goto(url, wait_until="load")
    layer = first_layer(page, OPT_IN_TITLE)
    if asked_again:
        expect(layer).to_be_visible()
        nothing_optional_ran(page, site)
    else:
        # The control: the same cookie, still valid, needs no banner and runs everything.
        expect(layer).to_have_count(0)
        page.wait_for_function("window.ckMarks.length === 2")
        assert {"/asset/perf.js", "/asset/ads.js", "/ad-frame"} <= set(site.requests)
        assert {"_ga", "_fbp", "lang", "_pk_id", "_gcl_au"} <= cookie_names(page)
    assert site.receipts() == []
