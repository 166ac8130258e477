"""The receipt store protocol shared by every backend, and what stores return."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from ..chain import (
    VerifyResult,
    check_chain_end,
    verify_chain,
)
from ..receipts import (
    ChainAnchor,
    Receipt,
    ReceiptDraft,
)

__all__ = ["ChainHead", "ReceiptStore", "Stats", "verify_store"]


class ChainHead(NamedTuple):
    """The seq and hash of the newest receipt a store has recorded, and their signature."""

    seq: int
    hash: str
    hmac: str = ""


@dataclass(frozen=True)
class Stats:
    """Counts over the receipts recorded in ``[since, until)`` (one receipt per decision)."""

    total: int
    actions: Mapping[str, int] = field(default_factory=dict)
    granted: Mapping[str, int] = field(default_factory=dict)
    refused: Mapping[str, int] = field(default_factory=dict)
    jurisdictions: Mapping[str, int] = field(default_factory=dict)
    languages: Mapping[str, int] = field(default_factory=dict)
    per_day: Mapping[str, int] = field(default_factory=dict)
    """Receipts per UTC day, keyed ``YYYY-MM-DD``, in date order."""

    def consent_rate(self, category: str) -> float | None:
        """Share of decisions that granted *category* among those that granted or refused it."""
        granted = self.granted.get(category, 0)
        decided = granted + self.refused.get(category, 0)
        return granted / decided if decided else None

    def categories(self) -> list[str]:
        """Every category seen granted or refused, sorted."""
        return sorted(set(self.granted) | set(self.refused))


@runtime_checkable
class ReceiptStore(Protocol):
    """Durable, append-only storage of a receipt chain. Synchronous and thread-safe.

    Time filters are on the receipt's ``timestamp``: ``since`` inclusive, ``until``
    exclusive. Every failure of the underlying database is raised as
    :class:`consentkit.errors.StoreError`.
    """

    def migrate(self) -> None:
        """Bring the schema to the current version (idempotent, safe under concurrency)."""

    def schema_version(self) -> int:
        """The schema version the database holds (0: no consentkit schema)."""

    def append(self, draft: ReceiptDraft) -> Receipt | None:
        """Seal *draft* as the next receipt of the chain; durable when this returns.

        ``None`` means the draft is durable but not sealed yet: a spooling store
        (:class:`~consentkit.stores.spool.SpooledStore`) kept it on local disk and seals
        it when the database is back. The SQL stores always return the receipt.
        """

    def latest(self, consent_id: str) -> Receipt | None:
        """The newest receipt of one visitor, or ``None``."""

    def for_consent(self, consent_id: str) -> list[Receipt]:
        """Every receipt of one visitor, oldest first."""

    def iter_receipts(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Receipt]:
        """Receipts in seq order, fetched *batch_size* at a time (constant memory)."""

    def count(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
    ) -> int:
        """How many receipts match the filters."""

    def purge(self, older_than: datetime) -> int:
        """Delete the oldest receipts recorded before *older_than*; return how many.

        Only a prefix of the chain is deleted (up to the first receipt not older than the
        cutoff), the prefix is verified first, and a signed :class:`ChainAnchor` keeps the
        rest verifiable.
        """

    def anchor(self) -> ChainAnchor | None:
        """The newest purge anchor, or ``None`` if nothing was ever purged."""

    def head(self) -> ChainHead | None:
        """The newest receipt's seq and hash as recorded at append time."""

    def stats(self, *, since: datetime | None = None, until: datetime | None = None) -> Stats:
        """Per action, category, jurisdiction, language and day counts."""

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


def verify_store(
    store: ReceiptStore,
    *,
    keys: Sequence[str | bytes],
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    checkpoints: Sequence[ChainAnchor] = (),
) -> VerifyResult:
    """Verify a store's whole chain from its purge anchor to its recorded head.

    Beyond :func:`~consentkit.receipts.verify_chain`, this notices receipts removed from
    the end of the chain: the store's head must carry a valid signature and name the last
    receipt, and each of *checkpoints* (signed heads kept elsewhere) must still be there.
    *progress*, if given, is called with the number of receipts read so far, once per batch.
    """
    anchor = store.anchor()
    receipts: Iterable[Receipt] = store.iter_receipts(batch_size=batch_size)
    if progress is not None:
        receipts = _counted(receipts, progress, every=batch_size)
    result = verify_chain(receipts, keys=keys, start=anchor, checkpoints=checkpoints)
    return check_chain_end(result, store.head(), keys=keys)


def _counted(
    receipts: Iterable[Receipt], progress: Callable[[int], None], *, every: int
) -> Iterator[Receipt]:
    done = 0
    for receipt in receipts:
        yield receipt
        done += 1
        if done % every == 0:
            progress(done)
    progress(done)
