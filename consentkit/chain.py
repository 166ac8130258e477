"""A receipt chain's ends and its verification: signed anchors, checkpoints and head, and
:func:`verify_chain`, which walks a chain in constant memory and names the first receipt
that does not check out.

Apart from :mod:`consentkit.receipts` (one receipt: model, keys, seal) because these speak of
the chain as a whole. Pure: standard library only, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .receipts import (
    GENESIS_HASH,
    NON_CANONICAL,
    BreakKind,
    ChainAnchor,
    Receipt,
    content_hash,
    format_timestamp,
    keyring,
    parse_timestamp,
    same,
    sign,
    signing_key,
    utc_instant,
)

__all__ = [
    "ChainBreak",
    "VerifyResult",
    "anchor_from_dict",
    "anchor_to_dict",
    "check_chain_end",
    "seal_anchor",
    "seal_checkpoint",
    "sign_head",
    "verify_chain",
]


@dataclass(frozen=True)
class ChainBreak:
    """The first receipt that failed verification, and why."""

    seq: int
    receipt_id: str
    kind: BreakKind
    message: str

    def __str__(self) -> str:
        return f"receipt {self.receipt_id} (seq {self.seq}): {self.message}"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`; true when the chain is intact."""

    checked: int
    last_seq: int
    last_hash: str
    error: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """Whether every receipt verified."""
        return self.error is None

    def __bool__(self) -> bool:
        return self.error is None


def _anchor_message(seq: int, hash_: str, created_at: datetime) -> bytes:
    return f"consentkit anchor\n{seq}\n{hash_}\n{format_timestamp(created_at)}".encode()


def seal_anchor(
    seq: int, hash_: str, *, created_at: datetime, keys: Sequence[str | bytes]
) -> ChainAnchor:
    """Sign a purge anchor with the newest (first) receipt key."""
    ring = keyring(keys)
    key_id, key = next(iter(ring.items()))
    created = utc_instant("created_at", created_at)
    return ChainAnchor(
        seq=seq,
        hash=hash_,
        created_at=created,
        key_id=key_id,
        hmac=sign(key, _anchor_message(seq, hash_, created)),
    )


def anchor_to_dict(anchor: ChainAnchor) -> dict[str, Any]:
    """A JSON-ready dict of an anchor."""
    return {
        "seq": anchor.seq,
        "hash": anchor.hash,
        "created_at": format_timestamp(anchor.created_at),
        "key_id": anchor.key_id,
        "hmac": anchor.hmac,
    }


def anchor_from_dict(data: Mapping[str, Any]) -> ChainAnchor:
    """Rebuild an anchor from :func:`anchor_to_dict` output."""
    return ChainAnchor(
        seq=int(data["seq"]),
        hash=str(data["hash"]),
        created_at=parse_timestamp(str(data["created_at"])),
        key_id=str(data.get("key_id", "")),
        hmac=str(data.get("hmac", "")),
    )


def _check_signed(
    point: ChainAnchor,
    ring: Mapping[str, bytes],
    message: Callable[[int, str, datetime], bytes],
    what: str,
) -> str | None:
    key = ring.get(point.key_id)
    if key is None:
        return f"{what} at seq {point.seq} is signed by unknown key {point.key_id!r}"
    expected = sign(key, message(point.seq, point.hash, point.created_at))
    if not same(expected, point.hmac):
        return f"{what} at seq {point.seq} has an invalid signature (forged or edited)"
    return None


def _check_anchor(anchor: ChainAnchor, ring: Mapping[str, bytes]) -> str | None:
    return _check_signed(anchor, ring, _anchor_message, "purge anchor")


def _checkpoint_message(seq: int, hash_: str, created_at: datetime) -> bytes:
    return f"consentkit checkpoint\n{seq}\n{hash_}\n{format_timestamp(created_at)}".encode()


def seal_checkpoint(
    seq: int, hash_: str, *, created_at: datetime, keys: Sequence[str | bytes]
) -> ChainAnchor:
    """Sign the chain head for an external, append-only log (``consentkit anchor``).

    Signed under its own message, so a checkpoint cannot pass for a purge anchor (which
    would allow deleting every receipt up to it).
    """
    key_id, key = signing_key(keys)
    created = utc_instant("created_at", created_at)
    return ChainAnchor(
        seq, hash_, created, key_id, sign(key, _checkpoint_message(seq, hash_, created))
    )


def _check_checkpoint(point: ChainAnchor, ring: Mapping[str, bytes]) -> str | None:
    return _check_signed(point, ring, _checkpoint_message, "checkpoint")


def _head_message(seq: int, hash_: str) -> bytes:
    return f"consentkit head\n{seq}\n{hash_}".encode()


def sign_head(seq: int, hash_: str, *, keys: Sequence[str | bytes]) -> str:
    """The signature a store keeps with its chain head: ``key_id:hmac``.

    Without the receipt key nobody can move the head back after deleting the newest
    receipts, so a truncated chain no longer verifies as complete.
    """
    key_id, key = signing_key(keys)
    return f"{key_id}:{sign(key, _head_message(seq, hash_))}"


def check_chain_end(
    result: VerifyResult,
    head: tuple[int, str, str] | None,
    *,
    keys: Sequence[str | bytes],
) -> VerifyResult:
    """Compare a verified chain's end with the store's signed head ``(seq, hash, signature)``.

    Notices receipts deleted from the end: the head must be signed with a receipt key and
    name the last receipt. ``None`` (a store that never appended) passes.
    """
    if not result.ok or head is None:
        return result
    seq, hash_, signature = head
    key_id, _, mac = signature.partition(":")
    key = keyring(keys).get(key_id)
    message = ""
    if not signature:
        message = "the chain head is not signed (written before schema 2: append a receipt)"
    elif key is None or not same(sign(key, _head_message(seq, hash_)), mac):
        message = "the chain head's signature is invalid: the head row was edited"
    elif (seq, hash_) != (result.last_seq, result.last_hash):
        message = (
            f"the chain ends at seq {result.last_seq} but the store recorded seq {seq} "
            "as its newest receipt: receipts were deleted from the end"
        )
    if not message:
        return result
    brk = ChainBreak(seq, "(chain head)", "head", message)
    return VerifyResult(result.checked, result.last_seq, result.last_hash, brk)


# --- verification ---------------------------------------------------------------------


def _check_receipt(
    receipt: Receipt, expected_seq: int, expected_prev: str, ring: Mapping[str, bytes]
) -> tuple[BreakKind, str] | None:
    if receipt.seq != expected_seq:
        what = "missing" if receipt.seq > expected_seq else "duplicated or out of order"
        return "seq", f"expected seq {expected_seq}, found {receipt.seq}: receipts {what}"
    if not same(receipt.prev_hash, expected_prev):
        return (
            "prev_hash",
            "prev_hash does not match the previous receipt: receipts deleted, reordered "
            "or inserted",
        )
    if receipt.timestamp.tzinfo is NON_CANONICAL or receipt.expires_at.tzinfo is NON_CANONICAL:
        return (
            "timestamp",
            "a stored timestamp is not in the canonical UTC form (...Z): it was rewritten",
        )
    if not same(content_hash(receipt), receipt.hash):
        return "hash", "content does not match its hash: the receipt was edited"
    key = ring.get(receipt.key_id)
    if key is None:
        return "key", f"signed by unknown key {receipt.key_id!r} (forged, or a key is missing)"
    if not same(sign(key, receipt.hash.encode("utf-8")), receipt.hmac):
        return "hmac", "HMAC does not match: the receipt was forged or re-hashed without the key"
    return None


def verify_chain(
    receipts: Iterable[Receipt],
    *,
    keys: Sequence[str | bytes],
    start: ChainAnchor | None = None,
    checkpoints: Sequence[ChainAnchor] = (),
) -> VerifyResult:
    """Walk *receipts* (in seq order) and report the first broken link.

    *keys* are every receipt key still trusted (any order; by convention newest first).
    *start* is the purge anchor the chain resumes from (``None``: the chain starts at seq 1).
    *checkpoints* are signed heads kept outside the store (:func:`seal_checkpoint`): the
    chain must still hold each one's receipt with the same hash (one already purged is
    only checked when the purge anchor sits exactly on it).
    Memory use is constant whatever the number of receipts.
    """
    ring = keyring(keys)
    pending: dict[int, ChainAnchor] = {}
    for point in checkpoints:
        problem = _check_checkpoint(point, ring)
        floor_seq, floor_hash = (start.seq, start.hash) if start else (0, GENESIS_HASH)
        if problem is None and point.seq <= floor_seq:
            # Before the first stored receipt: only an exact match can be checked.
            if point.seq == floor_seq and not same(point.hash, floor_hash):
                problem = f"checkpoint at seq {point.seq} disagrees with the chain's start"
            else:
                continue
        if problem is not None:
            brk = ChainBreak(point.seq, "(checkpoint)", "checkpoint", problem)
            return VerifyResult(0, 0, GENESIS_HASH, brk)
        pending[point.seq] = point
    expected_seq, expected_prev = 1, GENESIS_HASH
    if start is not None:
        problem = _check_anchor(start, ring)
        if problem is not None:
            brk = ChainBreak(start.seq, "(purge anchor)", "anchor", problem)
            return VerifyResult(0, start.seq, start.hash, brk)
        expected_seq, expected_prev = start.seq + 1, start.hash
    checked = 0
    for receipt in receipts:
        found = _check_receipt(receipt, expected_seq, expected_prev, ring)
        if found is not None:
            brk = ChainBreak(receipt.seq, receipt.receipt_id, found[0], found[1])
            return VerifyResult(checked, expected_seq - 1, expected_prev, brk)
        held = pending.pop(receipt.seq, None)
        if held is not None and not same(held.hash, receipt.hash):
            message = f"receipt seq {receipt.seq} differs from the checkpoint: chain rewritten"
            brk = ChainBreak(receipt.seq, receipt.receipt_id, "checkpoint", message)
            return VerifyResult(checked, expected_seq - 1, expected_prev, brk)
        checked += 1
        expected_seq, expected_prev = receipt.seq + 1, receipt.hash
    if pending:
        seq = min(pending)
        message = (
            f"the chain ends at seq {expected_seq - 1} but a checkpoint recorded seq {seq}: "
            "receipts were deleted from the end"
        )
        brk = ChainBreak(seq, "(checkpoint)", "checkpoint", message)
        return VerifyResult(checked, expected_seq - 1, expected_prev, brk)
    return VerifyResult(checked, expected_seq - 1, expected_prev)
