"""The category names other consent managers' markings use, mapped to consentkit's four.

Kept apart so that it has a single home in the rewriter; it is the one table to merge
with the registry's synonyms.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CATEGORY_SYNONYMS"]

CATEGORY_SYNONYMS: Final[dict[str, str]] = {
    "necessary": "necessary",
    "essential": "necessary",
    "required": "necessary",
    "strictly-necessary": "necessary",
    "strictly_necessary": "necessary",
    "ignore": "necessary",
    "performance": "performance",
    "statistics": "performance",
    "analytics": "performance",
    "measurement": "performance",
    "functionality": "functionality",
    "functional": "functionality",
    "preferences": "functionality",
    "personalization": "functionality",
    "targeting": "targeting",
    "marketing": "targeting",
    "advertising": "targeting",
    "ads": "targeting",
}
