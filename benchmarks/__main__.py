"""Run consentkit's benchmarks and write ``results.md`` and ``results.json``.

``python -m benchmarks [--quick] [--only http,rewriter,banner,store]`` runs each topic's
``benchmarks/bench_<topic>.py`` ``run(quick)``, prints a table per topic and writes the results
next to this file. A topic that is missing or fails is reported as failed; the others still run
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import timeit
import traceback
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from benchmarks.report import (
    TOPICS,
    TopicResult,
    from_json,
    markdown_table,
    render_markdown,
    to_json,
    topic_section,
)

HERE = Path(__file__).resolve().parent
DISTRIBUTIONS = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "selectolax": "selectolax",
    "bs4": "beautifulsoup4",
    "django": "django",
    "django-cookie-consent": "django-cookie-consent",
    "playwright": "playwright",
    "psycopg": "psycopg",
}
NPM_PACKAGES = ("vanilla-cookieconsent", "klaro", "cookieconsent")


_PROBE_HEADERS: Final = [(b"x-probe-%d" % i, b"value-%d" % i) for i in range(16)]


def speed_probe() -> float:
    """Milliseconds of a fixed Python workload (dictionaries of header bytes, lowering, a
    regular expression), the best of five: on a shared machine the speed moves by up to
    half between minutes, and a topic's figures are read knowing which speed it ran at."""

    def work() -> None:
        for _ in range(5_000):
            found = dict(_PROBE_HEADERS)
            found.get(b"cookie")
            _PROBE_PATTERN.search(b"<HTML><HEAD><BODY class=probe>".lower())

    return min(timeit.repeat(work, number=1, repeat=5)) * 1000


_PROBE_PATTERN: Final = re.compile(rb"<body[^>]*>")


def run_topic(name: str, quick: bool) -> TopicResult:
    """Import ``benchmarks.bench_<name>`` and run it, with the speed probe before and
    after; never raises."""
    before = speed_probe()
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        rows = list(module.run(quick))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a benchmark's own check may exit
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
        return TopicResult(name, [], time.perf_counter() - started, error)
    seconds = time.perf_counter() - started
    return TopicResult(name, rows, seconds, speed=(before, speed_probe()))


def _command_output(args: list[str]) -> str:
    if shutil.which(args[0]) is None and not Path(args[0]).exists():
        return ""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + "\n" + done.stderr).strip()


def _first_version(text: str) -> str | None:
    found = re.search(r"\d+(?:\.\d+)+", text)
    return found[0] if found else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _postgres_version() -> str | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    binary = str(candidates[-1]) if candidates else "postgres"
    return _first_version(_command_output([binary, "--version"]))


def _npm_version(package: str) -> str | None:
    from benchmarks.bench_banner import NODE_MODULES

    try:
        meta = json.loads((NODE_MODULES / package / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return str(meta.get("version")) if isinstance(meta, dict) else None


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: the machine may be shared with other work."""
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and the versions of everything benchmarked."""
    import consentkit

    # From the package itself: a source checkout has no installed distribution metadata.
    versions: dict[str, str | None] = {"consentkit": consentkit.__version__}
    for label, dist in DISTRIBUTIONS.items():
        try:
            versions[label] = version(dist)
        except PackageNotFoundError:
            versions[label] = None
    chromium = os.environ.get("CONSENTKIT_CHROMIUM", "chromium")
    versions["chromium"] = _first_version(_command_output([chromium, "--version"]))
    versions["wrk"] = _first_version(_command_output(["wrk", "-v"]))
    versions["postgres"] = _postgres_version()
    for package in NPM_PACKAGES:
        versions[f"npm {package}"] = _npm_version(package)
    return {
        "knowledge_base": _knowledge_base_counts(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "consentkit_path": _consentkit_path(),
        "load": load_average(),
        "versions": versions,
    }


def _consentkit_path() -> str:
    """Whether the compiled twins (``consentkit[speedups]``) ran, as the servers see it too:
    they inherit this environment."""
    from consentkit.speedups import status

    return status


def _knowledge_base_counts() -> str:
    """The ``consentkit kb stats`` summary line: what cookie classification ran against."""
    from consentkit.knowledge import knowledge_base_stats
    from consentkit.rules import knowledge_base
    from consentkit.trackers import default_index

    trackers = [(t.category, len(t.domains)) for t in default_index().trackers]
    return knowledge_base_stats(knowledge_base(), trackers).summary()


def parse_topics(text: str | None) -> list[str]:
    """The topics named by ``--only`` (all when absent), in the standard order."""
    if not text:
        return list(TOPICS)
    wanted = {t.strip() for t in text.split(",") if t.strip()}
    unknown = wanted - set(TOPICS)
    if unknown:
        raise SystemExit(f"unknown topic(s): {', '.join(sorted(unknown))}; use {','.join(TOPICS)}")
    return [t for t in TOPICS if t in wanted]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen topics, print and write the results; 1 if any topic failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs (under 3 minutes)")
    parser.add_argument("--only", metavar="TOPICS", help=f"comma-separated: {','.join(TOPICS)}")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md/json go")
    parser.add_argument(
        "--render",
        action="store_true",
        help="run nothing: write results.md again from the results.json in --out",
    )
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads((args.out / "results.json").read_text("utf-8"))
        results, info, quick, when = from_json(saved)
        (args.out / "results.md").write_text(
            render_markdown(results, info, quick=quick, when=when), "utf-8"
        )
        return 0
    topics = parse_topics(args.only)
    load_at_start = load_average()
    started = time.perf_counter()
    results = []
    for name in topics:
        print(f"== {name} ({'quick' if args.quick else 'full'})", flush=True)
        result = run_topic(name, args.quick)
        results.append(result)
        print(topic_section(result) + "\n", flush=True)
    info = machine_info()
    info["load"] = f"start {load_at_start}, end {info['load']}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(
        render_markdown(results, info, quick=args.quick, when=when), "utf-8"
    )
    payload = to_json(results, info, quick=args.quick, when=when)
    (args.out / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    summary = [
        {"topic": r.name, "ok": r.ok, "seconds": r.seconds, "error": r.error} for r in results
    ]
    print(markdown_table(summary))
    print(f"total {time.perf_counter() - started:.0f} s; wrote {args.out / 'results.md'}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
