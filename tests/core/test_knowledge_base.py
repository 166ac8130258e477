"""The built-in cookie knowledge base: size, validity, consistency and well-known names."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from consentkit.categories import CATEGORIES
from consentkit.errors import ConfigError
from consentkit.knowledge import parse_retention
from consentkit.registry import Registry
from consentkit.rules import FAMILIES, CookieRule, knowledge_base, load_knowledge_base

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
    names = {(rule.name, rule.match) for rule in KB}
    platforms = {platform["name"] for platform in PLATFORMS}
    assert len(names) >= 1500
    assert len(platforms) >= 150
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


# --------------------------------------------------------------------------- sources, families


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p["name"])
def test_every_platform_names_its_family_and_source(platform: dict[str, Any]) -> None:
    assert platform["family"] in FAMILIES
    assert re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}/\S*", platform["source"])


def test_every_entry_cites_an_https_source_and_a_parseable_retention() -> None:
    problems = []
    for rule in KB:
        if not rule.source_url.startswith("https://"):
            problems.append(f"{rule.provider}:{rule.name}: source {rule.source_url!r}")
        try:
            parse_retention(rule.retention)
        except ValueError as exc:
            problems.append(f"{rule.provider}:{rule.name}: {exc}")
    assert problems == []


def test_no_duplicate_names_within_a_platform() -> None:
    for platform in PLATFORMS:
        keys = Counter(
            (c["name"], c.get("match", "exact"), c.get("domain")) for c in platform["cookies"]
        )
        assert [key for key, count in keys.items() if count > 1] == [], platform["name"]


# Every family the knowledge base promises; infrastructure and the site's own defaults may be few.
@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in ("infrastructure", "site")])
def test_every_family_the_knowledge_base_promises_is_covered(family: str) -> None:
    assert sum(1 for platform in PLATFORMS if platform["family"] == family) >= 3


@pytest.mark.parametrize(
    "provider",
    [
        "WordPress",
        "WooCommerce",
        "Shopify",
        "Magento",
        "Drupal",
        "Joomla",
        "Wix",
        "Squarespace",
        "Webflow",
        "PrestaShop",
        "Django",
        "Rails",
        "Laravel",
        "ASP.NET",
        "Spring",
        "Express",
        "Next.js",
        "Google Analytics",
        "Adobe Analytics",
        "Matomo",
        "Hotjar",
        "Clarity",
        "Mixpanel",
        "Amplitude",
        "Heap",
        "FullStory",
        "Segment",
        "Piwik PRO",
        "Yandex Metrica",
        "Baidu",
        "DoubleClick",
        "Meta",
        "LinkedIn",
        "TikTok",
        "Pinterest",
        "Snap",
        "Reddit",
        "X (",
        "Microsoft Advertising",
        "Criteo",
        "Taboola",
        "Outbrain",
        "Quantcast",
        "Xandr",
        "Trade Desk",
        "Amazon",
        "HubSpot",
        "Pardot",
        "Marketo",
        "Mailchimp",
        "Intercom",
        "Zendesk",
        "Drift",
        "LiveChat",
        "Tawk.to",
        "Crisp",
        "Optimizely",
        "VWO",
        "AB Tasty",
        "Kameleoon",
        "Cloudflare",
        "Akamai",
        "Load Balancing",
        "Azure",
        "Imperva",
        "reCAPTCHA",
        "hCaptcha",
        "Stripe",
        "PayPal",
        "Klarna",
        "Adyen",
        "YouTube",
        "Vimeo",
        "Wistia",
        "Vidyard",
        "SoundCloud",
        "Spotify",
        "Disqus",
        "AddThis",
        "ShareThis",
        "Cookiebot",
        "OneTrust",
        "Usercentrics",
    ],
)
def test_the_platforms_site_owners_meet_most_are_known(provider: str) -> None:
    assert any(provider in rule.provider for rule in KB)


# --------------------------------------------------------------------------- necessary cookies


def test_no_analytics_or_advertising_cookie_is_necessary_without_a_reason() -> None:
    unexplained = []
    for platform in PLATFORMS:
        tracking_vendor = platform["family"] in ("analytics", "advertising") or platform[
            "category"
        ] in ("performance", "targeting")
        for cookie in platform["cookies"]:
            necessary = cookie.get("category", platform["category"]) == "necessary"
            if tracking_vendor and necessary and not cookie.get("necessary_because"):
                unexplained.append(f"{platform['name']}:{cookie['name']}")
    assert unexplained == []


def test_reasons_for_necessary_cookies_are_sentences() -> None:
    reasons = [rule.necessary_because for rule in KB if rule.necessary_because]
    assert len(reasons) >= 30
    assert all(reason[0].isupper() and reason.endswith(".") for reason in reasons)


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("necessary_because", "Stores consent.", "remove necessary_because"),
        ("source", "http://vendor.example/cookies", "https://"),
        ("generic", "yes", "generic = true"),
    ],
)
def test_loader_rejects_bad_new_fields(field: str, value: str, fix: str) -> None:
    cookie = {"name": "a", "purpose": "A.", "retention": "1 day", field: value}
    document = {
        "platform": [{"name": "P", "vendor": "V", "category": "performance", "cookies": [cookie]}]
    }
    with pytest.raises(ConfigError) as info:
        load_knowledge_base(document, source_name="kb.toml")
    assert info.value.key == f"platform[0].cookies[0].{field}"
    assert fix in info.value.fix


def test_loader_rejects_an_unknown_family() -> None:
    document = {
        "platform": [
            {
                "name": "P",
                "vendor": "V",
                "category": "performance",
                "family": "analytic",
                "cookies": [],
            }
        ]
    }
    with pytest.raises(ConfigError) as info:
        load_knowledge_base(document, source_name="kb.toml")
    assert info.value.key == "platform[0].family"
    assert 'did you mean "analytics"' in info.value.fix


def test_platform_source_is_inherited_and_a_cookie_may_override_it() -> None:
    document = {
        "platform": [
            {
                "name": "P",
                "vendor": "V",
                "category": "performance",
                "source": "https://vendor.example/cookies",
                "cookies": [
                    {"name": "a", "purpose": "A.", "retention": "1 day"},
                    {
                        "name": "b",
                        "purpose": "B.",
                        "retention": "1 day",
                        "source": "https://vendor.example/b",
                    },
                ],
            }
        ]
    }
    a, b = load_knowledge_base(document, source_name="kb.toml")
    assert a.source_url == "https://vendor.example/cookies"
    assert b.source_url == "https://vendor.example/b"


# --------------------------------------------------------------------------- generic names

# Names many sites use for cookies of their own: a knowledge-base entry for one of them is
# only a default for first-party cookies, so it must say so (generic = true) unless it is
# limited to the vendor's domain.
AMBIGUOUS_NAMES = {
    "sessionid",
    "session",
    "session_id",
    "SESSION",
    "sid",
    "token",
    "auth",
    "user",
    "id",
    "uid",
    "lang",
    "language",
    "locale",
    "currency",
    "theme",
    "timezone",
    "cart",
    "checkout",
    "store",
    "messages",
    "remember_me",
    "remember_token",
    "REMEMBER_ME",
    "csrftoken",
    "csrfToken",
    "_csrf",
    "XSRF-TOKEN",
    "frontend",
    "admin",
    "login-token",
    "autocomplete",
    "inst",
    "discount_code",
}
KB_DOC = Path(__file__).resolve().parents[2] / "docs" / "knowledge-base.md"


def test_ambiguous_generic_names_are_flagged_as_first_party_defaults() -> None:
    unflagged = [
        f"{rule.provider}:{rule.name}"
        for rule in KB
        if rule.name in AMBIGUOUS_NAMES and rule.domain is None and not rule.generic
    ]
    assert unflagged == []


def test_generic_flag_is_only_used_without_a_domain() -> None:
    assert [rule.name for rule in KB if rule.generic and rule.domain is not None] == []


def test_every_generic_default_is_documented() -> None:
    section = KB_DOC.read_text(encoding="utf-8").split("## Generic first-party defaults")[1]
    section = section.split("\n## ")[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))
    flagged = {rule.name for rule in KB if rule.generic}
    assert documented == flagged


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("sessionid", "necessary"),
        ("lang", "functionality"),
        ("csrftoken", "necessary"),
        ("cart", "necessary"),
        ("theme", "functionality"),
    ],
)
def test_generic_defaults_stay_sensible(name: str, category: str) -> None:
    result = REGISTRY.classify(name, "shop.example")
    assert result.category == category
    assert result.rule is not None
    assert result.rule.generic


@pytest.mark.parametrize("name", ["token", "uid", "id", "user", "auth", "sid"])
def test_names_too_generic_to_guess_stay_unclassified_on_a_site(name: str) -> None:
    assert REGISTRY.classify(name, "shop.example").category == "unclassified"


@pytest.mark.parametrize(
    "name", ["sid", "id", "uid", "token", "auth", "user", "idx", "did", "ch", "act", "flags", "d"]
)
def test_vendor_rules_never_let_a_common_name_through_when_the_domain_is_unknown(
    name: str,
) -> None:
    # A name from a request Cookie header has no domain; a vendor's domain-limited rule then
    # still matches by name, so it must not make a site's own cookie of that name necessary
    # or functional (the strict unclassified default would be lost).
    assert REGISTRY.classify(name).category in ("unclassified", "performance", "targeting")
