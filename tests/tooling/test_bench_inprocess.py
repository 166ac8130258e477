"""The in-process benchmark times only answers that do their job, for the visitor it names."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import bench_inprocess
from benchmarks.apps import asgi_scope


def test_every_contender_answers_every_case_as_expected() -> None:
    asyncio.run(bench_inprocess.verify(bench_inprocess.contenders(), bench_inprocess.visitors()))


def test_a_decision_the_middleware_would_not_read_is_refused() -> None:
    # An "accepted all" cookie signed with another key reads as no decision: the page comes
    # back blocked, and the benchmark must refuse to time it under the accepted label.
    states = bench_inprocess.visitors()
    forged = bench_inprocess.decided_cookie(
        frozenset({"performance", "functionality", "targeting"}), "accept_all"
    )
    name, _, value = forged.partition("=")
    states["accepted all"] = (f"{name}={value[:-4]}AAAA", "allow")
    with pytest.raises(SystemExit, match="blocked despite consent"):
        asyncio.run(bench_inprocess.verify(bench_inprocess.contenders(), states))


def test_refused_visitors_are_read_as_decided() -> None:
    # A refusal must not be measured as a first visit: no banner is shown once decided.
    apps = bench_inprocess.contenders()
    states = bench_inprocess.visitors()
    for visitor in ("necessary only", "partial"):
        cookie, _ = states[visitor]
        body = asyncio.run(bench_inprocess._call(apps["consentkit"], asgi_scope("/page20", cookie)))
        first = asyncio.run(bench_inprocess._call(apps["consentkit"], asgi_scope("/page20", None)))
        assert b"data-ck-blocked" in body
        assert len(body) < len(first), visitor


def test_decided_visitors_are_paired_with_the_first_visit_of_their_round() -> None:
    # The machine slows down by half in round 2: paired by round the refusal costs 1.1×
    # a first visit in both rounds, whatever the medians of the two columns say.
    ratio, spread = bench_inprocess._paired([110.0, 330.0], [100.0, 300.0])
    assert (ratio, spread) == (1.1, "1.10–1.10×")
    with pytest.raises(ValueError, match="longer than argument 1"):
        bench_inprocess._paired([1.0], [1.0, 2.0])


def test_every_case_is_timed_with_the_first_visit_of_its_page() -> None:
    for route, visitor in bench_inprocess.CASES:
        assert visitor in bench_inprocess.ROUTE_VISITORS[route]
        if route != "/json":
            assert "first visit" in bench_inprocess.ROUTE_VISITORS[route]
