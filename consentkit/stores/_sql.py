"""What the SQL stores share (private): query pieces, and one read and one write path
(:class:`SQLReadMixin`, :class:`SQLStore`) that each backend parameterises with its dialect:
the placeholder, how a transaction starts, how the chain head is locked. The schema and the
row mapping live in :mod:`._schema`, the export's SQL in :mod:`._export_sql`.
"""

# ruff: noqa: S608  (SQL text is built only from module constants; values are bound)

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from ..chain import (
    seal_anchor,
    verify_chain,
)
from ..errors import ChainError, ConfigError, StoreError
from ..receipts import (
    ChainAnchor,
    Receipt,
    ReceiptDraft,
    seal,
)
from ._group import GroupCommit
from ._schema import (
    ANCHORS,
    COLUMNS,
    HEAD,
    RECEIPTS,
    SCHEMA,
    SELECT_COLUMNS,
    Migrations,
    head_update,
    receipt_params,
    row_to_receipt,
    sign_legacy_head,
    stored_datetime,
)
from .base import ChainHead, Stats

_T = TypeVar("_T")


def placeholders(count: int, mark: str) -> str:
    """``?, ?, ?`` (or ``%s, ...``) for *count* parameters."""
    return ", ".join([mark] * count)


def filters(
    mark: str,
    encode_time: Callable[[datetime], Any],
    *,
    since: datetime | None,
    until: datetime | None,
    actions: Sequence[str] | None = None,
) -> tuple[list[str], list[Any]]:
    """WHERE conditions and parameters for the common time/action filters."""
    conditions: list[str] = []
    params: list[Any] = []
    if since is not None:
        conditions.append(f'"timestamp" >= {mark}')
        params.append(encode_time(aware(since, "since")))
    if until is not None:
        conditions.append(f'"timestamp" < {mark}')
        params.append(encode_time(aware(until, "until")))
    if actions is not None:
        wanted = list(actions)
        if not wanted:
            conditions.append("1 = 0")
        else:
            conditions.append(f"action IN ({placeholders(len(wanted), mark)})")
            params.extend(wanted)
    return conditions, params


def where(conditions: Iterable[str]) -> str:
    """`` WHERE a AND b`` or an empty string."""
    parts = list(conditions)
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def aware(value: datetime, name: str) -> datetime:
    """*value* in UTC; a naive datetime is a caller error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(
            "must be timezone-aware", source="receipt store", key=name, fix="pass a UTC datetime"
        )
    return value.astimezone(UTC)


def check_batch_size(batch_size: int) -> int:
    """Reject batch sizes that would make iteration meaningless."""
    if batch_size < 1:
        raise ConfigError(
            "must be at least 1", source="receipt store", key="batch_size", fix="use e.g. 1000"
        )
    return batch_size


def build_stats(
    total: int,
    *,
    actions: Iterable[tuple[str, int]],
    granted: Iterable[tuple[str, int]],
    refused: Iterable[tuple[str, int]],
    jurisdictions: Iterable[tuple[str, int]],
    languages: Iterable[tuple[str, int]],
    per_day: Iterable[tuple[str, int]],
) -> Stats:
    """Assemble :class:`Stats` from ``(key, count)`` rows."""

    def counts(rows: Iterable[tuple[str, int]]) -> Mapping[str, int]:
        return {str(key): int(n) for key, n in sorted(rows, key=lambda kv: str(kv[0]))}

    return Stats(
        total=int(total),
        actions=counts(actions),
        granted=counts(granted),
        refused=counts(refused),
        jurisdictions=counts(jurisdictions),
        languages=counts(languages),
        per_day=counts(per_day),
    )


def purge_cutoff_time(older_than: datetime) -> datetime:
    """Validate a purge cutoff: aware and not in the future (a typo must not wipe the store)."""
    cutoff = aware(older_than, "older_than")
    if cutoff > datetime.now(UTC) + timedelta(minutes=5):
        raise ConfigError(
            "is in the future", source="purge", key="older_than", fix="pass a past instant"
        )
    return cutoff


class SQLReadMixin:
    """``head()`` and ``stats()`` for the SQL stores, which differ only in dialect.

    A store sets the class attributes and provides ``_query``.
    """

    PARAM: ClassVar[str]
    """The driver's placeholder: ``?`` or ``%s``."""
    EXPLODE: ClassVar[str]
    """SELECT of ``(item, count)`` over a list column, with ``{column}`` and ``{where}``."""
    DAY: ClassVar[str]
    """The UTC day of a receipt's timestamp as ``YYYY-MM-DD``."""

    def _query(self, doing: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _time_param(self, value: datetime) -> Any:
        raise NotImplementedError

    def count(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
    ) -> int:
        """How many receipts match the filters."""
        conditions, params = filters(
            self.PARAM, self._time_param, since=since, until=until, actions=actions
        )
        rows = self._query(
            "count receipts", f"SELECT COUNT(*) FROM {RECEIPTS}{where(conditions)}", params
        )
        return int(rows[0][0])

    def anchor(self) -> ChainAnchor | None:
        """The newest purge anchor."""
        rows = self._query(
            "read the purge anchor",
            f"SELECT seq, hash, created_at, key_id, hmac FROM {ANCHORS} ORDER BY seq DESC LIMIT 1",
        )
        if not rows:
            return None
        seq, hash_, created_at, key_id, hmac = rows[0]
        return ChainAnchor(int(seq), str(hash_), stored_datetime(created_at), key_id, hmac)

    def latest(self, consent_id: str) -> Receipt | None:
        """The newest receipt of one visitor."""
        rows = self._query(
            "read a receipt",
            f"SELECT {SELECT_COLUMNS} FROM {RECEIPTS} WHERE consent_id = {self.PARAM} "
            "ORDER BY seq DESC LIMIT 1",
            (consent_id,),
        )
        return row_to_receipt(rows[0]) if rows else None

    def for_consent(self, consent_id: str) -> list[Receipt]:
        """Every receipt of one visitor, oldest first."""
        rows = self._query(
            "read receipts",
            f"SELECT {SELECT_COLUMNS} FROM {RECEIPTS} WHERE consent_id = {self.PARAM} ORDER BY seq",
            (consent_id,),
        )
        return [row_to_receipt(row) for row in rows]

    def head(self) -> ChainHead | None:
        """The seq and hash recorded by the last append (``None`` for an empty chain)."""
        rows = self._query(
            "read the chain head", f"SELECT seq, hash, hmac FROM {HEAD} WHERE id = 1"
        )
        if not rows or int(rows[0][0]) == 0:
            return None
        return ChainHead(int(rows[0][0]), str(rows[0][1]), str(rows[0][2]))

    def stats(self, *, since: datetime | None = None, until: datetime | None = None) -> Stats:
        """Counts per action, category, jurisdiction, language and UTC day."""
        conditions, params = filters(self.PARAM, self._time_param, since=since, until=until)
        scope = f"{RECEIPTS}{where(conditions)}"

        def counted(sql: str) -> list[tuple[str, int]]:
            return [(str(k), int(n)) for k, n in self._query("compute stats", sql, params)]

        def grouped(expr: str) -> list[tuple[str, int]]:
            return counted(f"SELECT {expr} AS k, COUNT(*) FROM {scope} GROUP BY k")

        def exploded(column: str) -> list[tuple[str, int]]:
            return counted(self.EXPLODE.format(column=column, where=where(conditions)))

        total = self._query("compute stats", f"SELECT COUNT(*) FROM {scope}", params)[0][0]
        return build_stats(
            total,
            actions=grouped("action"),
            granted=exploded("granted"),
            refused=exploded("refused"),
            jurisdictions=grouped("jurisdiction"),
            languages=grouped("language"),
            per_day=grouped(self.DAY),
        )


class SQLStore(SQLReadMixin):
    """The reads plus ``migrate()``, ``append()`` and ``purge()``: one path for every SQL store.

    A store sets the class attributes and provides ``_transaction`` (run work in one
    transaction that holds the chain against other writers), ``_query``, ``_time_param``,
    ``_encode_list`` and ``_iter_upto``; ``_keys`` holds its receipt keys and ``_group``
    batches concurrent appends.
    """

    MIGRATIONS: ClassVar[Migrations]
    """``(version, statements)`` in version order."""
    LOCK_HEAD: ClassVar[str]
    """Appended to the chain-head SELECT inside a write (`` FOR UPDATE`` or nothing)."""
    _keys: tuple[str | bytes, ...]
    _group: GroupCommit[ReceiptDraft, Receipt]
    """Set by the backend's ``__init__``: ``GroupCommit(self._append_batch)``."""

    def _transaction(self, doing: str, work: Callable[[Any], _T]) -> _T:
        raise NotImplementedError

    def _encode_list(self, values: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def _iter_upto(self, last_seq: int) -> Iterator[Receipt]:
        raise NotImplementedError

    def _lock_migrations(self, conn: Any) -> None:
        """Make concurrent migrations wait for each other (a no-op where writes serialise)."""

    def _signing_keys(self, doing: str) -> tuple[str | bytes, ...]:
        if not self._keys:
            raise ConfigError(
                f"is needed to {doing}",
                source="receipt store",
                key="receipt_keys",
                fix="pass receipt_keys (newest first)",
            )
        return self._keys

    def migrate(self) -> None:
        """Create or upgrade the schema (``consentkit_schema`` holds the version)."""
        latest = self.MIGRATIONS[-1][0]
        mark = self.PARAM

        def work(conn: Any) -> None:
            self._lock_migrations(conn)
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA} (version INTEGER NOT NULL)")
            row = conn.execute(f"SELECT MAX(version) FROM {SCHEMA}").fetchone()
            current = int(row[0] or 0) if row else 0
            if current > latest:
                raise StoreError(
                    f"{self!r}: schema version {current} is newer than this consentkit "
                    f"({latest}); upgrade consentkit"
                )
            for version, statements in self.MIGRATIONS:
                if version > current:
                    for statement in statements:
                        conn.execute(statement)
            sign_legacy_head(conn, mark, current, self._keys)
            if current < latest:
                conn.execute(f"DELETE FROM {SCHEMA}")
                conn.execute(f"INSERT INTO {SCHEMA} (version) VALUES ({mark})", (latest,))

        self._transaction("migrate the schema", work)

    def append(self, draft: ReceiptDraft) -> Receipt:
        """Seal *draft* as the next receipt; committed (durable) when this returns.

        Concurrent calls share one transaction (group commit): one flush to disk for
        the whole batch, the chain in the order the calls arrived.
        """
        self._signing_keys("append receipts")
        return self._group.submit(draft)

    def append_many(self, drafts: Sequence[ReceiptDraft]) -> list[Receipt]:
        """Append *drafts* as consecutive receipts, in order; all durable when this returns."""
        self._signing_keys("append receipts")
        return self._group.submit_many(drafts)

    def _append_batch(self, drafts: Sequence[ReceiptDraft]) -> list[Receipt]:
        """Seal *drafts* in order after the chain head and commit them in one transaction."""
        keys = self._signing_keys("append receipts")
        mark = self.PARAM
        insert = (
            f"INSERT INTO {RECEIPTS} ({SELECT_COLUMNS}) VALUES ({placeholders(len(COLUMNS), mark)})"
        )

        def work(conn: Any) -> list[Receipt]:
            head = f"SELECT seq, hash FROM {HEAD} WHERE id = 1{self.LOCK_HEAD}"
            row = conn.execute(head).fetchone()
            if row is None:
                raise StoreError(f"{self!r}: chain head missing; run migrate")
            seq, prev_hash = int(row[0]), str(row[1])
            receipts = []
            for draft in drafts:
                seq += 1
                receipt = seal(draft, seq=seq, prev_hash=prev_hash, keys=keys)
                prev_hash = receipt.hash
                receipts.append(receipt)
            encode = self._encode_list, self._time_param
            rows = [
                receipt_params(r, encode_list=encode[0], encode_time=encode[1]) for r in receipts
            ]
            if len(rows) == 1:
                conn.execute(insert, rows[0])
            else:
                conn.cursor().executemany(insert, rows)
            conn.execute(*head_update(mark, seq, prev_hash, keys))
            return receipts

        doing = "append a receipt" if len(drafts) == 1 else f"append {len(drafts)} receipts"
        return self._transaction(doing, work)

    def purge(self, older_than: datetime) -> int:
        """Delete the chain prefix recorded before *older_than*, leaving a signed anchor."""
        keys = self._signing_keys("purge receipts")
        cutoff = self._purge_cutoff(self._time_param(purge_cutoff_time(older_than)))
        if cutoff is None:
            return 0
        # Verify outside the write transaction: appends must not wait for a long walk.
        result = verify_chain(self._iter_upto(cutoff), keys=keys, start=self.anchor())
        if result.error is not None:
            raise ChainError(
                f"refusing to purge a broken chain: {result.error}", result.error.receipt_id
            )
        mark = self.PARAM

        def work(conn: Any) -> int:
            conn.execute(f"SELECT seq FROM {HEAD} WHERE id = 1{self.LOCK_HEAD}")
            row = conn.execute(
                f"SELECT hash FROM {RECEIPTS} WHERE seq = {mark}", (cutoff,)
            ).fetchone()
            if row is None or row[0] != result.last_hash or result.last_seq != cutoff:
                raise StoreError(f"{self!r}: the chain changed during purge; try again")
            anchor = seal_anchor(cutoff, result.last_hash, created_at=datetime.now(UTC), keys=keys)
            deleted = conn.execute(
                f"DELETE FROM {RECEIPTS} WHERE seq <= {mark}", (cutoff,)
            ).rowcount
            conn.execute(
                f"INSERT INTO {ANCHORS} (seq, hash, created_at, key_id, hmac, purged) "
                f"VALUES ({placeholders(6, mark)})",
                (
                    anchor.seq,
                    anchor.hash,
                    self._time_param(anchor.created_at),
                    anchor.key_id,
                    anchor.hmac,
                    deleted,
                ),
            )
            return int(deleted)

        return self._transaction("purge receipts", work)

    def _purge_cutoff(self, before: Any) -> int | None:
        """The last seq of the prefix recorded before *before* (``None``: nothing to purge)."""
        rows = self._query(
            "find the purge cutoff",
            f"SELECT (SELECT MIN(seq) FROM {RECEIPTS}), "
            f'(SELECT MIN(seq) FROM {RECEIPTS} WHERE "timestamp" >= {self.PARAM}), '
            f"(SELECT MAX(seq) FROM {RECEIPTS})",
            (before,),
        )
        first, first_kept, last = rows[0]
        if first is None:
            return None
        cutoff = int(last) if first_kept is None else int(first_kept) - 1
        return cutoff if cutoff >= int(first) else None
