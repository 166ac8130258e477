"""Judging what a scan saw: classification of every finding and the violation rules.

Pure: no browser, no I/O. The rules, in the order a report lists them:

* **violations** (exit status 1): a cookie, storage key or tracker request that needs
  consent beyond "necessary" seen before any choice, after "Reject all" or after a
  withdrawal; a first layer with "Accept all" but no equally visible "Reject all"; with
  ``--gpc``, targeting cookies or requests before a choice although the browser said no;
* **not verified** (exit status 2 when there is no violation): consent controls not found,
  pages that failed to load;
* **warnings**: cookie lifetimes over the declared retention or over 13 months, cookies the
  policy does not declare;
* **info**: third-party hosts contacted.

A cookie or key no rule knows needs the policy's ``unclassified`` category (targeting by
default), as in the middleware: strict unknowns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias
from urllib.parse import urlsplit

from consentkit.categories import NECESSARY, Category, Classified, Source
from consentkit.policy import MAX_LIFETIME_DAYS, Policy
from consentkit.trackers import Tracker, TrackerIndex

from .controls import CONSENTKIT
from .crawl import is_third_party
from .model import VISIT_KINDS, ObservedCookie, PageScan, ScanRun, Visit, VisitKind

__all__ = [
    "EXIT_CODES",
    "Analysis",
    "Classifier",
    "Finding",
    "ItemVerdict",
    "Severity",
    "Status",
    "analyse",
    "cookie_lifetime_days",
    "retention_days",
]

Severity: TypeAlias = Literal["violation", "not_verified", "warning", "info"]
Status: TypeAlias = Literal["compliant", "violations", "not_verified"]

EXIT_CODES: Final[dict[Status, int]] = {"compliant": 0, "violations": 1, "not_verified": 2}

_DAYS_PER: Final = {
    "minute": 1 / 1440,
    "hour": 1 / 24,
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "year": 365.25,
}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(minute|hour|day|week|month|year)s?\b", re.I)
_SLACK_DAYS: Final = 1.0
_PHASE: Final[dict[VisitKind, str]] = {
    "before_choice": "before_choice",
    "reject_all": "after_reject",
    "withdraw": "after_withdraw",
}
_CONSENT_COOKIE_PURPOSE: Final = "Stores the visitor's consent choice"


def retention_days(text: str) -> float | None:
    """Days a retention text allows: ``"13 months"``, ``"session or 14 days"``, ``"session"``.

    The longest duration named wins; ``"session"`` alone is 0; ``None`` when no duration
    can be read (``"configurable"``, ``"set by the site"``).
    """
    found = [float(n) * _DAYS_PER[unit.lower()] for n, unit in _DURATION.findall(text)]
    if found:
        return max(found)
    return 0.0 if "session" in text.lower() else None


def cookie_lifetime_days(cookie: ObservedCookie, observed_at: float) -> float | None:
    """How long the site asked the cookie to live, in days (``None``: a session cookie).

    The lifetime the site requested wins over the browser's jar, which caps it at 400 days.
    """
    if cookie.requested_lifetime_days is not None:
        return cookie.requested_lifetime_days
    if cookie.expires is None:
        return None
    return max(0.0, (cookie.expires - observed_at) / 86400)


@dataclass(frozen=True, slots=True)
class ItemVerdict:
    """How a cookie or storage key is classified and what consent it needs."""

    category: Classified
    required: Category
    source: Source | Literal["consent_manager"]
    provider: str = ""
    purpose: str = ""
    retention: str = ""
    declared: bool | None = None
    """Whether the site's policy declares it; ``None`` when the scan had no policy."""

    @property
    def needs_consent(self) -> bool:
        """Whether the item needs more than "necessary"."""
        return self.required != NECESSARY


class Classifier:
    """Classifies cookies, storage keys and requests with a policy and the knowledge base.

    Without a policy the knowledge base alone decides and unknowns need targeting consent.
    consentkit's own consent cookie is known here: it stores the choice, so it is necessary.
    """

    def __init__(self, policy: Policy | None, trackers: TrackerIndex) -> None:
        self._policy = policy
        self._effective = policy or Policy()
        self._trackers = trackers

    @property
    def has_policy(self) -> bool:
        """Whether the scan runs against a site policy (and can report undeclared cookies)."""
        return self._policy is not None

    def item(self, name: str, domain: str | None = None) -> ItemVerdict:
        """The verdict on a cookie (or a storage key, with no domain)."""
        if name == CONSENTKIT.consent_cookie:
            return ItemVerdict(
                "necessary",
                "necessary",
                "consent_manager",
                "consentkit",
                _CONSENT_COOKIE_PURPOSE,
                f"up to {MAX_LIFETIME_DAYS} days",
                declared=None if self._policy is None else True,
            )
        found = self._effective.classify(name, domain)
        return ItemVerdict(
            found.category,
            self._effective.required_category(name, domain),
            found.source,
            found.provider,
            found.purpose,
            found.retention,
            declared=None if self._policy is None else found.source == "declared",
        )

    def tracker(self, url: str, start_url: str) -> Tracker | None:
        """The known tracker a request belongs to (never one on the scanned site)."""
        return self._trackers.match_url(url, site=urlsplit(start_url).hostname)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a report says about the site."""

    severity: Severity
    kind: str
    message: str
    page: str = ""
    visit: str = ""
    subject: Literal["cookie", "storage", "request", "site", "page"] = "site"
    name: str = ""
    category: str = ""


@dataclass(slots=True)
class Analysis:
    """Findings and verdicts of one scan, ready for the reports."""

    run: ScanRun
    classifier: Classifier
    findings: list[Finding] = field(default_factory=list)
    third_party_hosts: dict[str, set[str]] = field(default_factory=dict)
    """Host ➜ the visits it was contacted in."""

    @property
    def status(self) -> Status:
        """compliant, violations or not_verified (violations win: they are certain)."""
        severities = {f.severity for f in self.findings}
        if "violation" in severities:
            return "violations"
        if "not_verified" in severities or not self.run.pages:
            return "not_verified"
        return "compliant"

    @property
    def exit_code(self) -> int:
        """0 compliant, 1 violations, 2 could not verify."""
        return EXIT_CODES[self.status]

    def of(self, severity: Severity) -> list[Finding]:
        """The findings of one severity, in report order."""
        return [f for f in self.findings if f.severity == severity]


def analyse(run: ScanRun, classifier: Classifier) -> Analysis:
    """Apply every rule to *run*."""
    analysis = Analysis(run, classifier)
    out = analysis.findings
    if not run.pages:
        out.append(Finding("not_verified", "no_pages", "no page could be scanned"))
    for error in run.errors:
        out.append(Finding("not_verified", "scan_error", error))
    for page in run.pages:
        out.extend(_page_findings(page, run, classifier, analysis.third_party_hosts))
    out.extend(_undeclared(run, classifier))
    out.extend(_lifetimes(run, classifier))
    for host in sorted(analysis.third_party_hosts):
        visits = ", ".join(_in_visit_order(analysis.third_party_hosts[host]))
        out.append(Finding("info", "third_party_host", f"{host} contacted ({visits})", name=host))
    order = {"violation": 0, "not_verified": 1, "warning": 2, "info": 3}
    out.sort(key=lambda f: order[f.severity])
    return analysis


def _in_visit_order(kinds: Iterable[str]) -> list[str]:
    return sorted(kinds, key=lambda k: VISIT_KINDS.index(k) if k in VISIT_KINDS else 99)


def _page_findings(
    page: PageScan, run: ScanRun, classifier: Classifier, hosts: dict[str, set[str]]
) -> list[Finding]:
    found: list[Finding] = []
    if page.error:
        found.append(Finding("not_verified", "page_error", page.error, page.url, subject="page"))
    layer = page.first_layer
    if layer is not None and layer.banner_shown and layer.accept and not layer.reject:
        found.append(
            Finding(
                "violation",
                "reject_not_as_easy",
                f'the first layer offers "{layer.accept.label or "accept"}" '
                "but no reject control of the same weight",
                page.url,
                subject="site",
            )
        )
    for visit in page.visits:
        if visit.status == "error":
            found.append(
                Finding("not_verified", "visit_error", visit.error, page.url, visit.kind, "page")
            )
        elif visit.status == "not_verified":
            found.append(
                Finding(
                    "not_verified",
                    "controls_not_found",
                    visit.error or f"no {visit.kind.replace('_', ' ')} control found",
                    page.url,
                    visit.kind,
                    "page",
                )
            )
            continue
        for request in visit.requests:
            host = urlsplit(request.url).hostname or ""
            if host and is_third_party(host, run.start_url):
                hosts.setdefault(host, set()).add(visit.kind)
        phase = _PHASE.get(visit.kind)
        if phase is not None:
            found.extend(_consent_violations(page.url, visit, phase, run, classifier))
    return found


def _consent_violations(
    url: str, visit: Visit, phase: str, run: ScanRun, classifier: Classifier
) -> Iterable[Finding]:
    when = phase.replace("_", " ")
    gpc = run.options.gpc and visit.kind == "before_choice"

    def violation(
        kind: str,
        message: str,
        subject: Literal["cookie", "storage", "request"],
        name: str,
        category: str,
    ) -> Finding:
        return Finding(
            "violation", f"{kind}_{phase}", message, url, visit.kind, subject, name, category
        )

    for cookie in visit.cookies:
        verdict = classifier.item(cookie.name, cookie.domain)
        if verdict.needs_consent:
            message = f"cookie {cookie.name} ({verdict.required}) set {when}"
            yield violation("cookie", message, "cookie", cookie.name, verdict.required)
            if gpc and verdict.required == "targeting":
                yield _gpc_finding(url, "cookie", cookie.name)
    for item in visit.storage:
        verdict = classifier.item(item.key)
        if verdict.needs_consent:
            message = f"{item.area}Storage key {item.key} ({verdict.required}) written {when}"
            yield violation("storage", message, "storage", item.key, verdict.required)
    seen: set[str] = set()
    for request in visit.requests:
        tracker = classifier.tracker(request.url, run.start_url)
        if tracker is None or tracker.provider in seen:
            continue
        seen.add(tracker.provider)
        message = f"request to {tracker.provider} ({tracker.category}) {when}: {request.url}"
        yield violation("tracker", message, "request", tracker.provider, tracker.category)
        if gpc and tracker.category == "targeting":
            yield _gpc_finding(url, "request", tracker.provider)


def _gpc_finding(url: str, subject: Literal["cookie", "request"], name: str) -> Finding:
    return Finding(
        "violation",
        "gpc_ignored",
        f"{subject} {name} needs targeting consent but the browser sent Sec-GPC: 1",
        url,
        "before_choice",
        subject,
        name,
        "targeting",
    )


def _all_cookies(run: ScanRun) -> Iterable[tuple[PageScan, Visit, ObservedCookie]]:
    for page in run.pages:
        for visit in page.visits:
            for cookie in visit.cookies:
                yield page, visit, cookie


def _undeclared(run: ScanRun, classifier: Classifier) -> list[Finding]:
    if not classifier.has_policy:
        return []
    found: dict[str, Finding] = {}
    for page, visit, cookie in _all_cookies(run):
        verdict = classifier.item(cookie.name, cookie.domain)
        if verdict.declared is False and cookie.name not in found:
            known = f", known as {verdict.provider}" if verdict.provider else ""
            message = (
                f"cookie {cookie.name} is not declared in the policy ({verdict.category}{known})"
            )
            found[cookie.name] = _cookie_warning(
                "undeclared_cookie", message, page.url, visit.kind, cookie.name, verdict.category
            )
    return list(found.values())


def _cookie_warning(
    kind: str, message: str, page: str, visit: str, name: str, category: str
) -> Finding:
    return Finding("warning", kind, message, page, visit, "cookie", name, category)


def _lifetimes(run: ScanRun, classifier: Classifier) -> list[Finding]:
    found: dict[tuple[str, str], Finding] = {}
    for page, visit, cookie in _all_cookies(run):
        days = cookie_lifetime_days(cookie, visit.observed_at)
        if days is None:
            continue
        verdict = classifier.item(cookie.name, cookie.domain)
        declared = retention_days(verdict.retention) if verdict.retention else None
        checks: list[tuple[str, float, str]] = [
            ("lifetime_over_13_months", MAX_LIFETIME_DAYS, "more than 13 months")
        ]
        if declared is not None:
            said = "declared" if verdict.declared else "known"
            checks.append(
                (
                    "lifetime_over_declared",
                    declared,
                    f'its {said} retention is "{verdict.retention}"',
                )
            )
        for kind, limit, why in checks:
            if days > limit + _SLACK_DAYS and (cookie.name, kind) not in found:
                message = f"cookie {cookie.name} lives {days:.0f} days ({why})"
                found[(cookie.name, kind)] = _cookie_warning(
                    kind, message, page.url, visit.kind, cookie.name, verdict.category
                )
    return list(found.values())
