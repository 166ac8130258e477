"""Group commit (private): concurrent appends written together, one transaction per batch.

A durable append costs one commit, and a commit costs a flush to disk plus a round trip
and a lock on the chain head. Threads that append while a commit is under way queue
up; when it ends, one of them (the leader) takes every queued item, in arrival order,
and commits them all at once; the others wait for that commit and return its results.
Nobody returns before the commit holding its item has succeeded, so "durable when
``append`` returns" still holds, and the chain order is the queue order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

from ..errors import StoreError

_In = TypeVar("_In")
_Out = TypeVar("_Out")

MAX_BATCH: Final = 256
"""Items per transaction at most: a large backlog becomes several moderate commits."""


class _Pending(Generic[_In, _Out]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: _In) -> None:
        self.item = item
        self.done = False
        self.result: _Out | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[_In, _Out]):
    """Run *commit* on batches of the items submitted concurrently.

    *commit* gets the items in submission order and returns one result per item, or
    raises: then every item of that batch fails with the error. The items of one
    :meth:`submit_many` always share a transaction: they are committed or fail together.
    """

    def __init__(
        self, commit: Callable[[Sequence[_In]], Sequence[_Out]], *, max_batch: int = MAX_BATCH
    ) -> None:
        self._commit = commit
        self._max = max_batch
        # Submissions waiting, each a list of items committed together (never split).
        self._queue: list[list[_Pending[_In, _Out]]] = []
        self._queue_lock = threading.Lock()
        # Held by the leader for the whole commit; the waiting threads queue on it.
        self._writer = threading.Lock()

    def submit(self, item: _In) -> _Out:
        """Commit *item* (with whatever else is queued); its result once durable."""
        return self.submit_many([item])[0]

    def submit_many(self, items: Sequence[_In]) -> list[_Out]:
        """Commit *items*, kept together and in order; their results once all are durable."""
        pending: list[_Pending[_In, _Out]] = [_Pending(item) for item in items]
        if not pending:
            return []
        with self._queue_lock:
            self._queue.append(pending)
        last = pending[-1]
        with self._writer:
            led = not last.done
            while not last.done:  # a backlog longer than one batch takes several
                self._lead()
        failed = next((p for p in pending if p.error is not None), None)
        if failed is not None:
            if led:
                raise failed.error  # type: ignore[misc]
            # Each waiter raises its own exception object, chained to the commit's.
            raise StoreError(str(failed.error)) from failed.error
        return [p.result for p in pending]  # type: ignore[misc]

    def _lead(self) -> None:
        batch: list[_Pending[_In, _Out]] = []
        with self._queue_lock:
            while self._queue and (not batch or len(batch) + len(self._queue[0]) <= self._max):
                batch.extend(self._queue.pop(0))
        try:
            results = self._commit([p.item for p in batch])
            if len(results) != len(batch):  # pragma: no cover - a backend bug
                raise StoreError("group commit: one result per item expected")
        except BaseException as exc:
            for p in batch:
                p.error, p.done = exc, True
            return
        for p, result in zip(batch, results, strict=True):
            p.result, p.done = result, True
