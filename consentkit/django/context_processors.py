"""``consent`` in every Django template rendered with a request."""

from __future__ import annotations

from typing import Any

from .middleware import decision_of

__all__ = ["consent"]


def consent(request: Any) -> dict[str, Any]:
    """``{"consent": Decision}``: add ``"consentkit.django.context_processors.consent"``."""
    return {"consent": decision_of(request)}
