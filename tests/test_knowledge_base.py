"""The built-in cookie knowledge base: size, validity, consistency and well-known names."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from consentkit.categories import CATEGORIES
from consentkit.errors import ConfigError
from consentkit.registry import Registry
from consentkit.rules import CookieRule, knowledge_base, load_knowledge_base

KB = knowledge_base()
REGISTRY = Registry()


def _document() -> dict[str, Any]:
    with (resources.files("consentkit") / "data" / "cookies.toml").open("rb") as stream:
        return tomllib.load(stream)


DOCUMENT = _document()
PLATFORMS: list[dict[str, Any]] = DOCUMENT["platform"]


def _example_name(rule: CookieRule) -> str:
    """A cookie name the pattern *rule* should match."""
    if rule.match == "glob":
        return rule.name.replace("*", "x1").replace("?", "z")
    if rule.match == "prefix":
        return rule.name + "Example"
    return rule.name


def test_knowledge_base_is_large_enough() -> None:
    names = {rule.name for rule in KB}
    platforms = {platform["name"] for platform in PLATFORMS}
    assert len(names) >= 300
    assert len(platforms) >= 40
    assert len(platforms) == len(PLATFORMS), "platform names must be unique"


def test_loader_is_cached_and_rules_come_from_the_knowledge_base() -> None:
    assert knowledge_base() is KB
    assert all(rule.source == "knowledge_base" for rule in KB)
    assert REGISTRY.rules() == KB


@pytest.mark.parametrize("rule", KB, ids=lambda r: f"{r.provider}:{r.name}")
def test_every_entry_is_complete(rule: CookieRule) -> None:
    assert rule.category in CATEGORIES
    assert rule.provider.strip()
    assert rule.retention.strip()
    purpose = rule.purpose.strip()
    assert purpose.endswith("."), "one plain sentence"
    assert purpose[0].isupper(), "one plain sentence"
    assert purpose.count(". ") == 0, "one sentence only"


def test_no_duplicate_name_match_domain() -> None:
    counts = Counter((rule.name, rule.match, rule.domain) for rule in KB)
    assert [key for key, count in counts.items() if count > 1] == []


@pytest.mark.parametrize(
    "rule", [r for r in KB if r.match != "exact"], ids=lambda r: f"{r.match}:{r.name}"
)
def test_every_pattern_is_valid_and_matches_an_example(rule: CookieRule) -> None:
    if rule.match == "regex":
        assert re.compile(rule.name)
        return
    if rule.match == "glob":
        assert "*" in rule.name or "?" in rule.name
    example = _example_name(rule)
    assert rule.matches(example)
    winner = REGISTRY.classify(example, rule.domain).rule
    assert winner is not None
    # Nothing weaker than this rule may win for its own example.
    assert winner.match == "exact" or len(winner.literal_prefix) >= len(rule.literal_prefix)


@pytest.mark.parametrize(
    "rule", [r for r in KB if r.match == "exact"], ids=lambda r: f"{r.name}@{r.domain}"
)
def test_every_exact_entry_wins_for_its_own_name(rule: CookieRule) -> None:
    assert REGISTRY.classify(rule.name, rule.domain).rule == rule


def test_categories_follow_the_platform_default_unless_overridden() -> None:
    entries = [(platform, cookie) for platform in PLATFORMS for cookie in platform["cookies"]]
    assert len(entries) == len(KB)
    for (platform, cookie), rule in zip(entries, KB, strict=True):
        assert rule.name == cookie["name"]
        assert rule.category == cookie.get("category", platform["category"])
        assert rule.provider == cookie.get("provider", platform["name"])
        if "category" in cookie:
            assert cookie["category"] != platform["category"], f"redundant override: {rule}"


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p["name"])
def test_every_platform_is_described(platform: dict[str, Any]) -> None:
    assert platform["name"].strip()
    assert platform["vendor"].strip()
    assert platform["category"] in CATEGORIES
    assert platform["cookies"], "a platform without cookies belongs in the header comment"


@pytest.mark.parametrize(
    ("name", "domain", "category", "provider_part", "via_pattern"),
    [
        ("_ga", None, "performance", "Google", False),
        ("_ga_1A2B3C4D", None, "performance", "Google", True),
        ("_gid", None, "performance", "Google", False),
        ("__utmz", None, "performance", "Google", False),
        ("_gcl_au", None, "targeting", "Google", False),
        ("_fbp", None, "targeting", "Meta", False),
        ("fr", "facebook.com", "targeting", "Facebook", False),
        ("IDE", None, "targeting", "DoubleClick", False),
        ("IDE", ".doubleclick.net", "targeting", "DoubleClick", False),
        ("sessionid", None, "necessary", "Django", False),
        ("csrftoken", None, "necessary", "Django", False),
        ("django_language", None, "functionality", "Django", False),
        ("PHPSESSID", None, "necessary", "PHP", False),
        ("JSESSIONID", None, "necessary", "Servlet", False),
        ("JSESSIONID", "bam.nr-data.net", "performance", "New Relic", False),
        ("ASP.NET_SessionId", None, "necessary", "ASP.NET", False),
        (".AspNetCore.Antiforgery.Xyz123", None, "necessary", "ASP.NET Core", True),
        ("laravel_session", None, "necessary", "Laravel", False),
        ("_myshop_session", None, "necessary", "Rails", True),
        ("wordpress_logged_in_0123abcd", None, "necessary", "WordPress", True),
        ("wp-settings-1", None, "functionality", "WordPress", True),
        ("SESS0123456789abcdef0123456789abcdef", None, "necessary", "Drupal", True),
        ("__cf_bm", None, "necessary", "Cloudflare", False),
        ("cf_clearance", None, "necessary", "Cloudflare", False),
        ("AWSALB", None, "necessary", "AWS", False),
        ("incap_ses_123_456789", None, "necessary", "Imperva", True),
        ("BIGipServerpool_web", None, "necessary", "F5", True),
        ("ARRAffinity", None, "necessary", "Azure", False),
        ("_hjSessionUser_123", None, "performance", "Hotjar", True),
        ("_hjSomethingNew", None, "performance", "Hotjar", True),
        ("intercom-id-abc", None, "functionality", "Intercom", True),
        ("intercom-session-abc", None, "functionality", "Intercom", True),
        ("__hstc", None, "performance", "HubSpot", False),
        ("_pk_id.1.abcd", None, "performance", "Matomo", True),
        ("AMCV_0123%40AdobeOrg", None, "performance", "Adobe", True),
        ("_uetvid", None, "targeting", "Microsoft", False),
        ("_clck", None, "performance", "Clarity", False),
        ("__stripe_mid", None, "necessary", "Stripe", False),
        ("_shopify_y", None, "performance", "Shopify", False),
        ("CookieConsent", None, "necessary", "Cookiebot", False),
        ("OptanonConsent", None, "necessary", "OneTrust", False),
        ("cc_cookie", None, "necessary", "cookieconsent", False),
        ("_GRECAPTCHA", None, "necessary", "reCAPTCHA", False),
        ("VISITOR_INFO1_LIVE", None, "targeting", "YouTube", False),
        ("yt-remote-device-id", None, "targeting", "YouTube", True),
        ("_vwo_uuid_v3", None, "performance", "VWO", True),
        ("__Host-next-auth.csrf-token", None, "necessary", "Auth.js", False),
    ],
)
def test_well_known_cookies(
    name: str, domain: str | None, category: str, provider_part: str, via_pattern: bool
) -> None:
    result = REGISTRY.classify(name, domain)
    assert result.category == category
    assert result.source == "knowledge_base"
    assert provider_part in result.provider
    assert result.rule is not None
    assert (result.rule.match != "exact") is via_pattern


@pytest.mark.parametrize(
    "name",
    [
        "CookieConsent",
        "OptanonAlertBoxClosed",
        "cc_cookie",
        "klaro",
        "cookieconsent_status",
        "cookie_consent",
        "euconsent-v2",
        "didomi_token",
        "cmplz_marketing",
    ],
)
def test_consent_tools_own_cookies_are_necessary(name: str) -> None:
    assert REGISTRY.classify(name).category == "necessary"


@pytest.mark.parametrize(
    ("name", "domain"),
    [("fr", "mysite.example"), ("m", "shop.example"), ("ts", "shop.example"), ("IDE", "a.test")],
)
def test_generic_third_party_names_do_not_match_first_party_cookies(name: str, domain: str) -> None:
    assert REGISTRY.classify(name, domain).category == "unclassified"


def test_malformed_knowledge_base_reports_the_entry() -> None:
    document = {
        "platform": [
            {
                "name": "P",
                "vendor": "V",
                "category": "performance",
                "cookies": [
                    {"name": "a", "purpose": "A.", "retention": "1 day"},
                    {"name": "b", "category": "ads", "purpose": "B.", "retention": "1 day"},
                ],
            }
        ]
    }
    with pytest.raises(ConfigError) as info:
        load_knowledge_base(document, source_name="kb.toml")
    assert info.value.key == "platform[0].cookies[1].category"
    assert 'did you mean "targeting"' in info.value.fix
    with pytest.raises(ConfigError) as info:
        load_knowledge_base({"platform": [{"name": "P", "cookie": []}]}, source_name="kb.toml")
    assert info.value.key == "platform[0].cookie"
    assert 'did you mean "cookies"' in info.value.fix
