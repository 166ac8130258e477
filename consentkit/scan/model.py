"""What a scan observed, as plain values: no browser types, no classification.

The browser driver (:mod:`consentkit.scan.browser`) fills these in; the rules
(:mod:`consentkit.scan.rules`) judge them; the reports render the judgement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

__all__ = [
    "VISIT_KINDS",
    "Control",
    "FirstLayer",
    "ObservedCookie",
    "ObservedRequest",
    "ObservedStorage",
    "PageScan",
    "ScanOptions",
    "ScanRun",
    "SetBy",
    "Visit",
    "VisitKind",
    "VisitStatus",
]

VisitKind: TypeAlias = Literal["before_choice", "accept_all", "reject_all", "withdraw"]
"""Which visit of a page: before any choice, after accepting, after rejecting, after withdrawing."""

VISIT_KINDS: Final[tuple[VisitKind, ...]] = (
    "before_choice",
    "accept_all",
    "reject_all",
    "withdraw",
)

VisitStatus: TypeAlias = Literal["ok", "not_verified", "error"]
"""``not_verified``: the consent control this visit needs was not found."""

SetBy: TypeAlias = Literal["response", "script", "unknown"]
"""How a cookie reached the browser: a ``Set-Cookie`` header, ``document.cookie``, or unseen."""


@dataclass(frozen=True, slots=True)
class ObservedCookie:
    """One cookie in the browser's jar at the end of a visit.

    ``expires`` is the jar's expiry (epoch seconds; ``None`` for a session cookie), which
    browsers cap at 400 days; ``requested_lifetime_days`` is what the site asked for in the
    ``Set-Cookie`` header or ``document.cookie`` string, when the scanner saw it.
    """

    name: str
    domain: str
    path: str
    expires: float | None
    set_by: SetBy = "unknown"
    set_by_url: str = ""
    requested_lifetime_days: float | None = None
    host_only: bool = True


@dataclass(frozen=True, slots=True)
class ObservedStorage:
    """One ``localStorage`` or ``sessionStorage`` key of the page's origin."""

    area: Literal["local", "session"]
    key: str
    origin: str


@dataclass(frozen=True, slots=True)
class ObservedRequest:
    """One request the page made during the part of a visit that counts."""

    url: str
    resource_type: str = "other"
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Control:
    """A consent control the scanner found (and clicked for its visit)."""

    action: Literal["accept", "reject", "withdraw"]
    how: str
    """``consentkit``, ``cmp:<name>`` (known consent-manager markup) or ``name`` (button text)."""
    label: str = ""


@dataclass(frozen=True, slots=True)
class FirstLayer:
    """The consent controls visible on a page before any choice."""

    accept: Control | None = None
    reject: Control | None = None
    consentkit: bool = False
    """The page carries consentkit's own banner markup."""
    cmp: str = ""
    """The consent manager recognised by its markup, or ``""``."""
    banner_shown: bool = False


@dataclass(slots=True)
class Visit:
    """One visit of one page in a fresh browser profile."""

    kind: VisitKind
    status: VisitStatus = "ok"
    observed_at: float = 0.0
    cookies: list[ObservedCookie] = field(default_factory=list)
    storage: list[ObservedStorage] = field(default_factory=list)
    requests: list[ObservedRequest] = field(default_factory=list)
    control: Control | None = None
    error: str = ""
    navigator_gpc: bool | None = None


@dataclass(slots=True)
class PageScan:
    """Every visit of one page."""

    url: str
    visits: list[Visit] = field(default_factory=list)
    first_layer: FirstLayer | None = None
    error: str = ""

    def visit(self, kind: VisitKind) -> Visit | None:
        """The visit of *kind*, if it was made."""
        return next((v for v in self.visits if v.kind == kind), None)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How the scan was run (echoed in every report)."""

    pages: int = 10
    delay: float = 1.0
    ignore_robots: bool = False
    gpc: bool = False
    withdraw: bool = False
    policy: str = ""
    settle_ms: int = 1000
    timeout_ms: int = 20_000


@dataclass(slots=True)
class ScanRun:
    """A whole scan: the pages visited, what was skipped and what went wrong."""

    start_url: str
    options: ScanOptions = field(default_factory=ScanOptions)
    pages: list[PageScan] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
