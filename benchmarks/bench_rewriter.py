"""Throughput of consentkit's streaming rewriter against DOM-based rewriting.

Every contender does the same job on the same pages: find scripts, iframes, pixels and
resource hints of trackers (with consentkit's knowledge base), park their URLs, make scripts
inert, put a placeholder before each iframe and serialise the page. Before timing, each
contender's output is checked to block the same number of elements. Target: consentkit at
least 3x selectolax on every page.

Two more figures per page: consentkit for a visitor who accepted everything (nothing to
block, the banner's "Cookie settings" control inserted after ``<body>``), and two hostile
inputs that must stay linear (each under 50 ms): 20,000 nested ``<svg>`` followed by
20,000 stray ``</desc>``, and a 250 KB tag that never closes, fed in 64-byte chunks.

Run ``python -m benchmarks.bench_rewriter [--quick]``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.pages import SIZES, TRACKER_COUNT, page
from benchmarks.report import run_alone
from consentkit.rewriter import Blocked, HTMLRewriter, RewritePlan, default_placeholder
from consentkit.trackers import Tracker, default_index

CHUNK = 64 * 1024
PLAN = RewritePlan()
ACCEPTED = RewritePlan(
    granted=frozenset({"performance", "functionality", "targeting"}),
    body_start_html='<button type="button" class="ck-settings">Cookie settings</button>',
)
TARGET_RATIO = 3.0
HOSTILE_TARGET_MS = 50.0
HOSTILE: dict[str, tuple[bytes, int]] = {
    "hostile: 20k <svg> + 20k </desc>": (b"<svg>" * 20_000 + b"</desc>" * 20_000, CHUNK),
    "hostile: 250 KB unclosed tag, 64 B chunks": (b'<div a="b" ' + b'c="d" ' * 41_666, 64),
}
INDEX = default_index()
HINTS = {"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "stylesheet"}
JS = {"", "text/javascript", "module", "application/javascript"}

Contender = Callable[[bytes], tuple[bytes, int]]


def run_consentkit(
    document: bytes, plan: RewritePlan = PLAN, chunk: int = CHUNK
) -> tuple[bytes, int]:
    """consentkit, fed in 64 KiB chunks as the middleware does."""
    rewriter = HTMLRewriter(plan, encoding="utf-8")
    parts = [rewriter.feed(document[i : i + chunk]) for i in range(0, len(document), chunk)]
    parts.append(rewriter.flush())
    return b"".join(parts), len(rewriter.stats.blocked)


def run_accepted(document: bytes) -> tuple[bytes, int]:
    """consentkit for a visitor who accepted everything: nothing to block."""
    return run_consentkit(document, ACCEPTED)


def _decide(name: str, attrs: Mapping[str, str | None], text: str) -> Tracker | None:
    """The blocking rule shared by the DOM contenders (same knowledge base as consentkit)."""
    if name == "script":
        if (attrs.get("type") or "").strip().lower() not in JS:
            return None
        src = attrs.get("src")
        tracker = INDEX.match_url(src) if src else INDEX.match_inline(text)
    elif name == "link":
        rels = set((attrs.get("rel") or "").lower().split())
        tracker = INDEX.match_url(attrs.get("href") or "") if rels & HINTS else None
    else:
        tracker = INDEX.match_url(attrs.get("src") or "")
    if tracker is None or PLAN.allows(tracker.category):
        return None
    return tracker


def _edits(name: str, attrs: Mapping[str, str | None], tracker: Tracker) -> dict[str, str | None]:
    moved = "href" if name == "link" else "src"
    new: dict[str, str | None] = {"data-ck-category": tracker.category, "data-ck-blocked": ""}
    if moved in attrs:
        new["data-ck-" + moved] = attrs[moved]
    if name == "script":
        new["data-ck-type"] = attrs.get("type") or ""
        new["type"] = "text/plain"
    if name == "iframe":
        new["hidden"] = ""
    return new


def run_selectolax(document: bytes) -> tuple[bytes, int]:
    """selectolax (lexbor): parse, edit the same elements, serialise."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(document)
    blocked = 0
    for node in tree.css("script, iframe, img, link"):
        name = node.tag or ""
        attrs = dict(node.attributes)
        tracker = _decide(name, attrs, node.text() if name == "script" else "")
        if tracker is None:
            continue
        blocked += 1
        for key, value in _edits(name, attrs, tracker).items():
            node.attrs[key] = value or ""
        moved = "href" if name == "link" else "src"
        if moved in attrs:
            del node.attrs[moved]
        if name == "iframe":
            markup = default_placeholder(Blocked("iframe", tracker.category, tracker.provider))
            holder = LexborHTMLParser(markup).body
            if holder is not None and holder.child is not None:
                node.insert_before(holder.child)
    return (tree.html or "").encode("utf-8"), blocked


def run_bs4(document: bytes) -> tuple[bytes, int]:
    """BeautifulSoup with html.parser: parse, edit the same elements, serialise."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(document, "html.parser")
    blocked = 0
    for node in soup.find_all(["script", "iframe", "img", "link"]):
        name = node.name
        attrs = {k: (" ".join(v) if isinstance(v, list) else v) for k, v in node.attrs.items()}
        tracker = _decide(name, attrs, node.string or "" if name == "script" else "")
        if tracker is None:
            continue
        blocked += 1
        for key, value in _edits(name, attrs, tracker).items():
            node[key] = value or ""
        moved = "href" if name == "link" else "src"
        if moved in node.attrs:
            del node[moved]
        if name == "iframe":
            markup = default_placeholder(Blocked("iframe", tracker.category, tracker.provider))
            node.insert_before(BeautifulSoup(markup, "html.parser"))
    return str(soup).encode("utf-8"), blocked


CONTENDERS: dict[str, Contender] = {
    "consentkit": run_consentkit,
    "selectolax": run_selectolax,
    "bs4": run_bs4,
}


def _available() -> dict[str, Contender]:
    found: dict[str, Contender] = {"consentkit": run_consentkit}
    for name, module in (("selectolax", "selectolax.lexbor"), ("bs4", "bs4")):
        try:
            __import__(module)
        except ImportError:
            print(f"({name} not installed: skipped)")
            continue
        found[name] = CONTENDERS[name]
    return found


def _verify(contenders: dict[str, Contender], document: bytes) -> None:
    counts = {name: run(document)[1] for name, run in contenders.items()}
    if set(counts.values()) != {TRACKER_COUNT}:
        raise SystemExit(f"contenders disagree on blocked elements: {counts}")


def _span(samples: list[float], size: int) -> str:
    return f"{size / max(samples) / 1e6:.0f}–{size / min(samples) / 1e6:.0f}"


def _hostile_rows(rounds: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, (document, chunk) in HOSTILE.items():
        out, _ = run_consentkit(document, chunk=chunk)
        if out != document:
            raise SystemExit(f"{label}: the rewriter changed a page it had nothing to do on")
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            run_consentkit(document, chunk=chunk)
            samples.append((time.perf_counter() - start) * 1000)
        rows.append(
            {
                "page": label,
                "bytes": len(document),
                "rounds": rounds,
                "consentkit_ms": statistics.median(samples),
                "consentkit_ms_min_max": f"{min(samples):.1f}–{max(samples):.1f}",
                "target": f"< {HOSTILE_TARGET_MS:.0f} ms",
                "met": "yes" if max(samples) < HOSTILE_TARGET_MS else "no",
            }
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Time every contender on every page; return one row per page, then the hostile rows."""
    contenders = _available()
    timed = {**contenders, "accepted": run_accepted}
    repeats = 3 if quick else 9
    sizes = {k: v for k, v in SIZES.items() if not (quick and k == "large")}
    rows: list[dict[str, Any]] = []
    for label, size in sizes.items():
        document = page(size)
        _verify(contenders, document)
        times: dict[str, list[float]] = {name: [] for name in timed}
        rounds = repeats if size < 1_000_000 else max(3, repeats // 2)
        for _ in range(rounds):
            for name, contender in timed.items():  # alternate to share machine noise
                start = time.perf_counter()
                contender(document)
                times[name].append(time.perf_counter() - start)
        row: dict[str, Any] = {
            "page": label,
            "bytes": len(document),
            "blocked": TRACKER_COUNT,
            "rounds": rounds,
        }
        for name, samples in times.items():
            row[f"{name}_mb_s"] = len(document) / statistics.median(samples) / 1e6
            row[f"{name}_min_max"] = _span(samples, len(document))
        for other in ("selectolax", "bs4"):
            if f"{other}_mb_s" in row:
                row[f"consentkit_vs_{other}"] = row["consentkit_mb_s"] / row[f"{other}_mb_s"]
        if "consentkit_vs_selectolax" in row:
            row["target"] = f">= {TARGET_RATIO:.0f}× selectolax"
            row["met"] = "yes" if row["consentkit_vs_selectolax"] >= TARGET_RATIO else "no"
        rows.append(row)
    rows.extend(_hostile_rows(3 if quick else 7))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("rewriter", __doc__, run, "fewer runs, no 3 MB page", argv)


if __name__ == "__main__":
    main()
