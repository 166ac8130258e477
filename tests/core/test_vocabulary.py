"""The shared vocabulary: category names and synonyms, actions, error formatting, prefixes."""

from __future__ import annotations

from typing import get_args

import pytest

from consentkit.categories import (
    ACTIONS,
    CATEGORIES,
    CATEGORY_SYNONYMS,
    VISITOR_ACTIONS,
    Action,
    is_action,
    normalize_category,
)
from consentkit.consent_mode import CONSENT_MODE_SIGNALS, consent_mode_state
from consentkit.errors import ConfigError, did_you_mean
from consentkit.urls import check_prefix


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("targeting", "targeting"),
        ("Analytics", "performance"),
        ("strictly-necessary", "necessary"),
        (" Strictly Necessary ", "necessary"),
        ("measurement", "performance"),
        ("personalization", "functionality"),
        ("ads", "targeting"),
        ("ignore", "necessary"),
        ("cookies", None),
        ("", None),
    ],
)
def test_normalize_category(name: str, expected: str | None) -> None:
    assert normalize_category(name) == expected


def test_synonyms_name_real_categories_and_are_folded() -> None:
    assert set(CATEGORY_SYNONYMS.values()) <= set(CATEGORIES)
    assert all(key == key.lower() and "-" not in key for key in CATEGORY_SYNONYMS)
    assert not set(CATEGORY_SYNONYMS) & set(CATEGORIES)


def test_actions_match_the_action_type() -> None:
    assert set(ACTIONS) == set(get_args(Action))
    assert set(ACTIONS) - {"gpc"} == VISITOR_ACTIONS
    assert is_action("withdraw")
    assert not is_action("delete")


def test_config_error_formats_from_its_fields() -> None:
    error = ConfigError("must be a table", source="site.toml", key="regions", fix="add [regions]")
    assert str(error) == "site.toml: regions: must be a table (fix: add [regions])"
    assert error.problem == "must be a table"
    assert str(ConfigError("bad")) == "Policy(...): bad"
    error.key = "regions.EU"  # a caller adding context changes a field, never the text
    assert str(error).startswith("site.toml: regions.EU: must be a table")


@pytest.mark.parametrize(
    ("value", "choices", "expected"),
    [
        ("revison", ["revision", "site_name"], 'did you mean "revision"?'),
        ("CLOUDFLARE", ["cloudflare", "vercel"], 'did you mean "cloudflare"?'),
        ("strictly-necessary", ["strictly_necessary"], 'did you mean "strictly_necessary"?'),
        ("zzz", ["revision"], ""),
    ],
)
def test_did_you_mean(value: str, choices: list[str], expected: str) -> None:
    assert did_you_mean(value, choices) == expected


def test_did_you_mean_uses_synonyms_and_can_list_the_choices() -> None:
    hint = did_you_mean("marketing", CATEGORIES, synonyms=CATEGORY_SYNONYMS)
    assert hint == 'did you mean "targeting"?'
    assert did_you_mean("zzz", ["b", "a"], or_list="known: ") == "known: a, b"


@pytest.mark.parametrize("prefix", ["/_consent", "/a/b", "/x.y~z-1"])
def test_valid_prefixes(prefix: str) -> None:
    assert check_prefix(prefix, source="t") == prefix


@pytest.mark.parametrize("prefix", ["", "/", "_consent", "/_consent/", "//x", "/a b", "/é", None])
def test_invalid_prefixes_name_the_key_and_fix(prefix: object) -> None:
    with pytest.raises(ConfigError) as info:
        check_prefix(prefix, source="Banner(...)")
    assert info.value.key == "prefix"
    assert info.value.source == "Banner(...)"
    assert "leading slash" in info.value.fix


def test_consent_mode_state_covers_every_category() -> None:
    assert set(CONSENT_MODE_SIGNALS) == set(CATEGORIES)
    state = consent_mode_state(["performance"])
    assert state["analytics_storage"] == "granted"
    assert state["security_storage"] == "granted"
    assert state["ad_storage"] == "denied"
    assert list(state) == sorted(state)
