"""The receipt log under load and faults: nothing answered is ever lost, the chain holds.

* group commit: concurrent appends share a transaction, in arrival order, and a failed
  commit fails every append it held (none is answered as stored);
* several uvicorn workers on one store (SQLite file, PostgreSQL database);
* PostgreSQL stopped mid-load and started again: decisions spooled, then replayed in
  each visitor's order;
* a consent body dribbled in slowly gets 408 while other requests are served;
* key rotation of the cookie secret and the receipt key, end to end.

No test here measures time: ``benchmarks/bench_receipts_http.py`` does.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware
from consentkit.cli import main as cli_main
from consentkit.decision import ConsentCodec
from consentkit.errors import ConfigError, StoreError
from consentkit.receipts import Receipt, ReceiptDraft
from consentkit.stores import open_store, verify_store
from consentkit.stores._group import GroupCommit
from consentkit.stores.sqlite import SQLiteReceiptStore
from consentkit.web.recorder import Recorder
from consentkit.web.settings import Settings

from ..conftest import make_app, site_policy
from ..crash_app import RECEIPT_KEY, SECRET, ServerProcess
from ..pg_server import PgServer
from ..receipt_factory import draft

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - either client will do
    import httpx  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(180)

KEYS = [RECEIPT_KEY]


def _wait_until(condition: Any, what: str, attempts: int = 2000) -> None:
    """Poll *condition* (bounded); fail naming *what* if it never holds."""
    event = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        event.wait(0.005)
    pytest.fail(f"never happened: {what}")


# --- group commit ----------------------------------------------------------------------


def test_appends_arriving_during_a_commit_share_the_next_one_in_order() -> None:
    batches: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def commit(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            first_started.set()
            release.wait(30)
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    results: dict[int, int] = {}

    def submit(i: int) -> None:
        results[i] = group.submit(i)

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert first_started.wait(30)
    # Queued one after the other while the first commit runs.
    others = []
    for i in range(1, 9):
        thread = threading.Thread(target=submit, args=(i,))
        thread.start()
        others.append(thread)
        _wait_until(lambda i=i: len(group._queue) == i, f"append {i} queued")
    release.set()
    for thread in [first, *others]:
        thread.join(30)
    assert batches == [[0], list(range(1, 9))]
    assert results == {i: i * 10 for i in range(9)}


def test_a_failed_commit_fails_every_append_it_held() -> None:
    calls: list[list[int]] = []
    started = threading.Event()
    release = threading.Event()

    def commit(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            started.set()
            release.wait(30)
            return list(items)
        if len(calls) == 2:
            raise StoreError("database gone")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(commit)
    outcomes: dict[int, object] = {}

    def submit(i: int) -> None:
        try:
            outcomes[i] = group.submit(i)
        except StoreError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=submit, args=(0,))]
    threads[0].start()
    assert started.wait(30)
    for i in (1, 2, 3):
        threads.append(threading.Thread(target=submit, args=(i,)))
        threads[-1].start()
        _wait_until(lambda i=i: len(group._queue) == i, f"append {i} queued")
    release.set()
    for thread in threads:
        thread.join(30)
    assert outcomes[0] == 0
    for i in (1, 2, 3):
        assert isinstance(outcomes[i], StoreError), outcomes
        assert "database gone" in str(outcomes[i])
    assert group.submit(4) == 4  # the next append is not stuck behind the failure


def test_concurrent_appends_form_one_chain(store_url: str) -> None:
    store = open_store(store_url, receipt_keys=KEYS)
    returned: list[Receipt] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for i in range(10):
            receipt = store.append(draft(offset * 100 + i))
            with lock:
                returned.append(receipt)

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        stored = list(store.iter_receipts())
        assert sorted(r.seq for r in returned) == list(range(1, 161))
        assert {r.receipt_id: r.hash for r in stored} == {r.receipt_id: r.hash for r in returned}
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()


class AppendOnlyStore:
    """A store with only the protocol's ``append``, failing for one visitor."""

    def __init__(self, inner: SQLiteReceiptStore) -> None:
        self.inner = inner

    def append(self, draft: ReceiptDraft) -> Receipt:
        if draft.consent_id == "cid-bad":
            raise StoreError("refused")
        return self.inner.append(draft)


def _recorder(store: Any) -> Recorder:
    return Recorder(Settings(), site_policy(), ConsentCodec(SECRET), store, None)


async def test_posts_answered_in_worker_threads_each_get_their_own_durable_receipt(
    tmp_path: Path,
) -> None:
    # As under the ASGI adapter: each post calls the recorder in its own worker thread,
    # and the store's group commit joins the appends that meet.
    store = SQLiteReceiptStore(tmp_path / "receipts.db", receipt_keys=KEYS)
    recorder = _recorder(store)
    outcomes: dict[int, tuple[bool, str | None]] = {}

    async def one(i: int) -> None:
        d = draft(i, consent_id=f"visitor-{i}")
        outcomes[i] = await anyio.to_thread.run_sync(recorder.store_receipt, d)

    try:
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(one, i)
        receipts = {r.consent_id: r for r in store.iter_receipts()}
        assert sorted(receipts) == sorted(f"visitor-{i}" for i in range(20))
        for i in range(20):
            assert outcomes[i] == (True, receipts[f"visitor-{i}"].receipt_id)
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()


async def test_a_store_without_append_many_answers_each_request_alone(tmp_path: Path) -> None:
    inner = SQLiteReceiptStore(tmp_path / "receipts.db", receipt_keys=KEYS)
    recorder = _recorder(AppendOnlyStore(inner))
    outcomes: dict[str, tuple[bool, str | None]] = {}

    async def one(consent_id: str) -> None:
        d = draft(0, consent_id=consent_id)
        outcomes[consent_id] = await anyio.to_thread.run_sync(recorder.store_receipt, d)

    try:
        async with anyio.create_task_group() as group:
            for consent_id in ("cid-a", "cid-b", "cid-bad", "cid-c"):
                group.start_soon(one, consent_id)
        stored = {r.consent_id: r.receipt_id for r in inner.iter_receipts()}
        assert sorted(stored) == ["cid-a", "cid-b", "cid-c"]
        assert outcomes == {
            "cid-a": (True, stored["cid-a"]),
            "cid-b": (True, stored["cid-b"]),
            "cid-bad": (False, None),
            "cid-c": (True, stored["cid-c"]),
        }
    finally:
        inner.close()


# --- real servers ----------------------------------------------------------------------


def _body(i: int) -> dict[str, Any]:
    action = ("accept_all", "reject_all", "save", "withdraw")[i % 4]
    body: dict[str, Any] = {"action": action, "return_to": f"/page/{i}"}
    if action == "save":
        body["categories"] = ["performance"]
    return body


@dataclass
class Visit:
    """One visitor's answered decisions, in the order the answers came."""

    consent_id: str = ""
    actions: list[str] = field(default_factory=list)
    receipt_ids: list[str | None] = field(default_factory=list)


@dataclass
class Load:
    visits: list[Visit] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def answered(self) -> int:
        return sum(len(v.actions) for v in self.visits)

    @property
    def spooled(self) -> int:
        return sum(v.receipt_ids.count(None) for v in self.visits)

    def receipt_ids(self) -> list[str]:
        return [i for v in self.visits for i in v.receipt_ids if i is not None]


async def run_visitors(url: str, load: Load, *, visitors: int, posts: int | None) -> None:
    """*visitors* browsers posting decisions until *posts* are answered or ``load.stop``."""
    numbers = itertools.count()
    codec = ConsentCodec(SECRET)

    async def visitor() -> None:
        visit = Visit()
        load.visits.append(visit)
        async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
            while not load.stop.is_set():
                i = next(numbers)
                if posts is not None and i >= posts:
                    return
                body = _body(i)
                response = await client.post("/_consent", json=body)
                load.statuses.append(response.status_code)
                assert response.status_code == 200, response.text
                stored = codec.loads(client.cookies.get("consentkit"))
                assert stored is not None
                visit.consent_id = stored.consent_id
                visit.actions.append(body["action"])
                visit.receipt_ids.append(response.json()["receipt_id"])

    await asyncio.gather(*(visitor() for _ in range(visitors)))


def check_store(url: str, load: Load) -> list[Receipt]:
    """Every answered decision is in the store, each visitor's in order; the chain verifies."""
    store = open_store(url, receipt_keys=KEYS, migrate=False)
    try:
        receipts = list(store.iter_receipts())
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()
    ids = [r.receipt_id for r in receipts]
    assert len(ids) == len(set(ids))
    assert set(load.receipt_ids()) <= set(ids), "an answered receipt is missing"
    assert len(receipts) == load.answered, "one receipt per answered decision, no more"
    assert [r.seq for r in receipts] == list(range(1, len(receipts) + 1))
    for visit in load.visits:
        if visit.actions:
            mine = [r.action for r in receipts if r.consent_id == visit.consent_id]
            assert mine == visit.actions, "a visitor's decisions out of order"
    assert cli_main(["--store", url, "--receipt-key", RECEIPT_KEY, "verify"]) == 0
    return receipts


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Every server a test starts is stopped afterwards, even when the test fails."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


async def test_four_workers_on_one_store_keep_one_chain(
    store_url: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    spool = tmp_path / "spool.jsonl"
    server = ServerProcess(store_url, tmp_path / "server.log", str(spool), workers=4)
    servers.append(server.start())
    assert server.proc is not None
    _wait_until(lambda: len(_children(server.proc.pid)) >= 4, "four worker processes")
    load = Load()
    await run_visitors(server.url, load, visitors=16, posts=240)
    server.stop()
    assert load.answered == 240, server.log_tail()
    assert load.spooled == 0, "a healthy store must not spool"
    check_store(store_url, load)
    assert not spool.exists() or spool.read_bytes() == b""


async def test_postgres_outage_mid_load_loses_nothing(
    own_cluster: PgServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    url = own_cluster.new_database()
    spool = tmp_path / "spool.jsonl"
    server = ServerProcess(url, tmp_path / "server.log", str(spool))
    servers.append(server.start())
    load = Load()

    async def outage() -> None:
        async def until(condition: Any) -> None:
            while not condition():
                await asyncio.sleep(0.01)

        await until(lambda: load.answered >= 60)
        await asyncio.to_thread(own_cluster.pg_ctl, "stop")
        await until(lambda: load.spooled >= 12)
        await asyncio.to_thread(own_cluster.pg_ctl, "start")
        answered_when_back = load.answered
        await until(lambda: load.answered >= answered_when_back + 60 and not spool.exists())
        load.stop.set()

    await asyncio.wait_for(
        asyncio.gather(outage(), run_visitors(server.url, load, visitors=8, posts=None)),
        timeout=150,
    )
    # One more decision once the load is over is recorded straight away. A worker whose
    # last append failed asks the store again only after the spool's retry interval, so
    # a decision may still be spooled (and replayed) for a moment: try a few times.
    load.stop.clear()
    for _ in range(20):
        await run_visitors(server.url, load, visitors=1, posts=1)
        if load.visits[-1].receipt_ids[0] is not None:
            break
        await asyncio.sleep(0.5)
    assert load.visits[-1].receipt_ids == [load.visits[-1].receipt_ids[0]]
    assert load.visits[-1].receipt_ids[0] is not None, server.log_tail()
    server.stop()
    assert set(load.statuses) == {200}
    assert load.spooled >= 12
    assert not spool.exists() or spool.read_bytes() == b""
    receipts = check_store(url, load)
    assert receipts[-1].receipt_id == load.visits[-1].receipt_ids[0]


# --- slow clients ----------------------------------------------------------------------


def test_dribbled_body_gets_408_while_other_requests_are_served(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'receipts.db'}"
    server = ServerProcess(
        store_url, tmp_path / "server.log", options={"body_timeout": 1.0}
    ).start()
    servers.append(server)
    events: list[str] = []
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    body = b'{"action": "accept_all", "return_to": "/slowly/arriving/page"}'
    slow.sendall(
        b"POST /_consent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:2]
    )
    answer = bytearray()
    dribbling = threading.Event()

    def dribble() -> None:
        # One byte now and then, never the whole body: the server must give up on it.
        for byte in body[2:-1]:
            if dribbling.wait(0.2):
                return
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                return

    def read_answer() -> None:
        while chunk := slow.recv(4096):
            answer.extend(chunk)
        events.append("slow answered and closed")

    dribbler = threading.Thread(target=dribble)
    reader = threading.Thread(target=read_answer)
    dribbler.start()
    reader.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            normal = client.post("/_consent", json={"action": "reject_all"})
        events.append("normal answered")
        assert normal.status_code == 200
        assert normal.json()["receipt_id"] is not None
        reader.join(60)
    finally:
        dribbling.set()
        dribbler.join(5)
        slow.close()
    assert events == ["normal answered", "slow answered and closed"]
    assert bytes(answer).startswith(b"HTTP/1.1 408"), bytes(answer)[:200]
    assert b"did not arrive in time" in answer
    store = open_store(store_url, receipt_keys=KEYS, migrate=False)
    try:
        assert [r.action for r in store.iter_receipts()] == ["reject_all"]
    finally:
        store.close()


@pytest.mark.parametrize("value", [0, -1, True, "10", 1e9])
def test_body_timeout_must_be_a_sensible_number_of_seconds(value: object) -> None:
    with pytest.raises(ConfigError, match="body_timeout"):
        ConsentMiddleware(make_app(), policy=site_policy(), secret_key=SECRET, body_timeout=value)


# --- key rotation ----------------------------------------------------------------------


def test_rotating_both_keys_keeps_old_cookies_and_old_receipts(tmp_path: Path) -> None:
    db = tmp_path / "receipts.db"
    store_url = f"sqlite:///{db}"
    old_secret = "old-cookie-secret-0123456789abcdef"
    new_secret = "new-cookie-secret-fedcba9876543210"
    old_key, new_key = "old-receipt-key-0123456789abcdef", "new-receipt-key-fedcba9876543210"

    def client(secrets: list[str], keys: list[str]) -> TestClient:
        app = make_app(site_policy(), secret_key=secrets, store=store_url, receipt_key=keys)
        return TestClient(app, base_url="http://testserver")

    with client([old_secret], [old_key]) as before:
        first = before.post("/_consent", json={"action": "save", "categories": ["functionality"]})
        assert first.status_code == 200
        old_cookie = before.cookies["consentkit"]
    old_receipt_id = first.json()["receipt_id"]

    old_jar = {"Cookie": f"consentkit={old_cookie}"}
    with client([new_secret, old_secret], [new_key, old_key]) as after:
        status = after.get("/api", headers=old_jar).json()
        assert status == {"decided": True, "granted": ["functionality", "necessary"]}
        second = after.post("/_consent", json={"action": "accept_all"}, headers=old_jar)
        new_cookie = second.cookies["consentkit"]
    assert second.status_code == 200
    # The same visitor: the old cookie's consent id carries over into the new cookie.
    old_id = ConsentCodec([old_secret]).loads(old_cookie)
    new_id = ConsentCodec([new_secret]).loads(new_cookie)
    assert old_id is not None
    assert new_id is not None
    assert new_id.consent_id == old_id.consent_id

    # The new cookie is signed with the new secret: the old secret alone cannot read it.
    assert ConsentCodec([old_secret]).loads(new_cookie) is None
    # A cookie signed by a secret no longer listed reads as no decision, not an error.
    with client([new_secret], [new_key, old_key]) as dropped:
        assert dropped.get("/api", headers=old_jar).json() == {
            "decided": False,
            "granted": ["necessary"],
        }

    store = open_store(store_url, receipt_keys=[new_key, old_key], migrate=False)
    try:
        receipts = list(store.iter_receipts())
        assert [r.receipt_id for r in receipts] == [old_receipt_id, second.json()["receipt_id"]]
        assert receipts[0].key_id != receipts[1].key_id
        assert verify_store(store, keys=[new_key, old_key]).ok
        # Without the old key the old receipt no longer verifies: the list is what keeps it.
        broken = verify_store(store, keys=[new_key])
        assert not broken.ok
        assert broken.error is not None
        assert broken.error.receipt_id == old_receipt_id
    finally:
        store.close()
    verify = ["--store", store_url, "verify"]
    keys_args = ["--receipt-key", new_key, "--receipt-key", old_key]
    assert cli_main([*verify[:2], *keys_args, *verify[2:]]) == 0
    assert cli_main([*verify[:2], "--receipt-key", new_key, *verify[2:]]) != 0
