"""Starlette and FastAPI helpers: the decision as a dependency and in Jinja2 templates.

``consent`` is a FastAPI dependency (``consent: Decision = Depends(consent)``) and a plain
function for Starlette views; ``template_context`` is a context processor for
``Jinja2Templates`` that puts ``consent`` in every template
(``{% if consent.allows("performance") %}``). Both read what
:class:`~consentkit.ConsentMiddleware` stored in ``request.state.consent``; neither
imports FastAPI, so they work on any Starlette app.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from .decision import Decision

__all__ = ["consent", "template_context"]


def consent(request: HTTPConnection) -> Decision:
    """The request's consent decision.

    Raises:
        LookupError: the app is not wrapped in ``ConsentMiddleware`` (a missing
            middleware must not pass for a visitor who refused everything).
    """
    decision = request.scope.get("state", {}).get("consent")
    if not isinstance(decision, Decision):
        raise LookupError(
            "no consent decision on the request: add consentkit.ConsentMiddleware to the app"
        )
    return decision


def template_context(request: HTTPConnection) -> dict[str, Any]:
    """``{"consent": Decision}`` for ``Jinja2Templates(context_processors=[...])``."""
    return {"consent": consent(request)}
