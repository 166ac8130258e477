"""Consent state: the signed consent cookie and the per-request :class:`Decision`.

The cookie holds a random consent id, the granted and refused categories, the
services that deviate from their category's answer (granted in a refused category,
refused in a granted one), the policy revision, a fingerprint per category and the time
of the choice. It is
signed and timestamped with itsdangerous under a salt of its own. Anything wrong
with it (tampered, foreign key, expired, unparseable) reads as "no decision yet".
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeAlias

from itsdangerous import BadData, URLSafeTimedSerializer

from .categories import (
    CATEGORIES,
    CATEGORY_SYNONYMS,
    OPTIONAL_CATEGORIES,
    Action,
    Category,
    Model,
    is_action,
    is_category,
)
from .cookies import parse_cookie_pairs
from .errors import did_you_mean
from .policy import Policy

__all__ = [
    "DEFAULT_COOKIE_NAME",
    "ConsentCodec",
    "Decision",
    "Reason",
    "StoredConsent",
    "consent_cookie_name",
    "consent_token",
    "decide",
    "new_consent_id",
]

Reason: TypeAlias = Literal[
    "no_decision",
    "recorded",
    "expired",
    "new_revision",
    "categories_changed",
    "gpc",
    "dnt",
    "services_changed",
]
"""Why a decision is what it is; shown to the app as ``Decision.reason``."""

SALT: Final = "consentkit.consent.v1"
_MAX_TOKEN_LENGTH: Final = 3072
_MAX_SERVICE_IDS: Final = 256
_MAX_ID_LENGTH: Final = 40


def _service_ids(value: object) -> frozenset[str] | None:
    """A payload's list of service ids, or ``None`` when it is not one."""
    if not isinstance(value, list) or len(value) > _MAX_SERVICE_IDS:
        return None
    if not all(isinstance(v, str) and 0 < len(v) <= _MAX_ID_LENGTH for v in value):
        return None
    return frozenset(value)


DEFAULT_COOKIE_NAME: Final = "consentkit"
"""The consent cookie's name without a prefix (see :func:`consent_cookie_name`)."""

_PREFIXES: Final = ("__host-", "__secure-")


def consent_cookie_name(
    configured: str | None, *, secure: bool, cookie_domain: str | None = None
) -> str:
    """The consent cookie's name for one request.

    With no configured name, a request whose cookie is ``Secure`` (HTTPS, unless
    ``cookie_secure`` says otherwise) and no ``cookie_domain`` uses
    ``__Host-consentkit``: the browser then only accepts it from this exact host, with
    ``Secure`` and ``Path=/``, so a sibling subdomain cannot plant one (cookie tossing).
    Otherwise the name is ``consentkit``. A configured ``__Host-``/``__Secure-`` name on a
    request that cannot carry it (plain http) loses its prefix instead of producing a
    cookie the browser would reject.
    """
    if configured is None:
        if secure and not cookie_domain:
            return "__Host-" + DEFAULT_COOKIE_NAME
        return DEFAULT_COOKIE_NAME
    lowered = configured.lower()
    if lowered.startswith("__host-") and (not secure or cookie_domain):
        return configured[len("__host-") :]
    if lowered.startswith("__secure-") and not secure:
        return configured[len("__secure-") :]
    return configured


def consent_token(cookie_header: str | bytes, name: str) -> str | None:
    """The value of the consent cookie *name* in a ``Cookie`` header, or ``None``.

    ``None`` also when the name occurs more than once: a second copy can only come from
    another domain or path (planted by a sibling subdomain, say), and neither copy can be
    trusted to be the visitor's own, so duplicates read as no decision.
    """
    return token_in(parse_cookie_pairs(cookie_header), name)


def token_in(pairs: list[tuple[str, str]], name: str) -> str | None:
    """:func:`consent_token` over a header already split into pairs."""
    found: list[str] = [value for key, value in pairs if key == name]
    return found[0] if len(found) == 1 else None


def new_consent_id() -> str:
    """A random, unguessable consent id (not derived from anything about the visitor)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class StoredConsent:
    """What the consent cookie carries."""

    consent_id: str
    granted: frozenset[Category]
    refused: frozenset[Category]
    revision: str
    decided_at: datetime
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    action: Action = "save"
    gpc_recorded: bool = False
    services_granted: frozenset[str] = frozenset()
    """Services granted although their category is not (explicit exceptions)."""
    services_refused: frozenset[str] = frozenset()
    """Services refused although their category is granted."""
    services_known: frozenset[str] | None = None
    """The policy's declared services in granted categories when the choice was made
    (``None`` in cookies older than services: nothing is asked again)."""

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "i": self.consent_id,
            "g": sorted(self.granted),
            "x": sorted(self.refused),
            "r": self.revision,
            "t": int(self.decided_at.timestamp()),
            "f": dict(self.fingerprints),
            "a": self.action,
            "s": 1 if self.gpc_recorded else 0,
        }
        # Service keys only when they say something: the cookie travels with every request.
        if self.services_granted:
            payload["sg"] = sorted(self.services_granted)
        if self.services_refused:
            payload["sr"] = sorted(self.services_refused)
        if self.services_known is not None:
            # Written even when empty: it marks a cookie that knows about services.
            payload["sk"] = sorted(self.services_known)
        return payload

    @classmethod
    def from_payload(cls, data: object) -> StoredConsent | None:
        """Rebuild from a verified payload; ``None`` if its shape is wrong."""
        if not isinstance(data, dict):
            return None
        try:
            consent_id = data["i"]
            granted = data["g"]
            refused = data.get("x", [])
            revision = data["r"]
            stamp = data["t"]
            prints = data.get("f", {})
            action = data.get("a", "save")
        except (KeyError, TypeError):
            return None
        services_granted = _service_ids(data.get("sg", []))
        services_refused = _service_ids(data.get("sr", []))
        services_known = _service_ids(data["sk"]) if "sk" in data else frozenset()
        if services_granted is None or services_refused is None or services_known is None:
            return None
        if not (
            isinstance(consent_id, str)
            and 8 <= len(consent_id) <= 64
            and isinstance(revision, str)
            and isinstance(stamp, int)
            and isinstance(granted, list)
            and isinstance(refused, list)
            and isinstance(prints, dict)
            and is_action(action)
            and all(is_category(c) for c in granted)
            and all(is_category(c) for c in refused)
        ):
            return None
        try:
            decided_at = datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(
            consent_id=consent_id,
            granted=frozenset(granted),
            refused=frozenset(refused),
            revision=revision,
            decided_at=decided_at,
            fingerprints={str(k): str(v) for k, v in prints.items()},
            action=action,
            gpc_recorded=bool(data.get("s", 0)),
            services_granted=services_granted,
            services_refused=services_refused,
            services_known=services_known if "sk" in data else None,
        )


class ConsentCodec:
    """Signs and verifies consent cookies.

    Args:
        secret_keys: one key, or several for rotation, newest first: the newest
            signs, every key verifies.
        salt: separates consent tokens from anything else signed with the same key.
        site: identifies the site (``Policy.site_id``: its hosts or name) and is mixed
            into the salt, so a token made for one site does not verify on another that
            shares the secret key. ``""`` keeps the plain salt.
    """

    def __init__(
        self,
        secret_keys: str | bytes | Sequence[str | bytes],
        *,
        salt: str = SALT,
        site: str = "",
    ):
        keys = [secret_keys] if isinstance(secret_keys, str | bytes) else list(secret_keys)
        if not keys or any(not k for k in keys):
            raise ValueError(
                "a non-empty secret_key is required to sign consent cookies "
                "(set it from an environment variable; there is no random fallback)"
            )
        # itsdangerous takes keys oldest to newest and signs with the last one.
        self._serializer = URLSafeTimedSerializer(
            [
                k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k
                for k in reversed(keys)
            ],
            salt=f"{salt}|site={site}" if site else salt,
            serializer=_CompactJSON,
        )

    def __repr__(self) -> str:
        return "ConsentCodec(secret_keys=<hidden>)"

    def dumps(self, stored: StoredConsent) -> str:
        """Sign *stored* into a cookie value."""
        return self._serializer.dumps(stored.to_payload())

    def loads(self, token: str | None, *, max_age: int | None = None) -> StoredConsent | None:
        """Verify a cookie value; ``None`` for anything that does not verify."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        try:
            data = self._serializer.loads(token, max_age=max_age)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        return StoredConsent.from_payload(data)


class _CompactJSON:
    """JSON with no spaces: the cookie travels with every request."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def loads(data: str | bytes) -> Any:
        return json.loads(data)


@dataclass(frozen=True, slots=True)
class Decision:
    """The consent that applies to one request.

    Available to the app as ``request.state.consent``.
    """

    decided: bool
    granted: frozenset[Category]
    reason: Reason
    consent_id: str | None = None
    revision: str | None = None
    decided_at: datetime | None = None
    pending: frozenset[Category] = frozenset()
    refused: frozenset[Category] = frozenset()
    previous: frozenset[Category] = frozenset()
    model: Model = "opt_in"
    region: str = "default"
    gpc: bool = False
    source: Literal["cookie", "default", "signal"] = "default"
    gpc_recorded: bool = False
    crawler: bool = False
    services_granted: frozenset[str] = frozenset()
    """Services granted although their category is not."""
    services_refused: frozenset[str] = frozenset()
    """Services refused although their category is granted."""
    pending_services: frozenset[str] = frozenset()
    """Services declared since the choice, in a granted category: asked about, not allowed."""
    service_categories: Mapping[str, Category] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Every known service id and its category (the policy's declared and built-in ones)."""
    grants_all: bool = field(init=False, compare=False, repr=False)
    """Whether every cookie is allowed: every category granted and no service answered
    apart from its category (worked out once; decisions are shared between requests)."""

    def __post_init__(self) -> None:
        grants_all = len(self.granted) == len(CATEGORIES) and not (
            self.services_granted or self.services_refused or self.pending_services
        )
        object.__setattr__(self, "grants_all", grants_all)

    def allows_service(self, service_id: str) -> bool:
        """Whether the service *service_id* (``"youtube"``) may be used for this request.

        A service is allowed when it was granted on its own, or when its category is
        allowed and the service was neither refused nor declared since the choice.

        Raises:
            ValueError: no declared or built-in service has this id.
        """
        category = self.service_categories.get(service_id)
        if category is None:
            hint = did_you_mean(service_id, self.service_categories, or_list="known services: ")
            raise ValueError(f"unknown service {service_id!r}: {hint}")
        return self._allows_known(service_id, category)

    def _allows_known(self, service_id: str, category: Category) -> bool:
        if service_id in self.services_refused or service_id in self.pending_services:
            return False
        return service_id in self.services_granted or self.allows(category)

    def service_exceptions(self) -> tuple[tuple[str, bool], ...]:
        """``(service id, allowed)`` for each service answered apart from its category,
        sorted: what the HTML rewriter needs besides the granted categories."""
        ids = self.services_granted | self.services_refused | self.pending_services
        return tuple(
            (i, self._allows_known(i, self.service_categories[i]))
            for i in sorted(ids)
            if i in self.service_categories
        )

    def allows_use(self, category: Category, service: str | None) -> bool:
        """Whether a cookie or element of *category*, belonging to *service* (or to no
        service), may be used: the service decides when there is one."""
        if service is None or category == "necessary":
            return self.allows(category)
        known = self.service_categories.get(service)
        return self._allows_known(service, known or category)

    def allows(self, category: str) -> bool:
        """Whether *category* may be used for this request.

        Raises:
            ValueError: *category* is not one of the four keys (a typo or a synonym
                such as ``"analytics"`` would otherwise read as a silent refusal).
        """
        if category == "necessary" or category in self.granted:
            return True
        if category not in CATEGORIES:
            hint = did_you_mean(category, CATEGORIES, synonyms=CATEGORY_SYNONYMS)
            raise ValueError(
                f"unknown consent category {category!r}: "
                + (hint or f"use one of {', '.join(CATEGORIES)}")
            )
        return False

    @property
    def needs_banner(self) -> bool:
        """Whether the visitor still has something to answer."""
        return bool(self.pending or self.pending_services)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view for ``GET /_consent`` and the page script."""
        return {
            "decided": self.decided,
            "granted": [c for c in CATEGORIES if self.allows(c)],
            "refused": [c for c in CATEGORIES if c in self.refused],
            "pending": [c for c in CATEGORIES if c in self.pending],
            "reason": self.reason,
            "source": self.source,
            "revision": self.revision,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "model": self.model,
            "region": self.region,
            "gpc": self.gpc,
            "services": self.services_json(),
        }

    def services_json(self) -> dict[str, list[str]]:
        """Known service ids by answer: ``granted``, ``refused``, ``pending``."""
        granted: list[str] = []
        refused: list[str] = []
        for service_id, category in self.service_categories.items():
            if service_id in self.pending_services:
                continue
            (granted if self._allows_known(service_id, category) else refused).append(service_id)
        return {"granted": granted, "refused": refused, "pending": sorted(self.pending_services)}


def choice(
    policy: Policy,
    granted: frozenset[Category],
    *,
    action: Action,
    consent_id: str | None = None,
    now: datetime | None = None,
    gpc_recorded: bool = False,
    services_granted: Iterable[str] = (),
    services_refused: Iterable[str] = (),
) -> StoredConsent:
    """What the consent cookie stores for a choice granting *granted* under *policy*.

    Necessary is always granted; every optional category not granted is refused, and
    each category's fingerprint is taken now, so a later declared cookie asks again.
    Only services that deviate from their category's answer are kept (a service
    granted in a granted category says nothing new); unknown ids are ignored. The
    declared services of granted categories are remembered, so a later declared
    service asks about that service only.
    """
    granted = frozenset({"necessary", *granted})
    categories = policy.service_index.categories
    refused_ids = frozenset(
        i for i in services_refused if i in categories and categories[i] in granted
    )
    granted_ids = frozenset(
        i
        for i in services_granted
        if i in categories and categories[i] not in granted and i not in refused_ids
    )
    return StoredConsent(
        consent_id=consent_id or new_consent_id(),
        granted=granted,
        refused=frozenset(c for c in OPTIONAL_CATEGORIES if c not in granted),
        revision=policy.revision,
        decided_at=now or datetime.now(UTC),
        fingerprints={c: policy.fingerprint(c) for c in CATEGORIES},
        action=action,
        gpc_recorded=gpc_recorded,
        services_granted=granted_ids,
        services_refused=refused_ids,
        services_known=frozenset(
            s.id for s in policy.services if s.category in granted and s.id not in refused_ids
        ),
    )


def _default_grants(model: Model) -> frozenset[Category]:
    if model == "opt_in":
        return frozenset({"necessary"})
    return frozenset(CATEGORIES)


def decide(
    stored: StoredConsent | None,
    policy: Policy,
    *,
    now: datetime,
    model: Model = "opt_in",
    region: str = "default",
    gpc: bool = False,
    dnt: bool = False,
) -> Decision:
    """Combine the stored choice, the policy, the region's model and signals.

    Rules, in order: a stored choice from another revision, or older than its
    lifetime, no longer counts; a category whose declared cookies changed since it
    was granted is asked again; a recorded choice beats defaults; GPC (and DNT
    when the policy honours it) refuses targeting, and no default can grant it.
    """
    signal = gpc or (dnt and policy.honor_dnt)
    signal_reason: Reason = "gpc" if gpc else "dnt"
    previous: frozenset[Category] = frozenset()
    reason: Reason = "no_decision"
    signal_id: str | None = None
    if stored is not None and stored.action == "gpc":
        # Only the browser's signal was recorded, not a choice of the visitor's.
        signal_id, stored = stored.consent_id, None
    if stored is not None:
        previous = stored.granted
        start, end = recorded_window(stored, policy)
        if stored.revision != policy.revision:
            reason = "new_revision"
        elif not start <= now.timestamp() <= end:
            reason = "expired"
        else:
            return _from_stored(stored, policy, model, region, gpc)
    granted = _default_grants(model)
    refused: frozenset[Category] = frozenset()
    source: Literal["cookie", "default", "signal"] = "default"
    if signal:
        granted = granted - {"targeting"}
        refused = frozenset({"targeting"})
        source = "signal"
        if reason == "no_decision":
            reason = signal_reason
    # Nothing to ask under a notice-only model, or when the site declares only
    # strictly necessary cookies.
    asks = model != "notice" and not policy.declares_only_necessary
    pending = frozenset(OPTIONAL_CATEGORIES) if asks else frozenset()
    return Decision(
        decided=False,
        granted=granted,
        reason=reason,
        consent_id=stored.consent_id if stored else signal_id,
        revision=policy.revision,
        pending=pending,
        refused=refused,
        previous=previous,
        model=model,
        region=region,
        gpc=gpc,
        source=source,
        gpc_recorded=signal_id is not None,
        service_categories=policy.service_index.categories,
    )


def recorded_window(stored: StoredConsent, policy: Policy) -> tuple[float, float]:
    """When (POSIX seconds, inclusive) a stored choice counts: from a day before it was
    made (clock skew between servers) to the end of its lifetime under *policy*."""
    made = stored.decided_at.timestamp()
    return made - 86400, made + policy.lifetime_days(stored.granted) * 86400


def _from_stored(
    stored: StoredConsent, policy: Policy, model: Model, region: str, gpc: bool
) -> Decision:
    granted = set(stored.granted) | {"necessary"}
    pending: set[Category] = set()
    # A notice-only model asks nothing: a category it grants by default stays granted.
    for category in OPTIONAL_CATEGORIES if model != "notice" else ():
        if category in granted and stored.fingerprints.get(category) != policy.fingerprint(
            category
        ):
            # New cookies were declared in a category the visitor granted: ask
            # about that category again, keep the rest of the answer.
            granted.discard(category)
            pending.add(category)
    categories = policy.service_index.categories
    known = stored.services_known
    pending_services = frozenset(
        s.id
        for s in policy.services
        if known is not None
        and model != "notice"
        and s.category in granted
        and s.id not in known
        and s.id not in stored.services_refused
    )
    reason: Reason = "recorded"
    if pending:
        reason = "categories_changed"
    elif pending_services:
        reason = "services_changed"
    return Decision(
        decided=True,
        granted=frozenset(granted),  # type: ignore[arg-type]
        reason=reason,
        consent_id=stored.consent_id,
        revision=stored.revision,
        decided_at=stored.decided_at,
        pending=frozenset(pending),
        refused=stored.refused,
        previous=stored.granted,
        model=model,
        region=region,
        gpc=gpc,
        source="cookie",
        gpc_recorded=stored.gpc_recorded,
        # Ids the policy no longer knows are dropped rather than trusted.
        services_granted=frozenset(i for i in stored.services_granted if i in categories),
        services_refused=frozenset(i for i in stored.services_refused if i in categories),
        pending_services=pending_services,
        service_categories=categories,
    )
