"""The spool keeps every decision while the store is down and replays it in order."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from consentkit.errors import StoreError
from consentkit.receipts import Receipt, ReceiptDraft
from consentkit.stores import ChainHead, SpooledStore, open_store, verify_store
from consentkit.stores.sqlite import SQLiteReceiptStore

from ..pg_server import PgServer, PostgresUnavailable, skip_requested
from ..receipt_factory import KEYS, draft


class FlakyStore(SQLiteReceiptStore):
    """A real SQLite store whose appends fail on demand."""

    failing = False
    successes_left: int | None = None

    def append(self, draft: ReceiptDraft) -> Receipt:
        if self.failing:
            raise StoreError("simulated outage")
        if self.successes_left is not None:
            if self.successes_left == 0:
                raise StoreError("simulated outage mid-replay")
            self.successes_left -= 1
        return super().append(draft)

    batches: list[int]

    def append_many(self, drafts: Sequence[ReceiptDraft]) -> list[Receipt]:
        if self.failing:
            raise StoreError("simulated outage")
        if self.successes_left is not None:
            # One transaction: all of it lands, or none.
            if self.successes_left < len(drafts):
                raise StoreError("simulated outage mid-replay")
            self.successes_left -= len(drafts)
        self.batches = [*getattr(self, "batches", []), len(drafts)]
        return super().append_many(drafts)


@pytest.fixture
def inner(tmp_path: Path) -> Iterator[FlakyStore]:
    store = FlakyStore(tmp_path / "receipts.db", receipt_keys=KEYS)
    yield store
    store.close()


@pytest.fixture
def spooled(inner: FlakyStore, tmp_path: Path) -> SpooledStore:
    # Every append tries the inner store again (the pause after a failure is tested apart).
    return SpooledStore(inner, tmp_path / "spool" / "receipts.jsonl", max_items=5, retry_interval=0)


def consent_ids(store: SpooledStore) -> list[str]:
    return [r.consent_id for r in store.iter_receipts()]


def test_healthy_store_passes_through(spooled: SpooledStore) -> None:
    receipt = spooled.append(draft(0, consent_id="a"))
    assert receipt is not None
    assert receipt.seq == 1
    assert spooled.pending() == 0
    assert not spooled.path.exists()


def test_a_stored_append_never_takes_the_spool_lock(
    spooled: SpooledStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool's file lock serialises every writer; a healthy store must not pay for it."""
    taken: list[int] = []
    locked = spooled._locked

    def counting() -> object:
        taken.append(1)
        return locked()

    monkeypatch.setattr(spooled, "_locked", counting)
    spooled.append(draft(0, consent_id="a"))
    spooled.append_many([draft(1, consent_id="b"), draft(2, consent_id="c")])
    assert taken == []
    assert consent_ids(spooled) == ["a", "b", "c"]
    assert not spooled._lock_path.exists()


def test_outage_spools_then_replays_in_order(
    spooled: SpooledStore, inner: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    spooled.append(draft(0, consent_id="first"))
    inner.failing = True
    with caplog.at_level(logging.ERROR, logger="consentkit.receipts"):
        assert spooled.append(draft(1, consent_id="second")) is None
        assert spooled.append(draft(2, consent_id="third")) is None
    assert spooled.pending() == 2
    assert consent_ids(spooled) == ["first"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "spooled" in errors[0].getMessage()

    inner.failing = False
    receipt = spooled.append(draft(3, consent_id="fourth"))
    assert receipt is not None
    assert receipt.seq == 4
    assert consent_ids(spooled) == ["first", "second", "third", "fourth"]
    assert spooled.pending() == 0
    assert not spooled.path.exists()
    assert verify_store(spooled, keys=KEYS).ok
    # The replayed receipts keep the time of the decision, not of the replay.
    replayed = spooled.for_consent("second")[0]
    assert replayed.timestamp == draft(1).timestamp


def test_after_a_failure_appends_spool_without_waiting_on_the_store(
    inner: FlakyStore, tmp_path: Path
) -> None:
    spooled = SpooledStore(inner, tmp_path / "spool.jsonl", retry_interval=3600)
    spooled.append(draft(0, consent_id="first"))
    inner.failing = True
    assert spooled.append(draft(1, consent_id="second")) is None
    inner.failing = False
    # Within the retry interval the store is not tried: the draft queues behind the other.
    assert spooled.append(draft(2, consent_id="third")) is None
    assert consent_ids(spooled) == ["first"]
    assert spooled.pending() == 2
    assert spooled.drain() == 2
    assert consent_ids(spooled) == ["first", "second", "third"]
    assert spooled.append(draft(3, consent_id="fourth")) is not None
    assert verify_store(spooled, keys=KEYS).ok


def test_append_many_spools_the_whole_batch_in_order_when_the_store_fails(
    spooled: SpooledStore, inner: FlakyStore
) -> None:
    first = spooled.append_many([draft(0, consent_id="a"), draft(1, consent_id="b")])
    assert [r.seq if r else None for r in first] == [1, 2]
    inner.failing = True
    assert spooled.append_many([draft(2, consent_id="c"), draft(3, consent_id="d")]) == [
        None,
        None,
    ]
    assert spooled.append_many([draft(4, consent_id="e")]) == [None]  # behind the others
    assert spooled.pending() == 3
    inner.failing = False
    last = spooled.append_many([draft(5, consent_id="f"), draft(6, consent_id="g")])
    assert [r.consent_id if r else None for r in last] == ["f", "g"]
    assert consent_ids(spooled) == ["a", "b", "c", "d", "e", "f", "g"]
    assert spooled.pending() == 0
    assert verify_store(spooled, keys=KEYS).ok


class DownStore(FlakyStore):
    """While failing, reads fail too (a database that is down), and appends are counted."""

    append_calls = 0

    def head(self) -> ChainHead | None:
        if self.failing:
            raise StoreError("simulated outage")
        return super().head()

    def append_many(self, drafts: Sequence[ReceiptDraft]) -> list[Receipt]:
        self.append_calls += 1
        return super().append_many(drafts)


def test_a_store_still_down_is_asked_with_a_read_and_not_given_the_spool(
    tmp_path: Path,
) -> None:
    inner = DownStore(tmp_path / "receipts.db", receipt_keys=KEYS)
    spooled = SpooledStore(inner, tmp_path / "spool.jsonl", retry_interval=0)
    try:
        inner.failing = True
        assert spooled.append(draft(0, consent_id="a")) is None
        assert inner.append_calls == 1
        # Something is spooled and the store does not answer a read: no replay attempt.
        assert spooled.append(draft(1, consent_id="b")) is None
        assert inner.append_calls == 1
        assert spooled.pending() == 2
        inner.failing = False
        assert spooled.append(draft(2, consent_id="c")) is not None
        assert consent_ids(spooled) == ["a", "b", "c"]
    finally:
        inner.close()


def test_drain(spooled: SpooledStore, inner: FlakyStore) -> None:
    inner.failing = True
    for i in range(3):
        spooled.append(draft(i, consent_id=f"c{i}"))
    with pytest.raises(StoreError):
        spooled.drain()
    assert spooled.pending() == 3
    inner.failing = False
    assert spooled.drain() == 3
    assert spooled.drain() == 0
    assert consent_ids(spooled) == ["c0", "c1", "c2"]


def test_partial_replay_keeps_the_rest_in_order(
    spooled: SpooledStore, inner: FlakyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consentkit.stores.spool._REPLAY_BATCH", 2)
    inner.failing = True
    for i in range(4):
        spooled.append(draft(i, consent_id=f"c{i}"))
    inner.failing = False
    inner.successes_left = 2  # the first batch of two lands, the second fails
    assert spooled.append(draft(9, consent_id="new")) is None  # replay stalls after two
    assert consent_ids(spooled) == ["c0", "c1"]
    assert spooled.pending() == 3
    inner.successes_left = None
    spooled.drain()
    assert consent_ids(spooled) == ["c0", "c1", "c2", "c3", "new"]
    assert verify_store(spooled, keys=KEYS).ok


def test_a_long_spool_replays_in_batches_of_one_transaction(
    inner: FlakyStore, tmp_path: Path
) -> None:
    # One commit per spooled draft replays no faster than visitors answer under load.
    spooled = SpooledStore(inner, tmp_path / "spool.jsonl", max_items=2_000, retry_interval=0)
    inner.failing = True
    drafts = [draft(i, consent_id=f"c{i}") for i in range(1_200)]
    assert spooled.append_many(drafts) == [None] * 1_200
    inner.failing = False
    inner.batches = []
    assert spooled.drain() == 1_200
    assert inner.batches == [500, 500, 200]
    assert consent_ids(spooled) == [f"c{i}" for i in range(1_200)]
    assert verify_store(spooled, keys=KEYS).ok


def test_full_spool_refuses_loudly_and_drops_nothing(
    spooled: SpooledStore, inner: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    inner.failing = True
    for i in range(5):
        assert spooled.append(draft(i, consent_id=f"c{i}")) is None
    with (
        caplog.at_level(logging.ERROR, logger="consentkit.receipts"),
        pytest.raises(StoreError, match="full"),
    ):
        spooled.append(draft(5, consent_id="c5"))
    assert "could NOT be recorded" in caplog.text
    assert spooled.pending() == 5
    inner.failing = False
    assert spooled.drain() == 5
    assert consent_ids(spooled) == [f"c{i}" for i in range(5)]


def test_unreadable_spool_lines_are_set_aside(spooled: SpooledStore, inner: FlakyStore) -> None:
    inner.failing = True
    spooled.append(draft(0, consent_id="ok-1"))
    with spooled.path.open("ab") as fh:
        fh.write(b'{"v": 1, "draft": {"consent_id": "broken"}}\n')
        fh.write(b"not json at all\n")
    spooled.append(draft(1, consent_id="ok-2"))
    inner.failing = False
    assert spooled.drain() == 4
    assert consent_ids(spooled) == ["ok-1", "ok-2"]
    rejected = spooled.path.with_name(spooled.path.name + ".rejected").read_bytes()
    assert rejected.count(b"\n") == 2
    assert b"broken" in rejected


def test_a_replay_failing_after_an_unreadable_line_sets_it_aside_once(
    spooled: SpooledStore, inner: FlakyStore
) -> None:
    inner.failing = True
    spooled.append(draft(0, consent_id="ok-1"))
    with spooled.path.open("ab") as fh:
        fh.write(b"not json at all\n")
    spooled.append(draft(1, consent_id="ok-2"))
    inner.failing = False
    inner.successes_left = 1  # ok-1 lands, ok-2 does not
    with pytest.raises(StoreError):
        spooled.drain()
    assert consent_ids(spooled) == ["ok-1"]
    assert spooled.pending() == 1
    inner.successes_left = None
    assert spooled.drain() == 1
    assert consent_ids(spooled) == ["ok-1", "ok-2"]
    rejected = spooled.path.with_name(spooled.path.name + ".rejected").read_bytes()
    assert rejected == b"not json at all\n"


def test_spool_survives_a_restart(inner: FlakyStore, tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    inner.failing = True
    SpooledStore(inner, path).append(draft(0, consent_id="before-restart"))
    inner.failing = False
    fresh = SpooledStore(inner, path)
    assert fresh.pending() == 1
    assert fresh.drain() == 1
    assert consent_ids(fresh) == ["before-restart"]


def test_locked_sqlite_database_is_a_real_outage(tmp_path: Path) -> None:
    db = tmp_path / "receipts.db"
    store = SpooledStore(
        SQLiteReceiptStore(db, receipt_keys=KEYS, busy_timeout=0.05),
        tmp_path / "spool.jsonl",
        retry_interval=0,
    )
    store.append(draft(0, consent_id="a"))
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert store.append(draft(1, consent_id="b")) is None
        assert store.pending() == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.append(draft(2, consent_id="c")) is not None
    assert consent_ids(store) == ["a", "b", "c"]
    store.close()


def test_max_items_must_be_positive(inner: FlakyStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_items"):
        SpooledStore(inner, tmp_path / "s.jsonl", max_items=0)


@pytest.fixture
def private_pg() -> Iterator[PgServer]:
    """A cluster of our own, since this test stops and restarts it."""
    if skip_requested():
        pytest.skip("CONSENTKIT_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        server = PgServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


def test_stopped_postgres_is_spooled_and_replayed(private_pg: PgServer, tmp_path: Path) -> None:
    url = private_pg.new_database()
    store = SpooledStore(open_store(url, receipt_keys=KEYS, timeout=2), tmp_path / "spool.jsonl")
    try:
        store.append(draft(0, consent_id="before"))
        private_pg.pg_ctl("stop")
        assert store.append(draft(1, consent_id="during-1")) is None
        assert store.append(draft(2, consent_id="during-2")) is None
        assert store.pending() == 2
        private_pg.pg_ctl("start")
        # The connection pool reconnects with back-off: keep draining until it is back.
        deadline = time.monotonic() + 60
        while True:
            try:
                assert store.drain() == 2
                break
            except StoreError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        receipt = store.append(draft(3, consent_id="after"))
        assert receipt is not None
        assert receipt.seq == 4
        assert consent_ids(store) == ["before", "during-1", "during-2", "after"]
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()
