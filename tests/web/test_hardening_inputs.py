"""Requests an attacker controls never cause a 500 or lose a receipt (hardening, A7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consentkit.stores import open_store

from ..conftest import make_app

RECEIPT_KEY = "receipt-key-000000000000000"


def _client(tmp_path: Path) -> tuple[TestClient, str]:
    url = f"sqlite:///{tmp_path}/r.db"
    app = make_app(store=url, receipt_key=RECEIPT_KEY)
    return TestClient(app, raise_server_exceptions=False), url


def _receipts(url: str) -> int:
    store = open_store(url, receipt_keys=[RECEIPT_KEY])
    try:
        return sum(1 for _ in store.iter_receipts())
    finally:
        store.close()


def test_non_ascii_return_to_redirects_and_keeps_the_receipt(tmp_path: Path) -> None:
    client, url = _client(tmp_path)
    response = client.post(
        "/_consent",
        data={"action": "accept_all", "return_to": "/\u2603?q=\u00e9"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    # The browser's own form: the path percent-encoded as UTF-8, still on this site.
    assert response.headers["location"] == "/%E2%98%83?q=%C3%A9"
    assert response.headers.get("set-cookie")
    assert _receipts(url) == 1


def test_deeply_nested_json_is_a_bad_request(tmp_path: Path) -> None:
    client, url = _client(tmp_path)
    for body in ("[" * 5000, '{"a":' * 3000):
        response = client.post(
            "/_consent",
            content=body,
            headers={"Content-Type": "application/json", "Origin": "http://testserver"},
        )
        assert response.status_code == 400, body[:10]
    assert _receipts(url) == 0


def test_cookieless_gpc_page_views_do_not_mint_a_receipt_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clock stands still: what is counted is receipts, not how fast they came.
    monkeypatch.setattr("consentkit.web.ratelimit._now", lambda: 1000.0)
    client, url = _client(tmp_path)
    for _ in range(200):
        # No cookie jar: every request is a first visit, as a script would send it.
        client.cookies.clear()
        response = client.get("/", headers={"Sec-GPC": "1"})
        assert response.status_code == 200
    assert _receipts(url) <= 60


def test_consent_posts_are_limited_per_network_without_losing_a_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consentkit.web.ratelimit._now", lambda: 1000.0)
    url = f"sqlite:///{tmp_path}/r.db"
    app = make_app(store=url, receipt_key=RECEIPT_KEY, receipt_rate_limit=5)
    client = TestClient(app, raise_server_exceptions=False)
    answers = []
    for _ in range(8):
        client.cookies.clear()
        response = client.post(
            "/_consent", json={"action": "accept_all"}, headers={"Origin": "http://testserver"}
        )
        answers.append(response.status_code)
        if response.status_code == 429:
            # Refused: no cookie, so the choice was neither applied nor recorded.
            assert "set-cookie" not in response.headers
    assert answers == [200] * 5 + [429] * 3
    assert _receipts(url) == 5


def test_rate_limit_counts_networks_and_refills() -> None:
    from consentkit.web.ratelimit import ReceiptRateLimit, network_of

    now = [0.0]
    limit = ReceiptRateLimit(2, clock=lambda: now[0])
    assert [limit.allow("192.0.2.1"), limit.allow("192.0.2.200"), limit.allow("192.0.2.9")] == [
        True,
        True,
        False,
    ]
    assert limit.allow("198.51.100.1")  # another /24
    assert limit.allow("2001:db8:1::1")
    assert limit.allow("2001:db8:1:ffff::1")
    assert not limit.allow("2001:db8:1:2::1")  # the same /48
    now[0] += 30.0  # half a minute refills one
    assert limit.allow("192.0.2.1")
    assert not limit.allow("192.0.2.1")
    assert network_of("::ffff:192.0.2.7") == "192.0.2.0/24"
    assert network_of("not an ip") == network_of(None) == "?"
    assert ReceiptRateLimit(0).allow("192.0.2.1")
