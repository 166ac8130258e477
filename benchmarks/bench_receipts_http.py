"""Consent receipts per second through the HTTP endpoint of a real uvicorn process.

Many visitors post decisions at once from an async HTTP client; the server answers each
post only once its receipt is durable (SQLite ``synchronous=FULL``; PostgreSQL with fsync
on). Every run checks afterwards that the store holds one receipt per answered post and
that the chain verifies. Figures: receipts/s, latency percentiles, failed posts.

Run: ``python -m benchmarks.bench_receipts_http [--quick]`` from the project root.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from consentkit.stores import open_store, verify_store  # noqa: E402
from tests.crash_app import RECEIPT_KEY, ServerProcess  # noqa: E402
from tests.pg_server import PgServer, PostgresUnavailable  # noqa: E402

ACTIONS = ("accept_all", "reject_all", "save", "withdraw")
WARMUP = 20


def _client_module() -> ModuleType | None:
    """httpx2 or httpx, whichever is installed (same API)."""
    for name in ("httpx2", "httpx"):
        try:
            return __import__(name)
        except ImportError:
            continue
    return None


def _body(i: int) -> dict[str, Any]:
    action = ACTIONS[i % len(ACTIONS)]
    body: dict[str, Any] = {"action": action, "return_to": f"/articles/{i % 50}"}
    if action == "save":
        body["categories"] = ["performance", "functionality"]
    return body


async def _fire(
    httpx: ModuleType, url: str, total: int, concurrency: int
) -> tuple[float, list[float], int]:
    """Post *total* decisions over *concurrency* visitors; (seconds, latencies, failures)."""
    numbers = itertools.count()
    latencies: list[float] = []
    failures = 0

    async def visitor() -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
            while (i := next(numbers)) < total:
                started = time.perf_counter()
                try:
                    response = await client.post("/_consent", json=_body(i))
                except httpx.TransportError:
                    failures += 1
                    continue
                if response.status_code != 200 or response.json().get("receipt_id") is None:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(visitor() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _measure(
    httpx: ModuleType, name: str, store_url: str, workdir: Path, total: int, concurrency: int
) -> dict[str, Any]:
    spool = str(workdir / f"{name}.spool.jsonl")
    server = ServerProcess(store_url, workdir / f"{name}.log", spool).start()
    try:
        asyncio.run(_fire(httpx, server.url, WARMUP, min(concurrency, WARMUP)))
        seconds, latencies, failures = asyncio.run(_fire(httpx, server.url, total, concurrency))
    finally:
        server.stop()
    store = open_store(store_url, receipt_keys=[RECEIPT_KEY], migrate=False)
    try:
        stored = store.count()
        chain_ok = verify_store(store, keys=[RECEIPT_KEY]).ok
    finally:
        store.close()
    return {
        "name": name,
        "posts": total,
        "concurrency": concurrency,
        "client": httpx.__name__,
        "receipts_per_s": round(len(latencies) / seconds),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
        "latency_p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "failed_posts": failures,
        "stored_match": stored == WARMUP + total - failures,
        "chain_ok": chain_ok,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """Receipts/s through ``POST /_consent`` for SQLite and PostgreSQL stores."""
    httpx = _client_module()
    names = ("http_receipts_sqlite", "http_receipts_postgres")
    if httpx is None:
        return [{"name": n, "skipped": "install httpx2 or httpx"} for n in names]
    total = 200 if quick else 3000
    concurrency = 32
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="consentkit-bench-") as tmp:
        workdir = Path(tmp)
        sqlite_url = f"sqlite:///{workdir / 'receipts.db'}"
        results.append(_measure(httpx, names[0], sqlite_url, workdir, total, concurrency))
        try:
            server = PgServer(fsync=True).start()
        except PostgresUnavailable as exc:
            results.append({"name": names[1], "skipped": str(exc)})
            return results
        try:
            pg_url = server.new_database()
            results.append(_measure(httpx, names[1], pg_url, workdir, total, concurrency))
        finally:
            server.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in run(parser.parse_args().quick):
        print(json.dumps(row))
