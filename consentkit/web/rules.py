"""``ResponseRules``: what every response of a site is held to, built once by the middleware.

The editor applies them to each response (:mod:`.editor`) and the page plans read them
(:mod:`.plans`); they also hold what responses learn and share: the encodings warned
about and the settled plans remembered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

from ..memo import Memo
from ..policy import Policy
from ..rewriter import RewritePlan
from ..trackers import TrackerIndex
from .banner import Banner
from .declaration import Declaration
from .encodings import DEFAULT_MAX_DECODED
from .recorder import Recorder
from .third_party import UnknownHosts
from .unclassified import UnclassifiedReport

__all__ = ["SETTLED_MAX", "ResponseRules"]

logger = logging.getLogger("consentkit")

SETTLED_MAX: Final = 512
"""Settled plans remembered at most (see :mod:`.plans`)."""


@dataclass(frozen=True, eq=False)
class ResponseRules:
    """What every response of the site is held to; built once by the middleware.

    Args:
        policy: classifies cookies and names the unclassified category.
        own_cookies: cookie names enforcement never touches (the consent cookie).
        trackers: the tracker index for unmarked third-party tags.
        recorder: records a GPC signal seen on a page view.
        unclassified: counts cookies that match no rule.
        banner: injected into HTML pages when *inject_banner*; ``None`` for none.
        rewrite_html: stream HTML bodies through the rewriter at all.
        inject_banner: put the banner into rewritten pages.
        declaration: records the cookie names responses set, for the declaration.
        unknown_hosts: judges script and frame hosts no tracker matches.
        cookie_domain: the configured ``cookie_domain``: expiry lines name it, never the
            raw ``Host`` header's parents.
        max_decoded_size: the most bytes one compressed HTML body may decode to; above
            it the body ends at the last byte within the limit (fail closed).
    """

    policy: Policy
    own_cookies: frozenset[str]
    trackers: TrackerIndex
    recorder: Recorder
    unclassified: UnclassifiedReport
    banner: Banner | None
    declaration: Declaration | None = None
    unknown_hosts: UnknownHosts | None = None
    rewrite_html: bool = True
    inject_banner: bool = True
    cookie_domain: str | None = None
    max_decoded_size: int = DEFAULT_MAX_DECODED
    _warned_encodings: set[str] = field(default_factory=set, repr=False)
    settled: Memo[tuple[object, ...], RewritePlan] = field(
        default_factory=lambda: Memo(SETTLED_MAX), repr=False
    )
    """Plans of pages under choices that leave nothing to block (see :mod:`.plans`)."""

    def warn_encoding(self, encoding: str) -> None:
        """Log once per encoding that HTML in it is withheld (it cannot be rewritten)."""
        if encoding not in self._warned_encodings:
            self._warned_encodings.add(encoding)
            logger.warning(
                "HTML with Content-Encoding %r cannot be rewritten and is withheld (fail "
                "closed: a browser would decode it and load its trackers); put consentkit "
                "outside (after) the compression middleware",
                encoding,
            )
