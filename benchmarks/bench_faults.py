"""Receipts under load and faults: several workers, a database outage, a slow client.

The tests (``tests/stores/test_load_faults.py``) prove the guarantees; this topic reports the
figures of one run of each scenario on real uvicorn processes, with the store checked after
it: every answered decision present once, each visitor's in order, the chain intact.

* **4 workers** on one SQLite file, then on one PostgreSQL database: 16 visitors post
  decisions through ``POST /_consent`` of a 4-worker uvicorn; receipts/s and the check.
* **PostgreSQL outage**: 8 visitors post while the database server is stopped and started
  again; answers given during the outage come from the spool (no receipt id yet), are
  replayed once the database is back, and the store is checked at the end.
* **Slow client**: one connection dribbles its body a byte at a time while another visitor
  posts; the slow one gets 408 after the body timeout, the other its receipt meanwhile.

Run: ``python -m benchmarks.bench_faults [--quick]`` from the project root.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.report import run_alone  # noqa: E402
from consentkit.stores import open_store, verify_store  # noqa: E402
from tests.crash_app import RECEIPT_KEY, ServerProcess  # noqa: E402
from tests.pg_server import PgServer, PostgresUnavailable  # noqa: E402

ACTIONS = ("accept_all", "reject_all", "save", "withdraw")


@dataclass
class _Load:
    answers: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(visitor, action, receipt id or ``None`` when spooled), in the order answered."""
    failures: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def spooled(self) -> int:
        return sum(1 for _, _, receipt in self.answers if receipt is None)


_NAMES = itertools.count()


async def _visitors(url: str, load: _Load, visitors: int, posts: int | None) -> None:
    numbers = itertools.count()

    async def visitor(name: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
            while not load.stop.is_set():
                i = next(numbers)
                if posts is not None and i >= posts:
                    return
                action = ACTIONS[i % 4]
                body: dict[str, Any] = {"action": action, "return_to": f"/page/{i}"}
                if action == "save":
                    body["categories"] = ["performance"]
                response = await client.post("/_consent", json=body)
                if response.status_code != 200:
                    load.failures += 1
                    continue
                load.answers.append((name, action, response.json().get("receipt_id")))

    await asyncio.gather(*(visitor(f"v{next(_NAMES)}") for _ in range(visitors)))


def _check(store_url: str, load: _Load) -> dict[str, Any]:
    """Every answered decision stored once, in order per visitor; the chain verifies."""
    store = open_store(store_url, receipt_keys=[RECEIPT_KEY], migrate=False)
    try:
        receipts = list(store.iter_receipts())
        chain_ok = verify_store(store, keys=[RECEIPT_KEY]).ok
    finally:
        store.close()
    ids = {r.receipt_id for r in receipts}
    answered_ids = {receipt for _, _, receipt in load.answers if receipt is not None}
    found = len(answered_ids & ids)
    spooled = load.spooled  # answered from the spool: no id to look for, counted instead
    by_consent: dict[str, list[str]] = {}
    for receipt in receipts:
        by_consent.setdefault(receipt.consent_id, []).append(receipt.action)
    by_visitor: dict[str, list[str]] = {}
    for name, action, _ in load.answers:
        by_visitor.setdefault(name, []).append(action)
    in_order = sorted(map(tuple, by_consent.values())) == sorted(map(tuple, by_visitor.values()))
    return {
        "answered": len(load.answers),
        "stored": len(receipts),
        "lost": len(answered_ids - ids) + max(0, spooled - (len(receipts) - found)),
        "stored_match": len(receipts) == len(load.answers),
        "in_order": in_order and len(ids) == len(receipts),
        "chain_ok": chain_ok,
    }


def _workers(name: str, store_url: str, workdir: Path, posts: int) -> dict[str, Any]:
    server = ServerProcess(
        store_url, workdir / f"{name}.log", str(workdir / f"{name}.spool"), workers=4
    ).start()
    load = _Load()
    try:
        start = time.perf_counter()
        asyncio.run(_visitors(server.url, load, visitors=16, posts=posts))
        seconds = time.perf_counter() - start
    finally:
        server.stop()
    return {
        "scenario": name,
        "receipts_per_s": round(len(load.answers) / seconds),
        "spooled": load.spooled,
        "failed_posts": load.failures,
        **_check(store_url, load),
    }


def _outage(cluster: PgServer, workdir: Path, quick: bool) -> dict[str, Any]:
    url = cluster.new_database()
    spool = workdir / "outage.spool"
    server = ServerProcess(url, workdir / "outage.log", str(spool)).start()
    load = _Load()
    before, during = (30, 6) if quick else (100, 20)
    times: dict[str, float] = {}

    async def until(condition: Any) -> None:
        while not condition():
            await asyncio.sleep(0.01)

    async def outage() -> None:
        await until(lambda: len(load.answers) >= before)
        times["stopped"] = time.perf_counter()
        await asyncio.to_thread(cluster.pg_ctl, "stop")
        await until(lambda: load.spooled >= during)
        await asyncio.to_thread(cluster.pg_ctl, "start")
        times["back"] = time.perf_counter()
        back = len(load.answers)
        await until(lambda: load.answers[-1][2] is not None and len(load.answers) > back)
        times["direct"] = time.perf_counter()
        await until(lambda: len(load.answers) >= back + before and not spool.exists())
        load.stop.set()

    async def drain() -> None:
        # The load is over: a last decision now and then until one is stored straight away
        # and the spool is empty, so the check sees everything the spool held.
        for _ in range(60):
            if not spool.exists() and load.answers[-1][2] is not None:
                return
            load.stop.clear()
            await _visitors(server.url, load, visitors=1, posts=1)
            await asyncio.sleep(0.5)

    async def scenario() -> None:
        work = asyncio.gather(outage(), _visitors(server.url, load, visitors=8, posts=None))
        await asyncio.wait_for(work, timeout=150)
        await drain()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    left = spool.read_bytes() if spool.exists() else b""
    return {
        "scenario": "postgres outage mid-load",
        "outage_s": round(times["back"] - times["stopped"], 2),
        "direct_again_after_s": round(times["direct"] - times["back"], 2),
        "spooled": load.spooled,
        "failed_posts": load.failures,
        "spool_left_bytes": len(left),
        **_check(url, load),
    }


def _slow_client(workdir: Path) -> dict[str, Any]:
    store_url = f"sqlite:///{workdir / 'slow.db'}"
    server = ServerProcess(store_url, workdir / "slow.log", options={"body_timeout": 1.0}).start()
    body = b'{"action": "accept_all", "return_to": "/slowly/arriving/page"}'
    answer = bytearray()
    stop = threading.Event()
    try:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        started = time.perf_counter()
        slow.sendall(
            b"POST /_consent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:2]
        )

        def dribble() -> None:
            for byte in body[2:-1]:
                if stop.wait(0.2):
                    return
                try:
                    slow.sendall(bytes([byte]))
                except OSError:
                    return

        dribbler = threading.Thread(target=dribble)
        dribbler.start()
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            t0 = time.perf_counter()
            normal = client.post("/_consent", json={"action": "reject_all"})
            normal_ms = (time.perf_counter() - t0) * 1000
        while chunk := slow.recv(4096):
            answer.extend(chunk)
        slow_s = time.perf_counter() - started
        stop.set()
        dribbler.join(5)
        slow.close()
    finally:
        stop.set()
        server.stop()
    status = bytes(answer[9:12]).decode("ascii", "replace")
    load = _Load(answers=[("normal", "reject_all", normal.json().get("receipt_id"))])
    return {
        "scenario": "slow client (body dribbled, timeout 1 s)",
        "slow_status": status,
        "slow_answered_s": round(slow_s, 2),
        "other_post_ms": round(normal_ms, 1),
        **_check(store_url, load),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """One row per scenario."""
    posts = 200 if quick else 1_000
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="consentkit-bench-") as tmp:
        workdir = Path(tmp)
        rows.append(_workers("4 workers, SQLite", f"sqlite:///{workdir / 'w.db'}", workdir, posts))
        try:
            cluster: PgServer | None = PgServer(fsync=True).start()
        except PostgresUnavailable as exc:
            cluster = None
            rows.append({"scenario": "PostgreSQL", "skipped": str(exc)})
        if cluster is not None:
            try:
                rows.append(
                    _workers("4 workers, PostgreSQL", cluster.new_database(), workdir, posts)
                )
                rows.append(_outage(cluster, workdir, quick))
            finally:
                cluster.stop()
        rows.append(_slow_client(workdir))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("faults", __doc__, run, "smaller runs", argv)


if __name__ == "__main__":
    main()
