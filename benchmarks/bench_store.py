"""Receipt store throughput and export cost.

* appends per second, each one durable (SQLite ``synchronous=FULL``; PostgreSQL with
  fsync on), through the public store API;
* time and peak RSS of a child process running ``consentkit export`` over 1,000,000
  receipts (100,000 with ``quick``) to NDJSON and CSV from SQLite.

Targets: the full export under 15 s and under 150 MB peak RSS.
Run: ``python -m benchmarks.bench_store [--quick]`` from the project root.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import run_alone  # noqa: E402
from consentkit.receipts import GENESIS_HASH, format_timestamp, seal  # noqa: E402
from consentkit.stores import _schema, _sql, open_store  # noqa: E402
from tests.pg_server import PgServer, PostgresUnavailable  # noqa: E402
from tests.receipt_factory import KEYS, draft  # noqa: E402


def _appends(url: str, count: int) -> float:
    store = open_store(url, receipt_keys=KEYS)
    try:
        drafts = [draft(i) for i in range(count)]
        started = time.perf_counter()
        for d in drafts:
            store.append(d)
        return count / (time.perf_counter() - started)
    finally:
        store.close()


def bench_appends(quick: bool, workdir: Path) -> list[dict[str, Any]]:
    """Durable appends per second into SQLite and PostgreSQL."""
    count = 300 if quick else 2000
    results = [
        {
            "name": "append_sqlite",
            "receipts": count,
            "receipts_per_s": round(_appends(f"sqlite:///{workdir / 'append.db'}", count)),
        }
    ]
    try:
        server = PgServer(fsync=True).start()
    except PostgresUnavailable as exc:
        results.append({"name": "append_postgres", "skipped": str(exc)})
        return results
    try:
        rate = _appends(server.new_database(), count)
        results.append(
            {"name": "append_postgres", "receipts": count, "receipts_per_s": round(rate)}
        )
    finally:
        server.stop()
    return results


def bulk_fill(path: Path, count: int) -> float:
    """Write *count* properly chained receipts with ``executemany``; return seconds."""
    store = open_store(f"sqlite:///{path}", receipt_keys=KEYS)
    store.close()
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    insert = (
        f"INSERT INTO {_schema.RECEIPTS} ({_schema.SELECT_COLUMNS}) "
        f"VALUES ({_sql.placeholders(len(_schema.COLUMNS), '?')})"
    )
    drafts = [draft(i) for i in range(500)]
    prev, batch = GENESIS_HASH, []
    for seq in range(1, count + 1):
        receipt = seal(drafts[seq % 500], seq=seq, prev_hash=prev, keys=KEYS)
        prev = receipt.hash
        batch.append(
            _schema.receipt_params(
                receipt,
                encode_list=lambda v: json.dumps(list(v)),
                encode_time=format_timestamp,
            )
        )
        if len(batch) == 10_000:
            conn.executemany(insert, batch)
            batch = []
    conn.executemany(insert, batch)
    conn.execute(f"UPDATE {_schema.HEAD} SET seq = ?, hash = ? WHERE id = 1", (count, prev))
    conn.commit()
    conn.close()
    return time.perf_counter() - started


_PEAK_RUNNER: Final = """
import os, runpy, sys
from benchmarks.report import run_alone  # noqa: E402
from collections.abc import Sequence
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["CK_PEAK_FILE"], "w") as out:
        out.write(peak)
"""
"""Runs ``python -m <module> ...`` and writes the process's own peak RSS (``VmHWM``, in
KiB) to ``$CK_PEAK_FILE``. ``ru_maxrss`` of a child is no good here: Linux counts the
parent's resident set, forked before ``exec``, into it, and the benchmark's parent has
grown large by the time this topic runs."""


def _run_child(module_args: list[str], workdir: Path) -> tuple[float, float]:
    """Run ``python -m`` *module_args*; return (wall seconds, its own peak RSS in MB)."""
    peak_file = workdir / "peak.kib"
    env = dict(os.environ, CK_PEAK_FILE=str(peak_file))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RUNNER, *module_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{module_args} failed: {done.stderr.decode()[-2000:]}")
    return elapsed, int(peak_file.read_text()) / 1024


def bench_export(quick: bool, workdir: Path) -> list[dict[str, Any]]:
    """Export time and peak RSS of a ``consentkit export`` child process."""
    count = 100_000 if quick else 1_000_000
    db = workdir / "export.db"
    fill_s = bulk_fill(db, count)
    results: list[dict[str, Any]] = []
    for fmt in ("ndjson", "csv"):
        out = workdir / f"export.{fmt}"
        command = [
            "consentkit.cli",
            "--store",
            f"sqlite:///{db}",
            "export",
            "--format",
            fmt,
            "--out",
            str(out),
        ]
        seconds, rss_mb = _run_child(command, workdir)
        results.append(
            {
                "name": f"export_{fmt}",
                "receipts": count,
                "seconds": round(seconds, 2),
                "receipts_per_s": round(count / seconds),
                "peak_rss_mb": round(rss_mb, 1),
                "output_mb": round(out.stat().st_size / 2**20, 1),
                "fill_seconds": round(fill_s, 1),
            }
        )
        out.unlink()
    return results


def run(quick: bool) -> list[dict[str, Any]]:
    """Run every store benchmark; one dict of figures per measurement."""
    with tempfile.TemporaryDirectory(prefix="consentkit-bench-") as tmp:
        workdir = Path(tmp)
        return [*bench_appends(quick, workdir), *bench_export(quick, workdir)]


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("store", __doc__, run, "100,000 receipts to export, not 1,000,000", argv)


if __name__ == "__main__":
    main()
