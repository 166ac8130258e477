"""Consent receipts through the HTTP API: one per decision, the right fields, and nothing else.

Each decision posted to ``/_consent`` (form or JSON) must leave exactly one receipt in
the store, holding what the visitor chose and was shown, minimised as configured. Bad
posts leave nothing. ``/_consent/receipt`` and the admin export read the same store.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consentkit import Banner, ConfigError, Controller, Policy
from consentkit.cli import main as cli_main
from consentkit.decision import ConsentCodec
from consentkit.receipts import Receipt
from consentkit.stores import verify_store
from consentkit.stores.sqlite import SQLiteReceiptStore

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, SECRET, make_app, site_policy
from ..crash_app import ADMIN_TOKEN as SERVER_ADMIN_TOKEN
from ..crash_app import RECEIPT_KEY as SERVER_RECEIPT_KEY
from ..crash_app import ServerProcess
from ..receipt_factory import draft

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - either client will do
    import httpx  # type: ignore[no-redef]

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ALL = ("necessary", "performance", "functionality", "targeting")


@dataclass
class Site:
    """An app with a SQLite receipt store, and a second handle on that store for checks."""

    db: Path
    store: SQLiteReceiptStore
    policy: Policy
    make_client: Callable[..., TestClient]

    def receipts(self) -> list[Receipt]:
        return list(self.store.iter_receipts())


@pytest.fixture
def site_factory(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    stores: list[SQLiteReceiptStore] = []

    def build(policy: Policy | None = None, **options: Any) -> Site:
        db = tmp_path / f"receipts{len(stores)}.db"
        policy = policy or site_policy()
        options.setdefault("trusted_headers", ("cloudflare",))
        app = make_app(
            policy,
            store=f"sqlite:///{db}",
            receipt_key=RECEIPT_KEY,
            admin_token=ADMIN_TOKEN,
            **options,
        )

        def make_client(ip: str = "203.0.113.77") -> TestClient:
            return TestClient(app, client=(ip, 50000))

        store = SQLiteReceiptStore(db, receipt_keys=[RECEIPT_KEY])
        stores.append(store)
        return Site(db, store, policy, make_client)

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def site(site_factory: Callable[..., Site]) -> Site:
    return site_factory()


def consent_id_of(client: TestClient) -> str:
    stored = ConsentCodec(SECRET).loads(client.cookies.get("consentkit"))
    assert stored is not None
    return stored.consent_id


# --- one receipt per decision, with the right fields ----------------------------------

DECISIONS = [
    pytest.param("form", {"action": "accept_all"}, ALL, "html_form", id="form-accept_all"),
    pytest.param("form", {"action": "reject_all"}, ALL[:1], "html_form", id="form-reject_all"),
    pytest.param(
        "form",
        {"action": "save", "categories": ["functionality", "targeting"]},
        ("necessary", "functionality", "targeting"),
        "html_form",
        id="form-save",
    ),
    pytest.param("form", {"action": "withdraw"}, ALL[:1], "html_form", id="form-withdraw"),
    pytest.param("json", {"action": "accept_all"}, ALL, "api", id="json-accept_all"),
    pytest.param("json", {"action": "reject_all"}, ALL[:1], "api", id="json-reject_all"),
    pytest.param(
        "json",
        {"action": "save", "categories": ["performance"], "via": "banner"},
        ("necessary", "performance"),
        "banner_js",
        id="banner-save",
    ),
    pytest.param(
        "json", {"action": "withdraw", "via": "banner"}, ALL[:1], "banner_js", id="banner-withdraw"
    ),
]


@pytest.mark.parametrize(("kind", "fields", "granted", "collection"), DECISIONS)
def test_each_decision_writes_one_complete_receipt(
    site_factory: Callable[..., Site],
    kind: str,
    fields: dict[str, Any],
    granted: tuple[str, ...],
    collection: str,
) -> None:
    policy = site_policy(consent_lifetime_days=90)
    site = site_factory(policy)
    client = site.make_client()
    headers = {
        "Accept-Language": "de-AT,de;q=0.9,en;q=0.5",
        "User-Agent": FIREFOX,
        "CF-IPCountry": "DE",
    }
    body = {**fields, "return_to": "/shop/cart?item=42&email=a@b.example#top"}
    before = datetime.now(UTC)
    if kind == "form":
        response = client.post("/_consent", data=body, headers=headers, follow_redirects=False)
        assert response.status_code == 303
    else:
        response = client.post("/_consent", json=body, headers=headers)
        assert response.status_code == 200
    after = datetime.now(UTC)

    receipts = site.receipts()
    assert len(receipts) == 1
    r = receipts[0]
    if kind == "json":
        assert response.json()["receipt_id"] == r.receipt_id
    assert r.consent_id == consent_id_of(client)
    assert r.action == fields["action"]
    assert r.granted == granted
    assert r.refused == tuple(c for c in ALL[1:] if c not in granted)
    assert r.policy_revision == "2026-11"
    assert r.shown_hash
    assert r.shown_hash == Banner(policy).shown_hash("de")
    assert r.shown_hash != Banner(policy).shown_hash("en")
    assert r.language == "de"
    assert (r.jurisdiction, r.consent_model) == ("EU", "opt_in")
    assert r.collection == collection
    assert r.page == "/shop/cart"
    assert r.user_agent == "Firefox 128"
    assert r.ip == "203.0.113.0"
    assert before <= r.timestamp <= after
    assert r.expires_at - r.timestamp == timedelta(days=90)
    assert verify_store(site.store, keys=[RECEIPT_KEY]).ok


def test_repeated_decisions_make_one_receipt_each_for_one_visitor(site: Site) -> None:
    client = site.make_client()
    actions = ["accept_all", "save", "reject_all", "withdraw", "accept_all"]
    ids = []
    for action in actions:
        response = client.post("/_consent", json={"action": action, "categories": []})
        assert response.status_code == 200
        ids.append(response.json()["receipt_id"])
    receipts = site.receipts()
    assert [r.receipt_id for r in receipts] == ids
    assert [r.action for r in receipts] == actions
    assert {r.consent_id for r in receipts} == {consent_id_of(client)}
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("headers", "language", "jurisdiction", "model"),
    [
        ({}, "en", "default", "opt_in"),
        ({"Accept-Language": "fr-CA, en;q=0.8"}, "fr", "default", "opt_in"),
        ({"Accept-Language": "xx, pt-BR;q=0.5", "CF-IPCountry": "GB"}, "pt", "UK", "opt_in"),
        ({"Accept-Language": "en;q=0.1, it", "CF-IPCountry": "IT"}, "it", "EU", "opt_in"),
        (
            {"Accept-Language": ";;;,,q=", "CF-IPCountry": "US", "CF-Region-Code": "CA"},
            "en",
            "US-CA",
            "opt_out",
        ),
        ({"Accept-Language": "*", "CF-IPCountry": "ZZ"}, "en", "default", "opt_in"),
    ],
)
def test_language_and_jurisdiction_come_from_the_request(
    site: Site, headers: dict[str, str], language: str, jurisdiction: str, model: str
) -> None:
    response = site.make_client().post("/_consent", json={"action": "reject_all"}, headers=headers)
    assert response.status_code == 200
    (r,) = site.receipts()
    assert r.language == language
    assert r.shown_hash == Banner(site.policy).shown_hash(language)
    assert (r.jurisdiction, r.consent_model) == (jurisdiction, model)


@pytest.mark.parametrize(
    ("user_agent", "reduced"),
    [
        (FIREFOX, "Firefox 128"),
        (CHROME_ANDROID, "Chrome 126"),
        (GOOGLEBOT, "bot"),
        ("", "other"),
        ("Mozilla/5.0 " + "x" * 5000 + " Firefox/999999", "other"),
        ("curl/8.5.0", "bot"),
    ],
)
def test_user_agent_is_reduced(site: Site, user_agent: str, reduced: str) -> None:
    headers = {"User-Agent": user_agent}
    response = site.make_client().post("/_consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == 200
    (r,) = site.receipts()
    assert r.user_agent == reduced


@pytest.mark.parametrize(
    ("ip_mode", "client_ip", "stored"),
    [
        ("truncate", "203.0.113.77", "203.0.113.0"),
        ("truncate", "2001:db8:1234:5678::1", "2001:db8:1234::"),
        ("truncate", "::ffff:198.51.100.9", "198.51.100.0"),
        ("omit", "203.0.113.77", None),
        ("omit", "2001:db8:1234:5678::1", None),
        ("full", "203.0.113.77", "203.0.113.77"),
        ("full", "2001:db8:1234:5678::1", "2001:db8:1234:5678::1"),
        ("truncate", "not-an-ip", None),
    ],
)
def test_ip_is_minimised_per_ip_mode(
    site_factory: Callable[..., Site], ip_mode: str, client_ip: str, stored: str | None
) -> None:
    site = site_factory(ip_mode=ip_mode)
    response = site.make_client(client_ip).post("/_consent", json={"action": "accept_all"})
    assert response.status_code == 200
    (r,) = site.receipts()
    assert r.ip == stored


@pytest.mark.parametrize(
    ("return_to", "page"),
    [
        ("/a/b?token=secret", "/a/b"),
        ("/a#frag", "/a"),
        ("/", "/"),
        ("https://evil.example/x?y", "/"),
        ("//evil.example/x", "/"),
        (None, "/"),
    ],
)
def test_page_is_a_path_without_query(site: Site, return_to: str | None, page: str) -> None:
    body: dict[str, Any] = {"action": "accept_all"}
    if return_to is not None:
        body["return_to"] = return_to
    assert site.make_client().post("/_consent", json=body).status_code == 200
    (r,) = site.receipts()
    assert r.page == page


@pytest.mark.parametrize("action", ["reject_all", "withdraw"])
def test_refusal_expiry_matches_the_refusal_lifetime(
    site_factory: Callable[..., Site], action: str
) -> None:
    site = site_factory(site_policy(consent_lifetime_days=365, refusal_lifetime_days=30))
    response = site.make_client().post("/_consent", json={"action": action})
    assert response.status_code == 200
    assert f"Max-Age={30 * 86400}" in response.headers["set-cookie"]
    (r,) = site.receipts()
    # The receipt must not claim the refusal lasts longer than the cookie holding it.
    assert r.expires_at - r.timestamp == timedelta(days=30)


# --- bad posts store nothing ----------------------------------------------------------

BAD_POSTS = [
    pytest.param(b"{not json", "application/json", {}, 400, id="broken-json"),
    pytest.param(b"[1]", "application/json", {}, 400, id="json-array"),
    pytest.param(b'{"action": "sell"}', "application/json", {}, 400, id="unknown-action"),
    pytest.param(b'{"action": null}', "application/json", {}, 400, id="null-action"),
    pytest.param(
        b'{"action": "save", "categories": ["marketing"]}',
        "application/json",
        {},
        400,
        id="unknown-category",
    ),
    pytest.param(
        b'{"action": "save", "categories": {"a": 1}}', "application/json", {}, 400, id="dict-cats"
    ),
    pytest.param(b"\xff\xfe\x00", "application/json", {}, 400, id="not-utf8"),
    pytest.param(b"action=%ZZ&&==", "application/x-www-form-urlencoded", {}, 400, id="bad-form"),
    pytest.param(b"", "application/x-www-form-urlencoded", {}, 400, id="empty-form"),
    pytest.param(b"action=accept_all", "text/plain", {}, 415, id="text-plain"),
    pytest.param(
        b'{"action": "accept_all", "pad": "' + b"x" * 40000 + b'"}',
        "application/json",
        {},
        413,
        id="oversized",
    ),
    pytest.param(
        b'{"action": "accept_all"}',
        "application/json",
        {"Content-Length": "abc"},
        400,
        id="bad-length",
    ),
    pytest.param(
        b'{"action": "accept_all"}',
        "application/json",
        {"Origin": "https://evil.example"},
        403,
        id="cross-origin",
    ),
    pytest.param(
        b"action=accept_all",
        "application/x-www-form-urlencoded",
        {"Sec-Fetch-Site": "cross-site"},
        403,
        id="cross-site-form",
    ),
    pytest.param(
        b'{"action": "accept_all"}',
        "application/json",
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
        403,
        id="same-site-not-same-origin",
    ),
]


@pytest.mark.parametrize(("content", "content_type", "headers", "status"), BAD_POSTS)
def test_bad_posts_store_nothing(
    site: Site, content: bytes, content_type: str, headers: dict[str, str], status: int
) -> None:
    client = site.make_client()
    assert client.post("/_consent", json={"action": "accept_all"}).status_code == 200
    before = site.store.count()
    response = client.post(
        "/_consent", content=content, headers={"Content-Type": content_type, **headers}
    )
    assert response.status_code == status
    assert "error" in response.json()
    assert "set-cookie" not in response.headers
    assert site.store.count() == before == 1


def test_oversized_streamed_body_stores_nothing(site: Site) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"action": "accept_all", "pad": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}'

    response = site.make_client().post(
        "/_consent", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert site.store.count() == 0


def test_reading_endpoints_store_nothing(site: Site) -> None:
    client = site.make_client()
    for path in ("/_consent", "/_consent/preferences", "/_consent/cookies", "/", "/api"):
        assert client.get(path).status_code == 200, path
    assert client.put("/_consent", json={"action": "accept_all"}).status_code == 405
    assert site.store.count() == 0


# --- the visitor's receipt ------------------------------------------------------------


def test_receipt_endpoint_returns_the_latest_receipt(site: Site) -> None:
    client = site.make_client()
    other = site.make_client()
    client.post("/_consent", json={"action": "accept_all"})
    other.post("/_consent", json={"action": "accept_all"})
    last = client.post("/_consent", json={"action": "save", "categories": ["performance"]})
    other.post("/_consent", json={"action": "reject_all"})
    receipt_id = last.json()["receipt_id"]

    response = client.get("/_consent/receipt")
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    stored = site.store.latest(consent_id_of(client))
    assert stored is not None
    assert stored.receipt_id == receipt_id
    assert body["version"] == "KI-CR-v1.1.0"
    assert body["consentReceiptID"] == receipt_id
    assert body["piiPrincipalId"] == stored.consent_id
    assert body["collectionMethod"] == "api"
    assert body["consentkit"]["hash"] == stored.hash
    assert body["consentkit"]["seq"] == stored.seq
    assert body["consentkit"]["action"] == "save"
    assert body["consentkit"]["shownHash"] == stored.shown_hash
    purposes = [p["purpose"] for p in body["services"][0]["purposes"]]
    assert purposes == ["necessary", "performance"]
    assert body["consentkit"]["refused"] == ["functionality", "targeting"]


def test_receipt_endpoint_is_404_without_a_receipt(site_factory: Callable[..., Site]) -> None:
    site = site_factory()
    assert site.make_client().get("/_consent/receipt").status_code == 404

    forged = site.make_client()
    forged.cookies.set("consentkit", "eyJub3QiOiJzaWduZWQifQ.x.y")
    assert forged.get("/_consent/receipt").status_code == 404

    # A valid cookie whose decision was recorded elsewhere: no receipt here.
    elsewhere = site_factory().make_client()
    elsewhere.post("/_consent", json={"action": "accept_all"})
    stranger = site.make_client()
    stranger.cookies.set("consentkit", elsewhere.cookies["consentkit"])
    response = stranger.get("/_consent/receipt")
    assert response.status_code == 404
    assert "error" in response.json()
    assert site.store.count() == 0


# --- admin export ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0000000000"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": ADMIN_TOKEN},
    ],
)
def test_export_needs_the_admin_token(site: Site, headers: dict[str, str]) -> None:
    client = site.make_client()
    client.post("/_consent", json={"action": "accept_all"})
    for fmt in ("csv", "ndjson", "json"):
        response = client.get(f"/_consent/admin/export?format={fmt}", headers=headers)
        assert response.status_code == 401
        assert RECEIPT_KEY not in response.text
        assert "receipt_id" not in response.text


def _parse(fmt: str, text: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line]
    data = json.loads(text)
    assert isinstance(data, list)
    return data


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("csv", "text/csv"), ("ndjson", "application/x-ndjson"), ("json", "application/json")],
)
def test_export_holds_exactly_the_receipts_created(site: Site, fmt: str, media: str) -> None:
    ids = []
    for i, action in enumerate(["accept_all", "reject_all", "save", "withdraw"] * 3):
        client = site.make_client(f"198.51.100.{i}")
        response = client.post("/_consent", json={"action": action, "return_to": f"/p/{i}"})
        ids.append(response.json()["receipt_id"])
    response = site.make_client().get(f"/_consent/admin/export?format={fmt}", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert f"consent-receipts.{fmt}" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    rows = _parse(fmt, response.text)
    assert [row["receipt_id"] for row in rows] == ids
    stored = {r.receipt_id: r for r in site.receipts()}
    for row in rows:
        receipt = stored[row["receipt_id"]]
        assert row["hash"] == receipt.hash
        assert row["page"] == receipt.page
        assert str(row["seq"]) == str(receipt.seq)


def test_export_with_no_receipts_is_well_formed(site: Site) -> None:
    client = site.make_client()
    for fmt in ("csv", "ndjson", "json"):
        response = client.get(f"/_consent/admin/export?format={fmt}", headers=ADMIN)
        assert response.status_code == 200
        assert _parse(fmt, response.text) == []


def _fill(site: Site, count: int = 8, **overrides: Any) -> list[Receipt]:
    return [site.store.append(draft(i, **overrides)) for i in range(count)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"since": "2025-03-01T14:00:00Z"}, [2, 3, 4, 5, 6, 7]),
        ({"until": "2025-03-01T14:00:00.123456+00:00"}, [0, 1]),
        ({"until": "2025-03-01T14:00:00.123457Z"}, [0, 1, 2]),
        ({"since": "2025-03-01T13:00:00Z", "until": "2025-03-01T17:00:00Z"}, [1, 2, 3, 4]),
        ({"since": "2025-03-01T15:00:00+02:00"}, [1, 2, 3, 4, 5, 6, 7]),
        ({"since": "2025-03-02"}, []),
        ({"until": "2025-03-01"}, []),
        ({"since": "2025-03-01T14:00:00"}, [2, 3, 4, 5, 6, 7]),
        ({"action": "accept_all"}, [0, 4]),
        ({"action": ["save", "withdraw"]}, [2, 3, 6, 7]),
        ({"action": "gpc"}, []),
        ({"action": "reject_all", "since": "2025-03-01T16:00:00Z"}, [5]),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
def test_export_filters(
    site: Site, fmt: str, query: dict[str, str | list[str]], expected: list[int]
) -> None:
    receipts = _fill(site)
    response = site.make_client().get(
        "/_consent/admin/export", params={"format": fmt, **query}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    rows = _parse(fmt, response.text)
    assert [row["receipt_id"] for row in rows] == [receipts[i].receipt_id for i in expected]


@pytest.mark.parametrize(
    "query",
    [
        {"format": "xml"},
        {"since": "yesterday"},
        {"until": "2025-13-01"},
        {"since": "2025-03-01T14:00:00 00:00"},
    ],
)
def test_export_rejects_bad_parameters(site: Site, query: dict[str, str]) -> None:
    _fill(site, 2)
    response = site.make_client().get("/_consent/admin/export", params=query, headers=ADMIN)
    assert response.status_code == 400
    assert "error" in response.json()


FORMULAS = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "=1|2!A0"]
TEXT_COLUMNS = ("consent_id", "policy_revision", "language", "jurisdiction", "user_agent", "page")


@pytest.mark.parametrize("formula", [*FORMULAS, "\tcontrol", "\r=1"])
def test_csv_export_neutralises_formulas(site: Site, formula: str) -> None:
    columns = TEXT_COLUMNS if formula[0] not in "\t\r" else TEXT_COLUMNS[:-1]
    site.store.append(draft(0, **dict.fromkeys(columns, formula)))
    stored = site.receipts()[0]
    assert all(getattr(stored, column) == formula for column in columns)
    client = site.make_client()
    response = client.get("/_consent/admin/export?format=csv", headers=ADMIN)
    (row,) = _parse("csv", response.text)
    for column in columns:
        assert row[column] == "'" + formula, column
    # NDJSON and JSON carry the values untouched.
    for fmt in ("ndjson", "json"):
        text = client.get(f"/_consent/admin/export?format={fmt}", headers=ADMIN).text
        (record,) = _parse(fmt, text)
        assert all(record[column] == formula for column in columns)


def test_visitor_controlled_cells_cannot_start_a_formula(site: Site) -> None:
    # Over the API a visitor sets only the page (always a "/" path) and the user agent
    # (reduced to a browser family): neither can begin a spreadsheet formula.
    response = site.make_client().post(
        "/_consent",
        json={"action": "accept_all", "return_to": "/=cmd|'/C calc'!A0"},
        headers={"User-Agent": "=cmd|'/C calc'!A0"},
    )
    assert response.status_code == 200
    text = site.make_client().get("/_consent/admin/export?format=csv", headers=ADMIN).text
    (row,) = _parse("csv", text)
    assert row["user_agent"] == "other"
    assert row["page"] == "/=cmd|'/C calc'!A0"


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
def test_http_export_matches_the_cli_export(site: Site, fmt: str, tmp_path: Path) -> None:
    _fill(site, 5, user_agent="=1+2")
    site.make_client().post("/_consent", json={"action": "accept_all"})
    response = site.make_client().get(f"/_consent/admin/export?format={fmt}", headers=ADMIN)
    out = tmp_path / f"cli.{fmt}"
    status = cli_main(
        ["--store", f"sqlite:///{site.db}", "export", "--format", fmt, "--out", str(out)]
    )
    assert status == 0
    assert response.content == out.read_bytes()


async def test_export_streams_from_a_real_server(tmp_path: Path) -> None:
    db = tmp_path / "receipts.db"
    store = SQLiteReceiptStore(db, receipt_keys=[SERVER_RECEIPT_KEY])
    try:
        created = [store.append(draft(i)).receipt_id for i in range(400)]
    finally:
        store.close()
    server = ServerProcess(f"sqlite:///{db}", tmp_path / "server.log").start()
    try:
        headers = {"Authorization": f"Bearer {SERVER_ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
            unauthorised = await client.get("/_consent/admin/export")
            assert unauthorised.status_code == 401
            chunks = []
            async with client.stream(
                "GET", "/_consent/admin/export?format=ndjson", headers=headers
            ) as response:
                assert response.status_code == 200
                assert response.headers.get("transfer-encoding") == "chunked"
                assert "content-length" not in response.headers
                async for chunk in response.aiter_raw():
                    chunks.append(chunk)
        assert len(chunks) > 1
        lines = b"".join(chunks).decode().splitlines()
        assert [json.loads(line)["receipt_id"] for line in lines] == created
    finally:
        server.stop()


def test_receipt_names_the_controller_given_to_the_middleware(
    site_factory: Callable[..., Site],
) -> None:
    site = site_factory(
        site_policy(privacy_url="https://example.org/privacy"), controller="Example Ltd"
    )
    client = site.make_client()
    client.post("/_consent", json={"action": "accept_all"})
    body = client.get("/_consent/receipt").json()
    assert body["piiControllers"][0]["piiController"] == "Example Ltd"
    assert body["policyUrl"] == "https://example.org/privacy"


def test_receipt_controller_table_from_toml_with_hash_and_hmac(
    site_factory: Callable[..., Site], tmp_path: Path
) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(
        'privacy_url = "/privacy"\n[controller]\nname = "Example SA"\ncontact = "DPO"\n'
        'email = "dpo@example.org"\naddress = "1 Rue Example, Paris"\nphone = "+33 1 23"\n'
    )
    site = site_factory(Policy.from_toml(path))
    client = site.make_client()
    client.post("/_consent", json={"action": "reject_all"})
    body = client.get("/_consent/receipt").json()
    assert body["piiControllers"][0] == {
        "piiController": "Example SA",
        "onBehalf": False,
        "contact": "DPO",
        "address": "1 Rue Example, Paris",
        "email": "dpo@example.org",
        "phone": "+33 1 23",
    }
    assert body["policyUrl"] == "/privacy"
    stored = site.store.latest(consent_id_of(client))
    assert stored is not None
    # docs/http-api.md promises the receipt "with its hash and HMAC".
    assert body["consentkit"]["hash"] == stored.hash
    assert body["consentkit"]["hmac"] == stored.hmac
    assert body["consentkit"]["keyId"] == stored.key_id


def test_controller_table_typo_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='did you mean "email"'):
        Policy.from_dict({"controller": {"name": "X", "emial": "a@b"}})
    assert Policy(controller=Controller("X", email="a@b")).controller.email == "a@b"
    assert Policy(controller={"name": "Y"}).controller.name == "Y"  # type: ignore[arg-type]
