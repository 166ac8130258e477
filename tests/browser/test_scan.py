"""``consentkit scan`` in real Chromium against live servers on 127.0.0.1.

The scanner runs as the real command in a subprocess (its own Playwright session, like a
user's shell). Chromium resolves only the fake tracker names, to 127.0.0.1; every other
name fails to resolve, so nothing leaves the machine. Scans stay small: one or two pages,
short settle times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consentkit.policy import Policy
from consentkit.stores.scans import last_scan_undeclared
from demo_site.app import PROFILES

from ..scan_sites import (
    CARELESS_POLICY,
    create_careless_app,
    create_cmp_app,
    create_no_banner_app,
    create_slow_app,
    create_tracker_app,
    resolver_rules,
)
from .conftest import CHROMIUM, free_port
from .test_profiles import start

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def scan(url: str, tmp_path: Path, *args: str, rules: str = OFFLINE) -> tuple[int, dict[str, Any]]:
    """Run the scan command; return its exit status and JSON report."""
    out = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "consentkit.cli", "scan", url,
        "--delay", "0", "--settle", "0.2", "--timeout", "15", "--quiet",
        "--chromium", CHROMIUM, f"--browser-arg={rules}", "--json", str(out), *args,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(out.read_text(encoding="utf-8"))


def kinds(report: dict[str, Any], severity: str) -> set[str]:
    return {f["kind"] for f in report["findings"] if f["severity"] == severity}


def named(report: dict[str, Any], kind: str) -> set[str]:
    return {f["name"] for f in report["findings"] if f["kind"] == kind}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_demo_profiles_scan_clean(
    profile: str, serve: Callable[[Any], str], tmp_path: Path
) -> None:
    site = start(serve, profile, tmp_path)
    extra = {"hosting": ["--withdraw"], "cloud": ["--gpc"]}.get(profile, [])
    policy = f"demo_site/profiles/{profile}.toml"
    status, report = scan(f"{site}/", tmp_path, "--pages", "1", "--policy", policy, *extra)
    assert kinds(report, "violation") == set(), report["findings"]
    assert kinds(report, "not_verified") == set(), report["findings"]
    assert (status, report["status"], report["exit_code"]) == (0, "compliant", 0)
    assert report["site"]["consentkit"] is True
    visits = [v["kind"] for v in report["pages"][0]["visits"]]
    expected = ["before_choice", "accept_all", "reject_all"]
    assert visits == expected + (["withdraw"] if profile == "hosting" else [])
    assert all(v["status"] == "ok" for v in report["pages"][0]["visits"])
    # The one cookie every profile forgets to declare is found after accepting.
    undeclared = named(report, "undeclared_cookie")
    assert "promo_seen" in undeclared
    declared = {r.name for r in Policy.from_toml(REPO / policy).cookies}
    assert not undeclared & declared
    if PROFILES[profile].trackers:
        assert report["site"]["banner_shown"] is True
        assert report["site"]["reject_as_easy_as_accept"] is True
        accepted = {c["name"] for c in report["cookies"] if "accept_all" in c["visits"]}
        assert {"_demo_analytics", "_demo_ads"} <= accepted
        script_set = {c["name"]: c for c in report["cookies"]}["_demo_analytics"]
        assert script_set["set_by"] == "script"
        assert script_set["set_by_url"].endswith("/analytics.js")
    if profile == "cloud":
        assert report["options"]["gpc"] is True
        assert all(v["navigator_gpc"] is True for v in report["pages"][0]["visits"])


def test_careless_site_fails_with_every_violation_named(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    trackers = serve(create_tracker_app())
    port = int(trackers.rsplit(":", 1)[1])
    site = serve(create_careless_app(port))
    declaration = tmp_path / "declaration.toml"
    html = tmp_path / "report.html"
    store = f"sqlite:///{tmp_path / 'receipts.db'}"
    status, report = scan(
        f"{site}/",
        tmp_path,
        "--pages", "2", "--policy", str(CARELESS_POLICY), "--declaration", str(declaration),
        "--html", str(html), "--store", store,
        rules=resolver_rules(),
    )  # fmt: skip
    assert (status, report["status"]) == (1, "violations")
    assert [p["url"] for p in report["pages"]] == [f"{site}/", f"{site}/about"]
    assert kinds(report, "violation") == {
        "cookie_before_choice",
        "storage_before_choice",
        "tracker_before_choice",
        "cookie_after_reject",
        "storage_after_reject",
        "tracker_after_reject",
    }
    assert named(report, "cookie_before_choice") == {"_fbp", "_gcl_au", "_ga"}
    assert named(report, "cookie_after_reject") == {"_fbp", "_gcl_au", "_ga"}
    assert named(report, "storage_after_reject") == {"ajs_anonymous_id"}
    trackers_after_reject = named(report, "tracker_after_reject")
    assert len(trackers_after_reject) == 3, trackers_after_reject
    assert named(report, "undeclared_cookie") == {"_fbp", "_gcl_au"}
    assert named(report, "lifetime_over_13_months") == {"_ga"}
    assert named(report, "lifetime_over_declared") == {"_ga"}
    assert named(report, "third_party_host") == {
        "www.googletagmanager.com",
        "script.hotjar.com",
        "ad.doubleclick.net",
    }
    assert report["site"]["reject_as_easy_as_accept"] is True
    assert report["site"]["accept_control"] == {
        "action": "accept",
        "how": "name",
        "label": "Accept all",
    }
    cookies = {c["name"]: c for c in report["cookies"]}
    assert cookies["_fbp"]["set_by"] == "response"
    assert cookies["_fbp"]["set_by_url"] == f"{site}/"
    assert cookies["_ga"]["set_by"] == "script"
    assert "www.googletagmanager.com" in cookies["_ga"]["set_by_url"]
    assert cookies["_ga"]["lifetime_days"] == pytest.approx(730, abs=1)
    assert cookies["_fbp"]["party"] == "first"
    # The draft declaration loads as a policy and marks nothing known as unknown.
    draft = Policy.from_toml(declaration)
    assert {r.name for r in draft.cookies} == {"_fbp", "_gcl_au", "_ga", "cookie_choice"}
    text = declaration.read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if "TODO" in line and line[0] != "#"] == []
    assert "VIOLATIONS FOUND" in html.read_text(encoding="utf-8")
    assert {c["name"] for c in last_scan_undeclared(store)} == {"_fbp", "_gcl_au"}


def test_accept_without_reject_is_named(serve: Callable[[Any], str], tmp_path: Path) -> None:
    trackers = serve(create_tracker_app())
    port = int(trackers.rsplit(":", 1)[1])
    site = serve(create_careless_app(port, reject_button=False))
    status, report = scan(f"{site}/", tmp_path, "--pages", "1", rules=resolver_rules())
    assert status == 1
    assert "reject_not_as_easy" in kinds(report, "violation")
    assert report["site"]["accept_control"]["label"] == "Alle akzeptieren"
    assert report["site"]["reject_as_easy_as_accept"] is False
    reject = report["pages"][0]["visits"][2]
    assert (reject["kind"], reject["status"]) == ("reject_all", "not_verified")


def test_consent_manager_markup_is_found_and_a_tidy_site_passes(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    trackers = serve(create_tracker_app())
    site = serve(create_cmp_app(int(trackers.rsplit(":", 1)[1])))
    status, report = scan(f"{site}/", tmp_path, "--pages", "1", rules=resolver_rules())
    assert kinds(report, "violation") == set(), report["findings"]
    assert (status, report["status"]) == (0, "compliant")
    assert report["site"]["cmp"] == "onetrust"
    assert report["site"]["reject_control"]["how"] == "cmp:onetrust"
    hosts = {h["host"]: h["visits"] for h in report["third_party_hosts"]}
    # The analytics stand-in also fires the DoubleClick pixel: after accepting only.
    assert hosts == {
        "www.googletagmanager.com": ["accept_all"],
        "ad.doubleclick.net": ["accept_all"],
    }
    consent = {c["name"]: c for c in report["cookies"]}["OptanonConsent"]
    assert (consent["required_category"], consent["set_by"]) == ("necessary", "script")


def test_site_without_banner_is_could_not_verify(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    site = serve(create_no_banner_app())
    status, report = scan(f"{site}/", tmp_path, "--pages", "1")
    assert (status, report["status"], report["exit_code"]) == (2, "not_verified", 2)
    assert kinds(report, "not_verified") == {"controls_not_found"}
    assert kinds(report, "violation") == set()
    assert report["site"]["banner_shown"] is False


def test_unreachable_host_gives_a_partial_report(tmp_path: Path) -> None:
    status, report = scan(f"http://127.0.0.1:{free_port()}/", tmp_path, "--pages", "1")
    assert (status, report["status"]) == (2, "not_verified")
    assert report["pages"][0]["error"]
    assert "ERR_CONNECTION_REFUSED" in report["pages"][0]["error"]


def test_a_page_that_times_out_gives_a_partial_report(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    site = serve(create_slow_app(3))
    status, report = scan(f"{site}/", tmp_path, "--pages", "1", "--timeout", "1")
    assert (status, report["status"]) == (2, "not_verified")
    before = report["pages"][0]["visits"][0]
    assert (before["kind"], before["status"]) == ("before_choice", "error")
    assert "Timeout" in before["error"]
    assert len(report["pages"][0]["visits"]) == 1  # no choice visits on a page that never loaded
