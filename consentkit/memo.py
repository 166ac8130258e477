"""``Memo``: answers remembered by key, in bounded memory.

The request path remembers what browsers send again and again (a visitor's ``Cookie``
header, a verified consent token, an ``Accept-Language`` value, a ``Set-Cookie`` line) so
the work is done once. Each memo holds at most its limit of answers and starts over when
full: a stream of values never seen again costs no more memory than the limit.
"""

from __future__ import annotations

from typing import Final, TypeVar

__all__ = ["ABSENT", "Memo"]

K = TypeVar("K")
V = TypeVar("V")

ABSENT: Final = object()
"""A *default* for :meth:`Memo.get` that no remembered answer can be (``None`` can)."""


class Memo(dict[K, V]):
    """At most *limit* answers by key; when full, the next answer starts it over.

    A dictionary, so reading one (``get``, ``in``) is a single C call on the request
    path. Add answers with :meth:`put` only: it is what keeps the bound.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Remember *value* for *key* (forgetting everything first when full); returns it."""
        if len(self) >= self.limit and key not in self:
            self.clear()
        self[key] = value
        return value
