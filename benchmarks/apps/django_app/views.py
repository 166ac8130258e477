"""Views of the Django contenders: the same routes and bodies as the Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from django.http import (  # type: ignore[import-untyped]
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render  # type: ignore[import-untyped]

from benchmarks.apps import (
    JSON_PAYLOAD,
    SESSION_COOKIE,
    STREAM_CHUNK,
    TRACKING_COOKIE,
    body,
)

_COOKIE_BAR: Final = """\
{% load cookie_consent_tags %}{% if request|cookie_consent_enabled %}\
{% not_accepted_or_declined_cookie_groups request as cookie_groups %}{% if cookie_groups %}
<template id="cookie-consent__cookie-bar"><div class="cookie-bar">
This site uses cookies for better performance and user experience.
<button type="button" class="cookie-consent__accept">Accept</button>
<button type="button" class="cookie-consent__decline">Decline</button>
</div></template>
{% all_cookie_groups 'cookie-consent__cookie-groups' %}
<script type="module" src="/static/cookie_consent/cookiebar.module.js"></script>
{% endif %}{% endif %}"""

TEMPLATES: Final = {
    "bare.html": "{{ head|safe }}{{ tail|safe }}",
    "consent.html": "{{ head|safe }}" + _COOKIE_BAR + "{{ tail|safe }}",
}


def _set_cookies(response: HttpResponse | StreamingHttpResponse) -> None:
    response.set_cookie(*SESSION_COOKIE, httponly=True, samesite="Lax")
    response.set_cookie(*TRACKING_COOKIE, max_age=7776000, samesite="Lax")


def json_view(request: HttpRequest) -> HttpResponse:
    """``/json``."""
    return JsonResponse(JSON_PAYLOAD)


def page_view(request: HttpRequest, template: str) -> HttpResponse:
    """``/page20`` and ``/page300``, rendered through *template*."""
    html = body(request.path).decode("utf-8")
    end = html.rfind("</body>")
    response = render(request, template, {"head": html[:end], "tail": html[end:]})
    _set_cookies(response)
    return response


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), STREAM_CHUNK):
        yield data[start : start + STREAM_CHUNK]


def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    """``/stream3m``, streamed in 64 KiB chunks."""
    response = StreamingHttpResponse(_chunks(body("/stream3m")), content_type="text/html")
    _set_cookies(response)
    return response
