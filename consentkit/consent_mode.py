"""Google Consent Mode v2: the one mapping from consent categories to Google's signals.

Pure. The banner sends :func:`consent_mode_state` for the visitor's choice; a site that loads
``gtag`` itself can start from :func:`consent_mode_defaults`, one entry per consent model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .categories import CATEGORIES, MODELS, NECESSARY, OPTIONAL_CATEGORIES, Category, Model
from .regions import DEFAULT_KEY, RegionTable

__all__ = [
    "ADVANCED_MODE_PROVIDERS",
    "CONSENT_MODE_SIGNALS",
    "advanced_mode_providers",
    "consent_mode_defaults",
    "consent_mode_state",
]

ADVANCED_MODE_PROVIDERS: Final = frozenset(
    {"Google Analytics", "Google Tag Manager", "Google Ads / DoubleClick"}
)
"""Tracker-index providers whose tags ``consent_mode = "advanced"`` lets load before a
choice: Google's own tags, which read the Consent Mode state (every signal denied then)."""


def advanced_mode_providers(mode: str, *, decided: bool, gpc: bool) -> frozenset[str]:
    """The providers whose tags load regardless of consent for one request.

    Only in ``advanced`` mode and only before the visitor chooses: a refusal blocks them
    again, as in ``basic`` mode. Under Global Privacy Control advertising tags stay blocked.
    """
    if mode != "advanced" or decided:
        return frozenset()
    if gpc:
        return ADVANCED_MODE_PROVIDERS - {"Google Ads / DoubleClick"}
    return ADVANCED_MODE_PROVIDERS


CONSENT_MODE_SIGNALS: Final[Mapping[Category, tuple[str, ...]]] = MappingProxyType(
    {
        "necessary": ("security_storage",),
        "performance": ("analytics_storage",),
        "functionality": ("functionality_storage", "personalization_storage"),
        "targeting": ("ad_storage", "ad_user_data", "ad_personalization"),
    }
)
"""Google Consent Mode v2 signals driven by each category."""


def consent_mode_state(granted: Iterable[str]) -> dict[str, str]:
    """Google Consent Mode v2 signals for a set of granted categories (``necessary`` always)."""
    allowed = set(granted) | {NECESSARY}
    state: dict[str, str] = {}
    for category in CATEGORIES:
        for signal in CONSENT_MODE_SIGNALS[category]:
            state[signal] = "granted" if category in allowed else "denied"
    return dict(sorted(state.items()))


def _model_state(model: Model, gpc: bool) -> dict[str, str]:
    # Before any choice: opt_in grants nothing optional; opt_out and notice grant all,
    # except targeting when the browser sends GPC (as decision.decide refuses it).
    if model == "opt_in":
        return consent_mode_state(())
    return consent_mode_state(c for c in OPTIONAL_CATEGORIES if not (gpc and c == "targeting"))


def consent_mode_defaults(table: RegionTable, *, gpc: bool = False) -> list[dict[str, Any]]:
    """Arguments for ``gtag('consent', 'default', ...)``, one per model.

    The first entry has no ``region`` and covers everywhere no region lists (the
    ``default`` region's model); each further entry carries the ISO 3166 codes of
    the regions with that model. Google applies the most specific match, so a
    subdivision entry (``US-CA``) beats its country. With *gpc*, ad storage is
    denied everywhere, as :func:`consentkit.decision.decide` refuses targeting.
    """
    entries: list[dict[str, Any]] = [_model_state(table.model_for(DEFAULT_KEY), gpc)]
    for model in MODELS:
        codes = sorted(
            code
            for region in table.regions
            if region.model == model and region.key != DEFAULT_KEY
            for code in region.countries | region.subdivisions
        )
        if codes:
            entries.append({**_model_state(model, gpc), "region": codes})
    return entries
