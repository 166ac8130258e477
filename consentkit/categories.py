"""The consent categories, consent models and actions: the vocabulary shared by every layer.

This module is the one home of the category synonyms ("analytics" means ``performance``)
that policy files, knowledge-base entries and page markup may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeAlias, TypeGuard

Category: TypeAlias = Literal["necessary", "performance", "functionality", "targeting"]
"""A consent category key. ``necessary`` is always granted."""

Classified: TypeAlias = Literal[
    "necessary", "performance", "functionality", "targeting", "unclassified"
]
"""A category key, or ``unclassified`` for a cookie that matched no rule."""

Source: TypeAlias = Literal["declared", "knowledge_base", "unknown"]
"""Where a classification came from."""

Action: TypeAlias = Literal["accept_all", "reject_all", "save", "withdraw", "gpc"]
"""What a visitor (or their browser's signal) did."""

Model: TypeAlias = Literal["opt_in", "opt_out", "notice"]
"""How a region treats a visitor who has not chosen yet."""

NECESSARY: Final = "necessary"
UNCLASSIFIED: Final = "unclassified"

CATEGORIES: Final[tuple[Category, ...]] = (
    "necessary",
    "performance",
    "functionality",
    "targeting",
)
"""All categories in display order."""

OPTIONAL_CATEGORIES: Final[tuple[Category, ...]] = CATEGORIES[1:]
"""Categories a visitor may refuse."""

ACTIONS: Final[tuple[Action, ...]] = ("accept_all", "save", "reject_all", "withdraw", "gpc")
"""Every action, from most to least granting (``gpc`` is the browser's, not a button)."""

VISITOR_ACTIONS: Final[frozenset[Action]] = frozenset(ACTIONS) - {"gpc"}
"""The actions a visitor can post from the banner or the preferences page."""

MODELS: Final[tuple[Model, ...]] = ("opt_in", "opt_out", "notice")
"""The consent models, in order of strictness."""

CATEGORY_SYNONYMS: Final[Mapping[str, Category]] = {
    "essential": "necessary",
    "required": "necessary",
    "strictly_necessary": "necessary",
    "ignore": "necessary",
    "statistics": "performance",
    "analytics": "performance",
    "measurement": "performance",
    "functional": "functionality",
    "preferences": "functionality",
    "personalization": "functionality",
    "marketing": "targeting",
    "advertising": "targeting",
    "ads": "targeting",
}
"""Other names for the categories (CMP vocabularies, page markup), keyed in folded form.

``ignore`` is Cookiebot's marking for a script that needs no consent.
"""


def is_category(value: object) -> bool:
    """Return whether *value* is one of the four category keys."""
    return value in CATEGORIES


def is_action(value: object) -> TypeGuard[Action]:
    """Return whether *value* is one of the :data:`ACTIONS`."""
    return value in ACTIONS


def fold_name(value: str) -> str:
    """*value* trimmed, lower-cased, with ``-`` and spaces as ``_`` (how synonyms are keyed)."""
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def normalize_category(value: str) -> Category | None:
    """The category *value* names (a key or a synonym, in any case), or ``None``."""
    return _BY_NAME.get(fold_name(value))


_BY_NAME: Final[Mapping[str, Category]] = {
    **{category: category for category in CATEGORIES},
    **CATEGORY_SYNONYMS,
}
