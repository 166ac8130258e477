"""Request overhead of consentkit on a real server, against the bare app and its peers.

Each contender of :data:`benchmarks.apps.CONTENDERS` runs in its own uvicorn process (one
worker, asyncio loop, no access log) on 127.0.0.1; ``wrk`` (32 connections) loads one
route at a time. On a machine with two cores or more the servers share the first core
and ``wrk`` gets the others (one thread each): a server never waits for the CPU while
the load generator runs on it, which halves the spread between rounds (on two cores, the
``/json`` round-to-round ratio's standard deviation went from 0.067 to 0.028). On one
core both share it, as before. Before any timing, every route of every contender is fetched
once and checked with :func:`benchmarks.apps.verify`: a contender that does not do its job
on the exact answer being measured is reported as unverified and never timed.

Contenders alternate within each route and rounds repeat (quick: 1 round of 3 s per
measurement; full: 3 rounds of 6 s, and 15 of ``/json`` for consentkit and its baselines,
whose overhead is smaller than the spread between rounds). A contender's overhead is
``overhead_ratio``: its bare app's requests/s over its own in the same round (1.00 means
free, 1.25 means a request costs 25% more), the median over the rounds, with the lowest
and highest round in ``round_ratios``; and ``added_ms``: the server time it adds per
request, paired the same way. On ``/json`` consentkit's rows also give
``together_ratio``: the same ratio with the contender and its baseline loaded at the same
time (10 rounds of 3 s), which a slow stretch of a shared machine cannot tilt.

Targets: consentkit within 3% of bare Starlette on ``/json``, and on every HTML route an
overhead ratio below both the obvious implementation's and django-cookie-consent's.

Run ``python -m benchmarks.bench_http [--quick]`` (needs ``wrk`` on the PATH).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.apps import (
    BROWSER_HEADERS,
    CONTENDERS,
    ROUTES,
    Contender,
    request_cookie,
    verify,
)
from benchmarks.report import run_alone

__all__ = ["main", "run"]

ROOT: Final = Path(__file__).resolve().parents[1]
HOST: Final = "127.0.0.1"
CONNECTIONS: Final = 32
JSON_TARGET: Final = 1.03
HTML_ROUTES: Final = tuple(r for r in ROUTES if r != "/json")
PEERS: Final = ("obvious", "django-cookie-consent")
_TICKS_PER_SECOND: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

_DONE_HOOK: Final = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nCK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,'
    .. '"socket_errors":%d,"status_errors":%d}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""
# Warm-up visits every route in turn, so each code path and cache is hot before timing.
_ROTATE: Final = """
local paths = {}
init = function(args) paths = args end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass(frozen=True)
class Plan:
    """How long to measure and how often."""

    rounds: int
    seconds: float
    warmup_seconds: float
    json_rounds: int
    """Rounds of ``/json`` (at least ``rounds``): its overhead is a few percent, no larger
    than the spread between two rounds, so it gets more of them than the pages."""
    together_rounds: int
    """Rounds of ``/json`` with consentkit and its baseline loaded at once (see
    :func:`_together`)."""


QUICK: Final = Plan(rounds=1, seconds=3, warmup_seconds=1, json_rounds=1, together_rounds=1)
FULL: Final = Plan(rounds=3, seconds=6, warmup_seconds=3, json_rounds=15, together_rounds=10)

_JSON_EXTRA: Final = frozenset(
    name
    for item in CONTENDERS
    if item.name.startswith("consentkit")
    for name in (item.name, item.baseline)
    if name
)
"""The contenders timed in the extra rounds of ``/json``: consentkit's and their baselines."""


@dataclass
class Server:
    """A contender's uvicorn process."""

    contender: Contender
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    cookie: str = ""
    problems: list[str] = field(default_factory=list)

    def error_output(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log.read_text("utf-8", "replace").strip().splitlines()
            return " | ".join(lines[-3:])
        return ""


# -- servers --------------------------------------------------------------------------------


def _cpus() -> tuple[frozenset[int], frozenset[int]]:
    """The cores the servers run on and those ``wrk`` runs on (both all of them when the
    machine has just one)."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = list(range(os.cpu_count() or 1))
    if len(cores) < 2:
        return frozenset(cores), frozenset(cores)
    return frozenset(cores[:1]), frozenset(cores[1:])


SERVER_CPUS, WRK_CPUS = _cpus()


def _pinned(cores: frozenset[int]) -> Callable[[], None] | None:
    """A ``preexec_fn`` keeping the child on *cores* (``None`` where that cannot be set)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, cores)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _http_impl() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def _start(item: Contender, logs: Path) -> Server:
    port = _free_port()
    log = logs / f"{item.name}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        item.app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "asyncio",
        "--http",
        _http_impl(),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            preexec_fn=_pinned(SERVER_CPUS),
        )
    return Server(item, port, process, log)


def _fetch(
    port: int, route: str, cookie: str, timeout: float = 30
) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = dict(BROWSER_HEADERS)
        if cookie:
            headers["Cookie"] = cookie
        conn.request("GET", route, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            server.problems.append(f"server exited: {server.error_output() or 'no output'}")
            return
        try:
            _fetch(server.port, "/json", "", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    server.problems.append("server did not answer within 60 s")


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@contextlib.contextmanager
def _servers(contenders: Sequence[Contender]) -> Iterator[list[Server]]:
    with tempfile.TemporaryDirectory(prefix="ck-bench-") as tmp:
        servers: list[Server] = []
        try:
            for item in contenders:
                servers.append(_start(item, Path(tmp)))
            deadline = time.monotonic() + 60
            for server in servers:
                _wait_ready(server, deadline)
            yield servers
        finally:
            for server in servers:
                _stop(server)


def _verify(server: Server) -> None:
    """Check every route once, exactly as ``wrk`` will request it."""
    if server.problems:
        return
    try:
        server.cookie = request_cookie(server.contender)
    except Exception as exc:
        server.problems.append(f"cannot build the request cookie: {exc!r}")
        return
    for route in ROUTES:
        try:
            status, headers, data = _fetch(server.port, route, server.cookie)
        except OSError as exc:
            server.problems.append(f"{route}: {exc!r}")
            continue
        server.problems += verify(server.contender.expect, route, status, headers, data)


# -- wrk ------------------------------------------------------------------------------------


def _wrk_command(
    server: Server, route: str, seconds: float, script: Path, connections: int = CONNECTIONS
) -> list[str]:
    command = [
        "wrk",
        f"--threads={len(WRK_CPUS)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        # Longer than the run: a slow answer counts as slow, never as an error.
        f"--timeout={round(seconds) + 5}s",
        f"--script={script}",
    ]
    command += [f"--header={name}: {value}" for name, value in BROWSER_HEADERS]
    if server.cookie:
        command.append(f"--header=Cookie: {server.cookie}")
    command.append(f"http://{HOST}:{server.port}{route}")
    return command


def _result(done: subprocess.CompletedProcess[str]) -> dict[str, float]:
    for line in done.stdout.splitlines():
        if line.startswith("CK_RESULT "):
            result: dict[str, float] = json.loads(line.removeprefix("CK_RESULT "))
            return result
    raise RuntimeError(f"wrk gave no result: {done.stdout[-300:]} {done.stderr[-300:]}")


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime, every thread included


def _settle(servers: Sequence[Server], limit: float = 60) -> None:
    """Wait until no server is still working on requests ``wrk`` gave up on."""
    deadline = time.monotonic() + limit
    for server in servers:
        last = _cpu_ticks(server.process.pid)
        if last is None:
            time.sleep(0.5)
            continue
        quiet = 0
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            now = _cpu_ticks(server.process.pid)
            if now is None:
                break
            quiet = quiet + 1 if now - last <= 1 else 0
            last = now


def _warm_up(servers: Sequence[Server], seconds: float, script: Path) -> None:
    """Every route of every server, all at once and lightly: caches hot, no backlog."""
    commands = [
        [*_wrk_command(s, "/", seconds, script, connections=2), "--", *ROUTES] for s in servers
    ]
    processes = [
        subprocess.Popen(
            c,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_pinned(WRK_CPUS),
        )
        for c in commands
    ]
    for process in processes:
        process.wait(timeout=seconds + 60)
    _settle(servers)


def _measure(server: Server, route: str, seconds: float, script: Path) -> dict[str, float] | None:
    ticks = _cpu_ticks(server.process.pid)
    done = subprocess.run(
        _wrk_command(server, route, seconds, script),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        preexec_fn=_pinned(WRK_CPUS),
    )
    spent = _cpu_ticks(server.process.pid)
    _settle([server], limit=20)
    result = _result(done)
    if result["status_errors"]:
        server.problems.append(f"{route}: {int(result['status_errors'])} error statuses under load")
        return None
    answered = result["requests"] > 0
    cpu_ms = math.nan
    if ticks is not None and spent is not None and result["requests"] >= 10 * CONNECTIONS:
        cpu_ms = (spent - ticks) / _TICKS_PER_SECOND * 1000 / result["requests"]
    return {
        "cpu_ms": cpu_ms,
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        # wrk reports no latency when no answer came back within the run.
        "p50_ms": result["p50_us"] / 1000 if answered else math.inf,
        "p99_ms": result["p99_us"] / 1000 if answered else math.inf,
        "socket_errors": result["socket_errors"],
    }


# -- report ---------------------------------------------------------------------------------


def _median_row(route: str, server: Server, samples: list[dict[str, float]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "topic": "http",
        "route": route,
        "contender": server.contender.name,
        "baseline": server.contender.baseline,
        "verified": not server.problems,
        "rps": None,
        "p50_ms": None,
        "p99_ms": None,
        "cpu_ms": None,
        "overhead_ratio": None,
        "added_ms": None,
        "samples": len(samples),
    }
    if server.problems:
        row["problem"] = "; ".join(server.problems)
    elif samples:
        for key in ("rps", "p50_ms", "p99_ms"):
            row[key] = statistics.median(s[key] for s in samples)
        row["socket_errors"] = int(sum(s["socket_errors"] for s in samples))
        cpu = [s["cpu_ms"] for s in samples if not math.isnan(s["cpu_ms"])]
        row["cpu_ms"] = statistics.median(cpu) if cpu else None
        if math.isinf(row["p50_ms"]):
            row["p50_ms"] = row["p99_ms"] = None
    return row


def _add_overheads(
    rows: list[dict[str, Any]], samples: dict[tuple[str, str], list[dict[str, float]]]
) -> None:
    """Each contender against its baseline, round by round: the two are measured within
    seconds of each other, so a drift of the machine's speed over the run cancels out.
    ``overhead_ratio`` and ``added_ms`` are the medians of the rounds' figures;
    ``round_ratios`` gives the lowest and highest ratio of one round (the spread the median
    hides)."""
    for row in rows:
        row["overhead_ratio"] = row["added_ms"] = None
        if not row["baseline"]:
            if row["rps"] is not None:
                row["overhead_ratio"], row["added_ms"] = 1.0, 0.0
            continue
        base = {s["round"]: s["rps"] for s in samples.get((row["route"], row["baseline"]), [])}
        own = {s["round"]: s["rps"] for s in samples.get((row["route"], row["contender"]), [])}
        paired = [(base[r], own[r]) for r in sorted(base.keys() & own.keys()) if base[r] and own[r]]
        if row["rps"] is None or not paired:
            continue
        ratios = [b / o for b, o in paired]
        row["overhead_ratio"] = statistics.median(ratios)
        row["added_ms"] = statistics.median(1000 / o - 1000 / b for b, o in paired)
        row["round_ratios"] = f"{min(ratios):.2f}–{max(ratios):.2f}×"


def _add_targets(rows: list[dict[str, Any]]) -> None:
    by_key = {(r["route"], r["contender"]): r for r in rows}
    for row in rows:
        if not row["contender"].startswith("consentkit"):
            continue
        ratio = row["overhead_ratio"]
        if row["route"] == "/json":
            row["target"] = f"overhead <= {JSON_TARGET:.2f}x bare Starlette"
            row["target_met"] = None if ratio is None else ratio <= JSON_TARGET
            continue
        row["target"] = "overhead below " + " and ".join(PEERS)
        peers = [by_key.get((row["route"], name), {}).get("overhead_ratio") for name in PEERS]
        if ratio is None or any(p is None for p in peers):
            row["target_met"] = None
        else:
            row["target_met"] = all(ratio < p for p in peers)


def round_order(servers: Sequence[Server], round_: int) -> list[Server]:
    """The order *servers* take their turns in round *round_*: each contender right next to
    its baseline (measured seconds apart, the machine's speed has no time to move between
    the two), before it in one round and after it in the next, so a steady drift weighs on
    both alike over two rounds. A baseline with two contenders sits between them. The
    groups (a baseline and its contenders) rotate, so none always comes first."""
    groups: dict[str, list[Server]] = {}
    for server in servers:
        contender = server.contender
        groups.setdefault(contender.baseline or contender.name, []).append(server)
    ordered: list[list[Server]] = []
    for name, members in groups.items():
        base = [s for s in members if s.contender.name == name]
        others = [s for s in members if s.contender.name != name]
        # Contenders on both sides of the baseline: the first half before it, the rest after.
        half = (len(others) + 1) // 2
        group = others[:half] + base + others[half:]
        ordered.append(group if round_ % 2 == 0 else group[::-1])
    shift = round_ % max(1, len(ordered))
    return [server for group in ordered[shift:] + ordered[:shift] for server in group]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Verify, then time, every contender on every route; one row per (route, contender)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    plan = QUICK if quick else FULL
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ck-wrk-") as tmp, _servers(CONTENDERS) as servers:
        measure = Path(tmp) / "measure.lua"
        measure.write_text(_DONE_HOOK, "utf-8")
        rotate = Path(tmp) / "warmup.lua"
        rotate.write_text(_ROTATE + _DONE_HOOK, "utf-8")
        for server in servers:
            _verify(server)
        timed = [s for s in servers if not s.problems]
        _warm_up(timed, plan.warmup_seconds, rotate)
        # The extra rounds of /json time consentkit and its baselines only (what goal 1
        # reads); the peers get as many rounds as on the pages.
        ours = [s for s in timed if s.contender.name in _JSON_EXTRA]
        for round_ in range(max(plan.rounds, plan.json_rounds)):
            extra = round_ >= plan.rounds
            for route in ("/json",) if extra else ROUTES:
                for server in round_order(ours if extra else timed, round_):
                    if server.problems:
                        continue
                    result = _measure(server, route, plan.seconds, measure)
                    if result is not None:
                        result["round"] = round_
                        samples.setdefault((route, server.contender.name), []).append(result)
        rows = [
            _median_row(route, server, samples.get((route, server.contender.name), []))
            for route in ROUTES
            for server in servers
        ]
        together = _together(ours, plan, measure)
    _add_overheads(rows, samples)
    _add_targets(rows)
    for row in rows:
        ratios = together.get(row["contender"]) if row["route"] == "/json" else None
        if ratios:
            row["together_ratio"] = statistics.median(ratios)
            row["together_rounds"] = f"{min(ratios):.2f}–{max(ratios):.2f}×"
    return rows


def _together(servers: Sequence[Server], plan: Plan, script: Path) -> dict[str, list[float]]:
    """``/json`` of each consentkit contender and its baseline loaded at the same time,
    round after round: per contender, its baseline's requests/s over its own in each round.

    The two servers share the server core while one ``wrk`` each loads them (half the
    connections each), so a slower stretch of the machine falls on both alike: on a shared
    machine whose speed halves for seconds at a time this ratio is steadier than the
    sequential one (though each server's code is colder in the CPU's caches, sharing
    the core)."""
    by_name = {s.contender.name: s for s in servers if not s.problems}
    ratios: dict[str, list[float]] = {}
    for server in by_name.values():
        base = by_name.get(server.contender.baseline or "")
        if base is None:
            continue
        for _ in range(plan.together_rounds):
            commands = [
                _wrk_command(s, "/json", plan.seconds / 2, script, CONNECTIONS // 2)
                for s in (base, server)
            ]
            processes = [
                subprocess.Popen(
                    c,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    preexec_fn=_pinned(WRK_CPUS),
                )
                for c in commands
            ]
            outputs = [p.communicate(timeout=plan.seconds + 60) for p in processes]
            _settle([base, server], limit=20)
            try:
                results = [
                    _result(subprocess.CompletedProcess(c, 0, out, err))
                    for c, (out, err) in zip(commands, outputs, strict=True)
                ]
            except RuntimeError:
                continue
            if any(r["status_errors"] or not r["requests"] for r in results):
                continue
            rps = [r["requests"] / (r["duration_us"] / 1e6) for r in results]
            ratios.setdefault(server.contender.name, []).append(rps[0] / rps[1])
    return ratios


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("http", __doc__, run, "1 round of 3 s per measurement", argv)


if __name__ == "__main__":
    main()
