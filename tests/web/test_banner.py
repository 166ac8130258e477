"""The server-rendered banner, preferences centre, declaration and placeholders."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

import html5lib  # type: ignore[import-untyped]
import jinja2
import pytest

from consentkit.categories import CATEGORIES, OPTIONAL_CATEGORIES, Category, Model
from consentkit.decision import Decision, StoredConsent, decide
from consentkit.errors import ConfigError
from consentkit.policy import CategoryText, Policy
from consentkit.rules import CookieRule
from consentkit.web.banner import Banner, BannerContext, consent_mode_state, static_dir

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"

# Google Consent Mode v2 signals per category, as the product defines them.
SIGNALS: dict[str, tuple[str, ...]] = {
    "necessary": ("security_storage",),
    "performance": ("analytics_storage",),
    "functionality": ("functionality_storage", "personalization_storage"),
    "targeting": ("ad_storage", "ad_user_data", "ad_personalization"),
}


def policy(**overrides: Any) -> Policy:
    base: dict[str, Any] = {
        "revision": "7",
        "knowledge_base": False,
        "privacy_url": "https://example.test/privacy",
        "cookies": (
            CookieRule(
                "sessionid", "necessary", provider="Example", purpose="Login", retention="session"
            ),
            CookieRule(
                "_ga",
                "performance",
                provider="Google Analytics",
                purpose="Visits",
                retention="2 years",
            ),
            CookieRule(
                "lang", "functionality", provider="Example", purpose="Language", retention="1 year"
            ),
            CookieRule("_fbp", "targeting", provider="Meta", purpose="Ads", retention="90 days"),
        ),
    }
    base.update(overrides)
    return Policy(**base)


def decision_for(
    pol: Policy,
    granted: Iterable[Category] | None = None,
    *,
    model: Model = "opt_in",
    gpc: bool = False,
) -> Decision:
    stored = None
    if granted is not None:
        chosen = frozenset({"necessary", *granted})
        stored = StoredConsent(
            consent_id="consent-id-123456",
            granted=chosen,
            refused=frozenset(c for c in OPTIONAL_CATEGORIES if c not in chosen),
            revision=pol.revision,
            decided_at=NOW - timedelta(days=1),
            fingerprints={c: pol.fingerprint(c) for c in CATEGORIES},
        )
    return decide(stored, pol, now=NOW, model=model, gpc=gpc)


def ctx(
    decision: Decision,
    *,
    language: str = "en",
    return_to: str = "/shop?item=1",
    nonce: str | None = None,
    gpc_honoured: bool = False,
) -> BannerContext:
    return BannerContext(decision, language, return_to, nonce, gpc_honoured)


def parse(html: str) -> Element:
    doc = (
        html
        if html.lstrip().lower().startswith("<!doctype")
        else f"<!doctype html><html><head></head><body>{html}</body></html>"
    )
    root: Element = html5lib.parse(doc, namespaceHTMLElements=False)
    return root


def text_of(el: Element) -> str:
    return " ".join("".join(el.itertext()).split())


def first_layer(root: Element) -> Element | None:
    return root.find(".//section[@role='dialog']")


def by_id(root: Element, ident: str) -> Element | None:
    return root.find(f".//*[@id='{ident}']")


@pytest.fixture
def pol() -> Policy:
    return policy()


@pytest.fixture
def banner(pol: Policy) -> Banner:
    return Banner(pol)


# -- first layer ---------------------------------------------------------------------------


def test_first_layer_has_three_equal_buttons(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol))))
    layer = first_layer(root)
    assert layer is not None
    buttons = layer.findall(".//button")
    assert [text_of(b) for b in buttons] == ["Accept all", "Reject all", "Customize"]
    assert {b.tag for b in buttons} == {"button"}
    assert len({b.get("class") for b in buttons}) == 1
    assert all(b.get("style") is None for b in buttons)


def test_first_layer_is_a_labelled_dialog_linking_the_declaration(
    banner: Banner, pol: Policy
) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol))))
    layer = first_layer(root)
    assert layer is not None
    title = by_id(root, layer.get("aria-labelledby", ""))
    described = by_id(root, layer.get("aria-describedby", ""))
    assert title is not None
    assert text_of(title) == "We value your privacy"
    assert described is not None
    assert "cookies" in text_of(described)
    hrefs = [a.get("href") for a in layer.findall(".//a")]
    assert "/_consent/cookies?return_to=/shop%3Fitem%3D1" in hrefs
    assert "https://example.test/privacy" in hrefs
    # Nothing that looks like a close "X" which could be read as consent.
    assert all(text_of(b) not in ("×", "X", "x", "Close") for b in layer.findall(".//button"))


def test_first_layer_forms_work_without_javascript(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol), return_to="/a/b?c=d")))
    layer = first_layer(root)
    assert layer is not None
    post, get = layer.findall(".//form")
    assert (post.get("method"), post.get("action")) == ("post", "/_consent")
    assert [(b.get("type"), b.get("name"), b.get("value")) for b in post.findall(".//button")] == [
        ("submit", "action", "accept_all"),
        ("submit", "action", "reject_all"),
    ]
    assert (get.get("method"), get.get("action")) == ("get", "/_consent/preferences")
    for form in (post, get):
        hidden = form.findall(".//input[@type='hidden'][@name='return_to']")
        assert [h.get("value") for h in hidden] == ["/a/b?c=d"]


def test_no_first_layer_once_decided(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol, ["performance"]))))
    assert first_layer(root) is None
    settings = root.find(".//form[@data-ck-settings]")
    assert settings is not None
    assert settings.get("hidden") is None
    assert text_of(settings) == "Cookie settings"
    assert settings.get("method", "get") == "get"
    assert settings.get("action") == "/_consent/preferences"


def test_settings_control_waits_while_the_banner_asks(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol))))
    settings = root.find(".//form[@data-ck-settings]")
    assert settings is not None
    assert settings.get("hidden") is not None


def test_first_layer_comes_back_for_changed_categories(pol: Policy) -> None:
    stored_under_old = decision_for(pol, ["performance", "targeting"])
    newer = policy(cookies=(*pol.cookies, CookieRule("_gid", "performance")))
    # Same revision, new performance cookie: performance is asked again.
    again = decide(
        StoredConsent(
            consent_id="consent-id-123456",
            granted=stored_under_old.granted,
            refused=stored_under_old.refused,
            revision=newer.revision,
            decided_at=NOW,
            fingerprints={c: pol.fingerprint(c) for c in CATEGORIES},
        ),
        newer,
        now=NOW,
    )
    assert first_layer(parse(Banner(newer).body_html(ctx(again)))) is not None
    root = parse(Banner(newer).preferences_fragment(ctx(again)))
    assert root.find(".//input[@value='performance']").get("checked") is None  # type: ignore[union-attr]
    assert root.find(".//input[@value='targeting']").get("checked") is not None  # type: ignore[union-attr]


# -- preferences centre --------------------------------------------------------------------


def switches(root: Element) -> dict[str, Element]:
    return {el.get("value", ""): el for el in root.findall(".//input[@role='switch']")}


@pytest.mark.parametrize("render", ["fragment", "page"])
def test_nothing_optional_is_pre_ticked_on_first_visit(
    banner: Banner, pol: Policy, render: str
) -> None:
    context = ctx(decision_for(pol))
    if render == "fragment":
        html = banner.preferences_fragment(context)
    else:
        html = banner.preferences_page(context)
    found = switches(parse(html))
    assert set(found) == set(CATEGORIES)
    for category in OPTIONAL_CATEGORIES:
        assert found[category].get("checked") is None
        assert found[category].get("disabled") is None
        assert found[category].get("name") == "categories"
    assert found["necessary"].get("checked") is not None
    assert found["necessary"].get("disabled") is not None


@pytest.mark.parametrize(
    "granted", [[], ["performance"], ["functionality", "targeting"], list(OPTIONAL_CATEGORIES)]
)
def test_switches_reflect_what_was_granted(
    banner: Banner, pol: Policy, granted: list[Category]
) -> None:
    found = switches(parse(banner.preferences_page(ctx(decision_for(pol, granted)))))
    for category in OPTIONAL_CATEGORIES:
        assert (found[category].get("checked") is not None) is (category in granted)


def test_switches_are_labelled_and_described(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol))))
    for category, switch in switches(root).items():
        label = root.find(f".//label[@for='{switch.get('id')}']")
        assert label is not None
        assert text_of(label) == banner.texts("en")[f"{category}_label"]
        described = [by_id(root, i) for i in switch.get("aria-describedby", "").split()]
        assert described
        assert all(d is not None for d in described)


def test_preferences_form_buttons_and_links(banner: Banner, pol: Policy) -> None:
    root = parse(
        banner.preferences_page(ctx(decision_for(pol, ["performance"]), return_to="/back"))
    )
    form = root.find(".//form[@method='post']")
    assert form is not None
    assert form.get("action") == "/_consent"
    values = [b.get("value") for b in form.findall(".//button[@name='action']")]
    assert values == ["save", "accept_all", "reject_all", "withdraw"]
    assert text_of(form.find(".//button[@value='save']")) == "Save choices"  # type: ignore[arg-type]
    withdraw = form.find(".//*[@data-ck-withdraw]")
    assert withdraw is not None
    assert withdraw.get("hidden") is None
    hrefs = {a.get("href") for a in root.findall(".//a")}
    assert {"/_consent/receipt", "/back"} <= hrefs
    assert form.find(".//input[@name='return_to']").get("value") == "/back"  # type: ignore[union-attr]


def test_withdraw_is_hidden_before_any_decision(banner: Banner, pol: Policy) -> None:
    root = parse(banner.preferences_page(ctx(decision_for(pol))))
    withdraw = root.find(".//*[@data-ck-withdraw]")
    assert withdraw is not None
    assert withdraw.get("hidden") is not None


def test_each_category_lists_its_cookies(banner: Banner, pol: Policy) -> None:
    # The page carries an empty dialog; the centre is fetched into it on demand.
    body = parse(banner.body_html(ctx(decision_for(pol))))
    assert body.find(".//dialog") is None
    assert not body.findall(".//details")
    assert not body.findall(".//input[@role='switch']")
    root = parse(banner.preferences_fragment(ctx(decision_for(pol))))
    assert text_of(by_id(root, "ck-prefs-title")) == "Cookie preferences"  # type: ignore[arg-type]
    details = root.findall(".//details")
    assert len(details) == 4
    rows = [[text_of(c) for c in tr] for d in details for tr in d.findall(".//tbody/tr")]
    assert ["_ga", "Google Analytics", "Visits", "2 years"] in rows
    assert ["_fbp", "Meta", "Ads", "90 days"] in rows


def test_long_cookie_lists_link_to_the_declaration() -> None:
    many = tuple(CookieRule(f"perf{i}", "performance", provider="P") for i in range(15))
    pol = policy(cookies=many)
    banner = Banner(pol)
    root = parse(banner.preferences_fragment(ctx(decision_for(pol))))
    summary = [text_of(s) for s in root.findall(".//details/summary")]
    assert "Cookies used (15)" in summary
    assert len(root.findall(".//details//tbody/tr")) == 10
    assert (
        root.find(
            ".//details//a[@href='/_consent/cookies?return_to=/shop%3Fitem%3D1#ck-h-performance']"
        )
        is not None
    )
    page = parse(banner.cookies_page(ctx(decision_for(pol))))
    assert len(page.findall(".//tbody/tr")) == 15


def test_prefix_reaches_every_form_and_asset(pol: Policy) -> None:
    banner = Banner(pol, prefix="/privacy/consent")
    html = banner.body_html(ctx(decision_for(pol))) + banner.head_html(ctx(decision_for(pol)))
    root = parse(html)
    actions = {f.get("action") for f in root.findall(".//form")}
    assert actions == {"/privacy/consent", "/privacy/consent/preferences"}
    urls = [e.get("src") or e.get("href") for e in root.iter() if e.tag in ("script", "link")]
    assert urls
    assert all(u and u.startswith("/privacy/consent/static/") for u in urls)
    assert root.find(".//*[@data-ck-prefix='/privacy/consent']") is not None


@pytest.mark.parametrize("prefix", ["", "consent", "/consent/", "//evil.test", "/a b", '/x"y'])
def test_bad_prefix_is_a_config_error(pol: Policy, prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        Banner(pol, prefix=prefix)


# -- escaping --------------------------------------------------------------------------------


def hostile_policy() -> Policy:
    return policy(
        cookies=(
            CookieRule(
                "x_id",
                "targeting",
                provider=HOSTILE,
                purpose=f"p{HOSTILE}",
                retention='1" onmouseover="x',
            ),
        ),
        texts={"targeting": CategoryText(f"T{HOSTILE}", f"D{HOSTILE}")},
        site_name=HOSTILE,
        privacy_url="javascript:alert(1)",
    )


def scripts(root: Element) -> list[Element]:
    return [e for e in root.iter() if e.tag == "script"]


@pytest.mark.parametrize("render", ["body", "fragment", "preferences", "cookies"])
def test_hostile_policy_texts_are_escaped(render: str) -> None:
    pol = hostile_policy()
    banner = Banner(pol)
    context = ctx(decision_for(pol))
    html = {
        "body": banner.body_html,
        "fragment": banner.preferences_fragment,
        "preferences": banner.preferences_page,
        "cookies": banner.cookies_page,
    }[render](context)
    assert HOSTILE not in html
    root = parse(html)
    assert len(scripts(root)) == (1 if render == "body" else 0)
    assert not [e for e in root.iter() if e.get("onmouseover") is not None]
    assert not [e for e in root.iter() if (e.get("href") or "").startswith("javascript:")]
    # The page itself lists no cookies: the hostile provider shows in the centre only.
    assert (HOSTILE in text_of(root)) is (render != "body")


def test_hostile_provider_in_placeholder_is_escaped(banner: Banner) -> None:
    html = banner.placeholder_html(
        provider=HOSTILE, category="targeting", src="javascript:alert(1)", language="en"
    )
    root = parse(html)
    assert not scripts(root)
    assert HOSTILE in text_of(root)
    assert "javascript" not in html


@pytest.mark.parametrize(
    ("return_to", "expected"),
    [
        ("/ok?x=1", "/ok?x=1"),
        ("javascript:alert(1)", "/"),
        ("https://evil.test/", "/"),
        ("//evil.test/", "/"),
        ("/\\evil.test", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
        ('/x"><script>alert(1)</script>', '/x"><script>alert(1)</script>'),
        ("", "/"),
    ],
)
def test_return_to_is_a_safe_path(
    banner: Banner, pol: Policy, return_to: str, expected: str
) -> None:
    html = banner.preferences_page(ctx(decision_for(pol), return_to=return_to))
    root = parse(html)
    assert not scripts(root)
    values = {i.get("value") for i in root.findall(".//input[@name='return_to']")}
    assert values == {expected}
    back = root.findall(".//a")[-1]
    assert back.get("href") == expected


def test_site_template_override_is_still_autoescaped(pol: Policy) -> None:
    loader = jinja2.DictLoader({"placeholder.html": "<p class='mine'>{{ message }}</p>"})
    banner = Banner(pol, loader=loader)
    html = banner.placeholder_html(provider=HOSTILE, category="targeting", src="", language="en")
    assert html.startswith("<p class='mine'>")
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html


# -- CSP nonce -------------------------------------------------------------------------------


def tags_with_nonce(root: Element) -> list[tuple[str, str | None]]:
    return [(e.tag, e.get("nonce")) for e in root.iter() if e.tag in ("script", "link", "style")]


@pytest.mark.parametrize("nonce", ["r4nd0m+/=", None])
def test_nonce_reaches_every_tag_we_add(pol: Policy, nonce: str | None) -> None:
    banner = Banner(pol, theme={"accent": "#005a9c"})
    context = ctx(decision_for(pol), nonce=nonce)
    root = parse(banner.head_html(context) + banner.body_html(context))
    found = tags_with_nonce(root)
    assert {tag for tag, _ in found} == {"script", "link", "style"}
    assert all(value == nonce for _, value in found)


def test_head_snippet_is_external_without_nonce_and_inline_with_one(
    banner: Banner, pol: Policy
) -> None:
    plain = parse(banner.head_html(ctx(decision_for(pol))))
    (script,) = scripts(plain)
    assert script.get("src") == "/_consent/static/ck-head.js"
    assert script.get("async") is None
    assert script.get("defer") is None
    assert not (script.text or "").strip()

    inline = parse(banner.head_html(ctx(decision_for(pol), nonce="n0nce")))
    (script,) = scripts(inline)
    assert script.get("src") is None
    assert script.get("nonce") == "n0nce"
    code = (static_dir() / "ck-head.js").read_text(encoding="utf-8")
    assert (script.text or "").strip() == code.strip()


# -- Google Consent Mode -----------------------------------------------------------------------


def defaults_of(html: str) -> dict[str, Any]:
    (script,) = scripts(parse(html))
    data: dict[str, Any] = json.loads(script.get("data-ck-defaults", ""))
    return data


@pytest.mark.parametrize(
    ("granted", "model", "gpc", "allowed"),
    [
        (None, "opt_in", False, {"necessary"}),
        (["performance"], "opt_in", False, {"necessary", "performance"}),
        (
            ["functionality", "targeting"],
            "opt_in",
            False,
            {"necessary", "functionality", "targeting"},
        ),
        (list(OPTIONAL_CATEGORIES), "opt_in", False, set(CATEGORIES)),
        (None, "opt_out", False, set(CATEGORIES)),
        (None, "opt_out", True, {"necessary", "performance", "functionality"}),
        ([], "opt_in", False, {"necessary"}),
    ],
)
def test_consent_mode_defaults_follow_the_decision(
    banner: Banner,
    pol: Policy,
    granted: list[Category] | None,
    model: Model,
    gpc: bool,
    allowed: set[str],
) -> None:
    for nonce in (None, "abc"):
        data = defaults_of(
            banner.head_html(ctx(decision_for(pol, granted, model=model, gpc=gpc), nonce=nonce))
        )
        assert data.pop("wait_for_update") == 500
        expected = {
            signal: "granted" if category in allowed else "denied"
            for category, signals in SIGNALS.items()
            for signal in signals
        }
        assert data == expected


def test_consent_mode_state_helper_matches_the_mapping() -> None:
    assert consent_mode_state([]) == consent_mode_state(["necessary"])
    assert consent_mode_state(["targeting"])["ad_user_data"] == "granted"
    assert consent_mode_state(["targeting"])["analytics_storage"] == "denied"


def test_initial_decision_is_available_to_the_script(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol, ["functionality"]))))
    holder = root.find(".//*[@data-ck-decision]")
    assert holder is not None
    data = json.loads(holder.get("data-ck-decision", ""))
    assert data["decided"] is True
    assert data["granted"] == ["necessary", "functionality"]
    assert data["refused"] == ["performance", "targeting"]
    # A decided page has no first layer: the announcements come with the fetched centre.
    assert holder.get("data-ck-texts") is None
    centre = parse(banner.preferences_fragment(ctx(decision_for(pol, ["functionality"]))))
    texts = json.loads(centre.find(".//*[@data-ck-texts]").get("data-ck-texts", ""))  # type: ignore[union-attr]
    assert texts["announce_saved"] == "Your cookie choices have been saved."
    first = parse(banner.body_html(ctx(decision_for(pol))))
    texts = json.loads(first.find(".//*[@data-ck-texts]").get("data-ck-texts", ""))  # type: ignore[union-attr]
    assert texts["announce_rejected"] == "Optional cookies rejected."


# -- regional models ---------------------------------------------------------------------------


def test_opt_out_notice_offers_do_not_sell(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol, model="opt_out"))))
    layer = first_layer(root)
    assert layer is not None
    assert text_of(by_id(root, layer.get("aria-labelledby", ""))) == "Your privacy choices"  # type: ignore[arg-type]
    button = next(
        b
        for b in layer.findall(".//button")
        if text_of(b) == "Do Not Sell or Share My Personal Information"
    )
    assert (button.get("name"), button.get("value")) == ("action", "save")
    form = next(f for f in layer.findall(".//form") if button in list(f.iter()))
    assert form.get("method") == "post"
    assert form.get("data-ck-remove") == "targeting"
    kept = [i.get("value") for i in form.findall(".//input[@name='categories']")]
    assert kept == ["performance", "functionality"]
    assert "Customize" in [text_of(b) for b in layer.findall(".//button")]
    # Opt-out defaults are on, so the centre's switches show them on.
    centre = parse(banner.preferences_fragment(ctx(decision_for(pol, model="opt_out"))))
    assert switches(centre)["performance"].get("checked") is not None


@pytest.mark.parametrize("honoured", [True, False])
def test_gpc_line_only_when_honoured(banner: Banner, pol: Policy, honoured: bool) -> None:
    context = ctx(decision_for(pol, model="opt_out", gpc=True), gpc_honoured=honoured)
    for html in (banner.body_html(context), banner.preferences_page(context)):
        lines = [text_of(p) for p in parse(html).findall(".//p[@class='ck-gpc']")]
        assert bool(lines) is honoured
        assert all("Global Privacy Control" in line for line in lines)


def test_notice_model_shows_no_first_layer(banner: Banner, pol: Policy) -> None:
    root = parse(banner.body_html(ctx(decision_for(pol, model="notice"))))
    assert first_layer(root) is None
    settings = root.find(".//form[@data-ck-settings]")
    assert settings is not None
    assert settings.get("hidden") is None


# -- declaration page ------------------------------------------------------------------------


def test_cookies_page_declares_every_cookie_per_category(banner: Banner, pol: Policy) -> None:
    root = parse(banner.cookies_page(ctx(decision_for(pol), language="fr")))
    assert root.tag == "html"
    assert root.get("lang") == "fr"
    assert text_of(root.find(".//h1")) == "Déclaration relative aux cookies"  # type: ignore[arg-type]
    headings = [text_of(h) for h in root.findall(".//section/h2")]
    assert headings == [banner.texts("fr")[f"{c}_label"] for c in CATEGORIES]
    sections = {s.get("aria-labelledby"): s for s in root.findall(".//section")}
    perf = sections["ck-h-performance"]
    assert [[text_of(c) for c in tr] for tr in perf.findall(".//tbody/tr")] == [
        ["_ga", "Google Analytics", "Visits", "2 years"]
    ]
    assert [text_of(th) for th in perf.findall(".//thead//th")] == [
        "Cookie",
        "Fournisseur",
        "Finalité",
        "Durée de conservation",
    ]


def test_cookies_page_says_when_a_category_is_empty() -> None:
    pol = policy(cookies=(CookieRule("sessionid", "necessary"),))
    root = parse(Banner(pol).cookies_page(ctx(decision_for(pol))))
    assert text_of(root).count("No cookies are declared in this category.") == 3


def test_prefix_rules_show_as_a_pattern() -> None:
    pol = policy(cookies=(CookieRule("_ga_", "performance", match="prefix"),))
    root = parse(Banner(pol).cookies_page(ctx(decision_for(pol))))
    assert "_ga_*" in [text_of(c) for c in root.findall(".//tbody//code")]


# -- placeholders ----------------------------------------------------------------------------


def test_placeholder_names_provider_and_category(banner: Banner) -> None:
    root = parse(
        banner.placeholder_html(
            provider="YouTube",
            category="targeting",
            src="https://www.youtube.com/embed/x",
            language="en",
        )
    )
    holder = root.find(".//*[@data-ck-placeholder]")
    assert holder is not None
    assert holder.get("data-ck-category") == "targeting"
    assert "YouTube" in text_of(holder)
    assert "Targeting" in text_of(holder)
    load, allow = holder.findall(".//button")
    assert text_of(load) == "Load"
    assert load.get("type") == "button"
    assert text_of(allow) == "Always allow Targeting"
    assert (allow.get("name"), allow.get("value"), allow.get("type")) == (
        "action",
        "save",
        "submit",
    )
    form = holder.find(".//form")
    assert form is not None
    assert (form.get("method"), form.get("action")) == ("post", "/_consent")
    assert [i.get("value") for i in form.findall(".//input[@name='categories']")] == ["targeting"]


def test_always_allow_keeps_what_was_granted(banner: Banner) -> None:
    html = banner.placeholder_html(
        provider="Vimeo",
        category="functionality",
        src="https://player.vimeo.com/v",
        language="de",
        granted=["necessary", "performance"],
        return_to="/video",
    )
    form = parse(html).find(".//form")
    assert form is not None
    assert [i.get("value") for i in form.findall(".//input[@name='categories']")] == [
        "performance",
        "functionality",
    ]
    assert form.find(".//input[@name='return_to']").get("value") == "/video"  # type: ignore[union-attr]
    assert "Funktionalität" in text_of(form)


@pytest.mark.parametrize("category", ["unclassified", "", "bogus"])
def test_placeholder_maps_unknown_categories_to_the_policy_default(category: str) -> None:
    pol = policy(unclassified="functionality")
    html = Banner(pol).placeholder_html(provider=None, category=category, src=None, language="xx")
    holder = parse(html).find(".//*[@data-ck-placeholder]")
    assert holder is not None
    assert holder.get("data-ck-category") == "functionality"


# -- texts, languages, hashes ------------------------------------------------------------------


def test_language_sets_lang_and_dir(pol: Policy) -> None:
    english = Banner(pol).texts("en")
    banner = Banner(
        pol, languages=["en", "ar"], texts={"ar": {**english, "title": "نحن نحترم خصوصيتك"}}
    )
    root = parse(banner.body_html(ctx(decision_for(pol), language="ar")))
    holder = root.find(".//aside")
    assert holder is not None
    assert (holder.get("lang"), holder.get("dir")) == ("ar", "rtl")
    assert text_of(by_id(root, "ck-title")) == "نحن نحترم خصوصيتك"  # type: ignore[arg-type]
    root = parse(banner.body_html(ctx(decision_for(pol), language="en")))
    assert root.find(".//aside").get("dir") == "ltr"  # type: ignore[union-attr]


def test_site_category_texts_beat_translations_only_when_set() -> None:
    pol = policy(texts={"performance": CategoryText("Statistik", "Wir zählen Besuche.")})
    banner = Banner(pol)
    german = banner.texts("de")
    assert german["performance_label"] == "Statistik"
    assert german["targeting_label"] == "Marketing"
    assert banner.texts("fr")["performance_label"] == "Statistik"
    assert Banner(policy()).texts("de")["performance_label"] == "Leistung"


def test_text_overrides_apply(pol: Policy) -> None:
    banner = Banner(pol, texts={"en": {"title": "Cookies, briefly"}})
    root = parse(banner.body_html(ctx(decision_for(pol))))
    assert text_of(by_id(root, "ck-title")) == "Cookies, briefly"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"texts": {"en": {"titel": "x"}}}, "texts.en.titel"),
        ({"texts": {"en": {"placeholder": "blocked"}}}, "texts.en.placeholder"),
        ({"texts": {"en": {"title": "  "}}}, "texts.en.title"),
        ({"texts": {"de": {"title": "x"}}, "languages": ["en"]}, "texts.de"),
        ({"languages": ["en", "xx"]}, "texts.xx"),
        ({"languages": ["fr"]}, "default_language"),
        ({"position": "corner"}, "position"),
        ({"theme": {"colour": "red"}}, "colour"),
        ({"theme": {"bg": "red;}body{display:none"}}, "bg"),
        ({"theme": {"bg": "url(https://evil.test/x)"}}, "bg"),
        ({"theme": {"fg": "#777777"}}, "fg"),
        ({"theme": {"accent": "#ffff00"}}, "accent_fg"),
    ],
)
def test_bad_configuration_names_the_key(pol: Policy, kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Banner(pol, **kwargs)
    assert info.value.key == key


def test_theme_becomes_custom_properties(pol: Policy) -> None:
    banner = Banner(
        pol,
        theme={"bg": "#111111", "fg": "#f5f5f5", "font": '"Open Sans", sans-serif'},
        position="box",
    )
    root = parse(banner.body_html(ctx(decision_for(pol))))
    head = parse(banner.head_html(ctx(decision_for(pol))))
    style = next(e for e in head.iter() if e.tag == "style")
    assert style.text == '.ck{--ck-bg:#111111;--ck-fg:#f5f5f5;--ck-font:"Open Sans", sans-serif}'
    assert "ck--box" in root.find(".//aside").get("class", "")  # type: ignore[union-attr]


def test_shown_hash_tracks_texts_cookies_and_language(pol: Policy) -> None:
    base = Banner(pol)
    digest = base.shown_hash("en")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert Banner(pol).shown_hash("en") == digest
    assert base.shown_hash("de") != digest
    assert base.shown_hash("zz") == digest  # unknown languages show the default language
    assert Banner(pol, texts={"en": {"title": "Cookies!"}}).shown_hash("en") != digest
    assert Banner(pol, texts={"en": {"title": "Cookies!"}}).shown_hash("de") == base.shown_hash(
        "de"
    )
    more = policy(cookies=(*pol.cookies, CookieRule("_gid", "performance")))
    assert Banner(more).shown_hash("en") != digest
    reworded = policy(
        cookies=(
            *pol.cookies[:-1],
            CookieRule("_fbp", "targeting", provider="Meta", purpose="Ads!", retention="90 days"),
        )
    )
    assert Banner(reworded).shown_hash("en") != digest


def test_rendering_is_cached_per_input(banner: Banner, pol: Policy) -> None:
    first = ctx(decision_for(pol))
    assert banner.body_html(first) is banner.body_html(ctx(decision_for(pol)))
    assert banner.body_html(ctx(decision_for(pol), return_to="/other")) != banner.body_html(first)
    assert banner.body_html(ctx(decision_for(pol), language="de")) != banner.body_html(first)


# -- static assets --------------------------------------------------------------------------------


def test_static_assets_exist() -> None:
    for name in ("consentkit.js", "consentkit.css", "ck-head.js"):
        assert (static_dir() / name).is_file()
    assert "</" not in (static_dir() / "ck-head.js").read_text(encoding="utf-8")


def test_script_and_stylesheet_fit_in_8_kib_gzipped() -> None:
    data = b"".join(
        (static_dir() / name).read_bytes() for name in ("consentkit.js", "consentkit.css")
    )
    size = len(gzip.compress(data, compresslevel=9))
    assert 2000 < size <= 8192, size


def test_stylesheet_keeps_its_promises() -> None:
    css = (static_dir() / "consentkit.css").read_text(encoding="utf-8")
    for needle in (
        "--ck-bg",
        "--ck-fg",
        "--ck-accent",
        "--ck-radius",
        "--ck-font",
        ":focus-visible",
        "prefers-reduced-motion",
        "position: fixed",
        "inset-inline",
        ".ck--box",
    ):
        assert needle in css
    # Physical left/right would break right-to-left languages.
    assert not re.search(r"(margin|padding)-(left|right)|\b(left|right)\s*:", css)


def test_script_makes_no_external_requests() -> None:
    js = (static_dir() / "consentkit.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://", js)
    assert "import(" not in js
