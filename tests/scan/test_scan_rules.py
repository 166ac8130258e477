"""The scanner's rules, reports and declaration draft on hand-built observations (no browser)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from consentkit.policy import Policy
from consentkit.rules import CookieRule
from consentkit.scan.declaration import TODO, draft_declaration
from consentkit.scan.model import (
    Control,
    FirstLayer,
    ObservedCookie,
    ObservedRequest,
    ObservedStorage,
    PageScan,
    ScanOptions,
    ScanRun,
    Visit,
)
from consentkit.scan.report import (
    SCHEMA_VERSION,
    render_html,
    render_markdown,
    render_text,
    to_json,
)
from consentkit.scan.rules import Analysis, Classifier, analyse, retention_days
from consentkit.trackers import default_index

START = "https://shop.example/"
NOW = 1_800_000_000.0
DAY = 86400.0

GOOD_LAYER = FirstLayer(
    Control("accept", "name", "Accept all"),
    Control("reject", "name", "Reject all"),
    banner_shown=True,
)


def cookie(name: str, days: float | None = 30, **kw: Any) -> ObservedCookie:
    expires = None if days is None else NOW + days * DAY
    return ObservedCookie(
        name=name, domain=kw.pop("domain", "shop.example"), path="/", expires=expires, **kw
    )


def visit(kind: Any, *cookies: ObservedCookie, **kw: Any) -> Visit:
    return Visit(kind, observed_at=NOW, cookies=list(cookies), **kw)


def page(*visits: Visit, layer: FirstLayer | None = GOOD_LAYER) -> PageScan:
    return PageScan(START, list(visits), layer)


def run_of(*pages: PageScan, **options: Any) -> ScanRun:
    return ScanRun(START, ScanOptions(**options), list(pages), started_at=NOW, finished_at=NOW + 5)


def judge(run: ScanRun, policy: Policy | None = None) -> Analysis:
    return analyse(run, Classifier(policy, default_index()))


def kinds(analysis: Analysis) -> set[tuple[str, str]]:
    return {(f.kind, f.name) for f in analysis.findings if f.severity == "violation"}


def clean_visits() -> list[Visit]:
    return [
        visit("before_choice", cookie("sessionid", None)),
        visit("accept_all", cookie("_ga", 300), cookie("sessionid", None)),
        visit("reject_all", cookie("sessionid", None)),
    ]


POLICY = Policy(
    cookies=(
        CookieRule("sessionid", "necessary", retention="session"),
        CookieRule("_ga", "performance", retention="1 year"),
    )
)


def test_a_clean_site_is_compliant() -> None:
    analysis = judge(run_of(page(*clean_visits())), POLICY)
    assert [f for f in analysis.findings if f.severity != "info"] == []
    assert (analysis.status, analysis.exit_code) == ("compliant", 0)


def test_optional_cookies_before_a_choice_and_after_reject_are_violations() -> None:
    run = run_of(
        page(
            visit("before_choice", cookie("_ga"), cookie("sessionid", None)),
            visit("accept_all", cookie("_ga")),
            visit("reject_all", cookie("_fbp")),
        )
    )
    analysis = judge(run, POLICY)
    assert kinds(analysis) == {("cookie_before_choice", "_ga"), ("cookie_after_reject", "_fbp")}
    assert (analysis.status, analysis.exit_code) == ("violations", 1)


def test_unknown_cookies_and_storage_need_consent_strictly() -> None:
    run = run_of(
        page(
            visit(
                "before_choice",
                cookie("mystery_id"),
                storage=[ObservedStorage("local", "whatever", "https://shop.example")],
            ),
            visit("accept_all"),
            visit("reject_all"),
        )
    )
    assert kinds(judge(run)) == {
        ("cookie_before_choice", "mystery_id"),
        ("storage_before_choice", "whatever"),
    }


def test_tracker_requests_count_once_per_provider_and_never_first_party() -> None:
    requests = [
        ObservedRequest("https://www.googletagmanager.com/gtag/js?id=1", "script"),
        ObservedRequest("https://www.googletagmanager.com/gtag/js?id=2", "script"),
        ObservedRequest("https://shop.example/app.js", "script"),
        ObservedRequest("https://cdn.unknown-cdn.example/lib.js", "script"),
    ]
    run = run_of(
        page(visit("before_choice"), visit("accept_all"), visit("reject_all", requests=requests))
    )
    analysis = judge(run)
    trackers = [f for f in analysis.findings if f.kind == "tracker_after_reject"]
    assert len(trackers) == 1
    assert trackers[0].category == "performance"
    hosts = {f.name for f in analysis.findings if f.kind == "third_party_host"}
    assert hosts == {"www.googletagmanager.com", "cdn.unknown-cdn.example"}


def test_after_withdraw_and_gpc_violations_are_named() -> None:
    run = run_of(
        page(
            visit("before_choice", cookie("_fbp")),
            visit("accept_all"),
            visit("reject_all"),
            visit("withdraw", cookie("_ga")),
        ),
        gpc=True,
        withdraw=True,
    )
    found = kinds(judge(run))
    assert ("cookie_after_withdraw", "_ga") in found
    assert ("gpc_ignored", "_fbp") in found


def test_the_consentkit_consent_cookie_is_necessary_and_not_undeclared() -> None:
    consent = cookie("consentkit", 182)
    run = run_of(
        page(visit("before_choice"), visit("accept_all", consent), visit("reject_all", consent))
    )
    analysis = judge(run, POLICY)
    assert analysis.status == "compliant"
    assert not [f for f in analysis.findings if f.kind == "undeclared_cookie"]


def test_reject_missing_from_the_first_layer_is_a_violation() -> None:
    layer = FirstLayer(Control("accept", "name", "OK, accept"), None, banner_shown=True)
    run = run_of(
        page(
            visit("before_choice"),
            visit("accept_all"),
            visit("reject_all", status="not_verified", error="no reject"),
            layer=layer,
        )
    )
    analysis = judge(run)
    assert ("reject_not_as_easy", "") in kinds(analysis)
    assert analysis.exit_code == 1  # violations win over "could not verify"
    assert [f.kind for f in analysis.of("not_verified")] == ["controls_not_found"]


def test_no_controls_is_could_not_verify() -> None:
    run = run_of(
        page(
            visit("before_choice"),
            visit("accept_all", status="not_verified"),
            visit("reject_all", status="not_verified"),
            layer=FirstLayer(),
        )
    )
    analysis = judge(run)
    assert (analysis.status, analysis.exit_code) == ("not_verified", 2)


def test_no_pages_or_a_failed_visit_is_could_not_verify() -> None:
    assert judge(ScanRun(START, errors=["boom"])).exit_code == 2
    broken = run_of(page(visit("before_choice", status="error", error="net::ERR_TIMED_OUT")))
    assert judge(broken).exit_code == 2


def test_lifetimes_over_13_months_and_over_the_declared_retention() -> None:
    long_lived = cookie("_ga", 400, requested_lifetime_days=730.0)
    run = run_of(page(visit("before_choice"), visit("accept_all", long_lived), visit("reject_all")))
    warnings = {f.kind for f in judge(run, POLICY).of("warning")}
    assert warnings == {"lifetime_over_13_months", "lifetime_over_declared"}
    fine = cookie("_ga", 360)
    run = run_of(page(visit("before_choice"), visit("accept_all", fine), visit("reject_all")))
    assert judge(run, POLICY).of("warning") == []


def test_undeclared_cookies_need_a_policy_to_be_reported() -> None:
    run = run_of(
        page(visit("before_choice"), visit("accept_all", cookie("_fbp")), visit("reject_all"))
    )
    assert [f.name for f in judge(run, POLICY).of("warning")] == ["_fbp"]
    assert judge(run).of("warning") == []


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("session", 0.0),
        ("13 months", 395.6875),
        ("1 year", 365.25),
        ("session or 14 days", 14.0),
        ("30 minutes", 30 / 1440),
        ("2 Weeks", 14.0),
        ("configurable", None),
        ("", None),
    ],
)
def test_retention_days(text: str, days: float | None) -> None:
    assert retention_days(text) == (pytest.approx(days) if days is not None else None)


# -- reports ------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"


def careless_run() -> ScanRun:
    return run_of(
        page(
            visit(
                "before_choice",
                cookie("_fbp", 90, set_by="response", set_by_url=START),
                cookie(f"x{HOSTILE}|*", 1, set_by="script", set_by_url=START + "t.js"),
                requests=[ObservedRequest("https://connect.facebook.net/en_US/fbevents.js")],
            ),
            visit("accept_all", control=Control("accept", "name", "Accept all")),
            visit("reject_all", control=Control("reject", "name", "Reject all")),
        ),
        policy="consent.toml",
    )


def test_json_report_shape_is_stable() -> None:
    report = to_json(judge(careless_run(), POLICY))
    json.dumps(report)  # serialisable as is
    assert report["schema_version"] == SCHEMA_VERSION == 1
    assert list(report) == [
        "schema_version", "tool", "url", "started_at", "finished_at", "options", "status",
        "exit_code", "site", "summary", "findings", "cookies", "third_party_hosts", "pages",
        "skipped", "errors",
    ]  # fmt: skip
    assert report["status"] == "violations"
    assert report["exit_code"] == 1
    assert report["started_at"] == "2027-01-15T08:00:00Z"
    assert report["summary"]["undeclared_cookies"] == 2
    fbp = next(c for c in report["cookies"] if c["name"] == "_fbp")
    assert fbp == {
        "name": "_fbp",
        "domain": "shop.example",
        "path": "/",
        "party": "first",
        "category": "targeting",
        "required_category": "targeting",
        "source": "knowledge_base",
        "provider": fbp["provider"],
        "purpose": fbp["purpose"],
        "retention": fbp["retention"],
        "declared": False,
        "set_by": "response",
        "set_by_url": START,
        "lifetime_days": 90.0,
        "visits": ["before_choice"],
        "pages": [START],
    }
    before = report["pages"][0]["visits"][0]
    assert set(before) == {
        "kind", "status", "error", "control", "navigator_gpc", "cookies", "storage",
        "third_party_requests",
    }  # fmt: skip
    assert before["third_party_requests"][0]["tracker"]
    assert report["third_party_hosts"][0]["host"] == "connect.facebook.net"


def test_html_report_escapes_what_the_site_controls() -> None:
    html = render_html(judge(careless_run(), POLICY))
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "VIOLATIONS FOUND" in html


def test_markdown_report_escapes_table_and_html_characters() -> None:
    markdown = render_markdown(judge(careless_run(), POLICY))
    assert HOSTILE not in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| x"))
    assert row.count(" | ") == 7  # the cookie's own "|" is escaped
    assert "&lt;script&gt;" in markdown


def test_text_report_strips_control_characters() -> None:
    run = careless_run()
    run.pages[0].visits[0].cookies.append(cookie("evil\x1b[2Jname"))
    text = render_text(judge(run))
    assert "\x1b" not in text
    assert "VIOLATIONS FOUND (exit 1)" in text


def test_findings_repeated_on_pages_are_listed_once() -> None:
    other = page(*careless_run().pages[0].visits)
    other.url = START + "about"
    run = careless_run()
    run.pages.append(other)
    text = render_text(judge(run))
    lines = [line for line in text.splitlines() if "cookie _fbp (targeting) set before" in line]
    assert lines == ["  - cookie _fbp (targeting) set before choice [/, /about; before choice]"]


# -- declaration draft --------------------------------------------------------------------


def test_declaration_draft_loads_as_a_policy_and_marks_unknowns() -> None:
    run = run_of(
        page(
            visit("before_choice"),
            visit(
                "accept_all",
                cookie("_fbp", 90),
                cookie("mystery_id", 45),
                cookie("consentkit", 182),
                cookie("px", 30, domain="ads.tracker.example"),
            ),
            visit("reject_all"),
        )
    )
    text = draft_declaration(judge(run))
    data = tomllib.loads(text)
    policy = Policy.from_dict(data, source="draft")
    names = {r.name: r for r in policy.cookies}
    assert set(names) == {"_fbp", "mystery_id", "px"}  # the consent cookie is not declared
    assert names["_fbp"].category == "targeting"
    assert names["_fbp"].provider
    assert names["mystery_id"].category == "targeting"
    assert names["mystery_id"].retention == "45 days"
    assert names["px"].domain == "ads.tracker.example"
    mystery = text[text.index('name = "mystery_id"') :].split("\n\n")[0]
    assert mystery.count(TODO) == 4  # category, provider, purpose, retention
