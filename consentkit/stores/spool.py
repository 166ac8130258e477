"""A local spool that keeps consent decisions while the receipt store is down.

:class:`SpooledStore` wraps a store. When an append fails it logs an error, writes the
draft as one fsynced JSON line to a spool file and returns ``None``, so the visitor's
choice is honoured anyway. The next append that gets through (or :meth:`drain`) first
replays the spool in order. After a failure the store is tried again at most every
``retry_interval`` seconds; drafts meanwhile join the spool at once, behind the others.
The spool is bounded: when full, appends raise
:class:`~consentkit.errors.StoreError` rather than drop anything.

Replay is at-least-once: a crash between a replayed append and the spool rewrite can
record that decision twice (two receipts, both valid in the chain).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StoreError
from ..receipts import ChainAnchor, Receipt, ReceiptDraft, draft_from_dict, to_dict
from .base import ChainHead, ReceiptStore, Stats

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the in-process lock still applies
    fcntl = None  # type: ignore[assignment]

__all__ = ["SpooledStore"]

logger = logging.getLogger("consentkit.receipts")

_SPOOL_VERSION = 1
_REPLAY_BATCH = 500
"""Spooled drafts replayed per transaction."""


class SpooledStore:
    """A receipt store that spools drafts to *spool_path* while *inner* fails.

    Longer than most classes because it is a whole ``ReceiptStore``: every read delegates
    to *inner*, and the write path (spool, lock, replay in order) is the spool itself.

    Several processes may share one spool file: a lock file beside it serialises them.
    An append with nothing spooled takes no lock, so concurrent appends can share the
    inner store's commits.
    """

    def __init__(
        self,
        inner: ReceiptStore,
        spool_path: str | os.PathLike[str],
        *,
        max_items: int = 10000,
        retry_interval: float = 2.0,
    ) -> None:
        if max_items < 1:
            raise ConfigError(
                "must be at least 1", source="SpooledStore", key="max_items", fix="use e.g. 10000"
            )
        if not retry_interval >= 0:
            raise ConfigError(
                "must be 0 or more seconds",
                source="SpooledStore",
                key="retry_interval",
                fix="use e.g. 2.0",
            )
        self.retry_interval = retry_interval
        # While the inner store is failing, appends go straight to the spool until this
        # monotonic time: a database that is down answers each attempt only after its
        # connection timeout, and every visitor would wait that long.
        self._retry_at = 0.0
        self._retry_lock = threading.Lock()
        self.inner = inner
        self.path = Path(spool_path)
        self.max_items = max_items
        self._lock = threading.Lock()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._rejected_path = self.path.with_name(self.path.name + ".rejected")
        self._counted = (0, 0)  # (file size, lines) already counted

    def __repr__(self) -> str:
        return f"SpooledStore({self.inner!r}, {str(self.path)!r})"

    # --- locking and files ----------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _pending_locked(self) -> int:
        size = self._size()
        counted_size, lines = self._counted
        if size < counted_size or counted_size == 0:
            counted_size, lines = 0, 0
        if size > counted_size:
            with self.path.open("rb") as fh:
                fh.seek(counted_size)
                lines += fh.read(size - counted_size).count(b"\n")
        self._counted = (size, lines)
        return lines

    def _write_line(self, draft: ReceiptDraft) -> None:
        record = {"v": _SPOOL_VERSION, "draft": to_dict(draft)}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)

    def _rewrite(self, lines: Sequence[bytes]) -> None:
        if not lines:
            self.path.unlink(missing_ok=True)
        else:
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"".join(lines))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._counted = (0, 0)

    def _reject(self, line: bytes, problem: str) -> None:
        logger.error(
            "consentkit: unreadable spool line moved to %s: %s", self._rejected_path, problem
        )
        fd = os.open(self._rejected_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line if line.endswith(b"\n") else line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- replay -------------------------------------------------------------------

    def _replay_locked(self) -> int:
        if self._size() == 0:
            return 0
        lines = self.path.read_bytes().splitlines(keepends=True)
        done = 0  # lines replayed (or rejected) so far: the spool keeps the rest
        batch: list[ReceiptDraft] = []
        try:
            # In batches of one transaction each: one commit per receipt would replay no
            # faster than visitors answer under load, and the spool would never empty.
            for index, line in enumerate(lines):
                draft = _read_line(line)
                if isinstance(draft, str):
                    self._append_all(batch)  # the lines before it go first
                    batch.clear()
                    self._reject(line, draft)
                    done = index + 1
                    continue
                batch.append(draft)
                if len(batch) >= _REPLAY_BATCH:
                    self._append_all(batch)
                    batch.clear()
                    done = index + 1
            self._append_all(batch)
            done = len(lines)
        finally:
            if done:
                self._rewrite(lines[done:])
                logger.warning("consentkit: replayed %d spooled receipt(s) into the store", done)
        return done

    def _append_all(self, drafts: Sequence[ReceiptDraft]) -> None:
        """Append *drafts* to the inner store, in order, in one transaction when it can."""
        if drafts:
            self._append_inner(drafts, [])

    def drain(self) -> int:
        """Replay every spooled draft into the inner store; return how many were replayed.

        Raises :class:`~consentkit.errors.StoreError` if the inner store still fails
        (what was replayed before the failure is removed from the spool).
        """
        with self._locked():
            try:
                return self._replay_locked()
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"could not drain the receipt spool: {exc}") from exc

    def pending(self) -> int:
        """How many drafts wait in the spool."""
        with self._locked():
            return self._pending_locked()

    # --- store API ----------------------------------------------------------------

    def append(self, draft: ReceiptDraft) -> Receipt | None:
        """Append through the inner store, or spool *draft* and return ``None``.

        Raises :class:`~consentkit.errors.StoreError` only when the inner store fails
        *and* the spool is full or cannot be written.
        """
        return self.append_many([draft])[0]

    def append_many(self, drafts: Sequence[ReceiptDraft]) -> list[Receipt | None]:
        """:meth:`append` for several drafts, in order, in one inner transaction if it can.

        A draft the inner store did not take is spooled (``None`` in its place), and so is
        every draft after it, so the order holds.
        """
        done: list[Receipt | None] = []
        cause: Exception | None = None
        if not drafts:
            return done
        if self._size() == 0:
            # Nothing waits to be replayed, so nothing must go first: append without the
            # spool lock, which lets concurrent appends share one commit in the inner store.
            try:
                self._append_inner(drafts, done)
            except Exception as exc:  # any failure: the decision must not be lost
                cause = exc
            if len(done) == len(drafts):
                return done  # all stored: the spool (and its file lock) is not touched
        elif self._store_is_back():
            with self._locked():
                try:
                    self._replay_locked()
                    self._append_inner(drafts, done)
                except Exception as exc:
                    cause = exc
                for draft in drafts[len(done) :]:
                    self._spool_locked(draft, cause)
            return done + [None] * (len(drafts) - len(done))
        with self._locked():
            for draft in drafts[len(done) :]:
                self._spool_locked(draft, cause)  # behind the drafts already waiting
        return done + [None] * (len(drafts) - len(done))

    def _store_is_back(self) -> bool:
        """Whether the inner store answers again (asked at most every ``retry_interval``).

        Asked outside the spool lock: a database that is down may take its whole connection
        timeout to say so, and meanwhile the other appends keep spooling.
        """
        with self._retry_lock:
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_interval  # one probe at a time
        try:
            self.inner.head()
        except Exception:
            with self._retry_lock:
                self._retry_at = time.monotonic() + self.retry_interval
            return False
        return True

    def _append_inner(self, drafts: Sequence[ReceiptDraft], done: list[Receipt | None]) -> None:
        """Append *drafts* to the inner store, collecting receipts in *done* as they land."""
        many = getattr(self.inner, "append_many", None)
        if many is not None:  # one transaction: all or none
            done.extend(many(drafts))
            return
        for draft in drafts:
            done.append(self.inner.append(draft))

    def _spool_locked(self, draft: ReceiptDraft, cause: Exception | None) -> None:
        """Write *draft* to the spool; *cause* is the inner store's failure (``None``: the
        store failed moments ago and was not tried again)."""
        if cause is not None:
            with self._retry_lock:
                self._retry_at = time.monotonic() + self.retry_interval
        pending = self._pending_locked()
        if pending >= self.max_items:
            logger.error(
                "consentkit: receipt store failing (%s) and the spool %s is full "
                "(%d drafts): a consent decision could NOT be recorded",
                cause,
                self.path,
                pending,
            )
            raise StoreError(
                f"receipt store failing and spool full ({pending} drafts); decision not recorded"
            ) from cause
        try:
            self._write_line(draft)
        except OSError as exc:
            logger.error(
                "consentkit: receipt store failing (%s) and the spool %s cannot be written "
                "(%s): a consent decision could NOT be recorded",
                cause,
                self.path,
                exc,
            )
            raise StoreError(f"receipt store failing and spool unwritable: {exc}") from exc
        logger.error(
            "consentkit: receipt store failed (%s); decision spooled to %s (%d waiting)",
            cause or f"still failing; tried again at most every {self.retry_interval} s",
            self.path,
            pending + 1,
            exc_info=cause,
        )

    def migrate(self) -> None:
        """Migrate the inner store."""
        self.inner.migrate()

    def schema_version(self) -> int:
        """The inner store's schema version."""
        return self.inner.schema_version()

    def latest(self, consent_id: str) -> Receipt | None:
        """The newest stored receipt of one visitor (spooled drafts are not receipts yet)."""
        return self.inner.latest(consent_id)

    def for_consent(self, consent_id: str) -> list[Receipt]:
        """Every stored receipt of one visitor."""
        return self.inner.for_consent(consent_id)

    def iter_receipts(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Receipt]:
        """Stored receipts in seq order."""
        return self.inner.iter_receipts(
            since=since, until=until, actions=actions, batch_size=batch_size
        )

    def count(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
    ) -> int:
        """How many stored receipts match."""
        return self.inner.count(since=since, until=until, actions=actions)

    def purge(self, older_than: datetime) -> int:
        """Purge the inner store."""
        return self.inner.purge(older_than)

    def anchor(self) -> ChainAnchor | None:
        """The inner store's purge anchor."""
        return self.inner.anchor()

    def head(self) -> ChainHead | None:
        """The inner store's chain head."""
        return self.inner.head()

    def stats(self, *, since: datetime | None = None, until: datetime | None = None) -> Stats:
        """The inner store's stats (spooled drafts are not counted)."""
        return self.inner.stats(since=since, until=until)

    def close(self) -> None:
        """Close the inner store; spooled drafts stay on disk for the next start."""
        self.inner.close()


if TYPE_CHECKING:
    # mypy proves the wrapper is a store itself, so signatures never need a union.
    _IS_A_STORE: type[ReceiptStore] = SpooledStore


def _read_line(line: bytes) -> ReceiptDraft | str:
    """The draft a spool line holds, or what is wrong with the line."""
    try:
        record: Any = json.loads(line)
        if not isinstance(record, dict) or record.get("v") != _SPOOL_VERSION:
            raise ValueError("unknown spool record version")
        return draft_from_dict(record["draft"])
    except (ValueError, TypeError, KeyError) as exc:
        return str(exc)


def _fsync_dir(directory: Path) -> None:
    # A new or renamed file survives a crash only once its directory entry is synced.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
