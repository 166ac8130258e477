"""Configuration mistakes a new user makes: each is refused with a hint that fixes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consentkit import Banner, ConfigError, ConsentMiddleware, CookieRule, Policy
from consentkit.decision import Decision

from ..conftest import SECRET, make_app, site_policy


def test_conflicting_cookie_rules_name_both_entries_in_python() -> None:
    with pytest.raises(ConfigError) as info:
        Policy(
            cookies=(
                CookieRule("sessionid", "necessary"),
                CookieRule("_ga", "performance"),
                CookieRule("_ga", "targeting"),
            )
        )
    message = str(info.value)
    assert "cookies[1]" in message
    assert "cookies[2]" in message
    assert "performance" in message
    assert "targeting" in message


def test_duplicate_cookie_tables_name_both_entries_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(
        '[[cookies]]\nname = "_ga"\ncategory = "performance"\n\n'
        '[[cookies]]\nname = "_ga"\ncategory = "performance"\n'
    )
    with pytest.raises(ConfigError) as info:
        Policy.from_toml(path)
    assert str(path) in str(info.value)
    assert "cookies[0]" in str(info.value)
    assert "cookies[1]" in str(info.value)


def test_same_name_on_other_domains_or_match_kinds_is_not_a_duplicate() -> None:
    Policy(
        cookies=(
            CookieRule("_ga", "performance"),
            CookieRule("_ga", "performance", match="prefix"),
            CookieRule("id", "targeting", domain="ads.example"),
            CookieRule("id", "necessary", domain="example.org"),
        )
    )


@pytest.mark.parametrize(
    ("name", "suggestion"), [("analytics", "performance"), ("Performance", "performance")]
)
def test_allows_refuses_unknown_category_names_with_a_suggestion(
    name: str, suggestion: str
) -> None:
    decision = Decision(
        decided=True, granted=frozenset({"necessary", "performance"}), reason="recorded"
    )
    with pytest.raises(ValueError, match=f'did you mean "{suggestion}"'):
        decision.allows(name)
    assert decision.allows("performance")
    assert not decision.allows("targeting")


# -- middleware and banner configuration ------------------------------------------------


def _noop_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    return app


def test_policy_given_as_a_path_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('revision = "7"\n[[cookies]]\nname = "sid"\ncategory = "necessary"\n')
    for given in (str(path), path):
        middleware = ConsentMiddleware(_noop_app(), policy=given, secret_key=SECRET)
        assert middleware.policy.revision == "7"
        assert middleware.policy.classify("sid").category == "necessary"


def test_unknown_middleware_option_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match='did you mean "admin_token"') as info:
        ConsentMiddleware(_noop_app(), policy=Policy(), secret_key=SECRET, admin_tokne="x" * 20)
    assert info.value.key == "admin_tokne"


@pytest.mark.parametrize("key", ["abc", b"x" * 31, ["y" * 40, "short"]])
def test_secret_key_needs_32_bytes(key: Any) -> None:
    with pytest.raises(ConfigError, match="fewer than 32"):
        ConsentMiddleware(_noop_app(), policy=Policy(), secret_key=key)


def test_category_table_typo_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match='did you mean "label"') as info:
        Policy.from_dict({"categories": {"performance": {"lable": "Stats"}}})
    assert info.value.key == "categories.performance.lable"


def test_text_key_typo_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match='did you mean "title"'):
        Banner(Policy(), texts={"en": {"titel": "Cookies"}})


def test_regional_language_falls_back_to_its_base_language() -> None:
    banner = Banner(Policy(), languages=["en-GB"])
    assert banner.languages == ("en-gb",)
    assert banner.default_language == "en-gb"
    assert banner.texts("en-gb")["title"] == Banner(Policy()).texts("en")["title"]
    assert banner.negotiate("en-GB,en;q=0.8") == "en-gb"
    custom = Banner(Policy(), languages=["en", "fr-CA"], texts={"fr-ca": {"title": "Témoins"}})
    assert custom.texts("fr-ca")["title"] == "Témoins"
    assert custom.texts("fr-ca")["accept_all"] == Banner(Policy()).texts("fr")["accept_all"]


def test_banner_posts_under_the_middleware_prefix_and_lists_its_policy() -> None:
    policy = site_policy()
    middleware = ConsentMiddleware(
        _noop_app(), policy=policy, secret_key=SECRET, prefix="/consent", banner=Banner(Policy())
    )
    assert middleware.banner is not None
    assert middleware.banner.prefix == "/consent"
    assert middleware.banner.policy is policy
    app = make_app(prefix="/consent", banner=Banner(policy))
    page = TestClient(app).get("/").text
    assert 'action="/consent"' in page
    assert 'action="/_consent"' not in page
