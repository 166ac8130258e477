"""The four consent categories and the vocabulary shared by every layer."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

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


def is_category(value: object) -> bool:
    """Return whether *value* is one of the four category keys."""
    return value in CATEGORIES
