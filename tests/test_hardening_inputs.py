"""Requests an attacker controls never cause a 500 or lose a receipt (hardening, A7)."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from consentkit.stores import open_store

from .conftest import make_app

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
