"""``Memo``: answers remembered by key, in bounded memory.

The request path remembers what browsers send again and again (a visitor's ``Cookie``
header, a verified consent token, an ``Accept-Language`` value, a ``Set-Cookie`` line) so
the work is done once. Each memo holds at most its limit of answers and starts over when
full: a stream of values never seen again costs no more memory than the limit.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar, overload

__all__ = ["ABSENT", "Memo"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")

ABSENT: Final = object()
"""A *default* for :meth:`Memo.get` that no remembered answer can be (``None`` can)."""


class Memo(Generic[K, V]):
    """At most *limit* answers by key; when full, the next answer starts it over."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[K, V] = {}

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        """The answer remembered for *key*, else *default*."""
        return self._items.get(key, default)

    def put(self, key: K, value: V) -> V:
        """Remember *value* for *key* (forgetting everything first when full); returns it."""
        items = self._items
        if len(items) >= self.limit and key not in items:
            items.clear()
        items[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
