"""Tampering with a store behind consentkit's back is caught, naming the right receipt.

Each attack edits the database with raw SQL, then ``verify`` runs both through the API
and through the CLI (exit status and message).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from consentkit.cli import main
from consentkit.errors import ChainError
from consentkit.receipts import Receipt, canonical_bytes, key_fingerprint, seal
from consentkit.stores import ReceiptStore, _sql, open_store, verify_store

from ..receipt_factory import KEYS, T0, draft

N = 12


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


@pytest.fixture
def store(url: str) -> Iterator[ReceiptStore]:
    store = open_store(url, receipt_keys=KEYS)
    for i in range(N):
        store.append(draft(i))
    yield store
    store.close()


def raw(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement directly on the database (the attacker's access)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(sql.replace("?", "%s"), params)


def receipt_at(store: ReceiptStore, seq: int) -> Receipt:
    return next(r for r in store.iter_receipts() if r.seq == seq)


def rehashed(receipt: Receipt) -> str:
    unsigned = dataclasses.replace(receipt, hash="", hmac="")
    return hashlib.sha256(canonical_bytes(unsigned)).hexdigest()


def cli_verify(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--store", url, "--receipt-key", KEYS[0], "--receipt-key", KEYS[1], "verify"])
    return code, capsys.readouterr().out


def assert_broken(
    store: ReceiptStore,
    url: str,
    capsys: pytest.CaptureFixture[str],
    *,
    seq: int,
    receipt_id: str,
    kind: str,
) -> None:
    result = verify_store(store, keys=KEYS)
    assert result.error is not None, "tampering went unnoticed"
    assert (result.error.seq, result.error.receipt_id, result.error.kind) == (
        seq,
        receipt_id,
        kind,
    )
    code, out = cli_verify(url, capsys)
    assert code == 1
    assert out.startswith("FAILED")
    assert receipt_id in out
    assert f"seq {seq}" in out
    assert kind in out


def test_untouched_store_verifies(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify_store(store, keys=KEYS).ok
    code, out = cli_verify(url, capsys)
    assert (code, out.strip()) == (0, f"OK: {N} receipts, chain intact")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "accept_all"),
        ("granted", None),  # backend-specific empty list, set below
        ("page", "/edited"),
        ("timestamp", None),
    ],
)
def test_edited_field(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str], column: str, value: Any
) -> None:
    victim = receipt_at(store, 6)  # a "save"
    if column == "granted":
        sql = "UPDATE consentkit_receipts SET granted = " + (
            "'[]'" if url.startswith("sqlite") else "'{}'"
        )
        raw(url, sql + " WHERE seq = 6")
    elif column == "timestamp":
        earlier = victim.timestamp - timedelta(days=3)
        raw(
            url,
            'UPDATE consentkit_receipts SET "timestamp" = ? WHERE seq = 6',
            (earlier.isoformat().replace("+00:00", "Z") if url.startswith("sqlite") else earlier,),
        )
    else:
        raw(url, f"UPDATE consentkit_receipts SET {column} = ? WHERE seq = 6", (value,))
    assert_broken(store, url, capsys, seq=6, receipt_id=victim.receipt_id, kind="hash")


def test_deleted_receipt(store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    after = receipt_at(store, 8)
    raw(url, "DELETE FROM consentkit_receipts WHERE seq = 7")
    assert_broken(store, url, capsys, seq=8, receipt_id=after.receipt_id, kind="seq")


def test_deleted_last_receipt_is_caught_by_the_head(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    raw(url, f"DELETE FROM consentkit_receipts WHERE seq = {N}")
    assert_broken(store, url, capsys, seq=N, receipt_id="(chain head)", kind="head")


def test_swapped_seq(store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    moved = receipt_at(store, 4)
    raw(url, "UPDATE consentkit_receipts SET seq = -1 WHERE seq = 3")
    raw(url, "UPDATE consentkit_receipts SET seq = 3 WHERE seq = 4")
    raw(url, "UPDATE consentkit_receipts SET seq = 4 WHERE seq = -1")
    assert_broken(store, url, capsys, seq=3, receipt_id=moved.receipt_id, kind="prev_hash")


@pytest.mark.parametrize("spoof_key_id", [False, True])
def test_inserted_forgery(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str], spoof_key_id: bool
) -> None:
    last = receipt_at(store, N)
    forged = seal(draft(99, action="accept_all"), seq=N + 1, prev_hash=last.hash, keys=["guess"])
    kind = "key"
    if spoof_key_id:
        forged = dataclasses.replace(forged, key_id=key_fingerprint(KEYS[0]))
        forged = dataclasses.replace(forged, hash=rehashed(forged))
        kind = "hmac"
    if url.startswith("sqlite"):
        params = _sql.receipt_params(
            forged,
            encode_list=lambda v: json.dumps(list(v)),
            encode_time=lambda t: t.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        )
    else:
        params = _sql.receipt_params(forged, encode_list=list, encode_time=lambda t: t)
    marks = ", ".join(["?"] * len(params))
    raw(url, f"INSERT INTO consentkit_receipts ({_sql.SELECT_COLUMNS}) VALUES ({marks})", params)
    raw(url, "UPDATE consentkit_chain_head SET seq = ?, hash = ?", (N + 1, forged.hash))
    assert_broken(store, url, capsys, seq=N + 1, receipt_id=forged.receipt_id, kind=kind)


def test_rehashed_without_the_key(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = receipt_at(store, 5)
    edited = dataclasses.replace(victim, action="reject_all")
    new_hash = rehashed(edited)
    raw(
        url,
        "UPDATE consentkit_receipts SET action = 'reject_all', hash = ? WHERE seq = 5",
        (new_hash,),
    )
    # Relink the next receipt too, as a careful attacker would.
    nxt = dataclasses.replace(receipt_at(store, 6), prev_hash=new_hash)
    raw(
        url,
        "UPDATE consentkit_receipts SET prev_hash = ?, hash = ? WHERE seq = 6",
        (new_hash, rehashed(nxt)),
    )
    assert_broken(store, url, capsys, seq=5, receipt_id=victim.receipt_id, kind="hmac")


def test_forged_purge_anchor(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fifth = receipt_at(store, 5)
    raw(url, "DELETE FROM consentkit_receipts WHERE seq <= 5")
    raw(
        url,
        "INSERT INTO consentkit_anchors (seq, hash, created_at, key_id, hmac, purged) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            5,
            fifth.hash,
            "2025-01-01T00:00:00.000000Z" if url.startswith("sqlite") else T0,
            key_fingerprint(KEYS[0]),
            "0" * 64,
            5,
        ),
    )
    assert_broken(store, url, capsys, seq=5, receipt_id="(purge anchor)", kind="anchor")


def test_deleting_old_receipts_without_an_anchor(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sixth = receipt_at(store, 6)
    raw(url, "DELETE FROM consentkit_receipts WHERE seq <= 5")
    assert_broken(store, url, capsys, seq=6, receipt_id=sixth.receipt_id, kind="seq")


def test_purge_refuses_a_broken_chain(store: ReceiptStore, url: str) -> None:
    victim = receipt_at(store, 2)
    raw(url, "UPDATE consentkit_receipts SET page = '/edited' WHERE seq = 2")
    with pytest.raises(ChainError) as info:
        store.purge(T0 + timedelta(hours=N))
    assert info.value.receipt_id == victim.receipt_id
    assert store.count() == N
    assert store.anchor() is None
