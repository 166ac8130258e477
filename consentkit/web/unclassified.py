"""Cookies seen in responses that match no rule, or that the policy does not declare.

Unclassified cookies are logged once; both kinds are counted for the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..registry import Classification

__all__ = ["UnclassifiedReport", "UndeclaredCookie"]

logger = logging.getLogger("consentkit")


@dataclass(frozen=True, slots=True)
class UndeclaredCookie:
    """A cookie the site set that its policy does not declare, as the middleware saw it."""

    name: str
    category: str
    provider: str
    count: int
    first_seen: datetime
    last_seen: datetime


# Names are response-controlled: past this many distinct names new ones are not kept,
# so a misbehaving app cannot grow the report without bound.
_MAX_UNDECLARED = 1000


class UnclassifiedReport:
    """Cookies seen in responses that match no rule, for the dashboard and logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float]] = {}
        self._undeclared: dict[str, tuple[str, str, int, float, float]] = {}

    def add(self, names: Sequence[str]) -> None:
        with self._lock:
            for name in names:
                count, first = self._seen.get(name, (0, time.time()))
                if count == 0:
                    logger.warning(
                        "unclassified cookie %r: declare it in the policy "
                        "(treated as needing the policy's 'unclassified' category)",
                        name,
                    )
                self._seen[name] = (count + 1, first)

    def snapshot(self) -> list[tuple[str, int, datetime]]:
        """``(name, count, first seen)`` for every unclassified cookie, most seen first."""
        with self._lock:
            items = list(self._seen.items())
        return sorted(
            ((n, c, datetime.fromtimestamp(f, UTC)) for n, (c, f) in items),
            key=lambda row: (-row[1], row[0]),
        )

    def add_undeclared(self, cookies: Sequence[Classification]) -> None:
        """Count cookies set by a response that the policy does not declare."""
        now = time.time()
        with self._lock:
            for c in cookies:
                old = self._undeclared.get(c.name)
                if old is None and len(self._undeclared) >= _MAX_UNDECLARED:
                    continue
                count, first = (old[2], old[3]) if old else (0, now)
                self._undeclared[c.name] = (c.category, c.provider, count + 1, first, now)

    def undeclared(self) -> list[UndeclaredCookie]:
        """Every undeclared cookie seen since start, most seen first."""
        with self._lock:
            items = list(self._undeclared.items())
        rows = [
            UndeclaredCookie(
                n, cat, prov, count,
                datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC),
            )
            for n, (cat, prov, count, first, last) in items
        ]  # fmt: skip
        return sorted(rows, key=lambda r: (-r.count, r.name))
