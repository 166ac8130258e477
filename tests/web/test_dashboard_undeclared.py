"""The dashboard's undeclared-cookie views: what the middleware saw and what the last scan found."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit.enforcement import enforce_set_cookies
from consentkit.stores.scans import save_scan
from consentkit.web.dashboard import scan_context, undeclared_rows
from consentkit.web.unclassified import UnclassifiedReport

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, make_app, site_policy
from .test_dashboard import parse

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
XSS = "<script>alert(1)</script>"


def _report(**cookies: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "url": "https://shop.example/",
        "status": "violations",
        "exit_code": 1,
        "finished_at": "2026-12-04T10:00:00+00:00",
        "cookies": [
            {"name": "_hjid", "domain": "shop.example", "category": "performance",
             "provider": "Hotjar", "source": "knowledge_base", "declared": False,
             "set_by": "script"},
            {"name": "sessionid", "domain": "shop.example", "category": "necessary",
             "provider": "This site", "source": "declared", "declared": True,
             "set_by": "response"},
            *cookies.get("extra", []),
        ],
    }  # fmt: skip


async def sets_ga_and_session(request: Request) -> Response:
    response = HTMLResponse("<html><head></head><body><p>hi</p></body></html>")
    response.set_cookie("_ga", "GA1.1.1.1", max_age=3600)
    response.set_cookie("sessionid", "abc", httponly=True)
    # Raw, so a name http.cookies would refuse still reaches the middleware.
    name = request.query_params.get("n", "ck_plain").encode("latin-1")
    response.raw_headers.append((b"set-cookie", name + b"=1"))
    return response


# -- data gathering ----------------------------------------------------------------------


def test_enforcement_reports_only_cookies_the_policy_does_not_declare() -> None:
    from consentkit.decision import Decision

    raw = [
        (b"set-cookie", b"_ga=1; Max-Age=60"),
        (b"set-cookie", b"sessionid=1"),
        (b"set-cookie", b"ck_unknown=1"),
    ]
    result = enforce_set_cookies(
        raw,
        decision=Decision(False, frozenset(), "no_decision"),
        policy=site_policy(),
        own_cookies=frozenset(),
    )
    seen = {(c.name, c.category, c.source) for c in result.undeclared}
    assert seen == {
        ("_ga", "performance", "knowledge_base"),
        ("ck_unknown", "unclassified", "unknown"),
    }


def test_report_counts_first_and_last_seen() -> None:
    policy = site_policy()
    report = UnclassifiedReport()
    report.add_undeclared([policy.classify("_ga")])
    report.add_undeclared([policy.classify("_ga"), policy.classify("_fbp")])
    rows = undeclared_rows(report)
    assert [(r["name"], r["count"], r["category"]) for r in rows] == [
        ("_ga", "2", "performance"),
        ("_fbp", "1", "targeting"),
    ]
    assert rows[0]["provider"] == "Google Analytics"
    assert rows[0]["first"] <= rows[0]["last"]
    first, last = report.undeclared()[0].first_seen, report.undeclared()[0].last_seen
    assert first <= last <= datetime.now(UTC)


def test_scan_context_without_url_store_or_scan(tmp_path: Path) -> None:
    assert "store object" in scan_context(None)["note"]
    empty = scan_context(f"sqlite:///{tmp_path / 'r.db'}")
    assert "No scan saved yet" in empty["note"]


def test_scan_context_lists_only_undeclared_of_the_newest_scan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    save_scan(url, _report(extra=[{"name": "old_one", "declared": False}]))
    save_scan(url, _report())
    context = scan_context(url)
    assert context["note"] is None
    assert context["url"] == "https://shop.example/"
    assert [(r["name"], r["provider"]) for r in context["rows"]] == [("_hjid", "Hotjar")]


def test_scan_context_reports_an_unusable_store_url() -> None:
    assert "could not be read" in scan_context("ftp://nowhere/x")["note"]


# -- through the middleware --------------------------------------------------------------


def _app(tmp_path: Path) -> tuple[Any, str]:
    url = f"sqlite:///{tmp_path / 'receipts.db'}"
    app = make_app(
        routes=[Route("/", sets_ga_and_session)],
        store=url,
        receipt_key=RECEIPT_KEY,
        admin_token=ADMIN_TOKEN,
    )
    return app, url


def test_undeclared_cookie_set_by_a_response_appears(tmp_path: Path) -> None:
    app, _ = _app(tmp_path)
    with TestClient(app) as client:
        client.get("/")
        client.get("/")
        page = parse(client.get("/_consent/admin", headers=AUTH).text)
    rows = {r["data-name"]: r for r in page.find("tr") if "data-name" in r}
    assert rows["_ga"]["data-count"] == "2"
    assert rows["_ga"]["data-category"] == "performance"
    assert "sessionid" not in rows  # declared in the policy
    assert page.find("table", data_table="undeclared")
    assert page.find("p", data_scan="none")


def test_saved_scan_appears(tmp_path: Path) -> None:
    app, url = _app(tmp_path)
    save_scan(url, _report())
    with TestClient(app) as client:
        page = parse(client.get("/_consent/admin", headers=AUTH).text)
    assert page.find("table", data_table="scan-undeclared")
    assert page.find("tr", data_name="_hjid", data_category="performance")
    assert not page.find("tr", data_name="sessionid", data_category="necessary")


def test_scan_with_a_store_object_says_so(tmp_path: Path) -> None:
    from consentkit.stores.sqlite import SQLiteReceiptStore

    store = SQLiteReceiptStore(str(tmp_path / "r.db"), receipt_keys=[RECEIPT_KEY])
    try:
        app = make_app(store=store, receipt_key=RECEIPT_KEY, admin_token=ADMIN_TOKEN)
        with TestClient(app) as client:
            html = client.get("/_consent/admin", headers=AUTH).text
    finally:
        store.close()
    assert "store configured by URL" in html


def test_cookie_names_are_escaped(tmp_path: Path) -> None:
    app, url = _app(tmp_path)
    save_scan(url, _report(extra=[{"name": XSS, "declared": False, "provider": XSS}]))
    with TestClient(app) as client:
        # A name the browser would reject but an app can still send.
        client.get("/", params={"n": "x<img src>"})
        html = client.get("/_consent/admin", headers=AUTH).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src>" not in html
    assert "x&lt;img src&gt;" in html
