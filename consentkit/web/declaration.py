"""The cookie declaration: the site's declared cookies plus those seen on its responses.

A site's declaration lists what it really uses, not every cookie the knowledge base
knows. Rows come from two places: the policy's own ``[[cookies]]`` rules, and cookie
names observed in ``Set-Cookie`` lines of the site's responses (kept or dropped: the
site tried to set them). The knowledge base only supplies an observed cookie's
category, provider, purpose and retention.

Observations live in memory, per process: after a restart the declaration starts again
from the declared cookies and fills as pages are served. They are not written to the
receipt store, which holds only receipts (declare a cookie in the policy to list it
from the start).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ..categories import CATEGORIES, Category
from ..policy import Policy
from ..rules import CookieRule

__all__ = ["CookieRow", "Declaration", "ObservedCookie"]

MAX_OBSERVED: Final = 1024
"""Distinct observed names kept; a site that sets more (e.g. names built from input)
lists the first ones only, so the declaration and memory stay bounded."""


@dataclass(frozen=True, slots=True)
class CookieRow:
    """One line of the declaration as pages show it."""

    name: str
    provider: str
    purpose: str
    retention: str


@dataclass(frozen=True, slots=True)
class ObservedCookie:
    """A cookie name seen in a response, how it was classified, and when."""

    name: str
    category: Category
    rule: CookieRule | None
    first_seen: datetime
    last_seen: datetime


def row_of(rule: CookieRule, name: str | None = None) -> CookieRow:
    """Display values of a rule; a prefix rule shows as ``name*`` unless a real name is given."""
    shown = name or (rule.name + "*" if rule.match == "prefix" else rule.name)
    return CookieRow(shown, rule.provider, rule.purpose, rule.retention)


class Declaration:
    """Declared and observed cookies per category; thread-safe, shared by one middleware."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._observed: dict[str, tuple[Category, CookieRule | None, float, float]] = {}
        self._rows: dict[Category, tuple[CookieRow, ...]] = {}
        self._services: set[str] = set()
        self.version = 0
        """Bumped when a new name is observed: renders cached before it are stale."""

    def observe(self, names: Sequence[str]) -> None:
        """Record cookie names a response set; new names are classified once. When each
        name was last seen is kept to the second: most responses change nothing."""
        now = time.time()
        observed = self._observed
        for name in names:
            known = observed.get(name)
            if known is None or now - known[3] >= 1.0:
                break
        else:
            return
        with self._lock:
            for name in names:
                known = self._observed.get(name)
                if known is not None:
                    self._observed[name] = (known[0], known[1], known[2], now)
                    continue
                if len(self._observed) >= MAX_OBSERVED:
                    continue
                found = self.policy.classify(name)
                category = self.policy.required_category(name)
                self._observed[name] = (category, found.rule, now, now)
                self._rows.clear()
                self.version += 1

    def observe_services(self, ids: Iterable[str]) -> None:
        """Record services a page embeds (bounded like cookie names)."""
        new = [i for i in ids if i not in self._services]
        if not new:
            return
        with self._lock:
            for service_id in new:
                if service_id not in self._services and len(self._services) < MAX_OBSERVED:
                    self._services.add(service_id)
                    self.version += 1

    @property
    def observed_services(self) -> frozenset[str]:
        """Ids of the services pages were seen embedding."""
        return frozenset(self._services)

    def observed(self) -> list[ObservedCookie]:
        """Every observed cookie, by category then name."""
        with self._lock:
            items = list(self._observed.items())
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted(
            (
                ObservedCookie(
                    name,
                    category,
                    rule,
                    datetime.fromtimestamp(first, UTC),
                    datetime.fromtimestamp(last, UTC),
                )
                for name, (category, rule, first, last) in items
            ),
            key=lambda c: (order[c.category], c.name),
        )

    def rows(self, category: Category) -> tuple[CookieRow, ...]:
        """The declared cookies of *category*, then observed ones no declaration covers."""
        rows = self._rows.get(category)
        if rows is not None:
            return rows
        version = self.version
        result: dict[str, CookieRow] = {}
        for rule in self.policy.cookies:
            if rule.category == category:
                row = row_of(rule)
                result.setdefault(row.name, row)
        for cookie in self.observed():
            if cookie.category != category or cookie.name in result:
                continue
            if cookie.rule is not None and cookie.rule.source == "declared":
                continue  # listed above under the declared rule's own name
            known = cookie.rule
            result[cookie.name] = (
                row_of(known, cookie.name) if known else CookieRow(cookie.name, "", "", "")
            )
        rows = tuple(result.values())
        with self._lock:
            if version == self.version:  # else a newer observation made these stale
                self._rows[category] = rows
        return rows

    def names(self, category: Category) -> list[str]:
        """Exact cookie names of *category* a browser may hold (for the page script to delete)."""
        declared = [
            r.name for r in self.policy.cookies if r.category == category and r.match == "exact"
        ]
        observed = [c.name for c in self.observed() if c.category == category]
        return list(dict.fromkeys([*declared, *observed]))
