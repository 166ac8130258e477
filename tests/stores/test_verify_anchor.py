"""``verify`` blind spots: rewritten timestamp offsets, a truncated tail with the head moved
back, and the external anchor (``consentkit anchor`` / ``verify --anchor``)."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from consentkit.cli import main
from consentkit.receipts import format_timestamp
from consentkit.stores import ReceiptStore, verify_store

from ..receipt_factory import KEYS, draft
from .test_verify_tamper import N, assert_broken, raw, receipt_at, store, url

__all__ = ["store", "url"]  # fixtures used by name


def _cli(url: str, *args: str) -> int:
    return main(["--store", url, "--receipt-key", KEYS[0], "--receipt-key", KEYS[1], *args])


@pytest.mark.parametrize("offset", [timedelta(hours=-23, minutes=-59), timedelta(0)])
def test_timestamp_rewritten_to_another_offset_fails(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str], offset: timedelta
) -> None:
    victim = receipt_at(store, 6)
    if not url.startswith("sqlite"):
        offset = timedelta(hours=5, minutes=30)  # PostgreSQL refuses offsets past 15:59
    # The same instant, written with another offset: the hash still matches.
    same_instant = victim.timestamp.astimezone(timezone(offset)).isoformat(timespec="microseconds")
    assert same_instant != format_timestamp(victim.timestamp)
    raw(url, 'UPDATE consentkit_receipts SET "timestamp" = ? WHERE seq = 6', (same_instant,))
    if not url.startswith("sqlite"):
        # PostgreSQL stores the instant (TIMESTAMPTZ), not the text: the rewrite changes
        # nothing a filter or a verifier could trip on.
        assert receipt_at(store, 6).timestamp == victim.timestamp
        assert verify_store(store, keys=KEYS).ok
        return
    assert_broken(store, url, capsys, seq=6, receipt_id=victim.receipt_id, kind="timestamp")


def test_stored_timestamp_text_must_be_canonical() -> None:
    from consentkit.receipts import parse_stored_timestamp

    canonical = "2026-01-02T03:04:05.000006Z"
    assert parse_stored_timestamp(canonical).tzinfo is UTC
    for other in ("2026-01-02T03:04:05.000006+00:00", "2026-01-02T03:04:05Z",
                  "2026-01-01T03:05:05.000006-23:59", "2026-01-02T03:04:05.000006"):  # fmt: skip
        parsed = parse_stored_timestamp(other)
        assert parsed.tzinfo is not UTC, other


def test_truncated_tail_with_the_head_moved_back_fails(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = receipt_at(store, N - 2)
    raw(url, f"DELETE FROM consentkit_receipts WHERE seq > {N - 2}")
    raw(url, "UPDATE consentkit_chain_head SET seq = ?, hash = ?", (keep.seq, keep.hash))
    assert_broken(store, url, capsys, seq=N - 2, receipt_id="(chain head)", kind="head")


def test_head_signature_cannot_be_copied_from_a_receipt(
    store: ReceiptStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = receipt_at(store, N - 2)
    raw(url, f"DELETE FROM consentkit_receipts WHERE seq > {N - 2}")
    raw(
        url,
        "UPDATE consentkit_chain_head SET seq = ?, hash = ?, hmac = ?",
        (keep.seq, keep.hash, f"{keep.key_id}:{keep.hmac}"),
    )
    assert_broken(store, url, capsys, seq=N - 2, receipt_id="(chain head)", kind="head")


def test_anchor_then_verify_with_it(
    store: ReceiptStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "anchors.ndjson"
    assert _cli(url, "anchor", "--out", str(log)) == 0
    store.append(draft(100))
    assert _cli(url, "anchor", "--out", str(log)) == 0
    lines = log.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [N, N + 1]
    assert _cli(url, "anchor") == 0
    assert json.loads(capsys.readouterr().out)["seq"] == N + 1
    assert _cli(url, "verify", "--anchor", str(log)) == 0
    assert "2 anchor(s) held" in capsys.readouterr().out


def test_anchor_catches_a_truncation_that_also_resigns_the_head(
    store: ReceiptStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Someone holding the receipt key (or an old database backup) can rebuild a
    # consistent shorter chain; only a head kept outside the database notices.
    log = tmp_path / "anchors.ndjson"
    assert _cli(url, "anchor", "--out", str(log)) == 0
    raw(url, f"DELETE FROM consentkit_receipts WHERE seq > {N - 3}")
    keep = receipt_at(store, N - 3)
    from consentkit.chain import (
        sign_head,
    )

    raw(
        url,
        "UPDATE consentkit_chain_head SET seq = ?, hash = ?, hmac = ?",
        (keep.seq, keep.hash, sign_head(keep.seq, keep.hash, keys=KEYS)),
    )
    assert verify_store(store, keys=KEYS).ok  # the database alone looks intact
    capsys.readouterr()
    assert _cli(url, "verify", "--anchor", str(log)) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED")
    assert "checkpoint" in out


def test_forged_or_foreign_anchor_file_fails(
    store: ReceiptStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "anchors.ndjson"
    assert _cli(url, "anchor", "--out", str(log)) == 0
    point = json.loads(log.read_text())
    point["seq"] = N - 1
    log.write_text(json.dumps(point) + "\n")
    capsys.readouterr()
    assert _cli(url, "verify", "--anchor", str(log)) == 1
    assert "invalid signature" in capsys.readouterr().out
    log.write_text("not json\n")
    assert _cli(url, "verify", "--anchor", str(log)) == 2
    assert "not a consentkit anchor" in capsys.readouterr().err


def test_migrating_from_schema_1_signs_the_head_when_the_key_is_at_hand(
    store: ReceiptStore, url: str
) -> None:
    from consentkit.stores import open_store

    # Turn the store back into schema 1: no head signature column.
    raw(url, "ALTER TABLE consentkit_chain_head DROP COLUMN hmac")
    raw(url, "UPDATE consentkit_schema SET version = 1")
    readonly = open_store(url, receipt_keys=[])  # no key: the column returns, unsigned
    try:
        assert readonly.schema_version() == 2
        result = verify_store(readonly, keys=KEYS)
        assert result.error is not None
        assert "not signed" in result.error.message
    finally:
        readonly.close()
    raw(url, "ALTER TABLE consentkit_chain_head DROP COLUMN hmac")
    raw(url, "UPDATE consentkit_schema SET version = 1")
    keyed = open_store(url, receipt_keys=KEYS)
    try:
        assert verify_store(keyed, keys=KEYS).ok
    finally:
        keyed.close()
