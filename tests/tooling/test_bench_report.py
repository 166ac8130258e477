"""The benchmark report: cells, ratios, tables, failed topics and the machine header."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from benchmarks.__main__ import machine_info, parse_topics, run_topic
from benchmarks.report import (
    MACHINE_FIELDS,
    NOT_MEASURED,
    TOPICS,
    VERSION_FIELDS,
    TopicResult,
    columns_of,
    format_cell,
    from_json,
    goal_rows,
    machine_table,
    markdown_table,
    ratio,
    render_markdown,
    to_json,
    topic_section,
)

INFO: dict[str, Any] = {
    "cpu": "Test CPU @ 3.0GHz",
    "cores": 2,
    "memory_gb": 7.8,
    "os": "Linux-6",
    "python": "3.11.7",
    "consentkit_path": "compiled (consentkit_speedups)",
    "versions": {"consentkit": "0.1.0", "starlette": "0.40.0", "wrk": None, "npm klaro": "0.7.22"},
}


@pytest.mark.parametrize(
    ("value", "baseline", "expected"),
    [
        (10.0, 4.0, 2.5),
        (3, 6, 0.5),
        (0.0, 5.0, 0.0),
        (5.0, 0.0, None),
        (None, 1.0, None),
        (1.0, None, None),
        (math.nan, 1.0, None),
        (1.0, math.inf, None),
    ],
)
def test_ratio(value: float | None, baseline: float | None, expected: float | None) -> None:
    assert ratio(value, baseline) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("rps", 12345, "12,345"),
        ("rps", 12345.6, "12,346"),
        ("tracker_requests", 2.0, "2"),
        ("tracker_requests", 2.5, "2.50"),
        ("mb_s", 42.123, "42.1"),
        ("ms", 3.14159, "3.14"),
        ("cls", 0.0123456, "0.0123"),
        ("cls", 0.0, "0"),
        ("consentkit_vs_bs4", 6.632, "6.63×"),
        ("overhead_ratio", 1.0, "1.00×"),
        ("consentkit_vs_bs4", math.nan, "–"),
        ("fcp_ms", None, "–"),
        ("ok", True, "yes"),
        ("ok", False, "no"),
        ("hosts", ["a.example", "b.example"], "a.example, b.example"),
        ("hosts", [], "–"),
        ("status", "failed: a | b\nc", "failed: a \\| b c"),
    ],
)
def test_format_cell(key: str, value: Any, expected: str) -> None:
    assert format_cell(key, value) == expected


def test_columns_keep_first_appearance_order() -> None:
    rows = [{"b": 1, "a": 2}, {"c": 3, "a": 4}]
    assert columns_of(rows) == ["b", "a", "c"]


def test_markdown_table_shape_and_missing_cells() -> None:
    rows: list[dict[str, Any]] = [{"contender": "x", "visible_ms": 12.5}, {"contender": "y|z"}]
    lines = markdown_table(rows).splitlines()
    assert lines[0] == "| contender | visible ms |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| x | 12.5 |"
    assert lines[3] == "| y\\|z | – |"
    assert all(line.count("|") - line.count("\\|") == 3 for line in lines)


def test_empty_table() -> None:
    assert markdown_table([]) == "(no rows)"


def test_failed_topic_is_rendered_as_failed() -> None:
    results = [
        TopicResult("rewriter", [{"page": "small", "consentkit_vs_bs4": 6.5}], 9.0),
        TopicResult("http", [], 1.5, "ModuleNotFoundError: No module named 'benchmarks.x'"),
    ]
    text = render_markdown(results, INFO, quick=True, when="2026-01-01 00:00 UTC")
    assert "failed: http" in text
    http = text[text.index("(`http`)") :]
    assert "**FAILED**" in http
    assert "ModuleNotFoundError" in http
    rewriter = text[text.index("(`rewriter`)") : text.index("(`http`)")]
    assert "**FAILED**" not in rewriter
    assert "6.50×" in rewriter


def test_header_names_machine_versions_and_mode() -> None:
    text = render_markdown([], INFO, quick=False, when="2026-01-01 00:00 UTC")
    assert "**full** mode" in text
    assert "2026-01-01 00:00 UTC" in text
    for _, label in MACHINE_FIELDS:
        assert f"| {label} |" in text
    for name in VERSION_FIELDS:
        assert f"| {name} |" in text
    assert "| Test CPU @ 3.0GHz |" in text
    assert "| wrk | not found |" in text
    assert "| npm klaro | 0.7.22 |" in text


def test_json_keeps_raw_rows_and_errors() -> None:
    rows = [{"contender": "consentkit", "cls_max": 0.0}]
    results = [TopicResult("banner", rows, 3.0), TopicResult("store", [], 0.1, "boom")]
    data = json.loads(json.dumps(to_json(results, INFO, quick=True, when="t")))
    assert data["mode"] == "quick"
    assert data["machine"]["cores"] == 2
    assert data["topics"]["banner"] == {"ok": True, "seconds": 3.0, "error": None, "rows": rows}
    assert data["topics"]["store"]["ok"] is False
    assert data["topics"]["store"]["error"] == "boom"


def test_json_round_trip_renders_the_same_markdown() -> None:
    results = [
        TopicResult("banner", [{"contender": "consentkit", "gzip_vs_consentkit": 1.0}], 3.0),
        TopicResult("store", [], 0.5, "boom"),
        TopicResult("inject", [{"measure": "m", "value": 1}], 0.1, None, "run at noon"),
    ]
    data = json.loads(json.dumps(to_json(results, INFO, quick=False, when="t")))
    again, info, quick, when = from_json(data)
    assert again == results
    text = render_markdown(again, info, quick=quick, when=when)
    assert text == render_markdown(results, INFO, quick=False, when="t")
    assert "_Note: run at noon._" in text


def test_missing_topic_module_fails_without_raising() -> None:
    result = run_topic("no_such_topic", quick=True)
    assert not result.ok
    assert result.error is not None
    assert "ModuleNotFoundError" in result.error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, list(TOPICS)),
        ("store,banner", ["banner", "store"]),
        (" http , ", ["http"]),
    ],
)
def test_parse_topics(text: str | None, expected: list[str]) -> None:
    assert parse_topics(text) == expected


def test_parse_topics_rejects_unknown() -> None:
    with pytest.raises(SystemExit, match="nope"):
        parse_topics("http,nope")


def test_machine_info_has_every_header_field() -> None:
    info = machine_info()
    for key, _ in MACHINE_FIELDS:
        assert key in info
    assert isinstance(info["cores"], int)
    assert set(VERSION_FIELDS) - {"chromium", "wrk", "postgres"} <= set(info["versions"])
    assert info["versions"]["consentkit"]


def test_header_records_the_knowledge_base_counts() -> None:
    from benchmarks.__main__ import _knowledge_base_counts
    from consentkit.rules import knowledge_base

    counts = _knowledge_base_counts()
    assert counts.startswith(f"{len(knowledge_base()):,} cookie names and patterns")
    assert "tracker domains" in counts
    table = machine_table({**INFO, "knowledge_base": counts})
    assert f"| Knowledge base (`consentkit kb stats`) | {counts} |" in table


def _http(route: str, contender: str, ratio_: float, added: float) -> dict[str, Any]:
    return {
        "route": route,
        "contender": contender,
        "verified": True,
        "overhead_ratio": ratio_,
        "added_ms": added,
    }


def _goal_results(page_added: float, together: float = 1.03) -> list[TopicResult]:
    http = [
        {**_http("/json", "consentkit", 1.01, 0.001), "together_ratio": together},
        {**_http("/json", "consentkit-accepted", 1.02, 0.002), "together_ratio": together},
        _http("/page20", "consentkit", 2.0, page_added),
        _http("/page20", "obvious", 5.0, 1.0),
        _http("/page300", "consentkit", 2.0, page_added),
        _http("/page300", "obvious", 5.0, 1.0),
        _http("/page300", "consentkit-accepted", 3.0, 0.1),
        _http("/stream3m", "consentkit", 2.0, 10.0),
        _http("/stream3m", "obvious", 3.0, 20.0),
    ]
    rewriter = [
        {"page": "small", "consentkit_vs_selectolax": 3.5, "met": "yes"},
        {"page": "hostile", "consentkit_ms": 5.0, "met": "yes"},
    ]
    return [TopicResult("http", http), TopicResult("rewriter", rewriter)]


def _inprocess(json_added: float, share: float, refused_us: float) -> TopicResult:
    def row(route: str, visitor: str, us: float, **extra: float) -> dict[str, Any]:
        return {"route": route, "visitor": visitor, "consentkit_us": us, **extra}

    rows = [
        row("/json", "first visit", 12.0, added_us=json_added),
        row("/json", "accepted all", 12.0, added_us=json_added),
    ]
    for route in ("/page20", "/page300"):
        rows += [
            row(route, "first visit", 100.0, added_vs_naive=share),
            row(route, "accepted all", 40.0, consentkit_vs_bare=2.0),
            row(route, "necessary only", refused_us, vs_first_visit=refused_us / 100.0),
            row(route, "partial", refused_us, vs_first_visit=refused_us / 100.0),
        ]
    return TopicResult("inprocess", rows)


def _met(results: list[TopicResult]) -> dict[str, str]:
    return {row["goal"].split(".")[0]: row["met"] for row in goal_rows(results)}


def test_goal_rows_cover_every_goal_and_judge_the_figures() -> None:
    met = _met(_goal_results(0.3))
    assert list(met) == ["1", "2", "3", "4", "5", "6", "7"]
    assert [met["6"], met["7"]] == ["yes", "yes"]
    # Parts without a figure never pass: goals 1-3's in-process parts, 4's peak memory and
    # 5's injected bytes.
    assert met["1"] == met["2"] == met["3"] == met["4"] == met["5"] == NOT_MEASURED
    both = _met([*_goal_results(0.3), _inprocess(3.0, 0.3, 100.0)])
    assert [both["1"], both["2"], both["3"]] == ["yes", "yes", "yes"]
    assert _met(_goal_results(0.5))["2"] == "no"
    assert _met([*_goal_results(0.3), _inprocess(3.0, 0.4, 100.0)])["2"] == "no"
    assert _met([*_goal_results(0.3), _inprocess(6.0, 0.3, 100.0)])["1"] == "no"
    # Loaded together with its baseline, consentkit must keep 0.95× of its requests/s too.
    assert _met([*_goal_results(0.3, together=1.06), _inprocess(3.0, 0.3, 100.0)])["1"] == "no"
    without = _goal_results(0.3)
    for row in without[0].rows:
        row.pop("together_ratio", None)
    assert _met([*without, _inprocess(3.0, 0.3, 100.0)])["1"] == NOT_MEASURED
    # A refused visitor costing more than a first visit (beyond the noise margin) fails 3.
    assert _met([*_goal_results(0.3), _inprocess(3.0, 0.3, 110.0)])["3"] == "no"


def test_goal_rows_without_topics_pass_nothing() -> None:
    assert all(row["met"] != "yes" for row in goal_rows([]))
    failed = [TopicResult("http", error="boom"), TopicResult("rewriter", error="boom")]
    assert all(row["met"] != "yes" for row in goal_rows(failed))


def test_results_md_carries_the_goal_table() -> None:
    text = render_markdown(_goal_results(0.3), INFO, quick=False, when="now")
    assert "## Goals of the HTML path" in text
    assert text.index("## Goals") < text.index("## Request overhead")


def test_goals_four_and_five_read_the_inject_topic() -> None:
    inject = [
        {"measure": "injected bytes, first visit", "value": 3000, "met": "yes"},
        {"measure": "injected bytes, accepted all", "value": 5000, "met": "no"},
        {"measure": "peak memory (bytes), 3 MB streamed, consentkit", "value": 9, "met": "x"},
        {"measure": "body chunks sent before the app wrote half", "value": 3, "met": "yes"},
    ]
    rows = goal_rows([*_goal_results(0.3), TopicResult("inject", inject)])
    by_goal = {row["goal"].split(".")[0]: row for row in rows}
    assert by_goal["5"]["met"] == "no"
    assert "accepted all: 5,000 B" in by_goal["5"]["measured"]
    # The memory row's verdict counts: an unjudged one fails goal 4, a met one lets it pass.
    assert by_goal["4"]["met"] == "no"
    assert "peak memory 9 B" in by_goal["4"]["measured"]
    inject[2]["met"] = "yes"
    rows = goal_rows([*_goal_results(0.3), TopicResult("inject", inject)])
    assert {row["goal"].split(".")[0]: row for row in rows}["4"]["met"] == "yes"


def test_a_topic_shows_the_machine_speed_it_ran_at_and_keeps_it_in_json() -> None:
    result = TopicResult("wsgi", [{"route": "/json"}], 4.0, speed=(5.0, 9.25))
    section = topic_section(result)
    assert "speed probe 5.0 ms before, 9.2 ms after" in section
    again, _, _, _ = from_json(to_json([result], INFO, quick=False, when="now"))
    assert again[0].speed == (5.0, 9.25)
    assert "speed probe" not in topic_section(TopicResult("wsgi", [{"route": "/json"}], 4.0))


def test_run_topic_probes_the_machine_speed_before_and_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    import benchmarks.__main__ as entry

    probes = iter([4.0, 8.0])
    monkeypatch.setattr(entry, "speed_probe", lambda: next(probes))
    topic = types.SimpleNamespace(run=lambda quick: [{"route": "/json"}])
    monkeypatch.setattr(entry.importlib, "import_module", lambda name: topic)
    result = run_topic("fake", quick=True)
    assert result.ok
    assert result.speed == (4.0, 8.0)
    monkeypatch.undo()
    assert 0 < entry.speed_probe() < 10_000
