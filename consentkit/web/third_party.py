"""Third-party script and frame hosts nobody vouches for: reported once, blocked on request.

The rewriter asks about each script or frame source the tracker index does not match
(:attr:`~consentkit.rewriter.RewritePlan.unknown_source`). A host on the page's own site
or in the policy's ``known_hosts`` is fine; any other goes to the
:class:`~.unclassified.UnclassifiedReport` (logged once, shown on the dashboard), and
with ``block_unknown_hosts`` it is treated as a tracker of the policy's ``unclassified``
category.
"""

from __future__ import annotations

from collections.abc import Callable

from ..policy import Policy
from ..trackers import Tracker, host_in, third_party_host
from .unclassified import UnclassifiedReport

__all__ = ["UnknownHosts"]


class UnknownHosts:
    """Judges script and frame sources no tracker matches, and remembers the hosts seen."""

    def __init__(self, policy: Policy, report: UnclassifiedReport) -> None:
        self.policy = policy
        self.report = report

    def for_site(self, site: str | None) -> Callable[[str, str], Tracker | None]:
        """The rewriter's hook for a page served from *site*."""

        def check(kind: str, url: str) -> Tracker | None:
            return self.check(kind, url, site)

        return check

    def check(self, kind: str, url: str, site: str | None) -> Tracker | None:
        """Report *url*'s host if unknown; a tracker to block it as, when the policy says so."""
        host = third_party_host(url, site)
        if host is None or host_in(host, self.policy.known_hosts):
            return None
        self.report.add_host(kind, host)
        if not self.policy.block_unknown_hosts:
            return None
        kinds = frozenset({"script" if kind == "script" else "embed"})
        return Tracker(host, self.policy.unclassified, kinds, (host,))
