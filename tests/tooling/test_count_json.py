"""``benchmarks/count_json.py``: cachegrind's summary read right, runs subtracted right."""

from __future__ import annotations

import pytest

from benchmarks.count_json import one_request, parse_totals

# What cachegrind 3.19 prints to stderr at the end of a run (a short one).
REPORT = """\
==26496== Cachegrind, a cache and branch-prediction profiler
==26496== Command: /bin/true
--26496-- warning: L3 cache found, using its data for the LL simulation.
==26496== I   refs:      130,003
==26496== I1  misses:      1,091
==26496== LLi misses:      1,072
==26496== I1  miss rate:    0.84%
==26496== LLi miss rate:    0.82%
==26496==
==26496== D   refs:       40,087  (29,821 rd   + 10,266 wr)
==26496== D1  misses:      1,493  ( 1,156 rd   +    337 wr)
==26496== LLd misses:      1,330  ( 1,019 rd   +    311 wr)
==26496== D1  miss rate:     3.7% (   3.9%     +    3.3%  )
==26496== LL refs:         2,584  ( 2,247 rd   +    337 wr)
==26496== LL misses:       2,402  ( 2,091 rd   +    311 wr)
"""


def test_the_summary_totals_are_read() -> None:
    assert parse_totals(REPORT) == {
        "I": 130_003,
        "I1": 1_091,
        "LLi": 1_072,
        "D1": 1_493,
        "LLd": 1_330,
    }


def test_a_run_without_a_summary_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="I   refs"):
        parse_totals("==1== Command: python\n")


def test_one_request_is_the_difference_over_the_requests_between_runs() -> None:
    warm = {"I": 1_000, "I1": 10, "LLi": 1, "D1": 20, "LLd": 2}
    full = {"I": 5_000, "I1": 50, "LLi": 1, "D1": 60, "LLd": 6}
    one = one_request(warm, full, 4)
    assert one["I"] == 1_000
    assert one["I1"] == 10
    assert one["D1"] == 10
    assert one["LLd"] == 1
    # 1,000 instructions, 20 first-level misses at 10, 1 last-level miss at 100.
    assert one["estimate"] == 1_000 + 200 + 100
