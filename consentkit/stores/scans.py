"""Scan results kept next to the receipts: one side table, ``consentkit_scan_results``.

``consentkit scan --store URL`` saves each scan's JSON report (schema version 1, see
``docs/scan.md``) in the receipt store's database, so the dashboard can show the cookies
the last scan found undeclared. The table is independent of the receipt chain and its
schema version: it is created on first save, and dropping it loses nothing else.

====================  =================================================================
column                meaning
====================  =================================================================
id                    increasing number
scanned_at            ISO 8601 UTC, when the scan finished
url                   the scanned start URL
status / exit_code    ``compliant`` 0, ``violations`` 1, ``not_verified`` 2
report                the whole JSON report
====================  =================================================================
"""

# ruff: noqa: S608  (SQL text is built only from module constants; values are bound)
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigError, MissingExtraError, StoreError

__all__ = [
    "SCAN_TABLE",
    "StoredScan",
    "last_scan",
    "last_scan_undeclared",
    "save_scan",
    "undeclared_cookies",
]

SCAN_TABLE: Final = "consentkit_scan_results"

_CREATE: Final = {
    "sqlite": f"""CREATE TABLE IF NOT EXISTS {SCAN_TABLE} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scanned_at TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL,
        exit_code INTEGER NOT NULL, report TEXT NOT NULL)""",
    "postgres": f"""CREATE TABLE IF NOT EXISTS {SCAN_TABLE} (
        id BIGSERIAL PRIMARY KEY,
        scanned_at TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL,
        exit_code INTEGER NOT NULL, report TEXT NOT NULL)""",
}
_INSERT: Final = (
    f"INSERT INTO {SCAN_TABLE} (scanned_at, url, status, exit_code, report) "
    "VALUES ({p}, {p}, {p}, {p}, {p})"
)
_LATEST: Final = (
    f"SELECT id, scanned_at, url, status, exit_code, report FROM {SCAN_TABLE} "
    "{where} ORDER BY id DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class StoredScan:
    """One saved scan."""

    id: int
    scanned_at: str
    url: str
    status: str
    exit_code: int
    report: Mapping[str, Any]


_Run = Callable[[Callable[[Any], Any]], Any]


def _connect(url: str) -> tuple[str, _Run]:
    """The dialect and a "run this with a connection in one transaction" function."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if sep and scheme in ("postgresql", "postgres"):
        try:
            import psycopg
        except ImportError:
            raise MissingExtraError("PostgreSQL store", "postgres", "psycopg") from None

        def run_pg(work: Callable[[Any], Any]) -> Any:
            try:
                with psycopg.connect(text, connect_timeout=10) as conn:
                    return work(conn)
            except psycopg.Error as exc:
                raise StoreError(f"scan results: {exc}") from exc

        return "postgres", run_pg
    if sep and scheme != "sqlite":
        raise ConfigError(
            f"unsupported scheme {scheme!r}",
            source="receipt store",
            key="url",
            fix="use sqlite:///file.db, a file path, or postgresql://...",
        )
    if sep and not rest.startswith("/"):
        raise ConfigError(
            f"{text!r} has a host part",
            source="receipt store",
            key="url",
            fix="use sqlite:///relative.db or sqlite:////absolute/path.db",
        )
    path = rest[1:] if sep else text

    def run_sqlite(work: Callable[[Any], Any]) -> Any:
        try:
            conn = sqlite3.connect(path, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"scan results: cannot open {path!r}: {exc}") from exc
        try:
            with conn:
                return work(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"scan results: {exc}") from exc
        finally:
            conn.close()

    return "sqlite", run_sqlite


def _mark(dialect: str) -> str:
    return "%s" if dialect == "postgres" else "?"


def save_scan(url: str, report: Mapping[str, Any]) -> int:
    """Save a scan's JSON report in the store at *url*; return its id."""
    dialect, run = _connect(url)
    params: Sequence[Any] = (
        str(report.get("finished_at") or report.get("started_at") or ""),
        str(report.get("url", "")),
        str(report.get("status", "")),
        int(report.get("exit_code", 2)),
        json.dumps(report, ensure_ascii=False, sort_keys=True),
    )
    sql = _INSERT.format(p=_mark(dialect))
    if dialect == "postgres":
        sql += " RETURNING id"

    def work(conn: Any) -> int:
        conn.execute(_CREATE[dialect])
        cursor = conn.execute(sql, params)
        if dialect == "postgres":
            return int(cursor.fetchone()[0])
        return int(cursor.lastrowid)

    return int(run(work))


def last_scan(url: str, *, site: str | None = None) -> StoredScan | None:
    """The newest saved scan (of *site*, a start URL, when given), or ``None``."""
    dialect, run = _connect(url)
    where = f"WHERE url = {_mark(dialect)}" if site else ""
    params: tuple[Any, ...] = (site,) if site else ()

    def work(conn: Any) -> Any:
        conn.execute(_CREATE[dialect])
        return conn.execute(_LATEST.format(where=where), params).fetchone()

    row = run(work)
    if row is None:
        return None
    try:
        report = json.loads(row[5])
    except ValueError as exc:
        raise StoreError(f"scan results: scan {row[0]} holds no valid JSON report") from exc
    return StoredScan(int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]), report)


def last_scan_undeclared(url: str, *, site: str | None = None) -> list[dict[str, Any]]:
    """The cookies the newest scan found but the policy does not declare.

    Each item is the report's cookie entry (name, domain, category, provider, set_by,
    visits, pages, ...). A scan run without ``--policy`` cannot tell declared from not:
    it lists the cookies no knowledge-base entry knows. Empty when nothing was saved.
    """
    scan = last_scan(url, site=site)
    return [] if scan is None else undeclared_cookies(scan.report)


def undeclared_cookies(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cookie entries of a JSON scan report that the policy does not declare."""
    cookies = report.get("cookies") or []
    return [
        dict(c)
        for c in cookies
        if isinstance(c, Mapping)
        and (
            c.get("declared") is False
            or (c.get("declared") is None and c.get("source") == "unknown")
        )
    ]
