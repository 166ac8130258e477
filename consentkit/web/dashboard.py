"""The consent dashboard served at ``GET {prefix}/admin``.

Everything is computed from the receipt store's :meth:`~consentkit.stores.ReceiptStore.stats`
and drawn on the server as inline SVG: no script, font or stylesheet is fetched from
anywhere. Every chart has a ``<title>``, a description and a table with the same numbers,
so it reads without sight and without SVG. Bars and points carry ``data-*`` attributes
(``data-count``, ``data-rate``...) for tests and for people who scrape their own dashboard.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final, Protocol

import jinja2

from ..categories import ACTIONS, OPTIONAL_CATEGORIES
from ..errors import StoreError
from ..receipts import Receipt
from ..services import SERVICE_ENTRY_PREFIX, ServiceIndex
from ..stores.base import ReceiptStore, Stats
from .templates import environment
from .unclassified import scan_context

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "parse_days", "render_dashboard", "scan_context"]

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 366
RECENT: Final = 20
_MAX_BUCKETS: Final = 31
_PERIODS: Final = (7, 30, 90, 365)
_COLOURS: Final[Mapping[str, str]] = {
    "accept_all": "#15803d",
    "save": "#1d4ed8",
    "reject_all": "#b91c1c",
    "withdraw": "#6b7280",
    "gpc": "#b45309",
    "performance": "#1d4ed8",
    "functionality": "#0f766e",
    "targeting": "#7e22ce",
}
_OTHER_COLOUR: Final = "#374151"
# Chart geometry, in SVG user units.
_WIDTH: Final = 720
_HEIGHT: Final = 240
_LEFT: Final = 48
_RIGHT: Final = 12
_TOP: Final = 12
_BOTTOM: Final = 36
_ROW: Final = 26
_LABEL_W: Final = 150


class _Undeclared(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime: ...


class _Report(Protocol):
    def snapshot(self) -> list[tuple[str, int, datetime]]: ...
    def undeclared(self) -> Sequence[_Undeclared]: ...

    def hosts(self) -> list[tuple[str, str, int, datetime]]: ...


class _Settings(Protocol):
    @property
    def prefix(self) -> str: ...


class _Policy(Protocol):
    @property
    def revision(self) -> str: ...

    @property
    def service_index(self) -> ServiceIndex: ...


class DashboardSource(Protocol):
    """What the dashboard reads: the store, the cookie report, the scan store URL, settings,
    policy."""

    @property
    def store(self) -> ReceiptStore | None: ...

    @property
    def unclassified(self) -> _Report: ...

    @property
    def scan_store_url(self) -> str | None: ...

    @property
    def settings(self) -> _Settings: ...

    @property
    def policy(self) -> _Policy: ...


# -- view models -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """One bar (``rect``) or point (``circle``) with its accessible title and data."""

    kind: str
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    data: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Text:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True, slots=True)
class _Line:
    points: str
    colour: str
    key: str


@dataclass
class _Chart:
    """A chart and the table that says the same."""

    key: str
    title: str
    description: str
    height: int
    shapes: list[_Shape] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)
    texts: list[_Text] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    width: int = _WIDTH


@dataclass(frozen=True, slots=True)
class _Bucket:
    start: datetime
    end: datetime
    stats: Stats

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        if last.date() == self.start.date():
            return self.start.strftime("%Y-%m-%d")
        return f"{self.start:%Y-%m-%d} to {last:%m-%d}"

    @property
    def short(self) -> str:
        return self.start.strftime("%m-%d")


# -- entry point -------------------------------------------------------------------------


def parse_days(value: str | None) -> int:
    """The period in days from the ``days`` query value; bad values give the default."""
    if value is None:
        return DEFAULT_DAYS
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        return DEFAULT_DAYS
    return min(max(int(value), 1), MAX_DAYS)


def render_dashboard(mw: DashboardSource, days: str | None, *, now: datetime | None = None) -> str:
    """The dashboard page for the last *days* days (the raw ``days`` query value).

    Synchronous (the store is): call it from a worker thread. A store that cannot be
    read gives a page saying so, not an exception.
    """
    period = parse_days(days)
    now = now or datetime.now(UTC)
    prefix = mw.settings.prefix
    context: dict[str, Any] = {
        "prefix": prefix,
        "days": period,
        "periods": _PERIODS,
        "now": _fmt_time(now),
        "revision": mw.policy.revision,
        "unclassified": [
            (name, count, _fmt_time(first)) for name, count, first in mw.unclassified.snapshot()
        ],
        "undeclared": undeclared_rows(mw.unclassified),
        "scan": scan_context(mw.scan_store_url),
        "unknown_hosts": [
            (host, kind, count, _fmt_time(first))
            for host, kind, count, first in mw.unclassified.hosts()
        ],
        "exports": [
            (fmt.upper(), f"{prefix}/admin/export?format={fmt}")
            for fmt in ("csv", "ndjson", "json")
        ],
        "error": None,
        "spooled": None,
    }
    store = mw.store
    if store is None:
        context["error"] = "No receipt store is configured: nothing is recorded."
        return _env().get_template("dashboard.html").render(context)
    try:
        context.update(_store_context(store, period, now, mw.policy.service_index))
    except StoreError as exc:
        context["error"] = f"The receipt store could not be read: {exc}"
    return _env().get_template("dashboard.html").render(context)


@cache
def _env() -> jinja2.Environment:
    return environment()


def _store_context(
    store: ReceiptStore, period: int, now: datetime, services: ServiceIndex
) -> dict[str, Any]:
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    start = end - timedelta(days=period)
    total = store.stats(since=start, until=end)
    buckets = _buckets(store, start, end, period)
    pending = getattr(store, "pending", None)
    return {
        "total": total.total,
        "rates": [(c, _percent(total.consent_rate(c))) for c in OPTIONAL_CATEGORIES],
        "charts": [
            _actions_over_time(buckets),
            _rates_over_time(buckets),
            _actions_chart(total),
            _rates_chart(total),
            _services_chart(total, services),
        ],
        "breakdowns": [
            _count_chart(
                "jurisdiction", "Decisions by jurisdiction", "Region", total.jurisdictions
            ),
            _count_chart("language", "Decisions by language", "Language", total.languages),
        ],
        "recent": [_recent_row(r) for r in _recent(store, now)],
        "spooled": pending() if callable(pending) else None,
        "period_label": f"{start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d} (UTC)",
    }


def _buckets(store: ReceiptStore, start: datetime, end: datetime, period: int) -> list[_Bucket]:
    width = max(1, math.ceil(period / _MAX_BUCKETS))
    buckets: list[_Bucket] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + timedelta(days=width), end)
        buckets.append(_Bucket(cursor, stop, store.stats(since=cursor, until=stop)))
        cursor = stop
    return buckets


def _recent(store: ReceiptStore, now: datetime) -> list[Receipt]:
    """The newest receipts, newest first, reading only a recent window when it suffices."""
    windows = (timedelta(hours=1), timedelta(days=1), timedelta(days=30), timedelta(days=365))
    for window in (*windows, None):
        since = now - window if window is not None else None
        if window is not None and store.count(since=since) < RECENT:
            continue
        newest: deque[Receipt] = deque(maxlen=RECENT)
        newest.extend(store.iter_receipts(since=since, batch_size=200))
        return list(reversed(newest))
    return []  # pragma: no cover - the last window always returns


def _recent_row(receipt: Receipt) -> dict[str, str]:
    consent_id = receipt.consent_id
    return {
        "time": _fmt_time(receipt.timestamp),
        "action": receipt.action,
        "granted": ", ".join(c for c in receipt.granted if c != "necessary") or "necessary only",
        "jurisdiction": receipt.jurisdiction,
        "language": receipt.language,
        "consent": consent_id[:8] + "…" if len(consent_id) > 8 else consent_id,
        "receipt": receipt.receipt_id[:8],
    }


# -- undeclared cookies ------------------------------------------------------------------


def undeclared_rows(report: _Report) -> list[dict[str, str]]:
    """Rows of the middleware's undeclared-cookie table."""
    return [
        {
            "name": c.name,
            "category": c.category,
            "provider": c.provider or "-",
            "count": str(c.count),
            "first": _fmt_time(c.first_seen),
            "last": _fmt_time(c.last_seen),
        }
        for c in report.undeclared()
    ]


# -- charts ------------------------------------------------------------------------------


def _actions_in(stats_list: Iterable[Stats]) -> list[str]:
    seen: set[str] = set()
    for stats in stats_list:
        seen.update(stats.actions)
    known = [a for a in ACTIONS if a in seen]
    return known + sorted(seen - set(known))


def _y_grid(maximum: int) -> tuple[int, list[int]]:
    """A round top for the y axis and the values of its grid lines."""
    top = max(maximum, 1)
    step = max(1, math.ceil(top / 4))
    top = step * math.ceil(top / step)
    return top, list(range(0, top + 1, step))


def _actions_over_time(buckets: Sequence[_Bucket]) -> _Chart:
    actions = _actions_in(b.stats for b in buckets)
    chart = _Chart(
        key="actions-over-time",
        title="Decisions over time, by action",
        description="Stacked bars: how many visitors accepted, saved, rejected or withdrew, "
        "per period.",
        height=_HEIGHT,
        legend=[(a, _colour(a)) for a in actions],
        head=["Period", *actions, "Total"],
    )
    top, grid = _y_grid(max((b.stats.total for b in buckets), default=0))
    plot_h = _HEIGHT - _TOP - _BOTTOM
    slot = (_WIDTH - _LEFT - _RIGHT) / max(len(buckets), 1)
    bar_w = max(slot * 0.7, 1.0)
    for value in grid:
        y = _TOP + plot_h - plot_h * value / top
        chart.grid.append(y)
        chart.texts.append(_Text(_LEFT - 6, y + 4, str(value), "end"))
    label_every = max(1, math.ceil(len(buckets) / 10))
    for index, bucket in enumerate(buckets):
        x = _LEFT + slot * index + (slot - bar_w) / 2
        base: float = _TOP + plot_h
        for action in actions:
            count = bucket.stats.actions.get(action, 0)
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            chart.shapes.append(
                _Shape(
                    "rect", x, base, bar_w, h, _colour(action),
                    f"{bucket.label}: {count} {action}",
                    {"bucket": bucket.start.strftime("%Y-%m-%d"), "action": action,
                     "count": str(count)},
                )
            )  # fmt: skip
        if index % label_every == 0:
            chart.texts.append(_Text(x + bar_w / 2, _HEIGHT - _BOTTOM + 16, bucket.short, "middle"))
        chart.rows.append(
            [bucket.label, *(str(bucket.stats.actions.get(a, 0)) for a in actions),
             str(bucket.stats.total)]
        )  # fmt: skip
    return chart


def _rates_over_time(buckets: Sequence[_Bucket]) -> _Chart:
    chart = _Chart(
        key="rates-over-time",
        title="Consent rate over time, by category",
        description="Share of decisions granting each category, per period; periods without "
        "decisions have no point.",
        height=_HEIGHT,
        legend=[(c, _colour(c)) for c in OPTIONAL_CATEGORIES],
        head=["Period", *(f"{c} (granted / decided)" for c in OPTIONAL_CATEGORIES)],
    )
    plot_h = _HEIGHT - _TOP - _BOTTOM
    slot = (_WIDTH - _LEFT - _RIGHT) / max(len(buckets), 1)
    for value in (0, 25, 50, 75, 100):
        y = _TOP + plot_h - plot_h * value / 100
        chart.grid.append(y)
        chart.texts.append(_Text(_LEFT - 6, y + 4, f"{value}%", "end"))
    label_every = max(1, math.ceil(len(buckets) / 10))
    for index, bucket in enumerate(buckets):
        if index % label_every == 0:
            x = _LEFT + slot * index + slot / 2
            chart.texts.append(_Text(x, _HEIGHT - _BOTTOM + 16, bucket.short, "middle"))
    for category in OPTIONAL_CATEGORIES:
        points: list[str] = []
        for index, bucket in enumerate(buckets):
            granted = bucket.stats.granted.get(category, 0)
            decided = granted + bucket.stats.refused.get(category, 0)
            if not decided:
                continue
            rate = granted / decided
            x = _LEFT + slot * index + slot / 2
            y = _TOP + plot_h - plot_h * rate
            points.append(f"{x:.1f},{y:.1f}")
            chart.shapes.append(
                _Shape(
                    "circle", x, y, 3.5, 0, _colour(category),
                    f"{bucket.label}: {category} granted by {granted} of {decided} "
                    f"({_percent(rate)})",
                    {"bucket": bucket.start.strftime("%Y-%m-%d"), "category": category,
                     "count": str(granted), "decided": str(decided),
                     "rate": _rate_value(rate)},
                )
            )  # fmt: skip
        if len(points) > 1:
            chart.lines.append(_Line(" ".join(points), _colour(category), category))
    for bucket in buckets:
        cells = []
        for category in OPTIONAL_CATEGORIES:
            granted = bucket.stats.granted.get(category, 0)
            decided = granted + bucket.stats.refused.get(category, 0)
            cells.append(f"{granted} / {decided}" if decided else "-")
        chart.rows.append([bucket.label, *cells])
    return chart


def _hbars(
    key: str,
    title: str,
    description: str,
    head: list[str],
    items: Sequence[tuple[str, float, str, Mapping[str, str], str]],
) -> _Chart:
    """Horizontal bars: ``(label, share of the full width, value text, data, colour)``."""
    height = _TOP * 2 + _ROW * max(len(items), 1)
    chart = _Chart(key=key, title=title, description=description, height=height, head=head)
    span = _WIDTH - _LABEL_W - _RIGHT - 80
    for index, (label, share, value, data, colour) in enumerate(items):
        y = _TOP + _ROW * index
        chart.texts.append(_Text(_LABEL_W - 8, y + _ROW / 2 + 4, label, "end"))
        width = max(span * share, 0.0)
        chart.shapes.append(
            _Shape("rect", _LABEL_W, y + 4, width, _ROW - 8, colour, f"{label}: {value}", data)
        )
        chart.texts.append(_Text(_LABEL_W + width + 6, y + _ROW / 2 + 4, value))
    if not items:
        chart.texts.append(_Text(_WIDTH / 2, _TOP + _ROW / 2 + 4, "No decisions yet", "middle"))
    return chart


def _actions_chart(total: Stats) -> _Chart:
    actions = _actions_in([total])
    top = max((total.actions.get(a, 0) for a in actions), default=0) or 1
    items = [
        (a, total.actions[a] / top, str(total.actions[a]),
         {"action": a, "count": str(total.actions[a])}, _colour(a))
        for a in actions
    ]  # fmt: skip
    chart = _hbars(
        "actions-total",
        "Decisions by action",
        "How many decisions of each kind were recorded in the period.",
        ["Action", "Decisions"],
        items,
    )
    chart.rows = [[a, str(total.actions[a])] for a in actions]
    return chart


def _rates_chart(total: Stats) -> _Chart:
    rates = [
        (c, c, c, (), total.granted.get(c, 0), total.granted.get(c, 0) + total.refused.get(c, 0))
        for c in OPTIONAL_CATEGORIES
    ]
    return _rate_bars(
        "rates-total",
        "Consent rate by category",
        "Share of decisions in the period that granted each category.",
        ["Category", "Granted", "Decided", "Rate"],
        "category",
        rates,
    )


def _services_chart(total: Stats, services: ServiceIndex) -> _Chart:
    """Acceptance per service: allowed when granted on its own, or with its category
    unless refused on its own (receipts list only such exceptions, as ``service:<id>``)."""
    rates = []
    for service in services.services:
        entry = SERVICE_ENTRY_PREFIX + service.id
        with_category = total.granted.get(service.category, 0)
        decided = with_category + total.refused.get(service.category, 0)
        allowed = with_category - total.refused.get(entry, 0) + total.granted.get(entry, 0)
        rates.append(
            (service.name, service.id, service.category, (service.category,), allowed, decided)
        )
    return _rate_bars(
        "services-total",
        "Consent rate by service",
        "Share of decisions in the period that allowed each service.",
        ["Service", "Category", "Allowed", "Decided", "Rate"],
        "service",
        rates,
    )


def _rate_bars(
    key: str,
    title: str,
    description: str,
    head: list[str],
    data_key: str,
    rates: Sequence[tuple[str, str, str, tuple[str, ...], int, int]],
) -> _Chart:
    """Bars of ``(label, data value, colour key, extra cells, granted, decided)``: the
    share granted."""
    items = []
    rows = []
    for label, value, colour, extra, granted, decided in rates:
        rate = granted / decided if decided else 0.0
        text = f"{_percent(rate)} ({granted} of {decided})" if decided else "no decisions"
        items.append(
            (label, rate, text,
             {data_key: value, "count": str(granted), "decided": str(decided),
              "rate": _rate_value(rate) if decided else ""},
             _colour(colour))
        )  # fmt: skip
        rows.append([label, *extra, str(granted), str(decided), _percent(rate) if decided else "-"])
    chart = _hbars(key, title, description, head, items)
    chart.rows = rows
    return chart


def _count_chart(key: str, title: str, column: str, counts: Mapping[str, int]) -> _Chart:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ordered[0][1] if ordered else 1
    items = [
        (name or "(none)", n / top, str(n), {key: name, "count": str(n)}, _OTHER_COLOUR)
        for name, n in ordered
    ]
    chart = _hbars(
        key, title, f"Decisions in the period per {column.lower()}.", [column, "Decisions"], items
    )
    chart.rows = [[name or "(none)", str(n)] for name, n in ordered]
    return chart


# -- formatting --------------------------------------------------------------------------


def _colour(key: str) -> str:
    return _COLOURS.get(key, _OTHER_COLOUR)


def _percent(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate * 100:.0f}%"


def _rate_value(rate: float) -> str:
    return f"{rate:.4f}"


def _fmt_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
