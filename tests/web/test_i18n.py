"""The 24 bundled translations and Accept-Language negotiation."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit.policy import Policy
from consentkit.web.banner import BUNDLED_LANGUAGES, Banner

EU_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Strings every translation must actually translate (brand names may stay in English).
MUST_DIFFER = (
    "title",
    "text",
    "accept_all",
    "reject_all",
    "customize",
    "save",
    "settings",
    "withdraw",
)


def load(language: str) -> dict[str, Any]:
    path = resources.files("consentkit") / "data" / "i18n" / f"{language}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


ENGLISH = load("en")


@pytest.fixture(scope="module")
def banner() -> Banner:
    return Banner(Policy(knowledge_base=False))


def test_exactly_the_24_eu_languages_are_bundled() -> None:
    folder = resources.files("consentkit") / "data" / "i18n"
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    assert files == sorted(f"{lang}.json" for lang in EU_LANGUAGES)
    assert sorted(BUNDLED_LANGUAGES) == sorted(EU_LANGUAGES)


def test_english_has_the_product_button_names() -> None:
    assert ENGLISH["accept_all"] == "Accept all"
    assert ENGLISH["reject_all"] == "Reject all"
    assert ENGLISH["customize"] == "Customize"
    assert ENGLISH["save"] == "Save choices"
    assert ENGLISH["settings"] == "Cookie settings"


@pytest.mark.parametrize("language", EU_LANGUAGES)
def test_translation_has_every_key_and_no_empty_value(language: str) -> None:
    data = load(language)
    assert list(data) == list(ENGLISH), "same keys, same order as English"
    for key, value in data.items():
        assert isinstance(value, str), key
        assert value.strip(), key
        assert value == value.strip(), key
        assert "  " not in value, key


@pytest.mark.parametrize("language", EU_LANGUAGES)
def test_placeholders_match_english(language: str) -> None:
    data = load(language)
    for key, english in ENGLISH.items():
        assert sorted(PLACEHOLDER.findall(data[key])) == sorted(PLACEHOLDER.findall(english)), key
        # A stray brace would show up literally in the page.
        assert data[key].count("{") == data[key].count("}") == len(PLACEHOLDER.findall(data[key]))


@pytest.mark.parametrize("language", [lang for lang in EU_LANGUAGES if lang != "en"])
def test_translation_is_not_english(language: str) -> None:
    data = load(language)
    same = [key for key in MUST_DIFFER if data[key] == ENGLISH[key]]
    assert not same


@pytest.mark.parametrize("language", EU_LANGUAGES)
def test_first_layer_buttons_are_distinct(language: str) -> None:
    data = load(language)
    names = [data["accept_all"], data["reject_all"], data["customize"]]
    assert len(set(names)) == 3


@pytest.mark.parametrize("language", EU_LANGUAGES)
def test_banner_serves_each_language(banner: Banner, language: str) -> None:
    assert dict(banner.texts(language)) == load(language)
    assert banner.negotiate(language) == language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("DE", "de"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("pt-BR", "pt"),
        ("pt-BR,pt;q=0.9", "pt"),
        ("sv_SE", "sv"),
        ("en-GB,en;q=0.9", "en"),
        ("en;q=0.1, fr;q=0.9", "fr"),
        ("nl-BE;q=0.7, fr-BE;q=0.8", "fr"),
        ("ga-IE;q=0.8, mt;q=0.8", "ga"),
        ("zh-CN, ja;q=0.9", "en"),
        ("zh-CN, ja;q=0.9, hr;q=0.1", "hr"),
        ("*", "en"),
        ("fr;q=0, de;q=0.5", "de"),
        ("fr;q=0.000", "en"),
        ("de;q=abc, fr", "fr"),
        ("de;q=1.5, fr;q=0.2", "fr"),
        ("de;q=-1, it;q=0.3", "it"),
        ("de;q=0.1234, it;q=0.3", "it"),
        (" ; , ;; ,, ", "en"),
        ("x" * 5000, "en"),
        ("\x00de, \udcff", "en"),
        ("de\x00, pl", "pl"),
        ("el;level=1;q=0.4, bg;q=0.3", "el"),
        ("i-klingon, hr", "hr"),
        ("1234, lt", "lt"),
        ("es-419", "es"),
        ("fil, fi;q=0.5", "fi"),
        ("de;q=0.5, " * 40 + "sk", "sk"),
    ],
)
def test_negotiate(banner: Banner, header: str | None, expected: str) -> None:
    assert banner.negotiate(header) == expected


def test_negotiate_only_offers_configured_languages() -> None:
    banner = Banner(Policy(knowledge_base=False), languages=["en", "fr"], default_language="fr")
    assert banner.negotiate("de, en;q=0.5") == "en"
    assert banner.negotiate("de") == "fr"
    assert banner.negotiate(None) == "fr"
    assert banner.negotiate("*") == "fr"
    assert banner.languages == ("en", "fr")
    assert banner.texts("de") == banner.texts("fr")


@given(st.one_of(st.none(), st.text(max_size=300)))
def test_negotiate_never_raises(header: str | None) -> None:
    banner = Banner(Policy(knowledge_base=False), languages=["en", "de", "pt"])
    assert banner.negotiate(header) in ("en", "de", "pt")


def test_remembered_answers_stay_right_and_bounded(banner: Banner) -> None:
    from consentkit.web import i18n

    texts = banner._texts
    for _ in range(2):  # the second round answers from memory
        assert banner.negotiate("de-AT, en;q=0.5") == "de"
        assert banner.negotiate("fr;q=0.1, xx") == "fr"
    for i in range(i18n._NEGOTIATED_MAX + 10):
        banner.negotiate(f"x{i}, fr")
    assert len(texts._negotiated) <= i18n._NEGOTIATED_MAX
    assert banner.negotiate("de-AT, en;q=0.5") == "de"
