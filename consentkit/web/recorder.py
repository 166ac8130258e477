"""``Recorder``: consent cookies and receipts, the service endpoints and responder share.

The consent ``POST`` and the responder (a page view carrying a GPC signal) both turn a
decision into a signed cookie and a durable receipt; both depend on this one object
instead of on the middleware. It also owns the receipt store it opened from a URL and
closes it on :meth:`Recorder.close`. Its methods block on the store: the ASGI adapter
calls them in a worker thread, the WSGI adapter directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from ..categories import CATEGORIES, OPTIONAL_CATEGORIES, Action
from ..cookies import render_set_cookie
from ..decision import ConsentCodec, Decision, StoredConsent, new_consent_id
from ..errors import ConfigError
from ..policy import Policy
from ..privacy import reduce_user_agent, truncate_ip
from ..receipts import Receipt, ReceiptDraft
from ..services import receipt_entries
from ..stores import ReceiptStore, open_store
from ..stores.spool import SpooledStore
from .paths import safe_path
from .ratelimit import ReceiptRateLimit
from .request import RequestInfo
from .settings import Settings

__all__ = ["Recorder", "ShownTexts", "open_receipt_store"]

logger = logging.getLogger("consentkit")


class ShownTexts(Protocol):
    """What a receipt needs from the banner: the visitor's language and what it showed."""

    def negotiate(self, accept_language: str | None) -> str: ...

    def shown_hash(self, language: str) -> str: ...


class Recorder:
    """Signs consent cookies and appends receipts.

    Args:
        settings: cookie name, domain and ``Secure`` flag, IP mode.
        policy: revision and cookie lifetimes.
        codec: signs the consent cookie.
        store: where receipts go; ``None`` records nothing.
        shown: the banner, whose language and texts a receipt records; ``None`` records
            English and no texts hash.
        reopen: given when the middleware opened *store* from a URL: :meth:`close`
            closes the store then, and the next use opens it again with *reopen* (an
            app may run the lifespan protocol more than once, as test clients do).
    """

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        codec: ConsentCodec,
        store: ReceiptStore | None,
        shown: ShownTexts | None,
        *,
        reopen: Callable[[], ReceiptStore | None] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.codec = codec
        self.shown = shown
        self._store = store
        self._reopen = reopen
        self._lock = threading.Lock()
        self.rate_limit = ReceiptRateLimit(settings.receipt_rate_limit)

    @property
    def store(self) -> ReceiptStore | None:
        """The receipt store, opened again on first use after :meth:`close`."""
        if self._store is None and self._reopen is not None:
            with self._lock:
                if self._store is None:
                    self._store = self._reopen()
        return self._store

    def close(self) -> None:
        """Close the receipt store if it was opened from a URL; a passed-in store stays open."""
        if self._reopen is None:
            return
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def consent_cookie(self, request: RequestInfo, stored: StoredConsent) -> bytes:
        """The ``Set-Cookie`` value carrying *stored*, signed."""
        settings = self.settings
        lifetime = self.policy.lifetime_days(stored.granted)
        secure = settings.cookie_secure
        if secure is None:
            secure = request.scheme == "https"
        # The name was chosen per request (a __Host- prefix needs Secure, which it has).
        value = render_set_cookie(
            request.cookie_name,
            self.codec.dumps(stored),
            max_age=lifetime * 86400,
            path="/",
            domain=settings.cookie_domain,
            secure=secure,
            http_only=True,
            same_site="lax",
        )
        return value.encode("latin-1")

    def store_receipt(self, draft: ReceiptDraft) -> tuple[bool, str | None]:
        """Append *draft*; ``(stored or spooled, receipt id)``.

        Concurrent appends from several worker threads are grouped by the store into one
        transaction (see :mod:`consentkit.stores._group`). Never raises: a visitor's choice
        is honoured even when it cannot be recorded (the failure is logged loudly; a
        spooled store keeps the draft on disk).
        """
        store = self.store
        if store is None:
            return False, None
        try:
            receipt: Receipt | None = store.append(draft)
        except Exception:
            logger.exception("could not record consent receipt for action %s", draft.action)
            return False, None
        return True, receipt.receipt_id if receipt is not None else None

    def build_draft(
        self,
        request: RequestInfo,
        decision: Decision,
        action: Action,
        collection: str,
        page: object,
        now: datetime,
    ) -> ReceiptDraft:
        """The receipt of *decision* as the visitor made it on *page*."""
        language = "en"
        shown = ""
        if self.shown is not None:
            language = self.shown.negotiate(request.header("accept-language"))
            shown = self.shown.shown_hash(language)
        lifetime = self.policy.lifetime_days(decision.granted)
        return ReceiptDraft(
            consent_id=decision.consent_id or "",
            action=action,
            # Services answered apart from their category follow the categories.
            granted=(
                *(c for c in CATEGORIES if decision.allows(c)),
                *receipt_entries(decision.services_granted),
            ),
            refused=(
                *(c for c in OPTIONAL_CATEGORIES if not decision.allows(c)),
                *receipt_entries(decision.services_refused),
            ),
            policy_revision=self.policy.revision,
            shown_hash=shown,
            language=language,
            jurisdiction=decision.region,
            consent_model=decision.model,
            collection=collection,
            page=urlsplit(safe_path(page)).path,
            user_agent=reduce_user_agent(request.header("user-agent") or ""),
            ip=truncate_ip(request.client_ip or "", self.settings.ip_mode),
            timestamp=now,
            expires_at=now + timedelta(days=lifetime),
        )

    def records_gpc(self, request: RequestInfo, decision: Decision) -> bool:
        """Whether a page view with GPC and nothing recorded yet gets one ``gpc`` receipt."""
        return (
            decision.gpc
            and not decision.decided
            and not decision.gpc_recorded
            and request.method == "GET"
            and self.store is not None
        )

    def may_record(self, request: RequestInfo) -> bool:
        """Whether a receipt may be created for *request* now (the per-network rate limit)."""
        return self.store is None or self.rate_limit.allow(request.client_ip)

    def record_gpc(self, request: RequestInfo, decision: Decision) -> bytes | None:
        """Record a ``gpc`` receipt; the consent cookie that remembers it, or ``None``.

        Without a recorded receipt there is no cookie: the next page view tries again.
        """
        now = datetime.now(UTC)
        consent_id = decision.consent_id or new_consent_id()
        decision = replace(decision, consent_id=consent_id)
        if self.store is None or not self.rate_limit.allow(request.client_ip):
            return None
        draft = self.build_draft(request, decision, "gpc", "signal", request.path, now)
        recorded, _ = self.store_receipt(draft)
        if not recorded:
            return None
        stored = StoredConsent(
            consent_id=consent_id,
            granted=decision.granted,
            refused=decision.refused,
            revision=self.policy.revision,
            decided_at=now,
            fingerprints={},
            action="gpc",
            gpc_recorded=True,
        )
        return self.consent_cookie(request, stored)


def open_receipt_store(
    store: ReceiptStore | str | None,
    receipt_key: str | Sequence[str] | None,
    secret_key: str | bytes | Sequence[str | bytes],
    spool_path: str | None,
) -> ReceiptStore | None:
    """The store the middleware writes to: *store* itself, or one opened from its URL.

    A URL opens the backend behind a :class:`~consentkit.stores.SpooledStore`, so a
    receipt waits on local disk while the database is down.
    """
    if store is None:
        return None
    src = "ConsentMiddleware(...)"
    keys = [receipt_key] if isinstance(receipt_key, str) else list(receipt_key or [])
    if not keys or not all(keys):
        raise ConfigError(
            "a receipt key is required with a store",
            source=src,
            key="receipt_key",
            fix="pass receipt_key=os.environ['CONSENTKIT_RECEIPT_KEY'] (distinct from secret_key)",
        )
    secrets_ = [secret_key] if isinstance(secret_key, str | bytes) else list(secret_key)
    if any(k in secrets_ for k in keys):
        raise ConfigError(
            "the receipt key must differ from the cookie secret key",
            source=src,
            key="receipt_key",
            fix="use a separate random key for receipts",
        )
    if isinstance(store, str):
        if spool_path is None:
            spool_path = _default_spool(store)
        inner = open_store(store, receipt_keys=keys)
        return SpooledStore(inner, spool_path)
    return store


def _default_spool(store_url: str) -> str:
    if store_url.startswith("sqlite:///"):
        return store_url[len("sqlite:///") :] + ".spool.jsonl"
    if "://" not in store_url:
        return store_url + ".spool.jsonl"
    return "consentkit-spool.jsonl"
