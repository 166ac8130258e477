"""What one response's rewrite should do: the plan, what was blocked, the placeholder."""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from consentkit.categories import CATEGORIES
from consentkit.services import ServiceIndex
from consentkit.trackers import Tracker, TrackerIndex, default_index

__all__ = [
    "Blocked",
    "RewritePlan",
    "RewriteStats",
    "block_key_html",
    "blocks_nothing",
    "default_placeholder",
    "new_block_key",
]


@dataclass(frozen=True, slots=True)
class Blocked:
    """One element the rewriter neutralised."""

    kind: str
    """The element's name: ``script``, ``iframe``, ``img``, ``link``, ``video``, ``base``..."""
    category: str
    provider: str | None = None
    url: str | None = None
    service: str | None = None
    """The service id the element belongs to (``youtube``), when one is known."""


def new_block_key() -> str:
    """A fresh, unguessable key for one response's blocked elements."""
    return secrets.token_urlsafe(12)


def block_key_html(key: str) -> str:
    """Markup placed right after the banner script: it tells the script this response's key.

    The script reads it as its own next sibling, which reflected markup cannot be.
    """
    return f'<meta data-ck-key="{html.escape(key)}">'


def default_placeholder(blocked: Blocked) -> str:
    """Accessible English placeholder shown where a blocked iframe would be."""
    who = html.escape(blocked.provider or "a third party")
    cat = html.escape(blocked.category)
    return (
        f'<div class="ck-placeholder" data-ck-placeholder data-ck-category="{cat}" '
        f'role="region" aria-label="Blocked content from {who}">'
        f"<p>This content from {who} is blocked because it needs your consent to "
        f"{cat} cookies.</p>"
        f'<button type="button" data-ck-load>Load content from {who}</button> '
        f'<button type="button" data-ck-allow="{cat}">Always allow {cat}</button>'
        "</div>"
    )


@dataclass(frozen=True)
class RewritePlan:
    """What to block and what to insert for one response."""

    granted: frozenset[str] = frozenset()
    """Categories the visitor granted; ``necessary`` is always granted."""
    trackers: TrackerIndex = field(default_factory=default_index)
    head_html: str = ""
    """Inserted right after the ``<head>`` start tag (or where a head would begin)."""
    body_start_html: str = ""
    """Inserted right after the ``<body>`` start tag; with no such tag, with ``body_end_html``.

    Markup here is in the first paint even when the body is long or streamed.
    """
    body_end_html: str = ""
    """Inserted right before the last real ``</body>`` (or at the end)."""
    body_start_html_for_lang: Callable[[str], str] | None = None
    """When set, gives the markup inserted after ``<body>`` instead of ``body_start_html``.

    Called once, with the ``lang`` attribute of the document's ``<html>`` tag (``""``
    without one), so the banner can speak the page's language. ``body_start_html``
    must still be non-empty: it says that there is something to insert.
    """
    placeholder: Callable[[Blocked], str] = default_placeholder
    block_unmarked_trackers: bool = True
    unclassified_category: str = "targeting"
    """Category assumed for a marking the rewriter does not recognise."""
    site_host: str | None = None
    """The page's own host: URLs on it (and its subdomains) are never trackers."""
    unknown_source: Callable[[str, str], Tracker | None] | None = None
    """Called with ``("script" | "iframe", url)`` for a script or frame source no tracker
    matches; may report it, and returns a :class:`Tracker` to treat it as (blocked unless
    its category is granted), or ``None`` to leave it alone."""
    block_key: str = ""
    """The value of ``data-ck-blocked`` on what this response blocks (see :func:`new_block_key`).

    ``consentkit.js`` activates only elements carrying this response's key, so markup the
    page reflects from its visitors, pre-marked or not, is never run by the banner.
    """

    services: ServiceIndex | None = None
    """Which service a tracker or a ``data-service`` marking belongs to."""
    preconsent_providers: frozenset[str] = frozenset()
    """Tracker providers whose tags load whatever the consent (Google's tags under
    Consent Mode ``advanced``, before a choice: they run with every signal denied)."""
    service_answers: tuple[tuple[str, bool], ...] = ()
    """``(service id, allowed)`` for services answered apart from their category: granted
    in a refused category, refused (or not yet asked) in a granted one."""

    def allows(self, category: str) -> bool:
        """Whether elements of *category* may run."""
        return category == "necessary" or category in self.granted

    @cached_property
    def _answers(self) -> dict[str, bool]:
        return dict(self.service_answers)

    def service_of(self, tracker: Tracker | None, marked: str | None = None) -> str | None:
        """The service id of an element: its ``data-service`` marking, else its tracker's."""
        services = self.services
        if services is None:
            return None
        if marked is not None and services.get(marked) is not None:
            return marked
        if tracker is None:
            return None
        found = services.for_provider(tracker.provider)
        return None if found is None else found.id

    def permits(self, category: str, service: str | None) -> bool:
        """Whether an element of *category* belonging to *service* may run: a service
        answered on its own decides, else its category does."""
        if service is not None and self.service_answers:
            answer = self._answers.get(service)
            if answer is not None:
                return answer
        return self.allows(category)

    @cached_property
    def blocks_nothing(self) -> bool:
        """Whether no element of any page can need blocking under this plan.

        True when every category the rewriter can ever assign is allowed: those of the
        marking vocabulary, the unclassified category and every tracker's. The rewriter
        then only finds its insertion points, and once they are behind it passes the
        rest of the document through untouched.
        """
        return blocks_nothing(
            self.granted, self.service_answers, self.unclassified_category, self.trackers
        )


def blocks_nothing(
    granted: frozenset[str],
    service_answers: tuple[tuple[str, bool], ...],
    unclassified_category: str,
    trackers: TrackerIndex,
) -> bool:
    """:attr:`RewritePlan.blocks_nothing` for a plan of these fields, known before the
    plan is built."""
    if any(not allowed for _, allowed in service_answers):
        return False
    return _allows_all(granted, unclassified_category, trackers.categories)


@lru_cache(maxsize=256)
def _allows_all(granted: frozenset[str], unclassified: str, tracked: frozenset[str]) -> bool:
    """Whether *granted* (with ``necessary``) covers every category the rewriter can assign:
    the marking vocabulary's, *unclassified* and the trackers' (*tracked*). Remembered:
    every response asks, with a handful of distinct answers."""
    possible = {*CATEGORIES, unclassified, *tracked}
    return possible <= granted | {"necessary"}


@dataclass
class RewriteStats:
    """What a rewriter did so far."""

    blocked: list[Blocked] = field(default_factory=list)
    head_injected: bool = False
    body_injected: bool = False

    def by_category(self) -> dict[str, int]:
        """Number of blocked elements per category."""
        counts: dict[str, int] = {}
        for item in self.blocked:
            counts[item.category] = counts.get(item.category, 0) + 1
        return counts
