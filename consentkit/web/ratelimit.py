"""Receipt creation limited per client network, so no one mints receipts without limit.

A token bucket per network (IPv4 /24, IPv6 /48, the same truncation receipts store):
``per_minute`` receipts may be created at once, and the bucket refills at that rate. The
table of networks is bounded; the least recently seen network is forgotten first.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["ReceiptRateLimit", "network_of"]

_MAX_NETWORKS: Final = 65_536


def _now() -> float:
    return time.monotonic()


def network_of(ip: str | None) -> str:
    """The network a client address counts against: its /24 or /48, ``"?"`` if unknown."""
    if not ip or len(ip) > 64:
        return "?"
    try:
        address = ipaddress.ip_address(ip.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return "?"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class ReceiptRateLimit:
    """Allow at most *per_minute* receipts per client network per minute (0: no limit).

    Args:
        per_minute: the bucket size and its refill per minute.
        clock: seconds, monotonic (default :func:`time.monotonic`).
        max_networks: how many networks are remembered at once.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] | None = None,
        max_networks: int = _MAX_NETWORKS,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max = max_networks
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client_ip: str | None) -> bool:
        """Take one receipt from the bucket of *client_ip*'s network; whether there was one."""
        if self.per_minute <= 0:
            return True
        key = network_of(client_ip)
        now = (self._clock or _now)()
        with self._lock:
            tokens, seen = self._buckets.pop(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - seen) * self.per_minute / 60)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return allowed
