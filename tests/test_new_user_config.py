"""Configuration mistakes a new user makes: each is refused with a hint that fixes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentkit import ConfigError, CookieRule, Policy
from consentkit.decision import Decision


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
    assert "cookies[1]" in message and "cookies[2]" in message
    assert "performance" in message and "targeting" in message


def test_duplicate_cookie_tables_name_both_entries_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(
        '[[cookies]]\nname = "_ga"\ncategory = "performance"\n\n'
        '[[cookies]]\nname = "_ga"\ncategory = "performance"\n'
    )
    with pytest.raises(ConfigError) as info:
        Policy.from_toml(path)
    assert str(path) in str(info.value)
    assert "cookies[0]" in str(info.value) and "cookies[1]" in str(info.value)


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
