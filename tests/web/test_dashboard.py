"""The consent dashboard: receipts made through the HTTP API show up in its charts and tables."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware
from consentkit.jurisdiction import JurisdictionResolver
from consentkit.stores.sqlite import SQLiteReceiptStore
from consentkit.web.admin import Admin
from consentkit.web.dashboard import DEFAULT_DAYS, MAX_DAYS, parse_days, render_dashboard

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, make_app

# (action, categories for "save", country header, subdivision header, Accept-Language)
DECISIONS: list[tuple[str, list[str], str | None, str | None, str]] = [
    ("accept_all", [], "DE", None, "de-DE,de;q=0.9"),
    ("accept_all", [], "DE", None, "de"),
    ("accept_all", [], "US", "CA", "en-US"),
    ("reject_all", [], "FR", None, "fr"),
    ("reject_all", [], None, None, "en"),
    ("save", ["performance"], "US", "CA", "en"),
    ("save", ["performance", "functionality"], "DE", None, "de"),
]


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the whole document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        keys = {k.replace("_", "-"): v for k, v in wanted.items()}
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in keys.items())
        ]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


async def sets_unknown_cookie(request: Request) -> Response:
    response = HTMLResponse("<html><head></head><body><p>hello</p></body></html>")
    response.set_cookie("ck_unknown", "1")
    return response


@pytest.fixture
def app_and_store(tmp_path: Path) -> Iterator[tuple[Any, SQLiteReceiptStore]]:
    store = SQLiteReceiptStore(str(tmp_path / "receipts.db"), receipt_keys=[RECEIPT_KEY])
    app = make_app(
        routes=[Route("/", sets_unknown_cookie)],
        store=store,
        receipt_key=RECEIPT_KEY,
        admin_token=ADMIN_TOKEN,
        jurisdiction=JurisdictionResolver(trusted_headers=("cloudflare",)),
    )
    yield app, store
    store.close()


def record(app: Any, action: str, categories: list[str], headers: dict[str, str]) -> None:
    # A fresh client per decision: a new visitor, so a new consent id.
    with TestClient(app) as visitor:
        response = visitor.post(
            "/_consent", json={"action": action, "categories": categories}, headers=headers
        )
        assert response.status_code == 200, response.text


def decision_headers(country: str | None, region: str | None, language: str) -> dict[str, str]:
    headers = {"Accept-Language": language}
    if country:
        headers["CF-IPCountry"] = country
    if region:
        headers["CF-Region-Code"] = region
    return headers


@pytest.fixture
def dashboard(app_and_store: tuple[Any, SQLiteReceiptStore]) -> Elements:
    app, _ = app_and_store
    for action, categories, country, region, language in DECISIONS:
        record(app, action, categories, decision_headers(country, region, language))
    with TestClient(app) as admin:
        # A page that sets the undeclared cookie, so the unclassified report has something.
        assert "ck_unknown" not in admin.get("/").headers.get("set-cookie", "")
        response = admin.get("/_consent/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


def expected_actions() -> dict[str, int]:
    counts: dict[str, int] = {}
    for action, *_ in DECISIONS:
        counts[action] = counts.get(action, 0) + 1
    return counts


def expected_granted(category: str) -> int:
    return sum(1 for action, cats, *_ in DECISIONS if action == "accept_all" or category in cats)


def test_action_totals_match_the_decisions(dashboard: Elements) -> None:
    bars = dashboard.find("rect", data_chart="actions-total")
    assert {b["data-action"]: int(b["data-count"]) for b in bars} == expected_actions()


def test_todays_stacked_bar_holds_every_decision(dashboard: Elements) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    bars = dashboard.find("rect", data_chart="actions-over-time")
    assert bars, "the time chart has no bars"
    assert {b["data-bucket"] for b in bars} == {today}
    assert {b["data-action"]: int(b["data-count"]) for b in bars} == expected_actions()


@pytest.mark.parametrize("category", ["performance", "functionality", "targeting"])
def test_consent_rate_per_category(dashboard: Elements, category: str) -> None:
    (bar,) = dashboard.find("rect", data_chart="rates-total", data_category=category)
    granted = expected_granted(category)
    assert int(bar["data-count"]) == granted
    assert int(bar["data-decided"]) == len(DECISIONS)
    assert float(bar["data-rate"]) == pytest.approx(granted / len(DECISIONS), abs=1e-4)
    (point,) = dashboard.find("circle", data_chart="rates-over-time", data_category=category)
    assert int(point["data-count"]) == granted


def test_breakdown_by_jurisdiction_and_language(dashboard: Elements) -> None:
    regions = {
        b["data-jurisdiction"]: int(b["data-count"])
        for b in dashboard.find("rect", data_chart="jurisdiction")
    }
    assert regions == {"EU": 4, "US-CA": 2, "default": 1}
    languages = {
        b["data-language"]: int(b["data-count"])
        for b in dashboard.find("rect", data_chart="language")
    }
    assert languages == {"de": 3, "en": 3, "fr": 1}


def test_charts_are_accessible_and_self_contained(dashboard: Elements) -> None:
    svgs = dashboard.find("svg")
    assert len(svgs) >= 6
    assert all(s.get("role") == "img" and s.get("aria-labelledby") for s in svgs)
    assert len(dashboard.find("title")) > len(svgs)  # the page, each chart, each bar
    assert len(dashboard.find("table")) >= len(svgs)
    assert not dashboard.find("script")
    assert not dashboard.find("link")
    for _, attrs in dashboard.tags:
        for name in ("src", "href"):
            assert not attrs.get(name, "").startswith(("http:", "https:", "//"))


def test_unclassified_cookie_is_listed(dashboard: Elements) -> None:
    (row,) = dashboard.find("tr", data_cookie="ck_unknown")
    assert int(row["data-count"]) == 1


def test_recent_receipts_and_exports(dashboard: Elements) -> None:
    rows = [attrs for tag, attrs in dashboard.tags if tag == "tr" and "data-action" in attrs]
    assert len(rows) == len(DECISIONS)
    assert rows[0]["data-action"] == DECISIONS[-1][0]  # newest first
    text = "".join(dashboard.text)
    assert "…" in text  # consent ids are shortened
    hrefs = {a["href"] for a in dashboard.find("a") if "data-export" in a}
    assert hrefs == {f"/_consent/admin/export?format={f}" for f in ("csv", "ndjson", "json")}


def test_more_than_twenty_receipts_shows_twenty(
    app_and_store: tuple[Any, SQLiteReceiptStore],
) -> None:
    app, _ = app_and_store
    for _ in range(23):
        record(app, "reject_all", [], {})
    with TestClient(app) as admin:
        response = admin.get("/_consent/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    rows = [a for t, a in parse(response.text).tags if t == "tr" and "data-action" in a]
    assert len(rows) == 20


def test_basic_auth_with_the_token_as_password(
    app_and_store: tuple[Any, SQLiteReceiptStore],
) -> None:
    app, _ = app_and_store
    credentials = base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode()
    with TestClient(app) as admin:
        response = admin.get("/_consent/admin", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 200
    assert "Consent dashboard" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": "Basic !!!"},
        {"Authorization": f"Token {ADMIN_TOKEN}"},
    ],
)
def test_dashboard_needs_the_admin_token(
    app_and_store: tuple[Any, SQLiteReceiptStore], headers: dict[str, str]
) -> None:
    app, _ = app_and_store
    with TestClient(app) as client:
        response = client.get("/_consent/admin", headers=headers)
    assert response.status_code == 401
    assert "Consent dashboard" not in response.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_DAYS),
        ("7", 7),
        (" 90 ", 90),
        ("0", 1),
        ("100000", DEFAULT_DAYS),
        ("9999", MAX_DAYS),
        ("-3", DEFAULT_DAYS),
        ("7.5", DEFAULT_DAYS),
        ("", DEFAULT_DAYS),
        ("٣", DEFAULT_DAYS),  # a non-ASCII digit
    ],
)
def test_parse_days(value: str | None, expected: int) -> None:
    assert parse_days(value) == expected


@pytest.mark.parametrize("days", ["7", "90", "365", "junk"])
def test_periods_render(app_and_store: tuple[Any, SQLiteReceiptStore], days: str) -> None:
    app, _ = app_and_store
    record(app, "accept_all", [], {})
    with TestClient(app) as admin:
        response = admin.get(
            f"/_consent/admin?days={days}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    page = parse(response.text)
    bars = page.find("rect", data_chart="actions-over-time")
    assert sum(int(b["data-count"]) for b in bars) == 1
    shown = int(days) if days.isdigit() else DEFAULT_DAYS
    (current,) = page.find("a", aria_current="page")
    assert current["href"] == f"/_consent/admin?days={shown}"


def test_untrusted_text_is_escaped(tmp_path: Path) -> None:
    store = SQLiteReceiptStore(str(tmp_path / "r.db"), receipt_keys=[RECEIPT_KEY])
    app = make_app(store=store, receipt_key=RECEIPT_KEY, admin_token=ADMIN_TOKEN)
    try:
        mw = _middleware(app)
        mw.unclassified.add(["<script>alert(1)</script>"])
        html = render_dashboard(mw, None)
    finally:
        store.close()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_without_a_store_the_page_says_so(tmp_path: Path) -> None:
    app = make_app(admin_token=ADMIN_TOKEN)
    html = render_dashboard(_middleware(app), "30")
    assert "No receipt store is configured" in html


def _middleware(app: Any) -> Admin:
    """The dashboard's source: the admin endpoint of the app's consent middleware."""
    stack = app.build_middleware_stack()
    while not isinstance(stack, ConsentMiddleware):
        stack = stack.app
    admin: Admin = stack.endpoints.admin
    return admin
