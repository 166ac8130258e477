"""The receipt store's schema (private): table and column names, the statements that create
and migrate it in each backend's dialect, the signed chain head, and the mapping between
rows and receipts.

One definition for both backends: SQLite and PostgreSQL differ only in three column types
(:class:`Dialect`).
"""

# ruff: noqa: S608  (SQL text is built only from module constants; values are bound)

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..chain import (
    sign_head,
)
from ..receipts import (
    GENESIS_HASH,
    TEXT_FIELDS,
    Receipt,
    parse_stored_timestamp,
    unchecked_receipt,
)

RECEIPTS: Final = "consentkit_receipts"
HEAD: Final = "consentkit_chain_head"
ANCHORS: Final = "consentkit_anchors"
SCHEMA: Final = "consentkit_schema"

COLUMNS: Final[tuple[str, ...]] = (
    "seq",
    "receipt_id",
    "consent_id",
    "action",
    "granted",
    "refused",
    *TEXT_FIELDS,
    "ip",
    "timestamp",
    "expires_at",
    "prev_hash",
    "hash",
    "hmac",
    "key_id",
)
"""The receipts table's columns, in table order."""
SELECT_COLUMNS: Final = ", ".join(f'"{c}"' for c in COLUMNS)
LISTS: Final = frozenset({"granted", "refused"})
TIMES: Final = frozenset({"timestamp", "expires_at"})


@dataclass(frozen=True)
class Dialect:
    """Where the backends' schemas differ: the column types."""

    integer: str
    """A 64-bit integer (``seq``, counters)."""
    text_list: str
    """``granted`` and ``refused``: JSON text, or a text array."""
    instant: str
    """A UTC instant: ISO text, or a ``TIMESTAMPTZ``."""


def _column_type(column: str, dialect: Dialect) -> str:
    if column == "seq":
        return f"{dialect.integer} PRIMARY KEY"
    if column == "receipt_id":
        return "TEXT NOT NULL UNIQUE"
    if column in LISTS:
        return f"{dialect.text_list} NOT NULL"
    if column in TIMES:
        return f"{dialect.instant} NOT NULL"
    return "TEXT" if column == "ip" else "TEXT NOT NULL"


def initial_schema(dialect: Dialect) -> tuple[str, ...]:
    """Schema 1 in *dialect*: the receipts table and its indexes, the chain head (at the
    genesis hash) and the anchors table."""
    columns = ",\n    ".join(f'"{c}" {_column_type(c, dialect)}' for c in COLUMNS)
    return (
        f"CREATE TABLE {RECEIPTS} (\n    {columns}\n)",
        f"CREATE INDEX {RECEIPTS}_consent ON {RECEIPTS} (consent_id, seq)",
        f'CREATE INDEX {RECEIPTS}_timestamp ON {RECEIPTS} ("timestamp")',
        f"CREATE TABLE {HEAD} (id INTEGER PRIMARY KEY CHECK (id = 1), "
        f"seq {dialect.integer} NOT NULL, hash TEXT NOT NULL)",
        f"INSERT INTO {HEAD} (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
        f"CREATE TABLE {ANCHORS} (seq {dialect.integer} PRIMARY KEY, hash TEXT NOT NULL, "
        f"created_at {dialect.instant} NOT NULL, key_id TEXT NOT NULL, hmac TEXT NOT NULL, "
        f"purged {dialect.integer} NOT NULL)",
    )


_LIST_INDEXES: Final = tuple(i for i, c in enumerate(COLUMNS) if c in LISTS)
_TIME_INDEXES: Final = tuple(i for i, c in enumerate(COLUMNS) if c in TIMES)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(json.loads(value))
    return tuple(value)


def stored_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        # Non-canonical text is marked, and verification reports it.
        return parse_stored_timestamp(value)
    result: datetime = value.astimezone(UTC)
    return result


# Schema 2: the chain head carries a signature (receipts.sign_head).
HEAD_SIGNATURE_MIGRATION: Final = f"ALTER TABLE {HEAD} ADD COLUMN hmac TEXT NOT NULL DEFAULT ''"


Migrations = tuple[tuple[int, tuple[str, ...]], ...]
"""``(version, statements)`` in order; a store applies those above its recorded version."""


def migrations(dialect: Dialect) -> Migrations:
    """Every schema version's statements in *dialect*."""
    return ((1, initial_schema(dialect)), (2, (HEAD_SIGNATURE_MIGRATION,)))


def head_update(
    param: str, seq: int, hash_: str, keys: Sequence[str | bytes]
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters that move the chain head to *seq*, signed."""
    sql = f"UPDATE {HEAD} SET seq = {param}, hash = {param}, hmac = {param} WHERE id = 1"
    return sql, (seq, hash_, sign_head(seq, hash_, keys=keys))


def sign_legacy_head(conn: Any, param: str, current: int, keys: Sequence[str | bytes]) -> None:
    """During a migration from schema 1, sign the head schema 1 left unsigned (with a key)."""
    if not 0 < current < 2 or not keys:
        return
    row = conn.execute(f"SELECT seq, hash FROM {HEAD} WHERE id = 1").fetchone()
    if row is not None and int(row[0]) > 0:
        conn.execute(*head_update(param, int(row[0]), str(row[1]), keys))


def row_to_receipt(row: Sequence[Any]) -> Receipt:
    """Map a row selected with :data:`SELECT_COLUMNS` to a receipt (no re-validation)."""
    values = list(row)
    for i in _LIST_INDEXES:
        values[i] = _as_tuple(values[i])
    for i in _TIME_INDEXES:
        values[i] = stored_datetime(values[i])
    return unchecked_receipt(dict(zip(COLUMNS, values, strict=True)))


def receipt_params(
    receipt: Receipt,
    *,
    encode_list: Callable[[tuple[str, ...]], Any],
    encode_time: Callable[[datetime], Any],
) -> tuple[Any, ...]:
    """Column values of *receipt* in :data:`COLUMNS` order, encoded for one backend."""
    out: list[Any] = []
    for column in COLUMNS:
        value = getattr(receipt, column)
        if column in LISTS:
            value = encode_list(value)
        elif column in TIMES:
            value = encode_time(value)
        out.append(value)
    return tuple(out)
