"""The HTTP benchmark's contender apps, and the verification that gates their timing."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from benchmarks import bench_http
from benchmarks.apps import (
    CONTENDERS,
    JSON_PAYLOAD,
    ROUTES,
    TRACKING_COOKIE,
    Contender,
    Expect,
    app_set_cookies,
    body,
    contender,
    request_cookie,
    verify,
)
from benchmarks.pages import TRACKER_COUNT

_NEEDS: dict[str, tuple[str, ...]] = {
    "obvious": ("selectolax",),
    "django": ("django",),
    "django-cookie-consent": ("django", "cookie_consent"),
}


def _app(item: Contender) -> Any:
    for module in _NEEDS.get(item.name, ()):
        pytest.importorskip(module)
    module_name, factory = item.app.split(":")
    return getattr(importlib.import_module(module_name), factory)()


def _get(item: Contender, route: str, cookie: str | None = None) -> tuple[int, list[Any], bytes]:
    # No lifespan: Django's handler refuses it, and the benchmark's servers run without it.
    client = TestClient(_app(item))
    cookie = request_cookie(item) if cookie is None else cookie
    response = client.get(route, headers={"cookie": cookie} if cookie else {})
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
    return response.status_code, headers, response.content


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("item", CONTENDERS, ids=lambda c: c.name)
def test_every_contender_passes_verification(item: Contender, route: str) -> None:
    assert verify(item.expect, route, *_get(item, route)) == []


# -- verification rejects contenders that do not do the job ---------------------------------

PAGES = [r for r in ROUTES if r != "/json"]


@pytest.mark.parametrize("route", PAGES)
@pytest.mark.parametrize("expect", ["block", "allow", "clean"])
def test_bare_app_fails_every_consent_expectation(route: str, expect: Expect) -> None:
    problems = verify(expect, route, *_get(contender("starlette"), route))
    assert problems
    assert all(p.startswith(route) for p in problems)


@pytest.mark.parametrize("route", PAGES)
def test_consentkit_with_consent_is_not_blocking(route: str) -> None:
    """The accepted state must not pass as "blocking": verification sees the difference."""
    answer = _get(contender("consentkit-accepted"), route)
    assert verify("block", route, *answer)


@pytest.mark.parametrize("route", PAGES)
def test_a_tampered_consent_cookie_is_caught(route: str) -> None:
    """A cookie the middleware rejects means no consent: "allow" must then fail."""
    item = contender("consentkit-accepted")
    forged = request_cookie(item)[:-3] + "xyz"
    assert verify("allow", route, *_get(item, route, cookie=forged))


@pytest.mark.parametrize("route", ROUTES)
def test_bare_django_does_not_pass_as_django_cookie_consent(route: str) -> None:
    problems = verify("clean", route, *_get(contender("django"), route))
    assert any("not expired" in p for p in problems)


# -- verify() on hand-made answers ----------------------------------------------------------

_BANNER = b"<aside data-ck-banner>banner</aside>"
_SESSION = ("set-cookie", "session=abc; Path=/")


def _blocked_page(count: int = TRACKER_COUNT, *, banner: bytes = _BANNER) -> bytes:
    page = body("/page20").replace(b' src="https://www.googletagmanager.com', b' data-x="')
    marks = b"".join(b"<i data-ck-blocked></i>" for _ in range(count))
    return page.replace(b"</body>", marks + banner + b"</body>")


def test_verify_accepts_a_blocking_answer() -> None:
    assert verify("block", "/page20", 200, [_SESSION], _blocked_page()) == []


@pytest.mark.parametrize(
    ("status", "headers", "data", "problem"),
    [
        (500, [_SESSION], _blocked_page(), "status 500"),
        (200, [_SESSION], _blocked_page(TRACKER_COUNT - 1), "trackers blocked"),
        (200, [_SESSION], _blocked_page(banner=b""), "no banner"),
        (
            200,
            [_SESSION],
            _blocked_page(banner=b"").replace(b"</html>", _BANNER + b"</html>"),
            "no banner",
        ),
        (200, [_SESSION, ("Set-Cookie", "_fbp=x; Path=/")], _blocked_page(), "not dropped"),
        (200, [], _blocked_page(), "necessary cookie"),
        (200, [_SESSION], b"<html>short</html>", "not the page"),
    ],
)
def test_verify_rejects_a_bad_blocking_answer(
    status: int, headers: list[tuple[str, str]], data: bytes, problem: str
) -> None:
    problems = verify("block", "/page20", status, headers, data)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "expiry",
    [
        '_fbp=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/',
        "_fbp=; Max-Age=0; Path=/",
        "_FBP=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_an_expiring_tracking_cookie_counts_as_dropped(expiry: str) -> None:
    headers = [_SESSION, ("set-cookie", expiry)]
    assert verify("block", "/page20", 200, headers, _blocked_page()) == []
    assert verify("clean", "/json", 200, headers, json.dumps(JSON_PAYLOAD).encode()) == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [(b"not json", "not JSON"), (b'{"status": "ok"}', "differs"), (b"[]", "differs")],
)
def test_verify_checks_the_json_payload(data: bytes, problem: str) -> None:
    assert any(problem in p for p in verify("serve", "/json", 200, [], data))


def test_verify_rejects_a_modified_baseline_and_unknown_routes() -> None:
    assert verify("serve", "/page20", 200, [], body("/page20") + b" ")
    assert verify("serve", "/nope", 200, [], b"")


@pytest.mark.parametrize("route", ROUTES)
def test_page_routes_set_a_session_and_a_tracking_cookie(route: str) -> None:
    status, headers, _ = _get(contender("starlette"), route)
    expected = [] if route == "/json" else app_set_cookies()
    assert status == 200
    assert [v for k, v in headers if k == "set-cookie"] == expected
    assert not expected or expected[1].startswith("=".join(TRACKING_COOKIE))


# -- report arithmetic ----------------------------------------------------------------------


def _row(route: str, name: str, rps: float | None) -> dict[str, Any]:
    return {"route": route, "contender": name, "baseline": contender(name).baseline, "rps": rps}


def _one_round(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, float]]]:
    """The samples of a run of one round that measured each row's ``rps``."""
    return {
        (r["route"], r["contender"]): [{"round": 0, "rps": r["rps"]}]
        for r in rows
        if r["rps"] is not None
    }


def test_overheads_are_relative_to_each_contenders_own_baseline() -> None:
    rows = [
        _row("/json", "starlette", 1000.0),
        _row("/json", "starlette-cookie", 950.0),
        _row("/json", "consentkit", 980.0),
        _row("/json", "consentkit-accepted", 900.0),
        _row("/json", "django", 100.0),
        _row("/json", "django-cookie-consent", 50.0),
        _row("/json", "obvious", None),
    ]
    bench_http._add_overheads(rows, _one_round(rows))
    bench_http._add_targets(rows)
    by_name = {r["contender"]: r for r in rows}
    assert by_name["consentkit"]["overhead_ratio"] == pytest.approx(1000 / 980)
    assert by_name["consentkit"]["added_ms"] == pytest.approx(1000 / 980 - 1)
    assert by_name["django-cookie-consent"]["overhead_ratio"] == pytest.approx(2.0)
    assert by_name["obvious"]["overhead_ratio"] is None
    assert by_name["consentkit"]["target_met"] is True
    # the accepted visitor's overhead is against the bare app sent the same cookie
    assert by_name["consentkit-accepted"]["overhead_ratio"] == pytest.approx(950 / 900)
    assert by_name["consentkit-accepted"]["target_met"] is False


@pytest.mark.parametrize(
    ("ck", "obvious", "dcc", "met"),
    [(900.0, 400.0, 50.0, True), (900.0, 950.0, 50.0, False), (900.0, 400.0, 95.0, False)],
)
def test_html_target_needs_less_overhead_than_both_peers(
    ck: float, obvious: float, dcc: float, met: bool
) -> None:
    rows = [
        _row("/page20", "starlette", 1000.0),
        _row("/page20", "consentkit", ck),
        _row("/page20", "obvious", obvious),
        _row("/page20", "django", 100.0),
        _row("/page20", "django-cookie-consent", dcc),
    ]
    bench_http._add_overheads(rows, _one_round(rows))
    bench_http._add_targets(rows)
    assert rows[1]["target_met"] is met


def test_html_target_is_unknown_without_a_peer() -> None:
    rows = [
        _row("/page20", "starlette", 1000.0),
        _row("/page20", "consentkit", 900.0),
        _row("/page20", "obvious", 100.0),
    ]
    bench_http._add_overheads(rows, _one_round(rows))
    bench_http._add_targets(rows)
    assert rows[1]["target_met"] is None


def test_overheads_pair_each_round_with_its_own_baseline() -> None:
    rows = [_row("/json", "starlette", 1000.0), _row("/json", "consentkit", 950.0)]
    samples = {
        ("/json", "starlette"): [
            {"round": 0, "rps": 1000.0},
            {"round": 1, "rps": 800.0},
            {"round": 2, "rps": 1200.0},
        ],
        # round 1 lost for consentkit: it is left out, not paired with round 2's baseline
        ("/json", "consentkit"): [{"round": 0, "rps": 950.0}, {"round": 2, "rps": 1000.0}],
    }
    bench_http._add_overheads(rows, samples)
    assert "round_ratios" not in rows[0]
    assert rows[1]["round_ratios"] == f"{1000 / 950:.2f}–{1200 / 1000:.2f}×"
    assert rows[1]["overhead_ratio"] == pytest.approx((1000 / 950 + 1200 / 1000) / 2)


def test_a_drifting_machine_cancels_out_of_the_paired_ratio() -> None:
    # The machine slows down over the run; each round, consentkit costs 2% more than bare.
    # The medians of the two columns come from different rounds; the pairs do not.
    speeds = [1000.0, 700.0, 640.0, 1100.0, 900.0]
    samples = {
        ("/json", "starlette"): [{"round": i, "rps": v} for i, v in enumerate(speeds)],
        ("/json", "consentkit"): [{"round": i, "rps": v / 1.02} for i, v in enumerate(speeds)],
    }
    rows = [_row("/json", "starlette", 900.0), _row("/json", "consentkit", 700.0 / 1.02)]
    bench_http._add_overheads(rows, samples)
    assert rows[1]["overhead_ratio"] == pytest.approx(1.02)
    assert rows[1]["round_ratios"] == "1.02–1.02×"
    assert rows[1]["added_ms"] == pytest.approx(1000 / (900 / 1.02) - 1000 / 900)


@pytest.mark.parametrize(
    ("cores", "servers", "load"),
    [({0, 1}, {0}, {1}), ({2, 5, 7}, {2}, {5, 7}), ({3}, {3}, {3})],
)
def test_servers_and_wrk_get_cores_of_their_own(
    monkeypatch: pytest.MonkeyPatch, cores: set[int], servers: set[int], load: set[int]
) -> None:
    monkeypatch.setattr(bench_http.os, "sched_getaffinity", lambda pid: cores)
    assert bench_http._cpus() == (frozenset(servers), frozenset(load))


def test_wrk_runs_one_thread_per_core_it_has() -> None:
    server = bench_http.Server(contender("starlette"), 1, None, None)  # type: ignore[arg-type]
    command = bench_http._wrk_command(server, "/json", 3, bench_http.ROOT)
    assert f"--threads={len(bench_http.WRK_CPUS)}" in command


def test_extra_json_rounds_time_consentkit_and_its_baselines_only() -> None:
    assert {
        "consentkit",
        "consentkit-accepted",
        "starlette",
        "starlette-cookie",
    } == bench_http._JSON_EXTRA


def _names(servers: list[bench_http.Server]) -> list[str]:
    return [s.contender.name for s in servers]


@pytest.mark.parametrize("extra", [False, True])
def test_each_contender_takes_its_turn_next_to_its_baseline(extra: bool) -> None:
    servers = [
        bench_http.Server(item, 0, None, None)  # type: ignore[arg-type]
        for item in CONTENDERS
        if not extra or item.name in bench_http._JSON_EXTRA
    ]
    before: dict[str, int] = {}
    firsts = set()
    for round_ in range(4):
        order = _names(bench_http.round_order(servers, round_))
        assert sorted(order) == sorted(_names(servers))
        firsts.add(order[0])
        for item in (s.contender for s in servers):
            if item.baseline:
                gap = order.index(item.name) - order.index(item.baseline)
                assert abs(gap) == 1, (round_, order)
                before[item.name] = before.get(item.name, 0) + (gap < 0)
    # Before the baseline in half of the rounds, after it in the other half.
    assert set(before.values()) == {2}
    assert len(firsts) > 1
