"""One contract, every backend: SQLite (a real file) and PostgreSQL (a real server).

The PostgreSQL server is a throwaway cluster started from the installed binaries (see
``tests/pg_server.py``). Without them these tests fail, unless
``CONSENTKIT_SKIP_POSTGRES=1`` asks to skip them.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consentkit.errors import ConfigError, StoreError
from consentkit.receipts import GENESIS_HASH, ReceiptDraft, key_fingerprint, to_dict
from consentkit.stores import ReceiptStore, open_store, verify_store
from consentkit.stores.export import export_stream
from consentkit.stores.sqlite import SQLiteReceiptStore

from ..receipt_factory import KEYS, T0, draft


@pytest.fixture
def open_fresh(store_url: str) -> Iterator[Callable[..., ReceiptStore]]:
    opened: list[ReceiptStore] = []

    def factory(**opts: object) -> ReceiptStore:
        store = open_store(store_url, receipt_keys=KEYS, **opts)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_fresh: Callable[..., ReceiptStore]) -> ReceiptStore:
    return open_fresh()


def fill(store: ReceiptStore, n: int, start: int = 0) -> list[ReceiptDraft]:
    drafts = [draft(i) for i in range(start, start + n)]
    for d in drafts:
        store.append(d)
    return drafts


# --- basic reads and writes -----------------------------------------------------------


def test_append_returns_the_sealed_receipt_and_reads_give_it_back(store: ReceiptStore) -> None:
    d = draft(0, page="/caf\u00e9", user_agent="Firefox 128 \u2028", ip=None)
    receipt = store.append(d)
    assert receipt.seq == 1
    assert receipt.prev_hash == GENESIS_HASH
    assert receipt.draft == d
    [stored] = store.for_consent(d.consent_id)
    assert to_dict(stored) == to_dict(receipt)
    assert stored.timestamp == d.timestamp
    assert stored.timestamp.tzinfo is not None
    assert store.head()[:2] == (1, receipt.hash)


def test_latest_and_for_consent(store: ReceiptStore) -> None:
    fill(store, 20)
    history = store.for_consent("cid-3")
    assert [r.seq for r in history] == [4, 11, 18]
    assert [r.consent_id for r in history] == ["cid-3"] * 3
    latest = store.latest("cid-3")
    assert latest is not None
    assert latest.seq == 18
    assert store.latest("nobody") is None
    assert store.for_consent("nobody") == []


def test_iter_receipts_in_seq_order_across_batches(store: ReceiptStore) -> None:
    drafts = fill(store, 23)
    receipts = list(store.iter_receipts(batch_size=4))
    assert [r.seq for r in receipts] == list(range(1, 24))
    assert [r.draft for r in receipts] == drafts
    assert store.count() == 23


@pytest.mark.parametrize(
    ("since_h", "until_h", "actions"),
    [
        (5, None, None),
        (None, 7, None),
        (3, 15, None),
        (None, None, ["save"]),
        (2, 20, ["accept_all", "withdraw"]),
        (None, None, []),
        (100, None, None),
    ],
)
def test_filters(
    store: ReceiptStore, since_h: int | None, until_h: int | None, actions: list[str] | None
) -> None:
    drafts = fill(store, 24)
    since = T0 + timedelta(hours=since_h) if since_h is not None else None
    until = T0 + timedelta(hours=until_h) if until_h is not None else None
    expected = [
        i + 1
        for i, d in enumerate(drafts)
        if (since is None or d.timestamp >= since)
        and (until is None or d.timestamp < until)
        and (actions is None or d.action in actions)
    ]
    got = [
        r.seq for r in store.iter_receipts(since=since, until=until, actions=actions, batch_size=5)
    ]
    assert got == expected
    assert store.count(since=since, until=until, actions=actions) == len(expected)


def test_naive_filter_times_are_rejected(store: ReceiptStore) -> None:
    with pytest.raises(ConfigError, match="since"):
        list(store.iter_receipts(since=datetime(2025, 1, 1)))


def test_bad_batch_size_is_rejected(store: ReceiptStore) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        list(store.iter_receipts(batch_size=0))


# --- schema ---------------------------------------------------------------------------


def test_migrate_is_idempotent_and_keeps_data(open_fresh: Callable[..., ReceiptStore]) -> None:
    store = open_fresh()
    fill(store, 3)
    store.migrate()
    store.migrate()
    assert store.schema_version() == 2
    again = open_fresh()  # opening migrates again
    assert again.count() == 3
    assert verify_store(again, keys=KEYS).ok


def test_store_without_migrate_reports_version_zero(
    store_url: str, open_fresh: Callable[..., ReceiptStore]
) -> None:
    if store_url.startswith("sqlite"):
        # SQLite without migrate refuses to create a missing file.
        with pytest.raises(StoreError):
            open_fresh(migrate=False).schema_version()
        return
    bare = open_fresh(migrate=False)
    assert bare.schema_version() == 0
    bare.migrate()
    assert bare.schema_version() == 2


def test_append_without_keys_is_a_config_error(store_url: str) -> None:
    store = open_store(store_url, receipt_keys=[])
    try:
        with pytest.raises(ConfigError, match="receipt_keys"):
            store.append(draft())
        assert store.count() == 0
    finally:
        store.close()


# --- chain ----------------------------------------------------------------------------


def test_chain_verifies_after_many_appends(store: ReceiptStore) -> None:
    fill(store, 150)
    result = verify_store(store, keys=KEYS)
    assert result.ok, result.error
    assert result.checked == 150
    assert store.head()[:2] == (150, result.last_hash)


def test_key_rotation_keeps_the_chain(store_url: str) -> None:
    old = open_store(store_url, receipt_keys=[KEYS[1]])
    fill(old, 3)
    old.close()
    new = open_store(store_url, receipt_keys=KEYS)
    try:
        fill(new, 3, start=3)
        assert [r.key_id for r in new.iter_receipts()] == [key_fingerprint(KEYS[1])] * 3 + [
            key_fingerprint(KEYS[0])
        ] * 3
        assert verify_store(new, keys=KEYS).ok
        missing_old = verify_store(new, keys=[KEYS[0]])
        assert missing_old.error is not None
        assert missing_old.error.kind == "key"
    finally:
        new.close()


def test_purge_leaves_an_anchor_and_a_verifiable_chain(store: ReceiptStore) -> None:
    fill(store, 30)
    assert store.anchor() is None
    deleted = store.purge(T0 + timedelta(hours=10))
    assert deleted == 10
    anchor = store.anchor()
    assert anchor is not None
    assert anchor.seq == 10
    assert [r.seq for r in store.iter_receipts()][:1] == [11]
    assert store.count() == 20
    assert verify_store(store, keys=KEYS).ok
    fill(store, 5, start=30)
    result = verify_store(store, keys=KEYS)
    assert result.ok
    assert result.checked == 25
    assert store.purge(T0 + timedelta(hours=10)) == 0
    assert store.anchor() == anchor


def test_purge_only_removes_a_prefix_of_the_chain(store: ReceiptStore) -> None:
    # An old-dated receipt after a new one (clock skew) stops the purge there.
    store.append(draft(0))
    store.append(draft(1, timestamp=T0 + timedelta(days=30)))
    store.append(draft(2, timestamp=T0 - timedelta(days=1)))
    assert store.purge(T0 + timedelta(days=1)) == 1
    assert [r.seq for r in store.iter_receipts()] == [2, 3]
    assert verify_store(store, keys=KEYS).ok


def test_purge_everything_then_keep_going(store: ReceiptStore) -> None:
    fill(store, 4)
    assert store.purge(datetime.now(UTC)) == 4
    assert store.count() == 0
    assert verify_store(store, keys=KEYS).ok
    receipt = store.append(draft(9))
    assert receipt.seq == 5
    anchor = store.anchor()
    assert anchor is not None
    assert receipt.prev_hash == anchor.hash
    assert verify_store(store, keys=KEYS).ok


def test_purge_rejects_future_and_naive_cutoffs(store: ReceiptStore) -> None:
    fill(store, 2)
    with pytest.raises(ConfigError, match="future"):
        store.purge(datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ConfigError, match="older_than"):
        store.purge(datetime(2025, 1, 1))
    assert store.count() == 2


# --- stats ----------------------------------------------------------------------------


def test_stats_counts(store: ReceiptStore) -> None:
    drafts = fill(store, 40)
    stats = store.stats()
    assert stats.total == 40
    assert stats.actions == dict(Counter(d.action for d in drafts))
    assert stats.granted == dict(Counter(c for d in drafts for c in d.granted))
    assert stats.refused == dict(Counter(c for d in drafts for c in d.refused))
    assert stats.jurisdictions == dict(Counter(d.jurisdiction for d in drafts))
    assert stats.languages == dict(Counter(d.language for d in drafts))
    assert stats.per_day == dict(Counter(d.timestamp.strftime("%Y-%m-%d") for d in drafts))
    assert list(stats.per_day) == sorted(stats.per_day)
    performance = stats.granted["performance"] / (
        stats.granted["performance"] + stats.refused["performance"]
    )
    assert stats.consent_rate("performance") == pytest.approx(performance)
    assert stats.consent_rate("unknown") is None


def test_stats_period(store: ReceiptStore) -> None:
    drafts = fill(store, 60)
    since, until = T0 + timedelta(hours=24), T0 + timedelta(hours=48)
    stats = store.stats(since=since, until=until)
    inside = [d for d in drafts if since <= d.timestamp < until]
    assert stats.total == len(inside) == 24
    assert stats.actions == dict(Counter(d.action for d in inside))
    assert stats.granted == dict(Counter(c for d in inside for c in d.granted))
    assert list(stats.per_day) == ["2025-03-02", "2025-03-03"]


def test_stats_of_an_empty_store(store: ReceiptStore) -> None:
    stats = store.stats()
    assert stats.total == 0
    assert stats.actions == {}
    assert stats.per_day == {}


# --- concurrency ----------------------------------------------------------------------


def _append_many(url: str, worker: int, count: int) -> None:
    store = open_store(url, receipt_keys=KEYS)
    try:
        for i in range(count):
            store.append(draft(i, consent_id=f"w{worker}-{i}"))
    finally:
        store.close()


def test_concurrent_processes_build_one_chain(store_url: str, store: ReceiptStore) -> None:
    workers, per_worker = 4, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_many, args=(store_url, w, per_worker)) for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
    assert [proc.exitcode for proc in procs] == [0] * workers
    seqs = [r.seq for r in store.iter_receipts()]
    assert seqs == list(range(1, workers * per_worker + 1))
    result = verify_store(store, keys=KEYS)
    assert result.ok, result.error
    assert {r.consent_id for r in store.iter_receipts()} == {
        f"w{w}-{i}" for w in range(workers) for i in range(per_worker)
    }


def test_concurrent_threads_share_one_store(store: ReceiptStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(20):
                store.append(draft(i, consent_id=f"t{worker}-{i}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.seq for r in store.iter_receipts()] == list(range(1, 81))
    assert verify_store(store, keys=KEYS).ok


def test_closed_store_refuses_work(store_url: str) -> None:
    store = open_store(store_url, receipt_keys=KEYS)
    store.close()
    with pytest.raises(StoreError):
        store.append(draft())


# --- open_store -----------------------------------------------------------------------


def test_open_store_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, file in [
        ("sqlite:///relative.db", tmp_path / "relative.db"),
        (f"sqlite:///{tmp_path / 'abs.db'}", tmp_path / "abs.db"),
        ("plain.db", tmp_path / "plain.db"),
    ]:
        store = open_store(url, receipt_keys=KEYS)
        try:
            assert isinstance(store, SQLiteReceiptStore)
            store.append(draft())
        finally:
            store.close()
        assert file.exists(), url


@pytest.mark.parametrize(
    "url", ["", "   ", "mysql://x/y", "sqlite://host/file.db", ":memory:", "sqlite:///:memory:"]
)
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url, receipt_keys=KEYS)


# --- export fast path -----------------------------------------------------------------


class GenericOnly:
    """Hides the store's SQL-rendered export, forcing the receipt-by-receipt path."""

    def __init__(self, store: ReceiptStore) -> None:
        self.iter_receipts = store.iter_receipts


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
def test_sql_rendered_export_equals_the_generic_one(store: ReceiptStore, fmt: str) -> None:
    assert hasattr(store, "iter_export_batches")
    fill(store, 9)
    store.append(draft(20, consent_id="=cmd|' /C calc'!A0", user_agent="-x", ip=None))
    store.append(
        draft(
            21,
            consent_id='quote" back\\slash \u2028 \u00e9',
            granted=('odd "cat"', "x,y"),
            refused=(),
            language="@fr",
            timestamp=T0.replace(microsecond=0),
        )
    )
    filters = {"since": T0 + timedelta(hours=2), "actions": ["accept_all", "save", "reject_all"]}
    fast = b"".join(export_stream(store, fmt, batch_size=4, **filters))  # type: ignore[arg-type]
    slow = b"".join(export_stream(GenericOnly(store), fmt, batch_size=4, **filters))  # type: ignore[arg-type]
    if fmt == "csv":
        assert fast == slow
        assert b"'=cmd" in fast
    elif fmt == "ndjson":
        assert [json.loads(x) for x in fast.splitlines()] == [
            json.loads(x) for x in slow.splitlines()
        ]
    else:
        assert json.loads(fast) == json.loads(slow)
    assert len(fast.splitlines()) >= 5
