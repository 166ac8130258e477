"""Cookies seen in responses that match no rule: logged once, counted for the dashboard."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["UnclassifiedReport"]

logger = logging.getLogger("consentkit")


class UnclassifiedReport:
    """Cookies seen in responses that match no rule, for the dashboard and logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float]] = {}

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
