"""GPC is recorded once per consent id as a ``gpc`` receipt, and the page says so."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from consentkit.stores import open_store

from ..conftest import RECEIPT_KEY, make_app

GPC = {"Sec-GPC": "1"}


def gpc_client(tmp_path: Path) -> tuple[TestClient, str]:
    url = f"sqlite:///{tmp_path}/receipts.db"
    return TestClient(make_app(store=url, receipt_key=RECEIPT_KEY)), url


def receipts(url: str) -> list:  # type: ignore[type-arg]
    store = open_store(url, receipt_keys=[RECEIPT_KEY])
    try:
        return list(store.iter_receipts())
    finally:
        store.close()


def test_gpc_is_recorded_once_per_consent_id(tmp_path: Path) -> None:
    client, url = gpc_client(tmp_path)
    first = client.get("/", headers=GPC)
    assert first.status_code == 200
    assert "consentkit" in client.cookies
    for _ in range(3):
        client.get("/", headers=GPC)
    rows = receipts(url)
    assert [r.action for r in rows] == ["gpc"]
    assert rows[0].collection == "signal"
    assert "targeting" in rows[0].refused
    state = client.get("/_consent", headers=GPC).json()["decision"]
    assert state["decided"] is False
    assert state["reason"] == "gpc"
    assert state["pending"]


def test_a_later_choice_keeps_the_consent_id(tmp_path: Path) -> None:
    client, url = gpc_client(tmp_path)
    client.get("/", headers=GPC)
    client.post("/_consent", json={"action": "save", "categories": ["performance"]}, headers=GPC)
    client.get("/", headers=GPC)
    rows = receipts(url)
    assert [r.action for r in rows] == ["gpc", "save"]
    assert rows[0].consent_id == rows[1].consent_id


def test_no_gpc_no_receipt_and_no_cookie(tmp_path: Path) -> None:
    client, url = gpc_client(tmp_path)
    client.get("/")
    assert receipts(url) == []
    assert "consentkit" not in client.cookies


def test_non_html_responses_record_nothing(tmp_path: Path) -> None:
    client, url = gpc_client(tmp_path)
    client.get("/api", headers=GPC)
    assert receipts(url) == []


def test_the_page_says_gpc_was_honoured(tmp_path: Path) -> None:
    client, _ = gpc_client(tmp_path)
    with_signal = client.get("/", headers=GPC).text
    without = TestClient(make_app()).get("/").text
    assert "Global Privacy Control" in with_signal
    assert "Global Privacy Control" not in without


def test_gpc_is_recorded_once_per_browser_over_https(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/receipts.db"
    client = TestClient(make_app(store=url, receipt_key=RECEIPT_KEY), base_url="https://testserver")
    first = client.get("/", headers=GPC)
    set_cookies = first.headers.get_list("set-cookie")
    assert any(line.startswith("__Host-consentkit=") for line in set_cookies)
    # The second request carries only what the first response set.
    second = TestClient(make_app(store=url, receipt_key=RECEIPT_KEY), base_url="https://testserver")
    second.cookies = first.cookies
    second.get("/", headers=GPC)
    assert [r.action for r in receipts(url)] == ["gpc"]
