"""A real Django 5 project in one module, served under ASGI with consentkit around it.

Run as ``uvicorn tests.integrations.frameworks.django_site:application``. Django's views
write header names the way Django does (``Content-Length``, ``Vary``,
``Cache-Control``), which is what the middleware must handle case-insensitively.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-test-key-0123456789abcdef0123456789",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import (  # noqa: E402
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path  # noqa: E402
from django.utils.cache import patch_cache_control, patch_vary_headers  # noqa: E402

from consentkit import ConsentMiddleware, CookieRule, Policy  # noqa: E402

PAGE = (
    "<!doctype html><html lang='en'><head><title>Django</title></head><body>"
    + "<p>Hello from Django.</p>" * 10
    + "</body></html>"
)
_FILE = Path(tempfile.mkdtemp()) / "page.html"
_FILE.write_text(PAGE)


def _cached(response: HttpResponse | StreamingHttpResponse | FileResponse) -> None:
    patch_vary_headers(response, ["Accept-Encoding"])
    patch_cache_control(response, max_age=60)


def html(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE)
    response.set_cookie("sessionid", "abc")
    response.set_cookie("_ga", "GA1.1.1.1")
    response["ETag"] = '"v1"'
    _cached(response)
    return response


def json_view(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"ok": True})
    response.set_cookie("_ga", "GA1.1.1.1")
    _cached(response)
    return response


async def _chunks() -> AsyncIterator[str]:
    yield "<!doctype html><html><head><title>s</title></head><body>"
    for n in range(5):
        yield f"<p>chunk {n}</p>"
    yield "</body></html>"


def stream(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_chunks(), content_type="text/html; charset=utf-8")
    _cached(response)
    return response


def file_view(request: HttpRequest) -> FileResponse:
    response = FileResponse(_FILE.open("rb"), content_type="text/html; charset=utf-8")
    _cached(response)
    return response


urlpatterns = [
    path("", html),
    path("json", json_view),
    path("stream", stream),
    path("file", file_view),
]

application = ConsentMiddleware(
    get_asgi_application(),
    policy=Policy(
        cookies=(CookieRule("sessionid", "necessary", provider="Django", purpose="Login"),)
    ),
    secret_key="django-site-consent-key-0123456789abcdef",
)
