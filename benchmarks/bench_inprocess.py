"""Microseconds per request, in process: bare, the naive blocker and consentkit, per visitor.

The same Starlette app as the ``http`` topic, called straight through ASGI (no server, no
sockets), so the figure is what each consent layer adds to one request on one core. The
three contenders are called in turn inside every round, and so are all the visitor states
of one route, so a busy moment of the machine falls on all of them alike; each takes about
40 ms per round (so a fast contender makes more calls, not a few cold ones right after the
naive blocker's), and each figure is the median of the rounds' means, with their min-max.
A decided visitor's ``vs_first_visit`` is the median of its round-by-round ratio to the
first visit on the same page, with the lowest and highest round in
``vs_first_visit_rounds``. Before timing, every answer is checked:
first visits and refusals block every tracker and carry the banner, accepted visitors keep
every tracker.

Visitor states: a first visit without cookies, a first visit whose browser still sends
``_fbp`` (its deletion lines are written), accepted all, necessary only (everything
refused) and partial (performance granted, targeting refused).

Goals read here: 1 (non-HTML: at most +5 µs for a decided visitor and for a first visit
without cookies) and 3 (refused and partial choices cost no more than a first visit).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from benchmarks.apps import SECRET, TRACKING_COOKIE, asgi_scope, body
from benchmarks.apps.starlette_apps import (
    COOKIE_NAME,
    bare_app,
    consent_cookie,
    consentkit_app,
    obvious_app,
    policy,
)
from benchmarks.pages import TRACKER_COUNT
from benchmarks.report import run_alone
from consentkit.categories import CATEGORIES, Action, Category
from consentkit.decision import ConsentCodec, StoredConsent

Message = MutableMapping[str, Any]
ASGI = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

JSON_ADDED_TARGET_US: Final = 5.0
"""Goal 1: what consentkit may add to a non-HTML answer, in microseconds."""

_BLOCK_MARK: Final = b"data-ck-blocked"
_BANNER_MARK: Final = b"data-ck-banner"


def decided_cookie(granted: frozenset[Category], action: Action) -> str:
    """A ``Cookie`` header with a signed decision granting *granted* (plus necessary)."""
    pol = policy()
    granted = granted | {"necessary"}
    stored = StoredConsent(
        consent_id="bench-0123456789abcdef",
        granted=granted,
        refused=frozenset(CATEGORIES) - granted,
        revision=pol.revision,
        decided_at=datetime.now(UTC),
        fingerprints={c: pol.fingerprint(c) for c in CATEGORIES},
        action=action,
    )
    return f"{COOKIE_NAME}={ConsentCodec(SECRET, site=pol.site_id).dumps(stored)}"


def visitors() -> dict[str, tuple[str | None, str]]:
    """Visitor state -> (``Cookie`` header or ``None``, what its pages must show: ``block``
    every tracker and the banner, ``allow`` every tracker, ``refuse`` block every tracker
    without a banner, ``partial`` block some)."""
    return {
        "first visit": (None, "block"),
        "first visit, sends _fbp": ("=".join(TRACKING_COOKIE), "block"),
        "accepted all": (consent_cookie(), "allow"),
        "necessary only": (decided_cookie(frozenset(), "reject_all"), "refuse"),
        "partial": (decided_cookie(frozenset({"performance"}), "save"), "partial"),
    }


ROUTE_VISITORS: Final = {
    "/json": ("first visit", "first visit, sends _fbp", "accepted all"),
    "/page20": ("first visit", "accepted all", "necessary only", "partial"),
    "/page300": ("first visit", "accepted all", "necessary only", "partial"),
}
"""The visitor states timed on each route; one route's states share their rounds."""

CASES: Final = tuple(
    (route, visitor) for route, states in ROUTE_VISITORS.items() for visitor in states
)


async def _call(app: ASGI, scope: Message) -> bytes:
    chunks: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(dict(scope, headers=list(scope["headers"])), receive, send)
    return b"".join(chunks)


def _check(name: str, route: str, visitor: str, expect: str, data: bytes) -> None:
    """Refuse to time a contender whose answer does not do its job."""
    if route == "/json" or name == "bare":
        if data != body(route):
            raise SystemExit(f"{name} {route} ({visitor}): body differs from the app's")
        return
    blocked = data.count(_BLOCK_MARK)
    if expect == "allow" and blocked:
        raise SystemExit(f"{name} {route} ({visitor}): {blocked} trackers blocked despite consent")
    if expect in ("block", "refuse") and blocked < TRACKER_COUNT:
        raise SystemExit(f"{name} {route} ({visitor}): {blocked} of {TRACKER_COUNT} blocked")
    if expect == "partial" and not 0 < blocked < TRACKER_COUNT:
        raise SystemExit(f"{name} {route} ({visitor}): {blocked} blocked, expected some")
    if expect == "block" and _BANNER_MARK not in data:
        raise SystemExit(f"{name} {route} ({visitor}): no banner on a first visit")


def contenders() -> dict[str, ASGI]:
    """The apps timed against each other, by name."""
    return {"bare": bare_app(), "naive": obvious_app(), "consentkit": consentkit_app()}


async def verify(apps: dict[str, ASGI], states: dict[str, tuple[str | None, str]]) -> None:
    """Call every contender once per case and check its answer (``SystemExit`` if wrong)."""
    for route, visitor in CASES:
        cookie, expect = states[visitor]
        scope = asgi_scope(route, cookie)
        for name, app in apps.items():
            _check(name, route, visitor, expect, await _call(app, scope))


async def _calls_per_round(apps: dict[str, ASGI], scope: Message, quick: bool) -> dict[str, int]:
    """About 40 ms of each contender per round: a fast contender's turn is not a few calls
    made cold right after the naive blocker's (whose pages evict the caches)."""
    calls: dict[str, int] = {}
    for name, app in apps.items():
        start = time.perf_counter()
        for _ in range(3):
            await _call(app, scope)
        each = max((time.perf_counter() - start) / 3, 1e-6)
        calls[name] = max(3, min(5_000, int(0.04 / each)))
        if quick:
            calls[name] = max(3, calls[name] // 4)
    return calls


def _paired(own: Sequence[float], reference: Sequence[float]) -> tuple[float, str]:
    """Median and min-max of round-by-round ratios *own* / *reference*."""
    ratios = [a / b for a, b in zip(own, reference, strict=True)]
    return round(statistics.median(ratios), 3), f"{min(ratios):.2f}–{max(ratios):.2f}×"


async def _measure_route(
    apps: dict[str, ASGI],
    route: str,
    states: dict[str, tuple[str | None, str]],
    rounds: int,
    quick: bool,
) -> list[dict[str, Any]]:
    """Every visitor state of *route*, all in the same rounds: within a round each state's
    contenders take their turn, so a decided visitor is compared with the first visit of
    the same round, not with one timed seconds earlier on a machine running at another
    speed."""
    visitors = ROUTE_VISITORS[route]
    scopes = {visitor: asgi_scope(route, states[visitor][0]) for visitor in visitors}
    calls = {visitor: await _calls_per_round(apps, scopes[visitor], quick) for visitor in visitors}
    means: dict[tuple[str, str], list[float]] = {
        (visitor, name): [] for visitor in visitors for name in apps
    }
    for _ in range(rounds):
        for visitor in visitors:
            for name, app in apps.items():
                count = calls[visitor][name]
                start = time.perf_counter()
                for _ in range(count):
                    await _call(app, scopes[visitor])
                means[visitor, name].append((time.perf_counter() - start) / count * 1e6)
    rows: list[dict[str, Any]] = []
    for visitor in visitors:
        median = {name: statistics.median(means[visitor, name]) for name in apps}
        added = median["consentkit"] - median["bare"]
        naive_added = median["naive"] - median["bare"]
        ck = means[visitor, "consentkit"]
        row: dict[str, Any] = {
            "route": route,
            "visitor": visitor,
            "rounds": rounds,
            "calls_per_round": calls[visitor]["consentkit"],
            "bare_us": round(median["bare"], 1),
            "naive_us": round(median["naive"], 1),
            "consentkit_us": round(median["consentkit"], 1),
            "consentkit_min_max": f"{min(ck):.0f}–{max(ck):.0f}",
            "added_us": round(added, 1),
            "naive_added_us": round(naive_added, 1),
            "added_vs_naive": round(added / naive_added, 3) if naive_added > 0 else None,
            "consentkit_vs_bare": round(median["consentkit"] / median["bare"], 2),
        }
        if visitor != "first visit" and "first visit" in visitors:
            row["vs_first_visit"], row["vs_first_visit_rounds"] = _paired(
                ck, means["first visit", "consentkit"]
            )
        rows.append(row)
    return rows


async def _measure(quick: bool) -> list[dict[str, Any]]:
    apps = contenders()
    states = visitors()
    await verify(apps, states)
    rounds = 3 if quick else 15
    rows: list[dict[str, Any]] = []
    for route in ROUTE_VISITORS:
        rows += await _measure_route(apps, route, states, rounds, quick)
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """One row per route and visitor state."""
    return asyncio.run(_measure(quick))


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("inprocess", __doc__, run, "fewer rounds and calls", argv)


if __name__ == "__main__":
    main()
