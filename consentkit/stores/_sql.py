"""Row mapping and query pieces shared by the SQL stores (private)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..errors import ConfigError
from ..receipts import RECEIPT_FIELDS, Receipt, unchecked_receipt
from .base import Stats

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
    "policy_revision",
    "shown_hash",
    "language",
    "jurisdiction",
    "consent_model",
    "collection",
    "page",
    "user_agent",
    "ip",
    "timestamp",
    "expires_at",
    "prev_hash",
    "hash",
    "hmac",
    "key_id",
)
SELECT_COLUMNS: Final = ", ".join(f'"{c}"' for c in COLUMNS)
_LISTS: Final = frozenset({"granted", "refused"})
_TIMES: Final = frozenset({"timestamp", "expires_at"})
_LIST_INDEXES: Final = tuple(i for i, c in enumerate(COLUMNS) if c in _LISTS)
_TIME_INDEXES: Final = tuple(i for i, c in enumerate(COLUMNS) if c in _TIMES)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(json.loads(value))
    return tuple(value)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    result: datetime = value.astimezone(UTC)
    return result


def row_to_receipt(row: Sequence[Any]) -> Receipt:
    """Map a row selected with :data:`SELECT_COLUMNS` to a receipt (no re-validation)."""
    values = list(row)
    for i in _LIST_INDEXES:
        values[i] = _as_tuple(values[i])
    for i in _TIME_INDEXES:
        values[i] = _as_datetime(values[i])
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
        if column in _LISTS:
            value = encode_list(value)
        elif column in _TIMES:
            value = encode_time(value)
        out.append(value)
    return tuple(out)


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


# --- export fast path: the database renders JSON text and escaped CSV cells ------------

_FIELDS_IN_EXPORT_ORDER: Final = RECEIPT_FIELDS


def json_object_sql(
    function: str, list_expr: Callable[[str], str], time_expr: Callable[[str], str]
) -> str:
    """A SQL expression building one receipt's JSON object, keys in model order."""
    parts = []
    for name in _FIELDS_IN_EXPORT_ORDER:
        column = f'"{name}"'
        if name in _LISTS:
            column = list_expr(column)
        elif name in _TIMES:
            column = time_expr(column)
        parts.append(f"'{name}', {column}")
    return f"{function}({', '.join(parts)})"


def csv_line_sql(
    position: str,
    control: Callable[[int], str],
    list_expr: Callable[[str], str],
    time_expr: Callable[[str], str],
) -> tuple[str, str]:
    """SQL rendering one whole CSV record (no line end), as ``csv.writer`` would.

    Returns ``(cells, record)``: *cells* selects the formula-escaped cells (like
    :func:`consentkit.export.csv_safe`) as ``c0, c1, ...`` from the receipts table;
    *record* joins them, quoting a cell that holds a quote, comma, CR or LF. Two steps so
    the database computes each cell once. *position* is ``instr`` or ``strpos``.
    """
    risky = ", ".join(["'='", "'+'", "'-'", "'@'", control(9), control(13)])
    needs_quotes = ["'\"'", "','", control(10), control(13)]
    cells = []
    record = []
    for i, name in enumerate(_FIELDS_IN_EXPORT_ORDER):
        column = f'"{name}"'
        cell = f"c{i}"
        if name == "seq":
            cells.append(f"CAST({column} AS TEXT) AS {cell}")
            record.append(cell)
            continue
        if name in _LISTS:
            value = list_expr(column)
        elif name in _TIMES:
            value = time_expr(column)
        else:
            value = f"COALESCE({column}, '')"
        prefixed = "'''' || " + value
        cells.append(
            f"CASE WHEN substr({value}, 1, 1) IN ({risky}) THEN {prefixed} "
            f"ELSE {value} END AS {cell}"
        )
        test = " OR ".join(f"{position}({cell}, {mark}) > 0" for mark in needs_quotes)
        quoted = "'\"' || replace(" + cell + ", '\"', '\"\"') || '\"'"
        record.append(f"CASE WHEN {test} THEN {quoted} ELSE {cell} END")
    return ", ".join(cells), " || ',' || ".join(record)
