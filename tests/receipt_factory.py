"""Builders of receipt drafts for the receipt, store, spool and CLI tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from consentkit.receipts import ReceiptDraft

KEYS = ["receipt-key-new-0123456789abcdef", "receipt-key-old-fedcba9876543210"]
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def draft(i: int = 0, **overrides: Any) -> ReceiptDraft:
    """A plausible draft; *i* varies the visitor, action and time."""
    actions = ("accept_all", "reject_all", "save", "withdraw")
    action = actions[i % len(actions)]
    granted: tuple[str, ...] = ("necessary",)
    refused: tuple[str, ...] = ("performance", "functionality", "targeting")
    if action == "accept_all":
        granted, refused = ("necessary", "performance", "functionality", "targeting"), ()
    elif action == "save":
        granted, refused = ("necessary", "functionality"), ("performance", "targeting")
    timestamp = T0 + timedelta(hours=i)
    values: dict[str, Any] = {
        "consent_id": f"cid-{i % 7}",
        "action": action,
        "granted": granted,
        "refused": refused,
        "policy_revision": "2025-03",
        "shown_hash": f"{i:064x}",
        "language": ("en", "fr", "de")[i % 3],
        "jurisdiction": ("EU", "US-CA", "default")[i % 3],
        "consent_model": "opt_in",
        "collection": "banner_js",
        "page": f"/page/{i}",
        "user_agent": "Firefox 128",
        "ip": "203.0.113.0",
        "timestamp": timestamp,
        "expires_at": timestamp + timedelta(days=180),
    }
    values.update(overrides)
    return ReceiptDraft(**values)
