"""Overhead of the WSGI middleware: a Flask app bare and behind ``ConsentWSGIMiddleware``.

Both stacks are called in-process through PEP 3333 (a prebuilt environ, a no-op
``start_response``, the body iterated and closed), so the figures are the server time the
middleware adds, without a network or server in the way. Routes are those of the HTTP
benchmark: ``/json`` (no cookie set, nothing to rewrite), ``/page20`` and ``/page300``
(HTML pages with a dozen trackers and two ``Set-Cookie`` lines, rewritten, banner
injected), ``/stream3m`` (a 3 MB page streamed in 64 KiB chunks). Before timing, each
route's answer is checked: the tracker blocked and the banner present behind the middleware.

The two stacks alternate within each round (quick: 1 round, full: 5); the report gives
medians: ``bare_us`` and ``consentkit_us`` per request, ``overhead_ratio`` (consentkit's
time over bare: 1.00 is free) and ``added_us``.

Run ``python -m benchmarks.bench_wsgi [--quick]``.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.apps import (  # noqa: E402
    PAGE_SIZES,
    ROUTES,
    SECRET,
    STREAM_CHUNK,
    app_set_cookies,
    body,
)
from benchmarks.apps.starlette_apps import policy  # noqa: E402
from benchmarks.report import run_alone  # noqa: E402
from consentkit import ConsentWSGIMiddleware  # noqa: E402

__all__ = ["main", "run"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_TRACKER: Final = b'<script async src="https://www.googletagmanager.com/gtag/js'


def flask_app() -> Any:
    """The bare Flask app answering every benchmark route."""
    from flask import Flask, Response

    app = Flask("bench_wsgi")
    json_body = body("/json")
    pages = {route: body(route) for route in PAGE_SIZES}

    def json_view() -> Response:
        return Response(json_body, mimetype="application/json")

    def page_view(route: str) -> Callable[[], Response]:
        data = pages[route]

        def view() -> Response:
            if route == "/stream3m":
                chunks: Iterator[bytes] = (
                    data[i : i + STREAM_CHUNK] for i in range(0, len(data), STREAM_CHUNK)
                )
                response = Response(chunks, mimetype="text/html")
            else:
                response = Response(data, mimetype="text/html")
            for line in app_set_cookies():
                response.headers.add("Set-Cookie", line)
            return response

        return view

    app.add_url_rule("/json", "json", json_view)
    for route in PAGE_SIZES:
        app.add_url_rule(route, route.strip("/"), page_view(route))
    return app


def stacks() -> dict[str, WSGIApp]:
    bare = flask_app()
    wrapped = flask_app()
    wrapped.wsgi_app = ConsentWSGIMiddleware(wrapped.wsgi_app, policy=policy(), secret_key=SECRET)
    return {"bare": bare, "consentkit": wrapped}


def environ(route: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "text/html",
        "HTTP_ACCEPT_LANGUAGE": "en",
        "HTTP_USER_AGENT": "bench/1.0",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def call(app: WSGIApp, route: str) -> bytes:
    result = app(environ(route), _start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def verify(apps: dict[str, WSGIApp]) -> None:
    """Both stacks answer; behind consentkit the tracker is blocked and the banner is there."""
    for route in ROUTES:
        bare = call(apps["bare"], route)
        guarded = call(apps["consentkit"], route)
        if route == "/json":
            if guarded != bare:
                raise RuntimeError("the JSON answer changed behind the middleware")
            continue
        if _TRACKER not in bare or _TRACKER in guarded or b"ck-banner" not in guarded:
            raise RuntimeError(f"{route}: the middleware did not block and inject")


def per_request_us(app: WSGIApp, route: str, budget_s: float) -> float:
    """Median microseconds per request over batches filling *budget_s*."""
    call(app, route)  # warm
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline or len(samples) < 3:
        started = time.perf_counter()
        count = 0
        while count < 5 or time.perf_counter() - started < 0.05:
            call(app, route)
            count += 1
        samples.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(samples)


def run(quick: bool = False) -> list[dict[str, Any]]:
    apps = stacks()
    verify(apps)
    rounds, budget = (1, 0.5) if quick else (5, 1.0)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for route in ROUTES:
            for name, app in apps.items():  # alternate: machine noise hits both alike
                times.setdefault((route, name), []).append(per_request_us(app, route, budget))
    rows = []
    for route in ROUTES:
        bare = statistics.median(times[(route, "bare")])
        guarded = statistics.median(times[(route, "consentkit")])
        rows.append(
            {
                "route": route,
                "bare_us": round(bare, 1),
                "consentkit_us": round(guarded, 1),
                "overhead_ratio": round(guarded / bare, 2),
                "added_us": round(guarded - bare, 1),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("wsgi", __doc__, run, "smaller runs", argv)


if __name__ == "__main__":
    main()
