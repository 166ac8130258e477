"""The apps timed by the HTTP benchmark, and the check that each one does its job.

Every contender serves the same four routes with the same bodies:

* ``/json``: a small JSON document;
* ``/page20`` and ``/page300``: news pages of about 20 KB and 300 KB carrying
  :data:`~benchmarks.pages.TRACKER_COUNT` trackers, answered in one body;
* ``/stream3m``: a 3 MB page streamed in 64 KiB chunks.

The page routes also set a necessary ``session`` cookie and the Meta pixel's ``_fbp``
cookie (targeting), so a consent layer has a cookie to drop.

:data:`CONTENDERS` names each contender's ASGI factory (for ``uvicorn --factory``), its
baseline and what :func:`verify` expects of its answers. The factories live in
:mod:`benchmarks.apps.starlette_apps` and :mod:`benchmarks.apps.django_app`; this module
imports neither, so the benchmark driver stays free of web frameworks.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from benchmarks.pages import TRACKER_COUNT, page

__all__ = [
    "CONTENDERS",
    "JSON_PAYLOAD",
    "PAGE_SIZES",
    "ROUTES",
    "SECRET",
    "SESSION_COOKIE",
    "STREAM_CHUNK",
    "TRACKING_COOKIE",
    "Contender",
    "Expect",
    "app_set_cookies",
    "body",
    "contender",
    "request_cookie",
    "verify",
]

ROUTES: Final = ("/json", "/page20", "/page300", "/stream3m")
PAGE_SIZES: Final = {"/page20": 20_000, "/page300": 300_000, "/stream3m": 3_000_000}
STREAM_CHUNK: Final = 64 * 1024
JSON_PAYLOAD: Final = {"status": "ok", "items": [1, 2, 3], "name": "bench"}

SECRET: Final = "benchmark-only-secret-0123456789abcdef"
"""Signs consent cookies in the benchmark apps; never use it anywhere else."""

SESSION_COOKIE: Final = ("session", "s-0123456789abcdef")
TRACKING_COOKIE: Final = ("_fbp", "fb.1.1700000000000.1234567890")

# A live tracker URL of the page: it survives only where targeting is allowed.
_TRACKER_SRC: Final = b' src="https://www.googletagmanager.com/gtag/js?id=G-BENCH01"'
_BANNER_MARK: Final = b"data-ck-banner"
_BLOCK_MARK: Final = b"data-ck-blocked"
_DCC_MARK: Final = b'id="cookie-consent__cookie-groups"'

Expect = Literal["serve", "block", "allow", "clean"]
"""What a contender's answers must show.

``serve``: the app's own bytes, untouched (a baseline). ``block``: trackers neutralised,
banner injected before ``</body>``, targeting cookie dropped (no consent given).
``allow``: nothing blocked and the targeting cookie kept, with the consent layer still
at work (``Vary: Cookie``). ``clean``: django-cookie-consent's middleware expired the
targeting cookie the browser sent.
"""


@dataclass(frozen=True)
class Contender:
    """One server in the benchmark.

    Args:
        name: shown in reports.
        app: ``module:factory`` of the ASGI app, for ``uvicorn --factory``.
        baseline: the contender whose throughput this one's overhead is measured against.
        expect: what :func:`verify` checks on every answer.
        cookie: what the load generator sends: nothing, a valid consent cookie granting
            everything, or the tracking cookie (which django-cookie-consent must expire).
    """

    name: str
    app: str
    baseline: str | None
    expect: Expect
    cookie: Literal["none", "consent", "tracker"] = "none"


_STARLETTE: Final = "benchmarks.apps.starlette_apps"
_DJANGO: Final = "benchmarks.apps.django_app"

CONTENDERS: Final = (
    Contender("starlette", f"{_STARLETTE}:bare_app", None, "serve"),
    # The same bare app sent the accepted visitor's request: a baseline that parses the
    # same Cookie header, so the accepted contender's ratio is consentkit's work alone.
    Contender("starlette-cookie", f"{_STARLETTE}:bare_app", None, "serve", "consent"),
    Contender("consentkit", f"{_STARLETTE}:consentkit_app", "starlette", "block"),
    Contender(
        "consentkit-accepted",
        f"{_STARLETTE}:consentkit_app",
        "starlette-cookie",
        "allow",
        "consent",
    ),
    Contender("obvious", f"{_STARLETTE}:obvious_app", "starlette", "block"),
    Contender("django", f"{_DJANGO}:bare_app", None, "serve", "tracker"),
    Contender("django-cookie-consent", f"{_DJANGO}:consent_app", "django", "clean", "tracker"),
)


def contender(name: str) -> Contender:
    """The contender called *name*."""
    for item in CONTENDERS:
        if item.name == name:
            return item
    raise KeyError(name)


@functools.cache
def body(route: str) -> bytes:
    """The bytes the app writes for *route* (before any consent layer)."""
    if route == "/json":
        return json.dumps(JSON_PAYLOAD, separators=(",", ":")).encode()
    return page(PAGE_SIZES[route])


def app_set_cookies() -> list[str]:
    """The ``Set-Cookie`` values every page route sends."""
    session, tracking = SESSION_COOKIE, TRACKING_COOKIE
    return [
        f"{session[0]}={session[1]}; HttpOnly; Path=/; SameSite=lax",
        f"{tracking[0]}={tracking[1]}; Max-Age=7776000; Path=/; SameSite=lax",
    ]


def request_cookie(item: Contender) -> str:
    """The ``Cookie`` header the load generator sends to *item* (empty: none)."""
    if item.cookie == "consent":
        from benchmarks.apps.starlette_apps import consent_cookie

        return consent_cookie()
    if item.cookie == "tracker":
        return "=".join(TRACKING_COOKIE)
    return ""


# -- verification ---------------------------------------------------------------------------


def _cookies_set(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    prefix = name.lower() + "="
    return [
        value
        for key, value in headers
        if key.lower() == "set-cookie" and value.strip().lower().startswith(prefix)
    ]


def _is_expiry(set_cookie: str) -> bool:
    attributes = [part.strip().lower() for part in set_cookie.split(";")[1:]]
    return "max-age=0" in attributes or any(
        a.startswith("expires=") and "1970" in a for a in attributes
    )


def _header(headers: Sequence[tuple[str, str]], name: str) -> str:
    return ", ".join(v for k, v in headers if k.lower() == name)


def _check_json(data: bytes) -> list[str]:
    try:
        decoded = json.loads(data)
    except ValueError:
        return ["/json: body is not JSON"]
    return [] if decoded == JSON_PAYLOAD else ["/json: payload differs from the app's"]


def _check_block(route: str, headers: Sequence[tuple[str, str]], data: bytes) -> list[str]:
    problems = []
    blocked = data.count(_BLOCK_MARK)
    if blocked < TRACKER_COUNT:
        problems.append(f"{route}: {blocked} trackers blocked, expected >= {TRACKER_COUNT}")
    if _TRACKER_SRC in data:
        problems.append(f"{route}: a tracker script still loads")
    banner, end = data.rfind(_BANNER_MARK), data.rfind(b"</body>")
    if banner < 0 or not banner < end:
        problems.append(f"{route}: no banner before </body>")
    if any(not _is_expiry(v) for v in _cookies_set(headers, TRACKING_COOKIE[0])):
        problems.append(f"{route}: the targeting cookie was not dropped")
    if not _cookies_set(headers, SESSION_COOKIE[0]):
        problems.append(f"{route}: the necessary cookie was dropped")
    return problems


def _check_allow(route: str, headers: Sequence[tuple[str, str]], data: bytes) -> list[str]:
    problems = []
    if _BLOCK_MARK in data or _TRACKER_SRC not in data:
        problems.append(f"{route}: trackers were blocked despite consent")
    if not any(not _is_expiry(v) for v in _cookies_set(headers, TRACKING_COOKIE[0])):
        problems.append(f"{route}: the consented targeting cookie was dropped")
    if "cookie" not in _header(headers, "vary").lower():
        problems.append(f"{route}: no Vary: Cookie (is the consent layer active?)")
    return problems


def _check_clean(route: str, headers: Sequence[tuple[str, str]], data: bytes) -> list[str]:
    problems = []
    values = _cookies_set(headers, TRACKING_COOKIE[0])
    if not values or not all(_is_expiry(v) for v in values):
        problems.append(f"{route}: the non-consented tracking cookie was not expired")
    if route in ("/page20", "/page300") and _DCC_MARK not in data:
        problems.append(f"{route}: no cookie-group data for the cookie bar")
    return problems


def verify(
    expect: Expect,
    route: str,
    status: int,
    headers: Sequence[tuple[str, str]],
    data: bytes,
) -> list[str]:
    """Problems with one answer of a contender expected to *expect* (empty: it passes).

    *headers* are the response's ``(name, value)`` pairs, ``Set-Cookie`` lines kept apart.
    """
    if status != 200:
        return [f"{route}: status {status}"]
    if route == "/json":
        problems = _check_json(data)
    elif route in PAGE_SIZES:
        problems = []
        if len(data) < PAGE_SIZES[route] or b"Daily Bench" not in data:
            problems.append(f"{route}: body is not the page ({len(data)} bytes)")
        if expect == "serve" and data != body(route):
            problems.append(f"{route}: body differs from the app's")
    else:
        return [f"{route}: unknown route"]
    if expect == "block" and route != "/json":
        problems += _check_block(route, headers, data)
    elif expect == "allow" and route != "/json":
        problems += _check_allow(route, headers, data)
    elif expect == "clean":
        problems += _check_clean(route, headers, data)
    return problems


BROWSER_HEADERS: Final = (
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    ("Accept-Language", "en-GB,en;q=0.9,de;q=0.8"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Sec-CH-UA", '"Chromium";v="131", "Not_A Brand";v="24"'),
    ("Sec-CH-UA-Mobile", "?0"),
    ("Sec-CH-UA-Platform", '"Linux"'),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Dest", "document"),
    ("Upgrade-Insecure-Requests", "1"),
)
"""Headers every benchmark request carries, as a browser's do: work a layer does per
``User-Agent`` or ``Accept-Language`` is then measured, not skipped."""


def asgi_scope(path: str, cookie: str | None) -> dict[str, Any]:
    """An HTTP ``GET`` scope for *path* on the benchmark host, with *cookie* as its
    ``Cookie`` header when given: the in-process topics call apps with it."""
    headers = [(b"host", b"bench.test"), (b"accept", b"text/html")]
    headers += [(k.lower().encode(), v.encode()) for k, v in BROWSER_HEADERS]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench.test", 80),
        "state": {},
    }
