"""Pure formatting of benchmark results: rows of figures -> Markdown tables and JSON.

Nothing here measures or reads the machine; :mod:`benchmarks.__main__` gathers the rows and
the machine description and hands them over, so the formatting can be unit-tested.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

TOPICS: Final = (
    "http",
    "inprocess",
    "rewriter",
    "inject",
    "banner",
    "store",
    "receipts_http",
    "faults",
    "wsgi",
)
"""Every benchmark topic, in the order they run; ``benchmarks/bench_<topic>.py`` each."""

TOPIC_TEXT: Final[Mapping[str, tuple[str, str]]] = {
    "http": (
        "Request overhead",
        "Requests per second through a bare app and the same app behind consentkit (and a "
        "Django site with and without django-cookie-consent), served alike and loaded alike; "
        "ratios compare each stack with its own bare baseline.",
    ),
    "inprocess": (
        "Microseconds per request, in process",
        "The HTTP benchmark's Starlette app called straight through ASGI (no server): bare, "
        "the naive buffering blocker and consentkit take turns in every round; each figure is "
        "the median of the rounds' means (µs per request), consentkit's with min-max. "
        "`added_vs_naive` is consentkit's added time over the naive blocker's.",
    ),
    "rewriter": (
        "HTML rewriting throughput",
        "MB/s of the streaming rewriter against parse-edit-serialise with selectolax and "
        "BeautifulSoup, on the same pages, after checking all block the same elements. "
        "Ratios above 1 mean consentkit is faster.",
    ),
    "inject": (
        "Injected markup and streaming memory",
        "Bytes consentkit adds to a small tracker-free page per visitor state, and peak "
        "traced memory while the 3 MB page streams through consentkit and through the naive "
        "buffering blocker, in process. Counts, not times: one round is exact.",
    ),
    "banner": (
        "Banner in the browser",
        "The same page in headless Chromium with each tool. Targets for consentkit: banner "
        "visible at first contentful paint, CLS 0, no tracker request before the visitor "
        "chooses. Ratios are against consentkit (above 1: heavier or slower than consentkit).",
    ),
    "store": (
        "Receipt store",
        "Durable appends per second (SQLite and PostgreSQL) and a `consentkit export` child "
        "process over the whole store. Targets: full export (1,000,000 receipts) under 15 s "
        "and 150 MB peak RSS.",
    ),
    "receipts_http": (
        "Receipts through the HTTP endpoint",
        "Consent posts per second through `POST /_consent` on a real uvicorn server, each "
        "answered only once its receipt is durable in SQLite or PostgreSQL: the median of "
        "several rounds (the stores taking turns) with min and max, the server's CPU time "
        "per receipt and the machine's load average; the store is checked after every "
        "round (every answered receipt present, chain intact).",
    ),
    "faults": (
        "Receipts under load and faults",
        "One run of each scenario on real uvicorn processes, the store checked after it "
        "(every answered decision stored once, each visitor's in order, chain intact): "
        "4 workers on one SQLite file and on one PostgreSQL database; PostgreSQL stopped "
        "and restarted mid-load (answers meanwhile come from the spool and are replayed); "
        "a body dribbled byte by byte (408) while another visitor posts.",
    ),
    "wsgi": (
        "WSGI middleware overhead",
        "Microseconds per request of a Flask app called in-process through PEP 3333, bare and "
        "behind `ConsentWSGIMiddleware`, on the HTTP benchmark's routes (the answers are "
        "checked first: tracker blocked, banner injected). `overhead_ratio` is consentkit's "
        "time over bare.",
    ),
}

MACHINE_FIELDS: Final = (
    ("cpu", "CPU"),
    ("cores", "Cores"),
    ("memory_gb", "Memory (GB)"),
    ("os", "OS"),
    ("python", "Python"),
    ("consentkit_path", "consentkit's request path (`consentkit.speedups.status`)"),
    ("knowledge_base", "Knowledge base (`consentkit kb stats`)"),
    ("load", "Load average (1/5/15 min)"),
)
"""Machine facts (and the size of the knowledge base classified against) shown in the header
of ``results.md``, in order."""

VERSION_FIELDS: Final = (
    "consentkit",
    "starlette",
    "uvicorn",
    "selectolax",
    "bs4",
    "django",
    "django-cookie-consent",
    "chromium",
    "wrk",
    "postgres",
)
"""Tool versions shown in the header; anything else in ``versions`` follows them."""

MISSING: Final = "–"


@dataclass(frozen=True)
class TopicResult:
    """What one topic's ``run(quick)`` returned, or why it failed."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    #: Set when a saved run was assembled from several runs: when and how this topic ran.
    note: str | None = None
    #: The machine's speed probe (ms of a fixed workload) before and after the topic.
    speed: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        """Whether the topic ran to the end."""
        return self.error is None


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``, or ``None`` when either is missing, zero-based or not finite."""
    if value is None or baseline is None:
        return None
    if not (math.isfinite(value) and math.isfinite(baseline)) or baseline == 0:
        return None
    return value / baseline


def is_ratio(key: str) -> bool:
    """Whether a column holds a ratio (``a_vs_b`` or ``…ratio``)."""
    return "_vs_" in key or key.endswith("ratio")


def format_number(value: float) -> str:
    """A figure with as many decimals as its size deserves."""
    if not math.isfinite(value):
        return MISSING
    size = abs(value)
    if value.is_integer() and size < 1e15:
        # Medians of counts come back as floats; 2.0 requests reads better as 2.
        return f"{int(value):,}"
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_cell(key: str, value: Any) -> str:
    """One table cell: numbers rounded, ratios suffixed with a multiplication sign, lists
    joined, pipes escaped so the Markdown table holds."""
    if value is None:
        text = MISSING
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        number = format_number(value)
        text = f"{value:.2f}×" if is_ratio(key) and number != MISSING else number
    elif isinstance(value, list | tuple | set | frozenset):
        text = ", ".join(str(v) for v in value) or MISSING
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key of the rows, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def header_label(key: str) -> str:
    """A column key as a header: ``visible_ms`` -> ``visible ms``."""
    return key.replace("_", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table; absent cells show as a dash."""
    cols = list(columns) if columns is not None else columns_of(rows)
    if not cols:
        return "(no rows)"
    lines = [
        "| " + " | ".join(header_label(c) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(format_cell(c, row.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def machine_table(info: Mapping[str, Any]) -> str:
    """The machine and tool versions as a two-column table."""
    versions: Mapping[str, Any] = info.get("versions", {})
    rows: list[dict[str, Any]] = [
        {"what": label, "value": info.get(key)} for key, label in MACHINE_FIELDS
    ]
    names = [*VERSION_FIELDS, *sorted(set(versions) - set(VERSION_FIELDS))]
    rows += [{"what": name, "value": versions.get(name) or "not found"} for name in names]
    return markdown_table(rows)


def _speed(result: TopicResult) -> str:
    if result.speed is None:
        return ""
    before, after = result.speed
    return (
        f"; speed probe {before:.1f} ms before, {after:.1f} ms after "
        "(a fixed Python workload: larger means a slower machine)"
    )


def topic_section(result: TopicResult) -> str:
    """``## Title``, what it measures, then its table, or the failure."""
    title, text = TOPIC_TEXT.get(result.name, (result.name, ""))
    parts = [f"## {title} (`{result.name}`)", ""]
    if text:
        parts += [text, ""]
    if result.error is not None:
        parts.append(f"**FAILED** after {result.seconds:.0f} s: {format_cell('', result.error)}")
    else:
        parts += [markdown_table(result.rows), "", f"_{result.seconds:.0f} s{_speed(result)}._"]
    if result.note:
        parts += ["", f"_Note: {result.note}._"]
    return "\n".join(parts)


def render_markdown(
    results: Sequence[TopicResult], info: Mapping[str, Any], *, quick: bool, when: str
) -> str:
    """The whole ``results.md``: header with machine and versions, one section per topic."""
    mode = "quick" if quick else "full"
    failed = [r.name for r in results if not r.ok]
    status = f"failed: {', '.join(failed)}" if failed else "all topics ran"
    parts = [
        "# consentkit benchmark results",
        "",
        f"Run {when}, **{mode}** mode ({status}). Produced by `./dev bench"
        f"{' --quick' if quick else ''}`; see docs/benchmarks.md for how to read it.",
        "",
        machine_table(info),
        "",
        goals_section(results),
    ]
    for result in results:
        parts += ["", topic_section(result)]
    return "\n".join(parts) + "\n"


def from_json(data: Mapping[str, Any]) -> tuple[list[TopicResult], dict[str, Any], bool, str]:
    """Undo :func:`to_json`: ``(results, machine, quick, when)``, to render a saved run again."""
    topics: Mapping[str, Any] = data.get("topics", {})
    results = [
        TopicResult(
            name,
            list(topic.get("rows", [])),
            float(topic.get("seconds", 0.0)),
            topic.get("error"),
            topic.get("note"),
            tuple(topic["speed"]) if topic.get("speed") else None,  # type: ignore[arg-type]
        )
        for name, topic in topics.items()
    ]
    return results, dict(data.get("machine", {})), data.get("mode") == "quick", str(data["when"])


def to_json(
    results: Sequence[TopicResult], info: Mapping[str, Any], *, quick: bool, when: str
) -> dict[str, Any]:
    """The raw rows and machine description, ready for ``json.dumps``."""
    return {
        "when": when,
        "mode": "quick" if quick else "full",
        "machine": dict(info),
        "topics": {
            r.name: {
                "ok": r.ok,
                "seconds": round(r.seconds, 2),
                "error": r.error,
                "rows": r.rows,
                **({"note": r.note} if r.note else {}),
                **({"speed": list(r.speed)} if r.speed else {}),
            }
            for r in results
        },
    }


NOT_MEASURED: Final = "not measured"
"""The ``met`` cell of a goal whose figure this run does not produce: never counted as met."""

SHARE_OF_NAIVE: Final = 0.35
"""Goal 2: consentkit's added time on a first visit, as a share of the naive blocker's."""

NON_HTML_RPS_SHARE: Final = 0.95
"""Goal 1: requests/s through consentkit on a non-HTML route, as a share of bare."""

DECIDED_PAGE_RATIO: Final = 5.0
"""Goal 3: the 300 KB page for an accepted-all visitor, as a multiple of bare."""

NON_HTML_ADDED_US: Final = 5.0
"""Goal 1: microseconds consentkit may add to a non-HTML answer, in process."""

SAME_AS_FIRST_VISIT: Final = 1.05
"""Goal 3: a refused or partial choice may cost this much of a first visit (run-to-run noise
between medians of the same work is a few percent)."""


def _http_row(rows: Sequence[Mapping[str, Any]], route: str, contender: str) -> Mapping[str, Any]:
    for row in rows:
        if row.get("route") == route and row.get("contender") == contender:
            return row
    return {}


def _inprocess_row(
    rows: Sequence[Mapping[str, Any]], route: str, visitor: str
) -> Mapping[str, Any]:
    for row in rows:
        if row.get("route") == route and row.get("visitor") == visitor:
            return row
    return {}


def _verdict(checks: Sequence[bool | None]) -> str:
    """``yes`` only when every part was measured and met; ``not measured`` when a part is
    missing and none failed; else ``no``."""
    if any(check is False for check in checks):
        return "no"
    if any(check is None for check in checks) or not checks:
        return NOT_MEASURED
    return "yes"


def _num(value: Any, suffix: str = "") -> str:
    return MISSING if not isinstance(value, int | float) else format_number(float(value)) + suffix


def goal_rows(results: Sequence[TopicResult]) -> list[dict[str, Any]]:
    """One row per goal of the HTML-path speed work (1-7), derived from the topics' rows:
    its target, what this run measured for it, and whether it is met. A goal whose figure no
    topic produced says so instead of passing."""
    by_name = {r.name: r.rows for r in results if r.ok}
    http = by_name.get("http", [])
    rewriter = by_name.get("rewriter", [])
    inproc = by_name.get("inprocess", [])

    def inprocess(route: str, visitor: str, key: str) -> float | None:
        value = _inprocess_row(inproc, route, visitor).get(key)
        return float(value) if isinstance(value, int | float) else None

    def overhead(route: str, contender: str) -> float | None:
        value = _http_row(http, route, contender).get("overhead_ratio")
        return float(value) if isinstance(value, int | float) else None

    def added(route: str, contender: str) -> float | None:
        value = _http_row(http, route, contender).get("added_ms")
        return float(value) if isinstance(value, int | float) else None

    goals: list[dict[str, Any]] = []

    # 1. Non-HTML responses.
    json_parts = {name: overhead("/json", name) for name in ("consentkit", "consentkit-accepted")}
    checks1: list[bool | None] = [
        None if value is None else 1 / value >= NON_HTML_RPS_SHARE for value in json_parts.values()
    ]
    together = {
        name: _http_row(http, "/json", name).get("together_ratio")
        for name in ("consentkit", "consentkit-accepted")
    }
    checks1 += [
        1 / value >= NON_HTML_RPS_SHARE if isinstance(value, int | float) else None
        for value in together.values()
    ]
    json_added = {
        visitor: inprocess("/json", visitor, "added_us")
        for visitor in ("first visit", "accepted all")
    }
    checks1 += [None if v is None else v <= NON_HTML_ADDED_US for v in json_added.values()]
    goals.append(
        {
            "goal": "1. non-HTML responses",
            "target": f"<= +{NON_HTML_ADDED_US:.0f} µs in-process (first visit without cookies, "
            f"decided); >= {NON_HTML_RPS_SHARE}× bare rps (uvicorn + wrk, taking turns and "
            "loaded together)",
            "measured": "; ".join(
                f"{name}: {_num(None if v is None else 1 / v, '×')} bare rps, "
                + _num(
                    1 / together[name] if isinstance(together[name], int | float) else None,
                    "×",
                )
                + " together"
                for name, v in json_parts.items()
            )
            + "; in-process: "
            + "; ".join(f"{visitor} +{_num(v, ' µs')}" for visitor, v in json_added.items()),
            "met": _verdict(checks1),
        }
    )

    # 2. First visit against the naive blocker.
    checks2: list[bool | None] = []
    parts2: list[str] = []
    for route in ("/page20", "/page300"):
        ours, naive = added(route, "consentkit"), added(route, "obvious")
        share = ratio(ours, naive) if naive and naive > 0 else None
        verified = _http_row(http, route, "consentkit").get("verified")
        checks2.append(None if share is None else share <= SHARE_OF_NAIVE and verified is True)
        parts2.append(f"{route}: {_num(share, '×')} of naive's added time (uvicorn + wrk)")
        inproc_share = inprocess(route, "first visit", "added_vs_naive")
        checks2.append(None if inproc_share is None else inproc_share <= SHARE_OF_NAIVE)
        parts2.append(f"{route}: {_num(inproc_share, '×')} (in process)")
    goals.append(
        {
            "goal": "2. first visit",
            "target": f"added time <= {SHARE_OF_NAIVE}× the naive blocker's, 20 KB and 300 KB, "
            "under uvicorn + wrk and in process",
            "measured": "; ".join(parts2),
            "met": _verdict(checks2),
        }
    )

    # 3. Decided visitors with nothing to block.
    accepted = overhead("/page300", "consentkit-accepted")
    accepted_inproc = inprocess("/page300", "accepted all", "consentkit_vs_bare")
    checks3: list[bool | None] = [
        None if accepted is None else accepted <= DECIDED_PAGE_RATIO,
        None if accepted_inproc is None else accepted_inproc <= DECIDED_PAGE_RATIO,
    ]
    parts3 = [
        f"accepted all: {_num(accepted, '×')} bare (uvicorn + wrk), "
        f"{_num(accepted_inproc, '×')} bare (in process)"
    ]
    for route in ("/page20", "/page300"):
        for visitor in ("necessary only", "partial"):
            share = inprocess(route, visitor, "vs_first_visit")
            checks3.append(None if share is None else share <= SAME_AS_FIRST_VISIT)
            parts3.append(f"{route} {visitor}: {_num(share, '×')} of a first visit")
    goals.append(
        {
            "goal": "3. decided, nothing to block",
            "target": f"300 KB page <= {DECIDED_PAGE_RATIO:.0f}× bare (uvicorn + wrk and in "
            f"process); refused/partial <= first visit (in process, paired by round, "
            f"{SAME_AS_FIRST_VISIT}× allowed for noise)",
            "measured": "; ".join(parts3),
            "met": _verdict(checks3),
        }
    )

    # 4. The 3 MB streamed page.
    ours4, naive4 = added("/stream3m", "consentkit"), added("/stream3m", "obvious")
    inject = by_name.get("inject", [])

    def measure(prefix: str) -> Mapping[str, Any]:
        return next((r for r in inject if str(r.get("measure", "")).startswith(prefix)), {})

    peak = measure("peak memory")
    early = measure("body chunks sent")
    goals.append(
        {
            "goal": "4. 3 MB streamed page",
            "target": "less added time than naive; peak memory bounded by chunk + pending "
            "construct; first chunk not held back",
            "measured": f"added {_num(ours4, ' ms')} vs naive {_num(naive4, ' ms')}; "
            f"peak memory {_num(peak.get('value'), ' B')} (bound: "
            f"{peak.get('target', MISSING)}; met: {peak.get('met', NOT_MEASURED)}); "
            f"chunks out by half-page: {_num(early.get('value'))}",
            "met": _verdict(
                [
                    None if ours4 is None or naive4 is None else ours4 < naive4,
                    None if not early else early.get("met") == "yes",
                    None if not peak else peak.get("met") == "yes",
                ]
            ),
        }
    )

    # 5. Lean injection.
    injected = [r for r in inject if str(r.get("measure", "")).startswith("injected bytes")]
    goals.append(
        {
            "goal": "5. lean injection",
            "target": "<= 4 KB injected on a first visit, <= 1 KB once decided",
            "measured": "; ".join(
                f"{str(r['measure']).removeprefix('injected bytes, ')}: "
                f"{_num(r.get('value'), ' B')}"
                for r in injected
            )
            or f"injected bytes: {NOT_MEASURED}",
            "met": _verdict([r.get("met") == "yes" for r in injected]),
        }
    )

    # 6. Rewriter throughput; 7. hostile pages.
    pages = [r for r in rewriter if "consentkit_vs_selectolax" in r]
    hostile = [r for r in rewriter if "consentkit_ms" in r]
    goals.append(
        {
            "goal": "6. rewriter throughput",
            "target": ">= 3× selectolax on each page",
            "measured": "; ".join(
                f"{r.get('page')}: {_num(r['consentkit_vs_selectolax'], '×')}" for r in pages
            )
            or MISSING,
            "met": _verdict([r.get("met") == "yes" for r in pages]),
        }
    )
    goals.append(
        {
            "goal": "7. hostile pages linear",
            "target": "each < 50 ms",
            "measured": "; ".join(
                f"{r.get('page')}: {_num(r['consentkit_ms'], ' ms')}" for r in hostile
            )
            or MISSING,
            "met": _verdict([r.get("met") == "yes" for r in hostile]),
        }
    )
    return goals


def goals_section(results: Sequence[TopicResult]) -> str:
    """``## Goals``: the goal table, before the topics' own tables."""
    return "\n".join(
        [
            "## Goals of the HTML path",
            "",
            "Each goal's target and this run's figure for it, taken from the topic tables "
            "below; a part no topic measures reads `not measured` and the goal is not met.",
            "",
            markdown_table(goal_rows(results), ["goal", "target", "measured", "met"]),
        ]
    )


def run_alone(
    name: str,
    doc: str | None,
    run: Callable[[bool], Sequence[Mapping[str, Any]]],
    quick_help: str = "smaller runs",
    argv: Sequence[str] | None = None,
) -> None:
    """``python -m benchmarks.bench_<name> [--quick]``: run one topic and print its section,
    the same table ``results.md`` shows (nothing is written)."""
    parser = argparse.ArgumentParser(description=(doc or name).splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    quick = parser.parse_args(argv).quick
    started = time.perf_counter()
    rows = [dict(row) for row in run(quick)]
    print(topic_section(TopicResult(name, rows, time.perf_counter() - started)))
