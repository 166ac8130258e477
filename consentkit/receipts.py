"""Tamper-evident consent receipts: the record model, its keys, serialisation and sealing.

A :class:`ReceiptDraft` is what the web layer knows about one decision. A store seals it
into a :class:`Receipt` by giving it a position in a hash chain: each receipt carries the
hash of the previous one, its own SHA-256 hash over a canonical JSON form, and an
HMAC-SHA256 of that hash made with a secret receipt key. :mod:`consentkit.chain` holds what
proves a whole chain: the signed head and anchors, and ``verify_chain``.

This module is pure: standard library only, no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import hmac as _hmac
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit

from .categories import Action

__all__ = [
    "GENESIS_HASH",
    "ChainAnchor",
    "Receipt",
    "ReceiptDraft",
    "canonical_bytes",
    "draft_from_dict",
    "format_timestamp",
    "from_dict",
    "key_fingerprint",
    "parse_stored_timestamp",
    "parse_timestamp",
    "seal",
    "to_dict",
    "unchecked_receipt",
]

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first receipt of a chain."""

BreakKind: TypeAlias = Literal[
    "seq", "prev_hash", "hash", "hmac", "key", "anchor", "head", "timestamp", "checkpoint"
]

_MAX_UA = 1024
_MAX_PAGE = 2048


def format_timestamp(value: datetime) -> str:
    """Render an aware datetime as fixed-width UTC ISO 8601 (``...T12:00:00.000000Z``).

    The fixed width makes the text sort like the instant it names, which the SQLite store
    relies on for range queries.
    """
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive values are rejected, aware ones converted to UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return parsed.astimezone(UTC)


# Marks a timestamp read from text that was not in the canonical form: same instant, but
# ``verify_chain`` refuses it (the hash covers the instant, the store's filters the text).
NON_CANONICAL: Final = timezone(timedelta(0), "non-canonical stored text")


def parse_stored_timestamp(text: str) -> datetime:
    """Read a timestamp back from a store's text column.

    Text that :func:`format_timestamp` would not have written (another offset such as
    ``-23:59``, ``+00:00`` instead of ``Z``, fewer digits, no zone) still gives the
    instant it names, marked so that :func:`consentkit.chain.verify_chain` reports it: the
    receipt hash covers the instant, but range filters compare the text, so a rewritten offset would
    silently move a receipt out of an export. Raises ``ValueError`` for non-ISO text.
    """
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=NON_CANONICAL)
    utc = parsed.astimezone(UTC)
    if format_timestamp(utc) == text:
        return utc
    return utc.replace(tzinfo=NON_CANONICAL)


def utc_instant(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)


def _page_path(page: str) -> str:
    # Only the path is kept: query strings and fragments can carry identifiers or PII.
    try:
        path = urlsplit(page).path
    except ValueError:
        path = page.split("?", 1)[0].split("#", 1)[0]
    return path[:_MAX_PAGE]


def _str_tuple(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of strings")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError(f"{name} must contain only strings")
    return items


@dataclass(frozen=True)
class ReceiptDraft:
    """What the web layer knows about one consent decision, before it is sealed.

    ``page`` is reduced to its path; ``granted``/``refused`` become tuples; timestamps must
    be timezone-aware and are converted to UTC.
    """

    consent_id: str
    action: Action
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    policy_revision: str
    shown_hash: str
    language: str
    jurisdiction: str
    consent_model: str
    collection: str
    page: str
    user_agent: str
    ip: str | None
    timestamp: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.consent_id, str) or not self.consent_id:
            raise ValueError("consent_id must be a non-empty string")
        if not isinstance(self.action, str) or not self.action:
            raise ValueError("action must be a non-empty string")
        for name in TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string")
        if self.ip is not None and not isinstance(self.ip, str):
            raise TypeError("ip must be a string or None")
        set_ = object.__setattr__
        set_(self, "granted", _str_tuple("granted", self.granted))
        set_(self, "refused", _str_tuple("refused", self.refused))
        set_(self, "page", _page_path(self.page))
        set_(self, "user_agent", self.user_agent[:_MAX_UA])
        set_(self, "timestamp", utc_instant("timestamp", self.timestamp))
        set_(self, "expires_at", utc_instant("expires_at", self.expires_at))


TEXT_FIELDS: Final = (
    "policy_revision",
    "shown_hash",
    "language",
    "jurisdiction",
    "consent_model",
    "collection",
    "page",
    "user_agent",
)


@dataclass(frozen=True)
class Receipt(ReceiptDraft):
    """A sealed draft: its place in the chain, its hash and its keyed signature."""

    receipt_id: str
    seq: int
    prev_hash: str
    hash: str
    hmac: str
    key_id: str

    @property
    def draft(self) -> ReceiptDraft:
        """The draft this receipt was sealed from."""
        return ReceiptDraft(**{name: getattr(self, name) for name in DRAFT_FIELDS})


DRAFT_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(ReceiptDraft))
RECEIPT_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(Receipt))
_DATETIME_FIELDS: Final = frozenset({"timestamp", "expires_at"})
_TUPLE_FIELDS: Final = frozenset({"granted", "refused"})


def unchecked_receipt(values: Mapping[str, Any]) -> Receipt:
    """Build a receipt from trusted, already normalised values, skipping validation.

    For stores reading their own rows back (millions on export): *values* must hold every
    field of :class:`Receipt` with the right types. Verification still catches tampering,
    since it recomputes the hash from these values.
    """
    receipt = object.__new__(Receipt)
    receipt.__dict__.update(values)
    return receipt


@dataclass(frozen=True)
class ChainAnchor:
    """Where a chain resumes after a purge: the seq and hash of the last purged receipt.

    The anchor is signed like a receipt so that deleting old receipts and writing an anchor
    needs the receipt key.
    """

    seq: int
    hash: str
    created_at: datetime
    key_id: str = ""
    hmac: str = field(default="", repr=False)


# --- keys -----------------------------------------------------------------------------


def _key_bytes(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not raw:
        raise ValueError("a receipt key must not be empty")
    return raw


def key_fingerprint(key: str | bytes) -> str:
    """A short public id for a receipt key, derived so that it reveals nothing of the key."""
    digest = _hmac.new(_key_bytes(key), b"consentkit receipt key id", hashlib.sha256)
    return digest.hexdigest()[:16]


def keyring(keys: Sequence[str | bytes]) -> dict[str, bytes]:
    if isinstance(keys, str | bytes) or not keys:
        raise ValueError("receipt keys must be a non-empty sequence (newest first)")
    return dict(_cached_keyring(tuple(keys)))


@functools.lru_cache(maxsize=8)
def _cached_keyring(keys: tuple[str | bytes, ...]) -> tuple[tuple[str, bytes], ...]:
    # Fingerprints cost an HMAC each: cache them, since every append seals with the same keys.
    return tuple((key_fingerprint(key), _key_bytes(key)) for key in keys)


def signing_key(keys: Sequence[str | bytes]) -> tuple[str, bytes]:
    return next(iter(keyring(keys).items()))


def sign(key: bytes, message: bytes) -> str:
    return _hmac.new(key, message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    # Bytes, because compare_digest raises on non-ASCII str (a tampered column could hold any).
    return _hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# --- serialisation --------------------------------------------------------------------


def to_dict(record: ReceiptDraft) -> dict[str, Any]:
    """A JSON-ready dict of a draft or receipt (timestamps as UTC ISO 8601, lists for tuples)."""
    names = RECEIPT_FIELDS if isinstance(record, Receipt) else DRAFT_FIELDS
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(record, name)
        if name in _DATETIME_FIELDS:
            value = format_timestamp(value)
        elif name in _TUPLE_FIELDS:
            value = list(value)
        out[name] = value
    return out


def _coerce(data: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError("a receipt must be a JSON object")
    missing = [name for name in names if name not in data]
    if missing:
        raise ValueError(f"receipt is missing field(s): {', '.join(missing)}")
    values: dict[str, Any] = {}
    for name in names:
        value = data[name]
        if name in _DATETIME_FIELDS:
            value = parse_timestamp(value) if isinstance(value, str) else value
        elif name in _TUPLE_FIELDS and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return values


def draft_from_dict(data: Mapping[str, Any]) -> ReceiptDraft:
    """Rebuild a draft from :func:`to_dict` output; raises ``ValueError``/``TypeError``."""
    return ReceiptDraft(**_coerce(data, DRAFT_FIELDS))


def from_dict(data: Mapping[str, Any]) -> Receipt:
    """Rebuild a receipt from :func:`to_dict` output; raises ``ValueError``/``TypeError``."""
    values = _coerce(data, RECEIPT_FIELDS)
    seq = values["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("seq must be a positive integer")
    for name in ("receipt_id", "prev_hash", "hash", "hmac", "key_id"):
        if not isinstance(values[name], str):
            raise TypeError(f"{name} must be a string")
    return Receipt(**values)


def _canonical(values: Mapping[str, Any]) -> bytes:
    data = {
        name: format_timestamp(value)
        if name in _DATETIME_FIELDS
        else list(value)
        if name in _TUPLE_FIELDS
        else value
        for name, value in values.items()
        if name not in ("hash", "hmac")
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_bytes(receipt: Receipt) -> bytes:
    """The bytes a receipt's ``hash`` covers: every field except ``hash`` and ``hmac``.

    Sorted keys, no whitespace, UTF-8, timestamps in fixed-width UTC ISO 8601.
    """
    return _canonical({name: getattr(receipt, name) for name in RECEIPT_FIELDS})


def content_hash(receipt: Receipt) -> str:
    return hashlib.sha256(canonical_bytes(receipt)).hexdigest()


def seal(
    draft: ReceiptDraft,
    *,
    seq: int,
    prev_hash: str,
    keys: Sequence[str | bytes],
    receipt_id: str | None = None,
) -> Receipt:
    """Turn *draft* into receipt number *seq* of a chain whose head hash is *prev_hash*.

    *keys* lists the receipt keys newest first; the first one signs, the others only verify.
    """
    if not isinstance(draft, ReceiptDraft):
        raise TypeError("seal() needs a ReceiptDraft")
    if seq < 1:
        raise ValueError("seq starts at 1")
    key_id, key = signing_key(keys)
    # The draft was validated when it was built, so the receipt skips re-validation.
    values: dict[str, Any] = {name: getattr(draft, name) for name in DRAFT_FIELDS}
    values["receipt_id"] = receipt_id or str(uuid.uuid4())
    values["seq"] = seq
    values["prev_hash"] = prev_hash
    values["key_id"] = key_id
    digest = hashlib.sha256(_canonical(values)).hexdigest()
    values["hash"] = digest
    values["hmac"] = sign(key, digest.encode("ascii"))
    return unchecked_receipt({name: values[name] for name in RECEIPT_FIELDS})
