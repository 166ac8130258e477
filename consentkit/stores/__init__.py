"""Durable receipt stores: SQLite (default), PostgreSQL, and a spool for outages.

:func:`open_store` picks the backend from a URL::

    sqlite:///relative/receipts.db     sqlite:////var/lib/site/receipts.db
    receipts.db (a plain path)         postgresql://user@host/db  (or postgres://)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from .base import ChainHead, ReceiptStore, Stats, verify_store
from .spool import SpooledStore

__all__ = [
    "ChainHead",
    "ReceiptStore",
    "SpooledStore",
    "Stats",
    "open_store",
    "verify_store",
]


def open_store(url: str, *, receipt_keys: Sequence[str | bytes], **opts: Any) -> ReceiptStore:
    """Open the receipt store named by *url*, migrating its schema unless ``migrate=False``.

    *receipt_keys* are the HMAC keys, newest first; the first one signs. Other keyword
    options go to the backend (``busy_timeout`` for SQLite; ``pool_size``, ``timeout``
    for PostgreSQL).
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            "is empty", source="receipt store", key="url", fix="use e.g. sqlite:///receipts.db"
        )
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        _reject_mistyped_url(url)
        return _sqlite(url, receipt_keys, opts)
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db" (the SQLAlchemy rule).
        if not rest.startswith("/"):
            raise ConfigError(
                f"{url!r} has a host part",
                source="receipt store",
                key="url",
                fix="use sqlite:///relative.db or sqlite:////absolute/path.db",
            )
        return _sqlite(rest[1:], receipt_keys, opts)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresReceiptStore

        return PostgresReceiptStore(url, receipt_keys=receipt_keys, **opts)
    raise ConfigError(
        f"unsupported scheme {scheme!r}",
        source="receipt store",
        key="url",
        fix="use sqlite:///file.db, a file path, or postgresql://...",
    )


def _reject_mistyped_url(url: str) -> None:
    """``sqlite:/consent.db`` is a URL missing slashes, not a file named so."""
    scheme, colon, rest = url.partition(":")
    if colon and scheme.lower() in ("sqlite", "postgresql", "postgres"):
        path = rest.lstrip("/")
        fixed = f"sqlite:///{path}" if scheme.lower() == "sqlite" else f"{scheme}://{path}"
        raise ConfigError(
            f"{url!r} looks like a mistyped store URL",
            source="receipt store",
            key="url",
            fix=f"did you mean {fixed!r}? (sqlite:////abs/path.db for an absolute path)",
        )


def _sqlite(path: str, receipt_keys: Sequence[str | bytes], opts: dict[str, Any]) -> ReceiptStore:
    from .sqlite import SQLiteReceiptStore

    return SQLiteReceiptStore(path, receipt_keys=receipt_keys, **opts)
