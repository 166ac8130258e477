"""The WSGI middleware, driven through PEP 3333 directly (no framework, no server)."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from consentkit import ConsentWSGIMiddleware
from consentkit.testing import consent_cookie
from consentkit.wsgi import ENVIRON_KEY, consent_of

from ..conftest import RECEIPT_KEY, SECRET, site_policy

PAGE = (
    b"<html><head><title>t</title>"
    b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</head><body><p>hi</p></body></html>"
)
TRACKER = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1">'


class Result:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def call(
    app: Callable[..., Iterable[bytes]],
    path: str = "/",
    method: str = "GET",
    body: bytes = b"",
    **headers: str,
) -> Result:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for key, value in headers.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key.upper()] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, hdrs
        return lambda data: None

    result = app(environ, start_response)
    try:
        out = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Result(seen["status"], seen["headers"], out)


def html_app(
    chunks: list[bytes] | None = None,
    *,
    cookies: tuple[str, ...] = ("_ga=GA1.1; Path=/", "sessionid=abc; Path=/"),
    generator: bool = False,
    content_type: str = "text/html; charset=utf-8",
) -> Callable[..., Iterable[bytes]]:
    parts = chunks if chunks is not None else [PAGE]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(sum(map(len, parts))))]
        headers += [("Set-Cookie", c) for c in cookies]
        if generator:

            def gen() -> Iterator[bytes]:
                start_response("200 OK", headers)  # lazily, with the first chunk
                yield from parts

            return gen()
        start_response("200 OK", headers)
        return list(parts)

    return app


def wrap(app: Callable[..., Iterable[bytes]], **options: Any) -> ConsentWSGIMiddleware:
    options.setdefault("secret_key", SECRET)
    return ConsentWSGIMiddleware(app, policy=options.pop("policy", site_policy()), **options)


def test_refused_set_cookie_never_leaves_and_the_page_is_rewritten() -> None:
    got = call(wrap(html_app()))
    assert got.status == "200 OK"
    assert got.getlist("set-cookie") == ["sessionid=abc; Path=/"]
    assert TRACKER not in got.body
    assert b"data-ck-blocked" in got.body
    assert b'class="ck-banner' in got.body
    assert got.getlist("content-length") == [str(len(got.body))]  # one list body: exact length
    assert "private" in got.getlist("cache-control")[0]
    assert "Cookie" in got.getlist("vary")[0]


def test_granted_categories_pass_with_a_testing_cookie() -> None:
    middleware = wrap(html_app())
    name, value = consent_cookie(middleware, granted=["performance", "targeting"])
    got = call(middleware, COOKIE=f"{name}={value}")
    assert "_ga=GA1.1; Path=/" in got.getlist("set-cookie")
    assert TRACKER in got.body
    assert b"data-ck-blocked" not in got.body


def test_a_streamed_body_is_rewritten_chunk_by_chunk_at_every_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each response has its own random block key; a fixed one makes runs comparable.
    monkeypatch.setattr("consentkit.web.plans.new_block_key", lambda: "fixed-key")
    whole = call(wrap(html_app([PAGE]))).body
    for cut in range(1, len(PAGE), 7):
        got = call(wrap(html_app([PAGE[:cut], PAGE[cut:]], generator=True)))
        assert got.body == whole, cut
        assert got.getlist("content-length") == []  # a stream: length unknown


def test_a_stream_is_not_buffered() -> None:
    pulled: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        for i in range(3):
            pulled.append(i)
            yield b"<p>" + b"x" * 5000 + b"</p>"

    result = iter(wrap(app, banner=False)(*_environ_and_start()))
    first = next(result)
    assert first
    assert pulled == [0]  # the first rewritten bytes left before the app made the rest


def _environ_and_start() -> tuple[dict[str, Any], Callable[..., Any]]:
    environ: dict[str, Any] = {"PATH_INFO": "/"}
    setup_testing_defaults(environ)
    return environ, lambda status, headers, exc_info=None: None


def test_close_reaches_the_apps_iterable_on_every_path() -> None:
    closed: list[str] = []

    class Body:
        def __init__(self, name: str, data: bytes) -> None:
            self.name, self.data = name, data

        def __iter__(self) -> Iterator[bytes]:
            yield self.data

        def close(self) -> None:
            closed.append(self.name)

    def make(name: str, content_type: str) -> Callable[..., Iterable[bytes]]:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            start_response("200 OK", [("Content-Type", content_type)])
            return Body(name, PAGE)

        return app

    call(wrap(make("html", "text/html")))
    call(wrap(make("json", "application/json")))
    # Not iterated at all (the client went away): close() still reaches the app.
    result = wrap(make("unread", "text/html"))(*_environ_and_start())
    result.close()  # type: ignore[attr-defined]
    assert closed == ["html", "json", "unread"]


def test_write_callable_output_is_rewritten_in_order() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])
        write(b"<html><head></head><body>")
        return iter([b"<p>after</p></body></html>"])

    body = call(wrap(app)).body
    assert body.index(b"ck-banner") < body.index(b"<p>after</p>")


def test_non_html_keeps_the_apps_iterable_and_headers() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]

    got = call(wrap(app))
    assert got.body == b"{}"
    assert got.headers == [("Content-Type", "application/json"), ("Content-Length", "2")]


def test_the_decision_is_in_the_environ() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(consent_of(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    call(wrap(app))
    assert seen[0].decided is False
    with pytest.raises(LookupError, match="ConsentWSGIMiddleware"):
        consent_of({})
    assert ENVIRON_KEY == "consentkit.consent"


def test_head_gets_headers_and_no_body() -> None:
    got = call(wrap(html_app()), method="HEAD")
    assert got.body == b""
    assert got.getlist("content-length") == []


def test_consent_post_round_trip_writes_a_receipt(tmp_path: Path) -> None:
    db = tmp_path / "consent.db"
    middleware = wrap(html_app(), store=f"sqlite:///{db}", receipt_key=RECEIPT_KEY)
    posted = call(
        middleware,
        "/_consent",
        "POST",
        b"action=accept_all&return_to=/shop",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        SEC_FETCH_SITE="same-origin",
    )
    assert posted.status == "303 See Other"
    assert posted.getlist("location") == ["/shop"]
    cookie = next(c for c in posted.getlist("set-cookie") if c.startswith("consentkit="))
    token = cookie.split(";")[0]
    page = call(middleware, COOKIE=token)
    assert "_ga=GA1.1; Path=/" in page.getlist("set-cookie")
    status = call(middleware, "/_consent", COOKIE=token)
    assert b'"decided":true' in status.body
    receipt = call(middleware, "/_consent/receipt", COOKIE=token)
    assert receipt.status == "200 OK"
    middleware.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("select action from consentkit_receipts").fetchall() == [
            ("accept_all",)
        ]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"SEC_FETCH_SITE": "cross-site"}, b"action=accept_all", "403 Forbidden"),
        ({"ORIGIN": "https://evil.test"}, b"action=accept_all", "403 Forbidden"),
        ({}, b"action=" + b"x" * 20000, "413 Request Entity Too Large"),
        ({}, b"action=nope", "400 Bad Request"),
        ({"CONTENT_TYPE": "text/plain"}, b"action=accept_all", "415 Unsupported Media Type"),
    ],
)
def test_bad_posts_get_4xx(headers: dict[str, str], body: bytes, status: str) -> None:
    headers.setdefault("CONTENT_TYPE", "application/x-www-form-urlencoded")
    got = call(wrap(html_app()), "/_consent", "POST", body, **headers)
    assert got.status == status
    assert b'"error"' in got.body


def test_static_preferences_cookies_and_gpc_endpoints() -> None:
    middleware = wrap(html_app())
    assert call(middleware, "/_consent/static/consentkit.css").status == "200 OK"
    prefs = call(middleware, "/_consent/preferences")
    assert prefs.status == "200 OK"
    assert b"<form" in prefs.body
    assert call(middleware, "/_consent/cookies").status == "200 OK"
    assert call(middleware, "/_consent/nope").status == "404 Not Found"
    assert b"gpc" in call(middleware, "/.well-known/gpc.json").body


def test_admin_export_streams_from_the_store(tmp_path: Path) -> None:
    token = "admin-token-0123456789abcdef"
    middleware = wrap(
        html_app(),
        store=f"sqlite:///{tmp_path / 'c.db'}",
        receipt_key=RECEIPT_KEY,
        admin_token=token,
    )
    call(
        middleware,
        "/_consent",
        "POST",
        b"action=reject_all",
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert call(middleware, "/_consent/admin/export").status == "401 Unauthorized"
    got = call(middleware, "/_consent/admin/export", AUTHORIZATION=f"Bearer {token}")
    assert got.status == "200 OK"
    assert b'"reject_all"' in got.body
    dashboard = call(middleware, "/_consent/admin", AUTHORIZATION=f"Bearer {token}")
    assert b"<svg" in dashboard.body
    middleware.close()


def test_an_error_start_response_before_the_body_replaces_the_answer() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Set-Cookie", "_ga=1")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            start_response(
                "500 Internal Server Error", [("Content-Type", "text/html")], sys.exc_info()
            )
        return [b"<html><body>error</body></html>"]

    got = call(wrap(app))
    assert got.status == "500 Internal Server Error"
    assert got.getlist("set-cookie") == []


def test_environ_text_outside_latin1_is_no_500() -> None:
    # PEP 3333 says latin-1; a server that passes other text must still get an answer.
    got = call(wrap(html_app()), "/caf\u00e9/\u20ac", USER_AGENT="agent \u2603")
    assert got.status == "200 OK"


def test_a_utf8_path_under_the_prefix_is_decoded_like_asgi() -> None:
    raw = "/_consent/static/caf\u00e9".encode().decode("latin-1")  # as a WSGI server passes it
    assert call(wrap(html_app()), raw).status == "404 Not Found"


def test_a_gpc_page_view_records_a_receipt_and_remembers_it(tmp_path: Path) -> None:
    db = tmp_path / "consent.db"
    middleware = wrap(html_app(), store=f"sqlite:///{db}", receipt_key=RECEIPT_KEY)
    got = call(middleware, SEC_GPC="1")
    assert any(c.startswith("consentkit=") for c in got.getlist("set-cookie"))
    assert "_ga=GA1.1; Path=/" not in got.getlist("set-cookie")
    middleware.close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select action from consentkit_receipts").fetchall()
    assert rows == [("gpc",)]


def test_the_banner_speaks_the_pages_html_lang_under_wsgi() -> None:
    page = b'<!doctype html><html lang="fr"><head></head><body><p>x</p></body></html>'
    got = call(wrap(html_app([page], cookies=())), ACCEPT_LANGUAGE="en")
    assert b"Tout accepter" in got.body
    assert b"Accept all" not in got.body
    english = call(wrap(html_app([page.replace(b' lang="fr"', b"")], cookies=())))
    assert b"Accept all" in english.body


def test_the_declaration_lists_cookies_the_wsgi_app_set() -> None:
    app = wrap(html_app())
    assert b"<code>_ga</code>" not in call(app, "/_consent/cookies").body
    call(app)  # the page sets _ga (refused, so dropped) and sessionid
    assert b"<code>_ga</code>" in call(app, "/_consent/cookies").body


def test_gpc_is_recorded_once_per_browser_under_wsgi(tmp_path: Path) -> None:
    db = tmp_path / "consent.db"
    middleware = wrap(html_app(), store=f"sqlite:///{db}", receipt_key=RECEIPT_KEY)
    first = call(middleware, SEC_GPC="1")
    pairs = [line.split(";", 1)[0] for line in first.getlist("set-cookie")]
    consent = [pair for pair in pairs if pair.startswith("consentkit=")]
    assert len(consent) == 1
    call(middleware, SEC_GPC="1", COOKIE=consent[0])
    middleware.close()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select action from consentkit_receipts").fetchall()
    assert rows == [("gpc",)]


@pytest.mark.parametrize("generator", [False, True])
def test_html_in_an_encoding_it_cannot_decode_is_withheld(generator: bool) -> None:
    # The browser may decode it (zstd, "gzip, br") and run its trackers: fail closed.
    inner = html_app(generator=generator)

    def zstd_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Content-Encoding", "zstd")], exc_info)

        return inner(environ, start)

    got = call(wrap(zstd_app))
    assert got.status == "200 OK"
    assert got.body == b""
    assert got.getlist("content-encoding") == []
    assert got.getlist("content-length") in ([], ["0"])
    assert got.getlist("set-cookie") == ["sessionid=abc; Path=/"]
