"""``consentkit scan`` failures that need no browser, and the scan-results side table."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from consentkit.cli import main
from consentkit.errors import ConfigError, StoreError
from consentkit.stores.scans import SCAN_TABLE, last_scan, last_scan_undeclared, save_scan


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["scan", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def test_a_bad_url_gives_a_clear_error_and_a_partial_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTKIT_STORE", raising=False)
    report = tmp_path / "r.json"
    status, out, err = run(capsys, "ftp://example.com/", "--json", str(report))
    assert status == 2
    assert "consentkit scan: error: 'ftp://example.com/' is not an http:// or https:// URL" in err
    data = json.loads(report.read_text(encoding="utf-8"))
    assert (data["status"], data["exit_code"], data["pages"]) == ("not_verified", 2, [])
    assert data["errors"] == ["'ftp://example.com/' is not an http:// or https:// URL"]
    assert "COULD NOT VERIFY (exit 2)" in out


def test_json_to_standard_output_replaces_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "http://", "--json")
    assert status == 2
    assert json.loads(out)["schema_version"] == 1


def test_a_bad_policy_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "consent.toml"
    policy.write_text('unclassified = "necessary"\n', encoding="utf-8")
    status, _, err = run(capsys, "https://example.com/", "--policy", str(policy))
    assert status == 2
    assert str(policy) in err
    assert "unclassified" in err


def test_missing_playwright_names_the_extra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    report = tmp_path / "r.json"
    status, _, err = run(capsys, "https://example.com/", "--json", str(report))
    assert status == 2
    assert "pip install 'consentkit[scan]'" in err
    assert "consentkit[scan]" in json.loads(report.read_text(encoding="utf-8"))["errors"][0]


def test_a_missing_browser_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "no-chromium"
    status, _, err = run(capsys, "https://example.com/", "--chromium", str(missing))
    assert status == 2
    assert f"cannot start Chromium at {missing}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pages", "0"], "between 1 and 10000"),
        (["--delay", "-1"], "between 0 and 3600"),
        (["--timeout", "soon"], "not a number of seconds"),
    ],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "https://example.com/", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_saving_to_a_bad_store_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "http://", "--store", "mysql://db/x")
    assert status == 2
    assert "cannot save the scan" in err
    assert "unsupported scheme" in err


# -- the side table -----------------------------------------------------------------------


def report(url: str, cookies: list[dict[str, Any]], at: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "url": url,
        "finished_at": at,
        "status": "violations",
        "exit_code": 1,
        "cookies": cookies,
    }


def test_scan_results_keep_the_newest_scan_per_site(store_url: str) -> None:
    site, other = "https://shop.example/", "https://other.example/"
    first = save_scan(
        store_url,
        report(
            site,
            [{"name": "_fbp", "declared": False, "source": "knowledge_base"}],
            "2026-01-01T00:00:00Z",
        ),
    )
    cookies = [
        {"name": "sessionid", "declared": True, "source": "declared"},
        {"name": "_gcl_au", "declared": False, "source": "knowledge_base"},
        {"name": "mystery", "declared": None, "source": "unknown"},
        {"name": "_ga", "declared": None, "source": "knowledge_base"},
    ]
    second = save_scan(store_url, report(site, cookies, "2026-02-01T00:00:00Z"))
    save_scan(store_url, report(other, [], "2026-03-01T00:00:00Z"))
    assert second > first
    latest = last_scan(store_url, site=site)
    assert latest is not None
    assert (latest.id, latest.scanned_at, latest.exit_code) == (second, "2026-02-01T00:00:00Z", 1)
    assert [c["name"] for c in last_scan_undeclared(store_url, site=site)] == ["_gcl_au", "mystery"]
    assert last_scan_undeclared(store_url) == []  # the newest scan of all is the other site


def test_an_empty_store_has_no_scan(store_url: str) -> None:
    assert last_scan(store_url) is None
    assert last_scan_undeclared(store_url) == []


def test_a_corrupt_saved_report_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    save_scan(str(path), report("https://a.example/", [], "2026-01-01T00:00:00Z"))
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {SCAN_TABLE} SET report = 'not json'")
    conn.close()
    with pytest.raises(StoreError, match="no valid JSON"):
        last_scan(str(path))


def test_store_urls_are_checked() -> None:
    with pytest.raises(ConfigError, match="host part"):
        save_scan("sqlite://host/x.db", {})


def test_a_crashing_visit_becomes_an_error_in_the_report() -> None:
    from consentkit.scan.browser import _Scanner
    from consentkit.scan.model import PageScan, ScanRun

    messages: list[str] = []
    scanner = _Scanner(None, ScanRun("https://a.example/"), messages.append, 0.0)  # type: ignore[arg-type]
    page = PageScan("https://a.example/")

    def crash(*_args: object) -> None:
        raise RuntimeError("Target crashed\n=== logs ===\nnoise")

    assert scanner.visit_safely(page, "reject_all", crash, page, "reject_all") is None
    assert [(v.kind, v.status, v.error) for v in page.visits] == [
        ("reject_all", "error", "Target crashed")
    ]
    assert messages == ["[page 1/10] https://a.example/: reject all"]
