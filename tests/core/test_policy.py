"""Policy construction, TOML loading and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentkit import ConfigError, CookieRule, Policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "consent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_from_toml_reads_everything(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
revision = "2026-11-01"
consent_lifetime_days = 180
refusal_lifetime_days = 90
unclassified = "performance"
site_name = "Example"

[categories.performance]
label = "Statistics"

[[cookies]]
name = "sessionid"
category = "necessary"
provider = "Example"
purpose = "Keeps you signed in"
retention = "session"

[[cookies]]
name = "pref_"
match = "prefix"
category = "functionality"
""",
    )
    policy = Policy.from_toml(path)
    assert policy.revision == "2026-11-01"
    assert policy.consent_lifetime_days == 180
    assert policy.refusal_lifetime_days == 90
    assert policy.unclassified == "performance"
    assert policy.text("performance").label == "Statistics"
    assert policy.text("targeting").label == "Targeting"
    assert policy.classify("sessionid").source == "declared"
    assert policy.classify("pref_theme").category == "functionality"
    assert policy.source == str(path)


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        ("revison = '1'", "revison", 'did you mean "revision"'),
        ("consent_lifetime_days = 400", "consent_lifetime_days", "at most 395"),
        ("consent_lifetime_days = 0", "consent_lifetime_days", "between 1 and 395"),
        ("consent_lifetime_days = '30'", "consent_lifetime_days", "between 1 and 395"),
        ("refusal_lifetime_days = 500", "refusal_lifetime_days", "at most 395"),
        ("unclassified = 'necessary'", "unclassified", "performance, functionality or targeting"),
        ("unclassified = 'ads'", "unclassified", "performance, functionality or targeting"),
        ("revision = ''", "revision", "e.g."),
        ("[categories.marketing]\nlabel = 'x'", "categories.marketing", "necessary, performance"),
        ("[categories.performance]\ncolour = 'x'", "categories.performance", "label"),
        ("cookies = 3", "cookies", "[[cookies]]"),
        ("knowledge_base = 'yes'", "knowledge_base", "true"),
        ("[[cookies]]\nname = 'x'\ncategory = 'ads'", "cookies[0]", ""),
    ],
)
def test_config_errors_name_file_key_and_fix(tmp_path: Path, text: str, key: str, fix: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Policy.from_toml(path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert fix in message


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        Policy.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Policy.from_toml(write(tmp_path, "revision = = 1"))


def test_python_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match=r"Policy\(\.\.\.\): consent_lifetime_days"):
        Policy(consent_lifetime_days=396)
    with pytest.raises(ConfigError, match="cookies"):
        Policy(cookies=("sessionid",))  # type: ignore[arg-type]
    assert Policy(consent_lifetime_days=395).consent_lifetime_days == 395


def test_required_category_maps_unknown_to_unclassified_setting() -> None:
    assert Policy().required_category("zz_unknown") == "targeting"
    assert Policy(unclassified="functionality").required_category("zz_unknown") == "functionality"
    assert Policy().required_category("_ga") == "performance"


def test_fingerprint_changes_only_for_the_changed_category() -> None:
    before = Policy(cookies=(CookieRule("a", "performance"), CookieRule("b", "targeting")))
    after = Policy(
        cookies=(
            CookieRule("a", "performance"),
            CookieRule("b", "targeting"),
            CookieRule("c", "targeting"),
        )
    )
    assert before.fingerprint("performance") == after.fingerprint("performance")
    assert before.fingerprint("targeting") != after.fingerprint("targeting")


def test_declares_only_necessary() -> None:
    assert Policy(cookies=(CookieRule("sid", "necessary"),)).declares_only_necessary
    assert not Policy(
        cookies=(CookieRule("sid", "necessary"), CookieRule("_ga", "performance"))
    ).declares_only_necessary
    assert not Policy().declares_only_necessary
