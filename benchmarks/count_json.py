"""Instructions per JSON request under uvicorn, counted by cachegrind: a figure without noise.

Timed under wrk, the middleware's cost per JSON request (a few µs against about 100 µs of
uvicorn and Starlette) moves by ±3 µs between runs, more than the changes worth making
there. Cachegrind runs the server on a simulated CPU and counts what it executes, so two
versions of the code can be told apart by a few hundred instructions:

    python -m benchmarks.count_json [--requests 1000]

For bare Starlette and consentkit, each with a first visit (no cookie) and an accepted
visitor (the signed consent cookie), a uvicorn worker runs under ``valgrind
--tool=cachegrind --cache-sim=yes`` twice: answering a warm-up of 200 requests, then 200
plus ``--requests``; the difference divided by ``--requests`` is the cost of one request
(server start-up and import cancel out). Printed per request: instructions, first-level
instruction and data cache misses, last-level misses, and an estimate weighting them as
a CPU roughly does (instructions, plus 10 per L1 miss and 100 per LL miss), with consentkit's
share over bare. Requests are sent one at a time over one keep-alive connection with the
browser headers the other topics send. Needs ``valgrind`` (Debian package ``valgrind``);
not part of ``python -m benchmarks``. Takes about 40 s per server run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.apps import BROWSER_HEADERS
from benchmarks.apps.starlette_apps import consent_cookie
from benchmarks.bench_http import _http_impl

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200
SERVERS = {"bare": "bare_app", "consentkit": "consentkit_app"}
_EVENTS = {
    "I": "I   refs",
    "I1": "I1  misses",
    "LLi": "LLi misses",
    "D1": "D1  misses",
    "LLd": "LLd misses",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _counts(factory: str, requests: int, cookie: str) -> dict[str, int]:
    """Cachegrind's totals for a worker that answered *requests* JSON requests."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind", "--tool=cachegrind", "--cache-sim=yes",
            f"--cachegrind-out-file={tmp}/out",
            sys.executable, "-m", "uvicorn", "--factory",
            f"benchmarks.apps.starlette_apps:{factory}",
            "--port", str(port), "--workers", "1", "--loop", "asyncio",
            "--http", _http_impl(), "--lifespan", "off", "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _wait_for(port, server)
            headers = dict(BROWSER_HEADERS)
            if cookie:
                headers["Cookie"] = cookie
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(requests):
                client.request("GET", "/json", headers=headers)
                response = client.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"/json answered {response.status}")
            client.close()
        finally:
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=300)
    return parse_totals(err.decode("utf-8", "replace"))


def parse_totals(report: str) -> dict[str, int]:
    """The totals of a cachegrind run's summary (what it prints to stderr)."""
    counts: dict[str, int] = {}
    for key, label in _EVENTS.items():
        found = re.search(re.escape(label) + r":\s+([\d,]+)", report)
        if found is None:
            raise RuntimeError(f"cachegrind printed no {label!r}:\n{report[-2000:]}")
        counts[key] = int(found.group(1).replace(",", ""))
    return counts


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server under valgrind exited before answering")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server under valgrind did not start in 120 s")


def per_request(factory: str, requests: int, cookie: str) -> dict[str, float]:
    """Instructions and cache misses of one request (see the module docstring)."""
    warm = _counts(factory, WARM_UP, cookie)
    full = _counts(factory, WARM_UP + requests, cookie)
    return one_request(warm, full, requests)


def one_request(warm: dict[str, int], full: dict[str, int], requests: int) -> dict[str, float]:
    """Per request: the difference of two runs' totals over the *requests* between them,
    and the estimate weighting misses."""
    one = {key: (full[key] - warm[key]) / requests for key in warm}
    one["estimate"] = one["I"] + 10 * (one["I1"] + one["D1"]) + 100 * (one["LLi"] + one["LLd"])
    return one


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("count_json needs valgrind: apt-get install valgrind")
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same hashing in every run
    columns = "instructions | I1 misses | D1 misses | LL misses | estimate | vs bare"
    print(f"| visitor | server | {columns} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for visitor, cookie in (("first visit", ""), ("accepted all", consent_cookie())):
        bare: dict[str, float] | None = None
        for name, factory in SERVERS.items():
            one = per_request(factory, args.requests, cookie)
            bare = bare or one
            share = f"+{(one['estimate'] / bare['estimate'] - 1) * 100:.1f}%"
            misses = one["LLi"] + one["LLd"]
            print(
                f"| {visitor} | {name} | {one['I']:,.0f} | {one['I1']:,.0f} | {one['D1']:,.0f} "
                f"| {misses:,.1f} | {one['estimate']:,.0f} | {share} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
