"""Consent receipts per second through the HTTP endpoint of a real uvicorn process.

Many visitors post decisions at once; the server answers each post only once its receipt
is durable (SQLite ``synchronous=FULL``; PostgreSQL with fsync on). Every round starts an
empty store and a fresh server and checks afterwards that the store holds one receipt per
answered post and that the chain verifies. Figures: receipts/s (median of the rounds, with
min and max), latency percentiles, the server's CPU time per receipt (user + system, from
``/proc``: it depends far less on what else the machine runs than receipts/s does), the
machine's one-minute load average at the end of each round (median), failed posts.

The visitors speak HTTP/1.1 over asyncio streams (keep-alive, one connection each, the
consent cookie sent back as a browser would): a full HTTP client costs more CPU per post
than the server does, and on a small machine it would measure itself.

Run: ``python -m benchmarks.bench_receipts_http [--quick]`` from the project root.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import run_alone  # noqa: E402
from consentkit.stores import open_store, verify_store  # noqa: E402
from tests.crash_app import RECEIPT_KEY, ServerProcess  # noqa: E402
from tests.pg_server import PgServer, PostgresUnavailable  # noqa: E402

ACTIONS = ("accept_all", "reject_all", "save", "withdraw")
WARMUP = 20
CLIENT = "asyncio HTTP/1.1"


def _body(i: int) -> dict[str, Any]:
    action = ACTIONS[i % len(ACTIONS)]
    body: dict[str, Any] = {"action": action, "return_to": f"/articles/{i % 50}"}
    if action == "save":
        body["categories"] = ["performance", "functionality"]
    return body


class Visitor:
    """One browser: a keep-alive connection and the consent cookie it was given."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: bytes | None = None
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST *body* as JSON to ``/_consent``; (status, decoded JSON answer)."""
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._streams
        head = (
            f"POST /_consent HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode("ascii")
        if self.cookie is not None:
            head += b"Cookie: " + self.cookie + b"\r\n"
        try:
            writer.write(head + b"\r\n" + body)
            answer = await reader.readuntil(b"\r\n\r\n")
            status = int(answer[9:12])
            length = 0
            for line in answer.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"set-cookie" and value.strip().startswith(b"consentkit="):
                    self.cookie = value.strip().split(b";", 1)[0]
            payload = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise ConnectionError("the server did not answer") from None
        return status, json.loads(payload) if payload else {}

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


@dataclass
class Volley:
    """What one round of posts got back."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0


async def _fire(port: int, total: int, concurrency: int) -> Volley:
    """Post *total* decisions over *concurrency* visitors."""
    numbers = itertools.count()
    result = Volley()

    async def visitor() -> None:
        client = Visitor(port)
        try:
            while (i := next(numbers)) < total:
                body = json.dumps(_body(i)).encode()
                started = time.perf_counter()
                try:
                    status, answer = await client.post(body)
                except ConnectionError:
                    result.failures += 1
                    continue
                if status != 200 or answer.get("receipt_id") is None:
                    result.failures += 1
                    continue
                result.latencies.append(time.perf_counter() - started)
        finally:
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*(visitor() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process *pid* so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _round(
    name: str, store_url: str, workdir: Path, total: int, concurrency: int
) -> dict[str, Any]:
    """One round on an empty store: figures and the store's check."""
    spool = str(workdir / f"{name}.spool.jsonl")
    server = ServerProcess(store_url, workdir / f"{name}.log", spool).start()
    assert server.proc is not None
    try:
        warm = asyncio.run(_fire(server.port, WARMUP, min(concurrency, WARMUP)))
        cpu_before = _cpu_seconds(server.proc.pid)
        volley = asyncio.run(_fire(server.port, total, concurrency))
        cpu = _cpu_seconds(server.proc.pid) - cpu_before
        load = os.getloadavg()[0]
    finally:
        server.stop()
    answered = len(warm.latencies) + len(volley.latencies)
    store = open_store(store_url, receipt_keys=[RECEIPT_KEY], migrate=False)
    try:
        stored = store.count()
        chain_ok = verify_store(store, keys=[RECEIPT_KEY]).ok
    finally:
        store.close()
    done = len(volley.latencies)
    return {
        "rate": done / volley.seconds,
        "latencies": volley.latencies,
        "cpu_ms": 1000 * cpu / done if done else float("nan"),
        "load": load,
        "failures": volley.failures + warm.failures,
        "stored_match": stored == answered,
        "chain_ok": chain_ok,
    }


def _summary(
    name: str, rounds: list[dict[str, Any]], total: int, concurrency: int
) -> dict[str, Any]:
    rates = [r["rate"] for r in rounds]
    latencies = [x for r in rounds for x in r["latencies"]]
    return {
        "name": name,
        "posts": total,
        "rounds": len(rounds),
        "concurrency": concurrency,
        "client": CLIENT,
        "receipts_per_s": round(statistics.median(rates)),
        "min_per_s": round(min(rates)),
        "max_per_s": round(max(rates)),
        "server_cpu_ms": round(statistics.median(r["cpu_ms"] for r in rounds), 3),
        "load_avg": round(statistics.median(r["load"] for r in rounds), 1),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "failed_posts": sum(r["failures"] for r in rounds),
        "stored_match": all(r["stored_match"] for r in rounds),
        "chain_ok": all(r["chain_ok"] for r in rounds),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """Receipts/s through ``POST /_consent`` for SQLite and PostgreSQL stores.

    The two stores take turns round by round, so a busy moment on the machine hits both.
    """
    names = ("http_receipts_sqlite", "http_receipts_postgres")
    total = 500 if quick else 3000
    rounds = 2 if quick else 5
    concurrency = 32
    done: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="consentkit-bench-") as tmp:
        workdir = Path(tmp)
        try:
            server: PgServer | None = PgServer(fsync=True).start()
            pg_skip = ""
        except PostgresUnavailable as exc:
            server, pg_skip = None, str(exc)
        try:
            for i in range(rounds):
                sqlite_url = f"sqlite:///{workdir / f'receipts{i}.db'}"
                done[names[0]].append(_round(names[0], sqlite_url, workdir, total, concurrency))
                if server is not None:
                    pg_url = server.new_database()
                    done[names[1]].append(_round(names[1], pg_url, workdir, total, concurrency))
        finally:
            if server is not None:
                server.stop()
    results = [_summary(names[0], done[names[0]], total, concurrency)]
    if server is None:
        results.append({"name": names[1], "skipped": pg_skip})
    else:
        results.append(_summary(names[1], done[names[1]], total, concurrency))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("receipts_http", __doc__, run, "smaller runs", argv)


if __name__ == "__main__":
    main()
