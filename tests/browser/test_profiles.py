"""Every demo profile in real Chromium: first visit, reject, accept, withdraw.

After each step the browser's own cookie jar (``context.cookies()``) is checked against the
profile's policy: nothing but strictly necessary cookies before consent and after a refusal,
every granted category's cookies after acceptance. Both demo servers run for real: the site
and the stand-in providers on a second port.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from consentkit.categories import OPTIONAL_CATEGORIES
from consentkit.policy import Policy
from demo_site.app import PROFILES, create_app, create_providers_app, load_policy

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, SECRET
from .conftest import Offsite

pytestmark = pytest.mark.browser

TRACKING_PROFILES = sorted(p for p in PROFILES if PROFILES[p].trackers)
BADGES = ("analytics", "ads", "chat")
TIMEOUT = 10_000


def start(serve: Callable[[Any], str], profile: str, tmp_path: Path) -> str:
    providers = serve(create_providers_app())
    return serve(
        create_app(
            profile,
            db_path=tmp_path / "consent.db",
            secret=SECRET,
            receipt_key=RECEIPT_KEY,
            admin_token=ADMIN_TOKEN,
            providers_url=providers,
        )
    )


def jar(context: BrowserContext, policy: Policy) -> dict[str, set[str]]:
    """The browser's cookies by the category they need (the consent cookie left out)."""
    found: dict[str, set[str]] = {}
    for cookie in context.cookies():
        name = cookie.get("name", "")
        if name == "consentkit":
            continue
        found.setdefault(policy.required_category(name), set()).add(name)
    return found


def assert_only_necessary(context: BrowserContext, policy: Policy, step: str) -> None:
    extra = {c: names for c, names in jar(context, policy).items() if c != "necessary"}
    assert extra == {}, f"after {step}: non-necessary cookies in the browser"


def assert_no_badges(page: Page) -> None:
    assert page.locator("[data-demo-badge]").count() == 0


def load(page: Page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")


def wait_for_consent_cookie(context: BrowserContext, page: Page) -> None:
    for _ in range(100):
        if any(c.get("name") == "consentkit" for c in context.cookies()):
            return
        page.wait_for_timeout(50)
    pytest.fail("the choice did not set the consent cookie")


def preferences_action(page: Page, site: str, action: str) -> None:
    """Use the no-JS preferences page, as a visitor without the banner script would."""
    load(page, f"{site}/_consent/preferences?return_to=/")
    page.locator(f"main button[value={action}]").first.click()
    page.wait_for_url(f"{site}/", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("profile", TRACKING_PROFILES)
def test_profile_first_visit_reject_accept_withdraw(
    profile: str,
    serve: Callable[[Any], str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
    tmp_path: Path,
) -> None:
    policy = load_policy(profile)
    declared = {r.category for r in policy.cookies} & set(OPTIONAL_CATEGORIES)
    site = start(serve, profile, tmp_path)
    context = new_context()
    page = context.new_page()

    # First visit: the banner asks, nothing optional runs or is stored.
    load(page, f"{site}/")
    expect(page.locator("[data-ck-banner]")).to_be_visible()
    assert_only_necessary(context, policy, "the first visit")
    assert_no_badges(page)
    load(page, f"{site}/contact")
    assert_only_necessary(context, policy, "the contact page")
    assert offsite.urls == [], "a blocked tag made a request"

    # Reject with the banner's own button.
    load(page, f"{site}/")
    page.locator("[data-ck-banner] button[value=reject_all]").click()
    wait_for_consent_cookie(context, page)
    load(page, f"{site}/")
    expect(page.locator("[data-ck-banner]")).to_have_count(0)
    assert_only_necessary(context, policy, "rejecting")
    assert_no_badges(page)
    assert offsite.urls == []

    # Accept: the stand-ins run, set their cookies, and the server's cookies get through.
    preferences_action(page, site, "accept_all")
    for badge in BADGES:
        expect(page.locator(f'[data-demo-badge="{badge}"]')).to_be_visible(timeout=TIMEOUT)
    video = page.frame_locator('iframe[title*="demo video"]').locator("[data-demo-video]")
    expect(video).to_be_visible(timeout=TIMEOUT)
    load(page, f"{site}/lang/fr?next=/")
    page.wait_for_timeout(300)  # the pixel and the video frame set their cookies
    cookies = jar(context, policy)
    for category in declared:
        assert cookies.get(category), f"no {category} cookie after accepting"
    assert {"_demo_analytics", "_demo_ads", "_demo_chat", "demo_pixel_uid"} <= set().union(
        *cookies.values()
    )
    assert "lang" in cookies["functionality"]

    # Withdraw: every optional cookie is expired, the stand-ins stop.
    preferences_action(page, site, "withdraw")
    load(page, f"{site}/")
    assert_only_necessary(context, policy, "withdrawing")
    assert_no_badges(page)
    expect(page.locator("[data-ck-banner]")).to_have_count(0)


def test_consultancy_shows_no_banner(
    serve: Callable[[Any], str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
    tmp_path: Path,
) -> None:
    policy = load_policy("consultancy")
    site = start(serve, "consultancy", tmp_path)
    context = new_context()
    page = context.new_page()
    load(page, f"{site}/")
    expect(page.locator("[data-ck-banner]")).to_have_count(0)
    assert_only_necessary(context, policy, "the first visit")
    load(page, f"{site}/login")
    page.fill("#l-user", "ada")
    page.fill("#l-pass", "secret")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{site}/")
    assert {c["name"] for c in context.cookies()} == {"sessionid"}
    expect(page.locator("[data-ck-banner]")).to_have_count(0)
    load(page, f"{site}/_consent/cookies")
    row = page.get_by_role("row").filter(has_text="Lambda & Sons")
    expect(row.get_by_text("sessionid", exact=True)).to_be_visible()
    assert offsite.urls == []


def test_managed_california_visitor_sees_do_not_sell(
    serve: Callable[[Any], str],
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
) -> None:
    site = start(serve, "managed", tmp_path)
    elsewhere = new_context().new_page()
    load(elsewhere, f"{site}/")
    assert elsewhere.get_by_text("Do Not Sell or Share").count() == 0

    california = new_context(extra_http_headers={"CF-IPCountry": "US", "CF-Region-Code": "CA"})
    page = california.new_page()
    load(page, f"{site}/")
    banner = page.locator("[data-ck-banner]")
    expect(banner.get_by_role("button", name="Do Not Sell or Share")).to_be_visible()
    expect(page.locator("[data-demo-dns]")).to_be_visible()
    # Targeting was on (opt_out): revoking it reloads the page so running code stops.
    with page.expect_navigation():
        banner.get_by_role("button", name="Do Not Sell or Share").click()
    wait_for_consent_cookie(california, page)
    load(page, f"{site}/")
    status = page.evaluate("fetch('/_consent').then(r => r.json())")["decision"]
    assert status["region"] == "US-CA"
    assert "targeting" not in status["granted"]
    assert "targeting" not in jar(california, load_policy("managed"))


def test_cloud_with_gpc_has_targeting_refused(
    serve: Callable[[Any], str],
    new_context: Callable[..., BrowserContext],
    offsite: Offsite,
    tmp_path: Path,
) -> None:
    policy = load_policy("cloud")
    site = start(serve, "cloud", tmp_path)
    context = new_context(extra_http_headers={"Sec-GPC": "1"})
    page = context.new_page()
    load(page, f"{site}/")
    expect(page.locator("[data-demo-gpc]")).to_be_visible()
    expect(page.locator("[data-ck-banner] .ck-gpc")).to_be_visible()
    status = page.evaluate("fetch('/_consent').then(r => r.json())")["decision"]
    assert status["gpc"] is True
    assert "targeting" in status["refused"]
    assert "targeting" not in jar(context, policy)
    assert page.locator('[data-demo-badge="ads"]').count() == 0
    assert offsite.urls == []
