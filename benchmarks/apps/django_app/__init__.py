"""The Django contenders: a bare Django site, and the same site with django-cookie-consent.

Both are the same project served through Django's ASGI handler: one in-memory SQLite
database holding django-cookie-consent's cookie groups (created at startup), the same views
and page bodies. The bare app runs no middleware and renders the pages as they are; the
other runs ``cookie_consent.middleware.CleanCookiesMiddleware`` and renders the cookie bar
its documentation describes (a ``<template>``, the cookie groups as JSON and the bar's
module script) when the visitor has groups left to answer.

Django settings are process-wide, so :func:`configure` runs once per process and both
factories can live in the same process (as in the tests).
"""

from __future__ import annotations

import threading
from typing import Any, Final

__all__ = ["bare_app", "configure", "consent_app"]

MIDDLEWARE: Final = "cookie_consent.middleware.CleanCookiesMiddleware"
_DATABASE: Final = "file:consentkit-bench?mode=memory&cache=shared"
_lock = threading.Lock()
_keep_alive: list[Any] = []


def configure() -> None:
    """Configure Django for the benchmark project and fill its database (once per process)."""
    with _lock:
        from django.conf import settings  # type: ignore[import-untyped]

        if settings.configured:
            return
        from benchmarks.apps.django_app.views import TEMPLATES

        settings.configure(
            DEBUG=False,
            SECRET_KEY="benchmark-only-django-secret-0123456789",
            ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
            INSTALLED_APPS=["cookie_consent"],
            MIDDLEWARE=[],
            ROOT_URLCONF="benchmarks.apps.django_app.urls",
            DATABASES={
                "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _DATABASE},
            },
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {
                        "loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)],
                        "context_processors": ["django.template.context_processors.request"],
                    },
                }
            ],
            USE_TZ=True,
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        )
        import django  # type: ignore[import-untyped]

        django.setup()
        # uvicorn calls the factory inside its event loop, where Django refuses
        # database work: do it in a thread of its own.
        failures: list[BaseException] = []
        worker = threading.Thread(target=_create_database, args=(failures,))
        worker.start()
        worker.join()
        if failures:
            raise failures[0]


def _create_database(failures: list[BaseException]) -> None:
    try:
        _fill_database()
    except BaseException as exc:
        failures.append(exc)


def _fill_database() -> None:
    from django.core.management import call_command  # type: ignore[import-untyped]
    from django.db import connection  # type: ignore[import-untyped]

    # An in-memory database lives as long as one connection to it stays open.
    connection.ensure_connection()
    _keep_alive.append(connection.connection)
    call_command("migrate", verbosity=0, interactive=False)

    from cookie_consent.models import Cookie, CookieGroup

    necessary = CookieGroup.objects.create(
        varname="necessary", name="Necessary", is_required=True, is_deletable=False
    )
    Cookie.objects.create(cookiegroup=necessary, name="session")
    targeting = CookieGroup.objects.create(
        varname="targeting", name="Targeting", description="Advertising", is_deletable=True
    )
    Cookie.objects.create(cookiegroup=targeting, name="_fbp", description="Meta pixel")


def _handler(middleware: list[str], urlconf: object) -> Any:
    from django.core.handlers.asgi import ASGIHandler  # type: ignore[import-untyped]
    from django.test.utils import override_settings  # type: ignore[import-untyped]

    class Handler(ASGIHandler):  # type: ignore[misc]
        def create_request(self, scope: Any, body_file: Any) -> Any:
            request, error = super().create_request(scope, body_file)
            if request is not None:
                request.urlconf = urlconf
            return request, error

    # The middleware chain is built once, when the handler is created.
    with override_settings(MIDDLEWARE=middleware):
        return Handler()


def bare_app() -> Any:
    """The Django site without django-cookie-consent's middleware or cookie bar."""
    configure()
    from benchmarks.apps.django_app import urls

    return _handler([], urls.Bare)


def consent_app() -> Any:
    """The Django site with ``CleanCookiesMiddleware`` and django-cookie-consent's cookie bar."""
    configure()
    from benchmarks.apps.django_app import urls

    return _handler([MIDDLEWARE], urls.WithConsent)
