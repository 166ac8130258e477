"""Receipts record services granted and refused; export and the dashboard show them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consentkit.stores import verify_store
from consentkit.stores.export import to_kantara
from consentkit.stores.sqlite import SQLiteReceiptStore

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, make_app, site_policy
from ..receipt_factory import draft

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "receipts.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteReceiptStore]:
    handle = SQLiteReceiptStore(db, receipt_keys=[RECEIPT_KEY])
    yield handle
    handle.close()


def client_for(db: Path) -> TestClient:
    app = make_app(
        site_policy(), store=f"sqlite:///{db}", receipt_key=RECEIPT_KEY, admin_token=ADMIN_TOKEN
    )
    return TestClient(app)


def test_receipts_list_services_after_the_categories(db: Path, store: SQLiteReceiptStore) -> None:
    # A receipt from before services (same record shape) stays valid beside new ones.
    store.append(draft(granted=("necessary", "targeting"), refused=("performance",)))
    with client_for(db) as client:
        assert client.post("/_consent", json={"action": "save", "services": ["youtube"]}).is_success
        body = {"action": "save", "categories": ["targeting"], "refused_services": ["meta-pixel"]}
        assert client.post("/_consent", json=body).is_success
    old, first, second = list(store.iter_receipts())
    assert first.granted == ("necessary", "service:youtube")
    assert first.refused == ("performance", "functionality", "targeting")
    assert second.granted == ("necessary", "targeting")
    assert second.refused == ("performance", "functionality", "service:meta-pixel")
    assert old.granted == ("necessary", "targeting")
    assert verify_store(store, keys=[RECEIPT_KEY]).ok
    kantara = to_kantara(first, controller={"name": "Shop"})
    purposes = [p["purpose"] for p in kantara["services"][0]["purposes"]]
    assert purposes == ["necessary"]
    assert kantara["services"][1]["service"] == "youtube"
    assert "service:meta-pixel" in to_kantara(second, controller={})["consentkit"]["refused"]


def test_exports_and_dashboard_show_acceptance_per_service(db: Path) -> None:
    with client_for(db) as client:
        client.post("/_consent", json={"action": "save", "services": ["youtube"]})
        client.cookies.clear()
        client.post("/_consent", json={"action": "accept_all"})
        client.cookies.clear()
        client.post(
            "/_consent",
            json={"action": "save", "categories": ["targeting"], "refused_services": ["youtube"]},
        )
        rows = list(csv.DictReader(io.StringIO(client.get(
            "/_consent/admin/export?format=csv", headers=ADMIN).text)))  # fmt: skip
        assert "service:youtube" in rows[0]["granted"]
        assert "service:youtube" in rows[2]["refused"]
        lines = client.get("/_consent/admin/export?format=ndjson", headers=ADMIN).text.splitlines()
        assert json.loads(lines[0])["granted"] == ["necessary", "service:youtube"]
        page = client.get("/_consent/admin", headers=ADMIN).text
    assert "Consent rate by service" in page
    # YouTube: allowed by the first (on its own) and second (category) of three decisions.
    assert 'data-service="youtube" data-count="2" data-decided="3"' in page
    # Meta Pixel follows targeting: granted by two of three.
    assert 'data-service="meta-pixel" data-count="2" data-decided="3"' in page
