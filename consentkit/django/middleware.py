"""``ConsentRequestMiddleware``: ``request.consent`` in Django views and templates.

The decision is made by the ASGI or WSGI middleware wrapping the application
(:func:`consentkit.django.wrap_asgi` / :func:`~consentkit.django.wrap_wsgi`); this one only
hands it to Django. Without that wrapper (Django's test ``Client`` calls the handler
directly) it reads the consent cookie itself, so views and tests see the same decision,
and it logs once that responses are not being enforced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from ..decision import Decision
from ..web.core import ConsentCore
from ..web.request import RequestInfo
from ..wsgi import ENVIRON_KEY
from . import options_from_settings

__all__ = ["ConsentRequestMiddleware", "decision_of"]

logger = logging.getLogger("consentkit")


@cache
def _fallback() -> ConsentCore:
    logger.warning(
        "consentkit: the Django application is not wrapped (consentkit.django.wrap_asgi or "
        "wrap_wsgi): request.consent is read from the cookie, responses are not enforced"
    )
    options = options_from_settings()
    for key in ("store", "receipt_key", "spool_path"):
        options.pop(key, None)
    return ConsentCore(**options)


def decision_of(request: Any) -> Decision:
    """The consent decision of a Django request (ASGI scope, WSGI environ or the cookie)."""
    scope = getattr(request, "scope", None)
    found = None
    if isinstance(scope, dict):
        found = (scope.get("state") or {}).get("consent")
    if found is None:
        found = request.META.get(ENVIRON_KEY)
    if isinstance(found, Decision):
        return found
    core = _fallback()
    environ = dict(request.META)
    environ.setdefault("PATH_INFO", request.path_info)
    return core.decide(
        RequestInfo.from_environ(
            environ, core.settings.request_cookie_name(environ.get("wsgi.url_scheme"))
        )
    )


class ConsentRequestMiddleware:
    """Sets ``request.consent`` (a :class:`~consentkit.decision.Decision`); sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        request.consent = decision_of(request)
        return self.get_response(request)

    async def _acall(self, request: Any) -> Any:
        request.consent = decision_of(request)
        response: Awaitable[Any] = self.get_response(request)
        return await response
