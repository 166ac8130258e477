"""Cookies and third-party hosts nothing classifies, and cookies the policy does not declare.

Unclassified cookies and unknown hosts are logged once; all are counted for the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..errors import ConfigError, StoreError
from ..registry import Classification
from ..stores.scans import last_scan, undeclared_cookies

__all__ = ["UnclassifiedReport", "UndeclaredCookie", "scan_context"]

logger = logging.getLogger("consentkit")

_MAX_HOSTS: Final = 1024
"""Distinct hosts remembered; past it new ones are still judged, no longer listed."""


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
        self._hosts: dict[str, tuple[str, int, float]] = {}

    def add_host(self, kind: str, host: str) -> None:
        """Count a script or frame host nothing knows; the first sighting is logged."""
        with self._lock:
            seen = self._hosts.get(host)
            if seen is not None:
                self._hosts[host] = (seen[0], seen[1] + 1, seen[2])
                return
            if len(self._hosts) >= _MAX_HOSTS:
                return
            self._hosts[host] = (kind, 1, time.time())
        logger.warning(
            "unknown third-party %s host %r: add it to the policy's known_hosts if you trust "
            "it (block_unknown_hosts = true blocks such hosts until consent)",
            kind,
            host,
        )

    def hosts(self) -> list[tuple[str, str, int, datetime]]:
        """``(host, kind, count, first seen)`` for every unknown host, most seen first."""
        with self._lock:
            items = list(self._hosts.items())
        return sorted(
            ((h, k, c, datetime.fromtimestamp(f, UTC)) for h, (k, c, f) in items),
            key=lambda row: (-row[2], row[0]),
        )

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


def scan_context(store_url: str | None) -> dict[str, Any]:
    """The last saved scan's undeclared cookies, or a ``note`` saying why there are none."""
    if store_url is None:
        return {"note": "Saved scans are read from a store configured by URL; this "
                "middleware was given a store object."}  # fmt: skip
    try:
        scan = last_scan(store_url)
    except (StoreError, ConfigError) as exc:
        return {"note": f"The saved scans could not be read: {exc}"}
    if scan is None:
        return {"note": "No scan saved yet: run consentkit scan URL --store with this "
                "store's URL."}  # fmt: skip
    rows = []
    for c in undeclared_cookies(scan.report):
        rows.append(
            {
                "name": str(c.get("name", "")),
                "domain": str(c.get("domain") or ""),
                "category": str(c.get("category") or "unclassified"),
                "provider": str(c.get("provider") or "-"),
                "set_by": str(c.get("set_by") or ""),
            }
        )
    return {
        "note": None,
        "url": scan.url,
        "at": scan.scanned_at,
        "status": scan.status,
        "rows": rows,
    }
