"""The export fast path (private): SQL that makes the database render each receipt's JSON
object or CSV record, and the few Python checks that decide when a record needs care.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from ..receipts import RECEIPT_FIELDS
from ._schema import LISTS, TIMES

_FIELDS_IN_EXPORT_ORDER: Final = RECEIPT_FIELDS


def json_object_sql(
    function: str, list_expr: Callable[[str], str], time_expr: Callable[[str], str]
) -> str:
    """A SQL expression building one receipt's JSON object, keys in model order."""
    parts = []
    for name in _FIELDS_IN_EXPORT_ORDER:
        column = f'"{name}"'
        if name in LISTS:
            column = list_expr(column)
        elif name in TIMES:
            column = time_expr(column)
        parts.append(f"'{name}', {column}")
    return f"{function}({', '.join(parts)})"


def csv_line_sql(
    position: str,
    control: Callable[[int], str],
    list_expr: Callable[[str], str],
    time_expr: Callable[[str], str],
) -> tuple[str, str, str]:
    """SQL rendering one whole CSV record (no line end), as ``csv.writer`` would.

    Returns three select lists, each over the one before, so the database computes
    every value once: *cells* selects the raw cells ``c0, c1, ...`` from the receipts
    table; *joined* passes them on with ``j``, all cells joined by a unit separator;
    *record* is the CSV record. A record whose cells need no formula escaping (like
    :func:`consentkit.stores.export.csv_safe`) and no quoting is ``j`` with commas: a handful
    of string searches. Only the rare other records are built cell by cell.
    *position* is ``instr`` or ``strpos``.
    """
    sep = control(31)
    risky = ["'='", "'+'", "'-'", "'@'", control(9), control(13)]
    needs_quotes = ["'\"'", "','", control(10), control(13)]
    cells: list[str] = []
    names: list[str] = []
    slow: list[str] = []
    for i, name in enumerate(_FIELDS_IN_EXPORT_ORDER):
        column = f'"{name}"'
        cell = f"c{i}"
        names.append(cell)
        if name == "seq":
            cells.append(f"CAST({column} AS TEXT) AS {cell}")
            slow.append(cell)
            continue
        if name in LISTS:
            value = list_expr(column)
        elif name in TIMES:
            value = time_expr(column)
        else:
            value = f"COALESCE({column}, '')"
        cells.append(f"{value} AS {cell}")
        escaped = (
            f"CASE WHEN substr({cell}, 1, 1) IN ({', '.join(risky)}) "
            f"THEN '''' || {cell} ELSE {cell} END"
        )
        test = " OR ".join(f"{position}({escaped}, {mark}) > 0" for mark in needs_quotes)
        quoted = "'\"' || replace(" + escaped + ", '\"', '\"\"') || '\"'"
        slow.append(f"CASE WHEN {test} THEN {quoted} ELSE {escaped} END")
    joined = ", ".join([*names, f" || {sep} || ".join(names) + " AS j"])
    plain = " AND ".join(
        [
            *(f"{position}(j, {mark}) = 0" for mark in needs_quotes),
            *(f"{position}({sep} || j, {sep} || {mark}) = 0" for mark in risky),
            f"length(j) - length(replace(j, {sep}, '')) = {len(names) - 1}",
        ]
    )
    slow_record = " || ',' || ".join(slow)
    record = f"CASE WHEN {plain} THEN replace(j, {sep}, ',') ELSE {slow_record} END"
    return ", ".join(cells), joined, record


CSV_SEP: Final = "\x1f"
"""Joins a record's cells in the database; a record needing no care becomes CSV by replace."""

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# One regex finds a formula start after any separator: the engine jumps from separator to
# separator, several times faster than six substring searches.
_FORMULA_AFTER_SEP: Final = re.compile(CSV_SEP + "[-=+@\t\r]")


def csv_cell_exprs(list_expr: Callable[[str], str], time_expr: Callable[[str], str]) -> list[str]:
    """One SQL expression per export column giving the cell's raw text."""
    exprs = []
    for name in _FIELDS_IN_EXPORT_ORDER:
        column = f'"{name}"'
        if name in LISTS:
            exprs.append(list_expr(column))
        elif name in TIMES:
            exprs.append(time_expr(column))
        else:
            exprs.append(f"COALESCE(CAST({column} AS TEXT), '')")
    return exprs


def plain_csv(line: str) -> bool:
    """Whether a separator-joined record is valid CSV once the separators become commas.

    True when no cell holds a quote, comma or line break, none starts like a
    spreadsheet formula and no cell holds the separator itself.
    """
    if '"' in line or "," in line or "\n" in line or "\r" in line:
        return False
    if line.startswith(_FORMULA_START) or _FORMULA_AFTER_SEP.search(line) is not None:
        return False
    return line.count(CSV_SEP) == len(_FIELDS_IN_EXPORT_ORDER) - 1


def csv_record(cells: Sequence[str]) -> str:
    """One CSV record (no line end) from raw cells, formula-escaped and quoted."""
    out = []
    for cell in cells:
        if cell.startswith(_FORMULA_START):
            cell = "'" + cell
        if '"' in cell or "," in cell or "\n" in cell or "\r" in cell:
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return ",".join(out)
