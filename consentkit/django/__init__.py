"""Django integration: settings-driven middleware, ``request.consent`` and template tags.

Add ``"consentkit.django"`` to ``INSTALLED_APPS``, configure ``CONSENTKIT = {...}`` in the
settings (the options of :class:`~consentkit.ConsentMiddleware`; ``policy`` may be a TOML
path), wrap the application in ``asgi.py`` (:func:`wrap_asgi`) or ``wsgi.py``
(:func:`wrap_wsgi`) and add :class:`~consentkit.django.middleware.ConsentRequestMiddleware`
to ``MIDDLEWARE`` for ``request.consent``.

Enforcement wraps the whole Django application rather than living in a Django
middleware: it then covers every response (static files, error pages, other
middlewares' answers), streams ``StreamingHttpResponse`` and file bodies without
buffering them, and answers ``/_consent`` before URL resolution, with the very code
the ASGI and WSGI middlewares run everywhere else.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingExtraError
from ..policy import Policy
from ..web.middleware import ConsentMiddleware
from ..wsgi import ConsentWSGIMiddleware, WSGIApp

try:
    from django.conf import settings as django_settings
except ImportError:  # pragma: no cover - exercised only without Django installed
    raise MissingExtraError("The Django integration", "django", "django") from None

__all__ = ["options_from_settings", "wrap_asgi", "wrap_wsgi"]

_SOURCE = "Django settings"


def options_from_settings() -> dict[str, Any]:
    """The middleware options in ``settings.CONSENTKIT``, with ``policy`` loaded."""
    raw = getattr(django_settings, "CONSENTKIT", None)
    if not isinstance(raw, dict):
        raise ConfigError(
            "CONSENTKIT is missing or not a dict",
            source=_SOURCE,
            key="CONSENTKIT",
            fix='add CONSENTKIT = {"policy": BASE_DIR / "consent.toml", "secret_key": ...}',
        )
    options = dict(raw)
    policy = options.get("policy")
    if isinstance(policy, str | PathLike):
        options["policy"] = Policy.from_toml(Path(policy))
    elif not isinstance(policy, Policy):
        raise ConfigError(
            "CONSENTKIT['policy'] is required",
            source=_SOURCE,
            key="CONSENTKIT['policy']",
            fix="set it to the path of consent.toml or to a consentkit.Policy",
        )
    return options


def wrap_asgi(application: Any) -> ConsentMiddleware:
    """Django's ASGI application wrapped in the ASGI middleware, configured from settings."""
    return ConsentMiddleware(application, **options_from_settings())


def wrap_wsgi(application: WSGIApp) -> ConsentWSGIMiddleware:
    """Django's WSGI application wrapped in the WSGI middleware, configured from settings."""
    return ConsentWSGIMiddleware(application, **options_from_settings())
