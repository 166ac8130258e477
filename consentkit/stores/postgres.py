"""Receipt store on PostgreSQL (psycopg 3, the ``consentkit[postgres]`` extra).

Appends from any number of processes form one chain: each append locks the one-row chain
head table (``SELECT ... FOR UPDATE``) inside its transaction. Iteration uses a server-side
named cursor, so exports stream in constant memory.
"""

# ruff: noqa: S608  (SQL text is built only from module constants; values are bound)

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

from ..errors import MissingExtraError, StoreError
from ..receipts import (
    Receipt,
)
from . import _sql
from ._export_sql import (
    csv_line_sql,
    json_object_sql,
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

try:
    import psycopg
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

try:
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - the pool is optional
    ConnectionPool = None  # type: ignore[assignment,misc]

__all__ = ["PostgresReceiptStore"]

_T = TypeVar("_T")
_MIGRATION_LOCK: Final = 0x636B5F736368  # any constant shared by every consentkit process

DIALECT: Final = Dialect(integer="BIGINT", text_list="TEXT[]", instant="TIMESTAMPTZ")
MIGRATIONS: Final = migrations(DIALECT)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]

_UTC_TEXT = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_JSON_OBJECT: Final = (
    json_object_sql("json_build_object", lambda c: f"to_json({c})", _UTC_TEXT.format) + "::text"
)
_CSV_CELLS, _CSV_JOINED, _CSV_RECORD = csv_line_sql(
    "strpos", lambda code: f"chr({code})", lambda c: f"array_to_string({c}, ' ')", _UTC_TEXT.format
)


def _try_again(pool: Any) -> None:
    """Start the pool's reconnection attempts over (it gave up on a lost database)."""
    with suppress(Exception):  # a closing pool, say: nothing to retry
        pool.check()


class PostgresReceiptStore(_sql.SQLStore):
    """A :class:`~consentkit.stores.base.ReceiptStore` in a PostgreSQL database.

    *conninfo* is a ``postgresql://`` URL or libpq string. *pool_size* bounds the
    connections kept open (psycopg_pool when installed, else one connection per call);
    *timeout* is how long to wait for a connection before raising ``StoreError``.
    """

    PARAM = "%s"
    MIGRATIONS = MIGRATIONS
    LOCK_HEAD = " FOR UPDATE"  # appenders from every process queue on the one head row
    EXPLODE = (
        f"SELECT c, COUNT(*) FROM {RECEIPTS} CROSS JOIN LATERAL unnest({{column}}) AS c"
        "{where} GROUP BY c"
    )
    DAY = """to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD')"""

    def _time_param(self, value: datetime) -> datetime:
        return value

    def _encode_list(self, values: tuple[str, ...]) -> list[str]:
        return list(values)

    def __init__(
        self,
        conninfo: str,
        *,
        receipt_keys: Sequence[str | bytes] = (),
        migrate: bool = True,
        pool_size: int = 4,
        timeout: float = 10.0,
    ) -> None:
        if psycopg is None:
            raise MissingExtraError("PostgreSQL store", "postgres", "psycopg")
        self._conninfo = conninfo
        self._keys = tuple(receipt_keys)
        self._group = GroupCommit(self._append_batch)
        self._timeout = timeout
        self._pool: Any = None
        if ConnectionPool is not None:
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=max(1, pool_size),
                open=False,
                timeout=timeout,
                # The pool retries a lost database with a doubling delay for this long,
                # then gives up. With the default (five minutes) a database back after an
                # outage could wait as long as the latest delay (a minute and more) to be
                # used again, every decision meanwhile spooled; and once the pool gives
                # up, a request already waiting makes it try no more. So the window is
                # short, a retry the pool has planned comes before a waiting request
                # gives up, and on giving up the pool starts again at once: while the
                # database is away it is tried every few seconds.
                reconnect_timeout=timeout / 2,
                reconnect_failed=_try_again,
                check=ConnectionPool.check_connection,
                kwargs={"connect_timeout": max(1, int(timeout))},
                name="consentkit-receipts",
            )
            with self._errors("connect"):
                self._pool.open(wait=False)
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        return "PostgresReceiptStore(...)"  # the conninfo may hold a password

    # --- connections --------------------------------------------------------------

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection whose transaction commits on normal exit, rolls back on error."""
        if self._pool is not None:
            conn: AbstractContextManager[psycopg.Connection[Any]] = self._pool.connection()
            return conn
        return psycopg.connect(self._conninfo, connect_timeout=max(1, int(self._timeout)))

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL receipt store: could not {doing}: {exc}") from exc

    def _transaction(self, doing: str, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        with self._errors(doing), self._connection() as conn:
            return work(conn)

    def _query(self, doing: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._transaction(doing, lambda conn: conn.execute(sql, params).fetchall())

    def _lock_migrations(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    # --- schema -------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the database (0 before :meth:`migrate`)."""
        doing = "read the schema version"
        if self._query(doing, "SELECT to_regclass(%s)", (SCHEMA,))[0][0] is None:
            return 0
        rows = self._query(doing, f"SELECT COALESCE(MAX(version), 0) FROM {SCHEMA}")
        return int(rows[0][0])

    # --- reading ------------------------------------------------------------------

    def iter_receipts(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Receipt]:
        """Receipts in seq order through a server-side cursor, *batch_size* rows a fetch."""
        conditions, params = _sql.filters(
            "%s", self._time_param, since=since, until=until, actions=actions
        )
        return self._named_cursor(_sql.where(conditions), params, _sql.check_batch_size(batch_size))

    def _iter_upto(self, last_seq: int) -> Iterator[Receipt]:
        return self._named_cursor("WHERE seq <= %s", [last_seq], 1000)

    def _named_cursor(self, where: str, params: list[Any], batch_size: int) -> Iterator[Receipt]:
        sql = f"SELECT {SELECT_COLUMNS} FROM {RECEIPTS} {where} ORDER BY seq"
        name = f"consentkit_{uuid.uuid4().hex}"
        with (
            self._errors("read receipts"),
            self._connection() as conn,
            conn.cursor(name=name) as cur,
        ):
            cur.itersize = batch_size
            cur.execute(sql, params)
            for row in cur:
                yield row_to_receipt(row)

    def iter_export_batches(
        self,
        fmt: Literal["json", "csv"],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Any]]:
        """Export rows rendered by PostgreSQL itself, in seq order: the export fast path.

        ``"json"`` gives batches of JSON texts (one object per receipt); ``"csv"`` gives
        batches of whole CSV records (formula-escaped, quoted, no line end).
        """
        conditions, params = _sql.filters(
            "%s", self._time_param, since=since, until=until, actions=actions
        )
        size = _sql.check_batch_size(batch_size)
        if fmt == "json":
            sql = f"SELECT {_JSON_OBJECT} FROM {RECEIPTS}{_sql.where(conditions)} ORDER BY seq"
        else:
            # OFFSET 0 keeps the subquery from being inlined, so each cell is computed once.
            sql = (
                f"SELECT {_CSV_RECORD} FROM (SELECT seq, {_CSV_JOINED} FROM "
                f"(SELECT seq, {_CSV_CELLS} FROM {RECEIPTS}{_sql.where(conditions)} "
                f"ORDER BY seq OFFSET 0) AS page OFFSET 0) AS joined ORDER BY seq"
            )
        name = f"consentkit_{uuid.uuid4().hex}"
        with (
            self._errors("export receipts"),
            self._connection() as conn,
            conn.cursor(name=name) as cur,
        ):
            cur.execute(sql, params)
            while rows := cur.fetchmany(size):
                yield [row[0] for row in rows]

    def close(self) -> None:
        """Close the connection pool."""
        if self._pool is not None:
            self._pool.close()
