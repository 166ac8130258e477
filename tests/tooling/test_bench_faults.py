"""The fault benchmark's store check counts what went missing and what came out of order."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_faults
from consentkit.stores import open_store
from tests.crash_app import RECEIPT_KEY
from tests.receipt_factory import draft


def _store(tmp_path: Path, actions: list[tuple[str, str]]) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_store(url, receipt_keys=[RECEIPT_KEY])
    ids = []
    try:
        for i, (consent_id, action) in enumerate(actions):
            receipt = store.append(draft(i, consent_id=consent_id, action=action))
            ids.append(receipt.receipt_id)
    finally:
        store.close()
    return url, ids


def test_a_complete_log_checks_clean(tmp_path: Path) -> None:
    url, ids = _store(tmp_path, [("a", "accept_all"), ("b", "reject_all"), ("a", "withdraw")])
    load = bench_faults._Load(
        answers=[
            ("v1", "accept_all", ids[0]),
            ("v2", "reject_all", None),
            ("v1", "withdraw", ids[2]),
        ]
    )
    check = bench_faults._check(url, load)
    assert check == {
        "answered": 3,
        "stored": 3,
        "lost": 0,
        "stored_match": True,
        "in_order": True,
        "chain_ok": True,
    }


def test_a_spooled_answer_without_its_receipt_is_lost(tmp_path: Path) -> None:
    url, ids = _store(tmp_path, [("a", "accept_all")])
    load = bench_faults._Load(answers=[("v1", "accept_all", ids[0]), ("v2", "save", None)])
    assert bench_faults._check(url, load)["lost"] == 1


def test_a_missing_receipt_and_a_reordered_visitor_are_reported(tmp_path: Path) -> None:
    url, ids = _store(tmp_path, [("a", "withdraw"), ("a", "accept_all")])
    load = bench_faults._Load(
        answers=[
            ("v1", "accept_all", ids[1]),
            ("v1", "withdraw", ids[0]),
            ("v2", "reject_all", "never-stored"),
        ]
    )
    check = bench_faults._check(url, load)
    assert check["lost"] == 1  # an answered id not in the store
    assert check["stored_match"] is False
    assert check["in_order"] is False
