"""Site knowledge-base files, the Open Cookie Database import, retention parsing, kb stats."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from consentkit import Policy
from consentkit.cli import main
from consentkit.errors import ConfigError
from consentkit.knowledge import (
    OCD_COLUMNS,
    import_open_cookie_database,
    knowledge_base_stats,
    load_knowledge_base_file,
    parse_retention,
)
from consentkit.rules import CookieRule, knowledge_base
from consentkit.trackers import default_index

HEADER = ",".join(OCD_COLUMNS)


def _row(
    name: str,
    category: str = "Analytics",
    *,
    platform: str = "Acme Analytics",
    domain: str = "Advertiser's website domain (1st party)",
    description: str = "Counts visits.",
    retention: str = "1 year",
    controller: str = "Acme",
    portal: str = "https://acme.example/privacy",
    wildcard: str = "0",
) -> str:
    cells = [
        "4f9a2c1e-0000-4000-8000-000000000000",
        platform,
        category,
        name,
        domain,
        description,
        retention,
        controller,
        portal,
        wildcard,
    ]
    return ",".join(_quote(cell) for cell in cells)


def _quote(cell: str) -> str:
    if any(char in cell for char in ',"\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _csv(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize(
    ("text", "session", "longest"),
    [
        ("session", True, None),
        ("2 years", False, timedelta(days=730.5)),
        ("13 months", False, timedelta(days=13 * 30.4375)),
        ("up to 1 year", False, timedelta(days=365.25)),
        ("30 minutes by default, configurable", False, timedelta(minutes=30)),
        ("session or 14 days", True, timedelta(days=14)),
        ("15 minutes of inactivity, at most 4 hours", False, timedelta(hours=4)),
        ("persistent (lifetime not published)", False, None),
        ("set by the site", False, None),
        ("1 Day", False, timedelta(days=1)),
    ],
)
def test_parse_retention(text: str, session: bool, longest: timedelta | None) -> None:
    result = parse_retention(text)
    assert (result.session, result.longest) == (session, longest)
    assert result.text == text


@pytest.mark.parametrize("text", ["", "forever", "2", "years", "1 fortnight", "2 years; 3 days"])
def test_unparseable_retention_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="retention"):
        parse_retention(text)


# --------------------------------------------------------------------------- import


def test_import_maps_categories_and_cleans_names() -> None:
    text = _csv(
        _row("_acme_id"),
        _row("acme_pref", "Functional"),
        _row("acme_theme", "Personalization"),
        _row("acme_ad", "Marketing", domain="ads.acme-cdn.example (3rd party)"),
        _row("acme_bot", "Security", platform="Acme Shield", controller="Acme Security"),
        _row("_acme_s_", wildcard="1"),
        _row("AC<SlotID>", "Marketing"),
        _row("AcmeConsent [x4]", "Functional"),
        _row("_dp Cookie", "Marketing"),
    )
    result = import_open_cookie_database(text, source_name="ocd.csv")
    assert result.errors == ()
    by_name = {rule.name: rule for rule in result.rules}
    assert by_name["_acme_id"].category == "performance"
    assert by_name["acme_pref"].category == "functionality"
    assert by_name["acme_theme"].category == "functionality"
    assert by_name["acme_ad"].category == "targeting"
    assert by_name["acme_ad"].domain == "ads.acme-cdn.example"
    assert by_name["_acme_id"].domain is None, "a possibly first-party cookie gets no domain"
    assert by_name["acme_bot"].category == "necessary"
    assert by_name["_acme_s_"].match == "prefix"
    assert by_name["AC*"].match == "glob"
    assert "AcmeConsent" in by_name
    assert "_dp" in by_name
    assert by_name["_acme_id"].source_url == "https://acme.example/privacy"
    assert by_name["_acme_id"].purpose == "Counts visits."


def test_imported_file_round_trips_through_the_loader(tmp_path: Path) -> None:
    text = _csv(
        _row("_acme_id", description='Says "hi"\nover two lines, with a \\ backslash.'),
        _row("acme_pref", "Functional"),
        _row("acme_ad", "Marketing", platform="Acme Ads", portal="not a url"),
        _row("acme_ü", "Analytics"),
    )
    result = import_open_cookie_database(text, source_name="ocd.csv")
    path = tmp_path / "site.toml"
    path.write_text(result.toml, encoding="utf-8")
    loaded = load_knowledge_base_file(path)
    assert [(r.name, r.category, r.provider) for r in loaded] == [
        (r.name, r.category, r.provider) for r in result.rules
    ]
    first = loaded[0]
    assert first.purpose == 'Says "hi" over two lines, with a \\ backslash.'
    assert {r.source_url for r in loaded if r.provider == "Acme Ads"} == {""}


def test_bad_rows_are_reported_by_line() -> None:
    text = _csv(
        _row("good_one"),  # line 2
        _row("multi", description="first line\nsecond line"),  # lines 3-4
        _row("bad_category", "Advertising"),  # line 5
        _row("bad_wildcard", wildcard="2"),  # line 6
        _row(""),  # line 7
        "4f9a2c1e,Acme,Analytics",  # line 8
        _row("has=equals"),  # line 9
    )
    result = import_open_cookie_database(text, source_name="ocd.csv")
    assert [rule.name for rule in result.rules] == ["good_one", "multi"]
    assert len(result.errors) == 5
    line5, line6, line7, line8, line9 = result.errors
    assert line5.startswith("ocd.csv: line 5: unknown category 'Advertising'")
    assert line6.startswith("ocd.csv: line 6: Wildcard match must be 0 or 1")
    assert line7.startswith("ocd.csv: line 7: the cookie name is empty")
    assert line8.startswith("ocd.csv: line 8: 3 fields, expected 10")
    assert line9.startswith("ocd.csv: line 9:")
    assert "cannot be a cookie name" in line9


def test_a_file_without_the_expected_columns_is_refused() -> None:
    result = import_open_cookie_database("name,category\n_ga,Analytics\n", source_name="x.csv")
    assert result.rules == ()
    assert result.errors[0].startswith("x.csv: line 1: missing column(s) ID, Platform")


def test_duplicates_and_known_names_are_left_out() -> None:
    text = _csv(_row("acme_a"), _row("acme_a", "Marketing"), _row("_ga"), _row("acme_b"))
    result = import_open_cookie_database(text, known=knowledge_base())
    assert [rule.name for rule in result.rules] == ["acme_a", "acme_b"]
    assert result.skipped == (
        "line 3: 'acme_a' repeats line 2",
        "line 4: '_ga' is already in the knowledge base",
    )


# --------------------------------------------------------------------------- policy files


def _site_file(path: Path, platform: str, cookies: str) -> Path:
    path.write_text(
        f'[[platform]]\nname = "{platform}"\nvendor = "Site"\ncategory = "functionality"\n'
        f"cookies = [\n{cookies}\n]\n",
        encoding="utf-8",
    )
    return path


def test_precedence_declared_then_site_files_in_order_then_bundled(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    _site_file(
        folder / "first.toml",
        "First",
        '  { name = "_ga", purpose = "Site says.", retention = "1 day" },\n'
        '  { name = "both", category = "targeting", purpose = "First.", retention = "1 day" },',
    )
    _site_file(
        folder / "second.toml",
        "Second",
        '  { name = "both", category = "performance", purpose = "Second.", retention = "1 day" },\n'
        '  { name = "_gid", category = "targeting", purpose = "Second.", retention = "1 day" },\n'
        '  { name = "mine", purpose = "Declared wins.", retention = "1 day" },\n'
        '  { name = "only_second", purpose = "Second.", retention = "1 day" },',
    )
    policy_path = tmp_path / "consent.toml"
    policy_path.write_text(
        'knowledge_base_files = ["kb/first.toml", "kb/second.toml"]\n'
        '[[cookies]]\nname = "mine"\ncategory = "necessary"\n',
        encoding="utf-8",
    )
    policy = Policy.from_toml(policy_path)
    assert policy.classify("mine").category == "necessary"
    assert policy.classify("mine").source == "declared"
    assert policy.classify("_ga").provider == "First"  # a site file beats the bundled base
    assert policy.classify("_ga").category == "functionality"
    assert policy.classify("both").provider == "First"  # earlier files first
    assert policy.classify("_gid").provider == "Second"
    assert policy.classify("only_second").category == "functionality"
    assert policy.classify("_fbp").provider.startswith("Meta")  # bundled base still answers
    assert len(policy.registry.rules()) == 1 + 6 + len(knowledge_base())


def test_python_policy_takes_site_files_and_keeps_them_without_the_bundled_base(
    tmp_path: Path,
) -> None:
    site = _site_file(
        tmp_path / "site.toml",
        "Site",
        '  { name = "_ga", purpose = "Ours.", retention = "1 day" },',
    )
    policy = Policy(knowledge_base_files=[site], knowledge_base=False)
    assert policy.knowledge_base_files == (site,)
    assert policy.classify("_ga").category == "functionality"
    assert policy.classify("_gid").category == "unclassified"


def test_missing_site_file_names_the_file(tmp_path: Path) -> None:
    policy_path = tmp_path / "consent.toml"
    policy_path.write_text('knowledge_base_files = ["nope.toml"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Policy.from_toml(policy_path)
    assert info.value.source == str(tmp_path / "nope.toml")
    assert "not found" in str(info.value)


def test_bad_site_file_entry_names_the_file_and_key(tmp_path: Path) -> None:
    site = _site_file(
        tmp_path / "site.toml",
        "Site",
        '  { name = "a", category = "ads", purpose = "A.", retention = "1 day" },',
    )
    with pytest.raises(ConfigError) as info:
        Policy(knowledge_base_files=[site])
    assert info.value.source == str(site)
    assert info.value.key == "platform[0].cookies[0].category"


@pytest.mark.parametrize("value", ["site.toml", [3], 5])
def test_knowledge_base_files_must_be_a_list_of_paths(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        Policy.from_dict({"knowledge_base_files": value}, source="consent.toml")
    assert info.value.key == "knowledge_base_files"


# --------------------------------------------------------------------------- CLI


def test_cli_import_writes_a_file_the_policy_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "ocd.csv"
    source.write_text(_csv(_row("acme_id"), _row("acme_ad", "Marketing")), encoding="utf-8")
    assert main(["kb", "import", str(source)]) == 0
    out = capsys.readouterr().out
    assert "2 cookie rules from 1 platforms" in out
    assert 'knowledge_base_files = ["ocd.toml"]' in out
    policy = Policy(knowledge_base_files=[tmp_path / "ocd.toml"])
    assert policy.classify("acme_ad").category == "targeting"
    # An existing file is not overwritten without --force.
    assert main(["kb", "import", str(source)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["kb", "import", str(source), "--force"]) == 0


def test_cli_import_with_bad_rows_writes_nothing_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "ocd.csv"
    source.write_text(_csv(_row("acme_id"), _row("acme_x", "Weird")), encoding="utf-8")
    out = tmp_path / "site.toml"
    assert main(["kb", "import", str(source), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "ocd.csv: line 3: unknown category 'Weird'" in err
    assert not out.exists()
    assert main(["kb", "import", str(source), "--out", str(out), "--skip-invalid"]) == 1
    assert [rule.name for rule in load_knowledge_base_file(out)] == ["acme_id"]


def test_cli_import_only_new_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "ocd.csv"
    source.write_text(_csv(_row("_ga"), _row("acme_id")), encoding="utf-8")
    out = tmp_path / "site.toml"
    assert main(["kb", "import", str(source), "--out", str(out), "--only-new"]) == 0
    assert [rule.name for rule in load_knowledge_base_file(out)] == ["acme_id"]
    assert main(["kb", "import", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_cli_stats_counts_the_bundled_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    rules = knowledge_base()
    trackers = default_index().trackers
    assert stats["cookie_rules"] == len(rules) >= 1500
    assert stats["exact_names"] + stats["patterns"] == len(rules)
    assert stats["platforms"] == len({rule.provider for rule in rules}) >= 150
    assert stats["tracker_domains"] == sum(len(t.domains) for t in trackers) >= 500
    assert sum(stats["by_category"].values()) == len(rules)
    assert main(["kb", "stats"]) == 0
    text = capsys.readouterr().out
    assert f"{len(rules):,} cookie names and patterns" in text
    assert f"from {stats['platforms']} platforms" in text


def test_cli_stats_with_a_policy_adds_site_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _site_file(
        tmp_path / "site.toml",
        "Site",
        '  { name = "zz_site", purpose = "A.", retention = "1 day" },',
    )
    policy = tmp_path / "consent.toml"
    policy.write_text(
        'knowledge_base_files = ["site.toml"]\n[[cookies]]\nname = "x"\ncategory = "necessary"\n',
        encoding="utf-8",
    )
    assert main(["kb", "stats", "--json", "--policy", str(policy)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["cookie_rules"] == len(knowledge_base()) + 1


def test_stats_count_rules_and_trackers() -> None:
    rules = [
        CookieRule("a", "necessary", provider="P"),
        CookieRule("b*", "targeting", match="glob", provider="P"),
        CookieRule("a", "performance", domain="q.example", provider="Q"),
    ]
    stats = knowledge_base_stats(rules, [("targeting", 3), ("performance", 2), ("targeting", 1)])
    assert (stats.rules, stats.exact, stats.patterns, stats.names, stats.platforms) == (
        3,
        2,
        1,
        2,
        2,
    )
    assert stats.by_category == {
        "necessary": 1,
        "performance": 1,
        "functionality": 0,
        "targeting": 1,
    }
    assert (stats.tracker_providers, stats.tracker_domains) == (3, 6)
    assert stats.trackers_by_category == {"performance": 2, "targeting": 4}
