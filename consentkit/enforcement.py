"""Response-header enforcement: which ``Set-Cookie`` lines may leave, which cookies to expire.

Pure: works on raw ASGI header lists and knows nothing of the web framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from .categories import Category
from .cookies import (
    SetCookie,
    canonical_deletion,
    expire_cookie_headers,
    parse_set_cookie,
    request_paths,
)
from .decision import Decision
from .memo import ABSENT, Memo
from .policy import Policy
from .registry import Classification

__all__ = ["EnforcementResult", "cookies_to_expire", "enforce_set_cookies", "grants_everything"]

RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class EnforcementResult:
    """What header enforcement did to one response."""

    headers: RawHeaders
    kept: list[str] = field(default_factory=list)
    dropped: list[tuple[str, Category]] = field(default_factory=list)
    unclassified: list[str] = field(default_factory=list)
    # Cookies set by the response that the policy does not declare (knowledge-base or
    # unknown), for the dashboard's undeclared-cookie view.
    undeclared: list[Classification] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    """Every cookie name the response set (kept or dropped), for the declaration."""

    @property
    def consent_dependent(self) -> bool:
        """Whether consent changed (or could have changed) the headers."""
        return bool(self.kept or self.dropped)


_PARSED_MAX: Final = 1024
_PARSED_LONGEST: Final = 512
_parsed: Memo[bytes, SetCookie | None] = Memo(_PARSED_MAX)
"""``Set-Cookie`` values parsed lately (most apps send the same lines again and again);
long values are not kept."""


def _parse(value: bytes) -> SetCookie | None:
    """:func:`~consentkit.cookies.parse_set_cookie`, remembered for short values."""
    found = _parsed.get(value, ABSENT)
    if found is not ABSENT:
        return found  # type: ignore[return-value]
    cookie = parse_set_cookie(value)
    if len(value) <= _PARSED_LONGEST:
        _parsed.put(value, cookie)
    return cookie


def enforce_set_cookies(
    raw_headers: Iterable[tuple[bytes, bytes]],
    *,
    decision: Decision,
    policy: Policy,
    own_cookies: frozenset[str],
    now: datetime | None = None,
) -> EnforcementResult:
    """Drop every ``Set-Cookie`` whose category the decision does not allow.

    Lines that do not parse as a cookie are dropped too: a browser would ignore
    most of them, and one that it would not ignore cannot be classified. Lines
    that delete a cookie always pass, rewritten into one canonical deletion
    (:func:`~consentkit.cookies.canonical_deletion`): removing a cookie never needs
    consent, but a line that only looks like a deletion must not set anything.
    """
    out: RawHeaders = []
    result = EnforcementResult(out)
    by_service = _answers_per_service(decision)
    for key, value in raw_headers:
        # Only a name of its length can be Set-Cookie (in any spelling).
        if len(key) != 10 or key.lower() != b"set-cookie":
            out.append((key, value))
            continue
        cookie = _parse(value)
        if cookie is None:
            result.dropped.append(("", policy.unclassified))
            continue
        if cookie.name in own_cookies:
            out.append((key, value))
            continue
        result.seen.append(cookie.name)
        if cookie.is_deletion(now):
            out.append((key, canonical_deletion(cookie).encode("latin-1")))
            continue
        classification = policy.classify(cookie.name, cookie.domain)
        if classification.source != "declared":
            result.undeclared.append(classification)
        category: Category
        if classification.category == "unclassified":
            result.unclassified.append(cookie.name)
            category = policy.unclassified
        else:
            category = classification.category
        if category == "necessary":
            out.append((key, value))
        elif _allowed(decision, policy, category, cookie.name, cookie.domain, by_service):
            out.append((key, value))
            result.kept.append(cookie.name)
        else:
            result.dropped.append((cookie.name, category))
    return result


def cookies_to_expire(
    request_cookies: Mapping[str, str],
    *,
    decision: Decision,
    policy: Policy,
    own_cookies: frozenset[str],
    being_set: Iterable[str] = (),
) -> list[str]:
    """Names of cookies the browser sent that the decision no longer allows.

    Only names a declared rule or the knowledge base classifies are listed, unless the
    policy sets ``expire_unclassified``: the visitor chooses which names to send, so
    unknown names would let one request buy a response of any size.
    """
    if grants_everything(decision):
        return []  # a decided visitor's common case
    by_service = _answers_per_service(decision)
    skip = own_cookies | set(being_set)
    names: list[str] = []
    for name in request_cookies:
        if not name or name in skip:
            continue
        category = policy.classify(name).category
        if category == "unclassified":
            if not policy.expire_unclassified:
                continue
            category = policy.unclassified
        if not _allowed(decision, policy, category, name, None, by_service):
            names.append(name)
    return names


def grants_everything(decision: Decision) -> bool:
    """Whether *decision* allows every cookie: every category granted and no service
    answered apart from its category. Nothing then needs expiring."""
    return decision.grants_all


def _answers_per_service(decision: Decision) -> bool:
    """Whether any service was answered apart from its category: only then does a
    cookie's service matter (the common case looks up nothing more)."""
    return bool(decision.services_granted or decision.services_refused or decision.pending_services)


def _allowed(
    decision: Decision,
    policy: Policy,
    category: Category,
    name: str,
    domain: str | None,
    by_service: bool,
) -> bool:
    """Whether a cookie may be set or kept: its service decides when it has one."""
    if not by_service or category == "necessary":
        return decision.allows(category)
    service = policy.service_for_cookie(name, domain)
    return decision.allows_use(category, None if service is None else service.id)


def expiry_domains(policy: Policy, cookie_domain: str | None = None) -> list[str | None]:
    """``Domain=`` candidates for expiring cookies: host-only, the configured cookie domain,
    and each of the policy's ``site_hosts`` with its parent domains.

    Never derived from the request's ``Host`` header, which the visitor writes.
    """
    domains: list[str | None] = [None]
    if cookie_domain:
        domains.append(cookie_domain.strip().removeprefix(".").lower())
    for host in policy.site_hosts:
        labels = host.split(".")
        domains.extend(".".join(labels[i:]) for i in range(len(labels) - 1))
    return list(dict.fromkeys(domains))


def expiry_headers(
    names: Sequence[str],
    *,
    policy: Policy,
    host: str,
    path: str,
    secure: bool,
    cookie_domain: str | None = None,
) -> RawHeaders:
    """``Set-Cookie`` lines that delete *names* for every path and domain that could hold them.

    Domains come from :func:`expiry_domains` (those *host* could not have set are left out),
    paths are ``/``, the declared path and up to three prefixes of the request path. At most
    ``policy.max_expiry_lines`` lines are returned, whole names first come first served.
    """
    candidate_paths = ["/"]
    for p in request_paths(path)[:3]:
        if p not in candidate_paths:
            candidate_paths.append(p)
    domains = expiry_domains(policy, cookie_domain)
    limit = policy.max_expiry_lines
    headers: RawHeaders = []
    for name in names:
        paths = list(candidate_paths)
        rule = policy.classify(name).rule
        if rule is not None and rule.path and rule.path not in paths:
            paths.append(rule.path)
        lines = expire_cookie_headers(
            name, request_host=host, paths=paths, domains=domains, secure=secure
        )
        if len(headers) + len(lines) > limit:
            # The cap holds per response; the rest are expired on later responses.
            break
        headers.extend((b"set-cookie", line.encode("latin-1")) for line in lines)
    return headers
