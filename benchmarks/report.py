"""Pure formatting of benchmark results: rows of figures -> Markdown tables and JSON.

Nothing here measures or reads the machine; :mod:`benchmarks.__main__` gathers the rows and
the machine description and hands them over, so the formatting can be unit-tested.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

TOPICS: Final = ("http", "rewriter", "banner", "store", "receipts_http", "wsgi")
"""Every benchmark topic, in the order they run; ``benchmarks/bench_<topic>.py`` each."""

TOPIC_TEXT: Final[Mapping[str, tuple[str, str]]] = {
    "http": (
        "Request overhead",
        "Requests per second through a bare app and the same app behind consentkit (and a "
        "Django site with and without django-cookie-consent), served alike and loaded alike; "
        "ratios compare each stack with its own bare baseline.",
    ),
    "rewriter": (
        "HTML rewriting throughput",
        "MB/s of the streaming rewriter against parse-edit-serialise with selectolax and "
        "BeautifulSoup, on the same pages, after checking all block the same elements. "
        "Ratios above 1 mean consentkit is faster.",
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
        "answered only once its receipt is durable in SQLite or PostgreSQL; the store is "
        "checked afterwards (every answered receipt present, chain intact).",
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
    ("knowledge_base", "Knowledge base (`consentkit kb stats`)"),
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


def topic_section(result: TopicResult) -> str:
    """``## Title``, what it measures, then its table, or the failure."""
    title, text = TOPIC_TEXT.get(result.name, (result.name, ""))
    parts = [f"## {title} (`{result.name}`)", ""]
    if text:
        parts += [text, ""]
    if result.error is not None:
        parts.append(f"**FAILED** after {result.seconds:.0f} s: {format_cell('', result.error)}")
    else:
        parts += [markdown_table(result.rows), "", f"_{result.seconds:.0f} s._"]
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
            r.name: {"ok": r.ok, "seconds": round(r.seconds, 2), "error": r.error, "rows": r.rows}
            for r in results
        },
    }
