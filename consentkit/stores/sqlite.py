"""Receipt store on a SQLite file (standard library ``sqlite3``).

WAL journal with ``synchronous=FULL``, so an appended receipt is on disk before the HTTP
answer; ``BEGIN IMMEDIATE`` around each append, so several processes writing one file
still build a single valid chain. Each thread gets its own connection.
"""

# ruff: noqa: S608  (SQL text is built only from module constants; values are bound)

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote

from ..errors import ConfigError, StoreError
from ..receipts import (
    Receipt,
    format_timestamp,
)
from . import _sql
from ._export_sql import (
    CSV_SEP,
    csv_cell_exprs,
    csv_record,
    json_object_sql,
    plain_csv,
)
from ._group import GroupCommit
from ._schema import (
    RECEIPTS,
    SCHEMA,
    SELECT_COLUMNS,
    Dialect,
    migrations,
    row_to_receipt,
)

__all__ = ["SQLiteReceiptStore"]

_T = TypeVar("_T")

DIALECT: Final = Dialect(integer="INTEGER", text_list="TEXT", instant="TEXT")
MIGRATIONS: Final = migrations(DIALECT)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]

_JSON_OBJECT: Final = json_object_sql("json_object", lambda c: f"json({c})", lambda c: c)
# JSON text without backslashes holds no escaped quote, so stripping the brackets and
# splitting on '", "' is exact; anything else takes the slower json_each route.
_SPACE_JOINED = (
    "CASE WHEN {c} = '[]' THEN '' "
    "WHEN instr({c}, char(92)) = 0 THEN replace(substr({c}, 3, length({c}) - 4), '\", \"', ' ') "
    "ELSE COALESCE((SELECT group_concat(value, ' ') FROM json_each({c})), '') END"
)
_CSV_EXPRS = csv_cell_exprs(lambda c: _SPACE_JOINED.format(c=c), lambda c: c)
_CSV_PRINTF = (
    "printf('" + CSV_SEP.join(["%s"] * len(_CSV_EXPRS)) + "', " + ", ".join(_CSV_EXPRS) + ")"
)
_CSV_ONE_ROW = f"SELECT {', '.join(_CSV_EXPRS)} FROM {RECEIPTS} WHERE seq = ?"


class SQLiteReceiptStore(_sql.SQLStore):
    """A :class:`~consentkit.stores.base.ReceiptStore` in one SQLite file.

    *receipt_keys* (newest first; the first signs) may be empty for a read-only use such as
    export; appending or purging then raises :class:`~consentkit.errors.ConfigError`.
    With ``migrate=False`` the file must already exist.
    """

    PARAM = "?"
    MIGRATIONS = MIGRATIONS
    LOCK_HEAD = ""  # BEGIN IMMEDIATE already holds the write lock
    EXPLODE = (
        f"SELECT j.value, COUNT(*) FROM {RECEIPTS} AS r, json_each(r.{{column}}) AS j"
        "{where} GROUP BY j.value"
    )
    DAY = "substr(timestamp, 1, 10)"

    def _time_param(self, value: datetime) -> str:
        return format_timestamp(value)

    def _encode_list(self, values: tuple[str, ...]) -> str:
        return json.dumps(list(values), ensure_ascii=False)

    def __init__(
        self,
        path: str | Path,
        *,
        receipt_keys: Sequence[str | bytes] = (),
        migrate: bool = True,
        busy_timeout: float = 30.0,
    ) -> None:
        text = str(path)
        if not text or text == ":memory:" or text.startswith("file::memory:"):
            raise ConfigError(
                "an in-memory database cannot hold receipts",
                source="SQLite store",
                key="path",
                fix="give a file path",
            )
        self._path = text
        self._keys = tuple(receipt_keys)
        self._group = GroupCommit(self._append_batch)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._create = migrate
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"SQLiteReceiptStore({self._path!r})"

    # --- connections --------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            # Without migrate the file must exist: a mistyped path must not yield an empty store.
            if not self._create and not Path(self._path).exists():
                raise StoreError(f"{self!r}: no such database file (create it with migrate)")
            target = self._path if self._create else f"file:{quote(self._path)}?mode=rw"
            conn = sqlite3.connect(
                target,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=not self._create,
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error:
                conn.close()
                raise
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self!r}: could not {doing}: {exc}") from exc

    def _transaction(self, doing: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run *work* inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        with self._errors(doing):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def _query(self, doing: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._errors(doing):
            return self._conn().execute(sql, params).fetchall()

    # --- schema -------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the file (0 before :meth:`migrate`)."""
        doing = "read the schema version"
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        if not self._query(doing, exists, (SCHEMA,)):
            return 0
        rows = self._query(doing, f"SELECT MAX(version) FROM {SCHEMA}")
        return int(rows[0][0] or 0)

    # --- reading ------------------------------------------------------------------

    def iter_receipts(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Receipt]:
        """Receipts in seq order by keyset pagination (no read transaction held open)."""
        conditions, params = _sql.filters(
            "?", format_timestamp, since=since, until=until, actions=actions
        )
        return self._keyset(conditions, params, _sql.check_batch_size(batch_size))

    def _iter_upto(self, last_seq: int) -> Iterator[Receipt]:
        return self._keyset(["seq <= ?"], [last_seq], 1000)

    def _keyset(
        self, conditions: list[str], params: list[Any], batch_size: int
    ) -> Iterator[Receipt]:
        for rows in self._batches(SELECT_COLUMNS, conditions, params, batch_size):
            for row in rows:
                yield row_to_receipt(row)

    def _batches(
        self, select: str, conditions: list[str], params: list[Any], batch_size: int
    ) -> Iterator[list[Any]]:
        """Row batches in seq order; *select* must start with the ``seq`` column."""
        sql = (
            f"SELECT {select} FROM {RECEIPTS}"
            f"{_sql.where(['seq > ?', *conditions])} ORDER BY seq LIMIT ?"
        )
        after = 0
        while True:
            # Each batch is its own query, so the generator may be resumed from any thread.
            rows = self._query("read receipts", sql, [after, *params, batch_size])
            if rows:
                yield rows
            if len(rows) < batch_size:
                return
            after = int(rows[-1][0])

    def iter_export_batches(
        self,
        fmt: Literal["json", "csv"],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Any]]:
        """Export rows rendered by SQLite itself, in seq order: the export fast path.

        ``"json"`` gives batches of JSON texts (one object per receipt, the keys of
        :func:`~consentkit.receipts.to_dict`); ``"csv"`` gives batches of whole CSV records
        (formula-escaped, quoted as ``csv.writer`` would, no line end).
        """
        conditions, params = _sql.filters(
            "?", format_timestamp, since=since, until=until, actions=actions
        )
        size = _sql.check_batch_size(batch_size)
        if fmt == "json":
            select = f"seq, {_JSON_OBJECT}"
            for rows in self._batches(select, conditions, params, size):
                yield [row[1] for row in rows]
        else:
            yield from self._csv_batches(conditions, params, size)

    def _csv_batches(
        self, conditions: list[str], params: list[Any], batch_size: int
    ) -> Iterator[list[str]]:
        # SQLite joins each record's cells in one printf (far cheaper than ``||``);
        # Python turns the separators into commas after a few substring checks, and
        # builds the rare record needing quotes or formula escaping cell by cell.
        sql = (
            f"SELECT seq, {_CSV_PRINTF} FROM {RECEIPTS}"
            f"{_sql.where(['seq > ?', *conditions])} ORDER BY seq LIMIT ?"
        )
        plain, sep = plain_csv, CSV_SEP
        after = 0
        while True:
            rows = self._query("export receipts", sql, [after, *params, batch_size])
            if rows:
                yield [
                    line.replace(sep, ",") if plain(line) else self._csv_record(seq)
                    for seq, line in rows
                ]
            if len(rows) < batch_size:
                return
            after = int(rows[-1][0])

    def _csv_record(self, seq: int) -> str:
        rows = self._query("export receipts", _CSV_ONE_ROW, [seq])
        return csv_record(rows[0])

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
