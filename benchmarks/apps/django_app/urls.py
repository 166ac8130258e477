"""URL configurations of the two Django contenders."""

from __future__ import annotations

from django.urls import URLPattern, path  # type: ignore[import-untyped]

from benchmarks.apps.django_app import views


def _routes(template: str) -> list[URLPattern]:
    return [
        path("json", views.json_view),
        path("page20", views.page_view, {"template": template}),
        path("page300", views.page_view, {"template": template}),
        path("stream3m", views.stream_view),
    ]


class Bare:
    """The bare site."""

    urlpatterns = _routes("bare.html")


class WithConsent:
    """The site with django-cookie-consent's cookie bar."""

    urlpatterns = _routes("consent.html")


urlpatterns = Bare.urlpatterns
