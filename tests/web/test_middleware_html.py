"""The HTML path of the middleware: which bodies are rewritten, and how they travel.

Tiny apps go through :class:`ConsentMiddleware` either with a ``TestClient`` or called as
raw ASGI, where each ``http.response.*`` message the middleware sends can be inspected.
"""

from __future__ import annotations

import functools
import gzip
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import brotli
import pytest
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consentkit import ConsentMiddleware
from consentkit.web.banner import Banner

from ..conftest import SECRET, make_app, site_policy

Headers = list[tuple[bytes, bytes]]

MARKED = b'<script data-consent="performance">track()</script>'
TRACKER = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PAGE = (
    b"<!doctype html><html><head><title>t</title></head><body><p>hello</p>"
    + MARKED
    + TRACKER
    + b"<p>end</p></body></html>"
)
BANNER = b'id="ck-root"'
HEAD_SNIPPET = b"data-ck-defaults="
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


# -- helpers -----------------------------------------------------------------------------


@functools.cache
def shared_banner() -> Banner:
    """One banner for the whole module: compiling its templates is the slow part of a test."""
    return Banner(site_policy())


def middleware(app: Any, **options: Any) -> ConsentMiddleware:
    options.setdefault("secret_key", SECRET)
    options.setdefault("banner", shared_banner())
    return ConsentMiddleware(app, policy=site_policy(), **options)


def raw_app(
    chunks: Sequence[bytes],
    headers: Headers,
    *,
    status: int = 200,
) -> Callable[[Scope, Receive, Send], Any]:
    """An ASGI app sending *headers* then *chunks* as separate body messages."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        if not chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    return app


def html_headers(body: bytes | None, **extra: str) -> Headers:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    if body is not None:
        headers.append((b"content-length", str(len(body)).encode()))
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()]
    return headers


def make_scope(
    method: str = "GET",
    headers: Iterable[tuple[bytes, bytes]] = (),
    extensions: dict[str, Any] | None = None,
) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


async def call(app: Any, scope: Scope | None = None) -> list[Message]:
    """Run *app* once as raw ASGI and return every message it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(10):  # a hang guard, not a timing assertion
        await app(scope or make_scope(), receive, send)
    return sent


def start_of(sent: list[Message]) -> Message:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return starts[0]


def header_list(message: Message, name: str) -> list[str]:
    key = name.encode()
    return [v.decode("latin-1") for k, v in message["headers"] if k == key]


def header(message: Message, name: str) -> str | None:
    values = header_list(message, name)
    return values[0] if values else None


@pytest.fixture(autouse=True)
def fixed_block_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each response marks what it blocks with a fresh random key; these tests compare
    bodies across responses, so the key is fixed here (its freshness is tested apart)."""
    monkeypatch.setattr("consentkit.web.plans.new_block_key", lambda: "fixed-key")


def body_of(sent: list[Message]) -> bytes:
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies, sent
    assert bodies[-1].get("more_body", False) is False
    assert all(m.get("more_body", False) for m in bodies[:-1])
    return b"".join(m.get("body", b"") for m in bodies)


def assert_blocked(body: bytes) -> None:
    assert MARKED not in body
    assert TRACKER not in body
    assert b'data-consent="performance"' in body
    assert b'data-ck-src="https://www.googletagmanager.com/gtag/js?id=G-1"' in body
    assert body.count(b"data-ck-blocked") == 2


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def serve(handler: Callable[[Request], Any], **options: Any) -> TestClient:
    options.setdefault("banner", shared_banner())
    return TestClient(make_app(routes=[Route("/", handler, methods=["GET", "HEAD"])], **options))


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


# -- which responses are rewritten ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "rewritten"),
    [
        ("text/html", True),
        ("text/html; charset=utf-8", True),
        ("TEXT/HTML; Charset=UTF-8", True),
        ("Text/Html;charset=utf-8", True),
        ('text/html ; charset="utf-8"', True),
        ("application/json", False),
        ("text/css", False),
        ("application/javascript", False),
        ("text/javascript", False),
        ("image/png", False),
        ("image/svg+xml", False),
        ("text/plain", False),
        ("text/htmlx", False),
        # Parsed as XML by browsers: the HTML banner would break the page, so it is left alone.
        ("application/xhtml+xml", False),
        # No valid MIME type at all: a browser sniffs the body and renders the page.
        ("", True),
    ],
)
async def test_only_text_html_is_rewritten(content_type: str, rewritten: bool) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(PAGE)).encode()),
        (b"set-cookie", b"_ga=GA1.1.1.1; Path=/"),
    ]
    sent = await call(middleware(raw_app([PAGE], headers)))
    start, body = start_of(sent), body_of(sent)
    # Header enforcement applies to every response.
    assert header_list(start, "set-cookie") == []
    if rewritten:
        assert_blocked(body)
        assert body.count(BANNER) == 1
        assert header(start, "content-length") == str(len(body))
        assert header(start, "cache-control") == "private"
    else:
        assert body == PAGE
        assert header(start, "content-length") == str(len(PAGE))
        assert header(start, "cache-control") is None


def test_html_without_consent_blocks_then_accept_all_restores_bytes() -> None:
    client = serve(page)
    first = client.get("/").content
    assert_blocked(first)
    assert first.count(BANNER) == 1
    assert first.count(HEAD_SNIPPET) == 1
    # The stylesheet and consent-mode defaults come first in <head>, the banner right
    # after <body>.
    head_end = first.index(b"<head>") + len(b"<head>")
    assert first[head_end:].startswith(
        b'<link rel="stylesheet" href="/_consent/static/consentkit.css">\n'
        b'<script src="/_consent/static/ck-head.js"'
    )
    assert first.index(b"<body>") < first.index(BANNER) < first.index(b"<p>hello</p>")
    assert first.endswith(b"</body></html>")
    assert b'"analytics_storage":"denied"' in first.replace(b"&#34;", b'"')

    assert client.post("/_consent", json={"action": "accept_all"}).status_code == 200
    after = client.get("/").content
    assert MARKED in after
    assert TRACKER in after
    assert b"data-ck-blocked" not in after
    assert b'"analytics_storage":"granted"' in after.replace(b"&#34;", b'"')


def test_no_banner_means_no_injection_but_trackers_stay_blocked() -> None:
    body = serve(page, banner=False).get("/").content
    assert_blocked(body)
    assert BANNER not in body
    assert HEAD_SNIPPET not in body


def test_inject_banner_false_injects_nothing() -> None:
    body = serve(page, inject_banner=False).get("/").content
    assert_blocked(body)
    assert BANNER not in body
    assert HEAD_SNIPPET not in body


def test_rewrite_html_false_leaves_html_alone() -> None:
    response = serve(page, rewrite_html=False).get("/")
    assert response.content == PAGE
    assert response.headers["content-length"] == str(len(PAGE))


# -- Content-Length and streaming ----------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
async def test_streamed_html_drops_content_length_and_matches_single_body(size: int) -> None:
    single = await call(middleware(raw_app([PAGE], html_headers(PAGE))))
    streamed = await call(middleware(raw_app(split(PAGE, size), html_headers(PAGE))))
    assert header(start_of(single), "content-length") == str(len(body_of(single)))
    expect_length = size >= len(PAGE)  # one chunk is a single body
    assert (header(start_of(streamed), "content-length") is not None) is expect_length
    assert body_of(streamed) == body_of(single)
    assert_blocked(body_of(streamed))


async def test_streaming_forwards_rewritten_bytes_before_the_app_finishes() -> None:
    log: list[str] = []
    first_bytes_out = anyio.Event()
    first = b"<!doctype html><html><head><title>t</title></head><body><p>first part</p>\n"
    rest = [TRACKER, b"<p>second part</p></body></html>"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": html_headers(None)})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        log.append("app: waiting")
        await first_bytes_out.wait()
        log.append("app: resumed")
        for i, chunk in enumerate(rest):
            await send({"type": "http.response.body", "body": chunk, "more_body": i == 0})
        log.append("app: done")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and b"first part" in message["body"]:
            log.append("server: first part")
            first_bytes_out.set()
        else:
            log.append("server: " + message["type"])

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    with anyio.fail_after(10):  # a hang guard: buffering middleware would deadlock here
        await middleware(app)(make_scope(), receive, send)
    assert log[:4] == [
        "server: http.response.start",
        "server: first part",
        "app: waiting",
        "app: resumed",
    ]
    assert log[-1] == "app: done"
    assert HEAD_SNIPPET in sent[1]["body"]  # the first bytes are already rewritten
    body = body_of(sent)
    assert TRACKER not in body
    assert body.count(BANNER) == 1
    assert header(start_of(sent), "content-length") is None


# -- compressed bodies ---------------------------------------------------------------------


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def _zlib(data: bytes) -> bytes:
    return zlib.compress(data)


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


def _brotli(data: bytes) -> bytes:
    return bytes(brotli.compress(data))


def _ungzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def _unzlib(data: bytes) -> bytes:
    return zlib.decompress(data)


def _unbrotli(data: bytes) -> bytes:
    return bytes(brotli.decompress(data))


CODECS = [
    pytest.param("gzip", _gzip, _ungzip, id="gzip"),
    pytest.param("x-gzip", _gzip, _ungzip, id="x-gzip"),
    pytest.param("deflate", _zlib, _unzlib, id="deflate-zlib"),
    pytest.param("deflate", _raw_deflate, _unzlib, id="deflate-raw"),
    pytest.param("br", _brotli, _unbrotli, id="br"),
    pytest.param("GZip", _gzip, _ungzip, id="gzip-upper"),
]


@pytest.mark.parametrize(("encoding", "compress", "decompress"), CODECS)
@pytest.mark.parametrize("chunk", [None, 1, 5, 100], ids=lambda c: f"chunk={c}")
async def test_compressed_html_is_decoded_rewritten_and_reencoded(
    encoding: str,
    compress: Callable[[bytes], bytes],
    decompress: Callable[[bytes], bytes],
    chunk: int | None,
) -> None:
    wire = compress(PAGE)
    chunks = [wire] if chunk is None else split(wire, chunk)
    headers = html_headers(wire, content_encoding=encoding)
    sent = await call(middleware(raw_app(chunks, headers)))
    start = start_of(sent)
    raw = body_of(sent)
    assert header(start, "content-encoding") == encoding
    if len(chunks) == 1:
        assert header(start, "content-length") == str(len(raw))
    else:
        assert header(start, "content-length") is None
    html = decompress(raw)
    assert_blocked(html)
    assert html.count(BANNER) == 1
    plain = await call(middleware(raw_app([PAGE], html_headers(PAGE))))
    assert html == body_of(plain)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
@pytest.mark.parametrize("streamed", [False, True], ids=["single", "streamed"])
def test_the_client_decodes_recompressed_html(encoding: str, streamed: bool) -> None:
    compress = {"gzip": _gzip, "deflate": _zlib, "br": _brotli}[encoding]
    wire = compress(PAGE)
    chunks = split(wire, 9) if streamed else [wire]
    client = TestClient(middleware(raw_app(chunks, html_headers(wire, content_encoding=encoding))))
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == encoding
    assert_blocked(response.content)
    assert response.content.count(BANNER) == 1
    assert ("content-length" in response.headers) is not streamed


async def test_gzip_with_several_members_is_read_to_the_end() -> None:
    half = len(PAGE) // 2
    wire = _gzip(PAGE[:half]) + _gzip(PAGE[half:])
    for chunks in ([wire], split(wire, 11)):
        sent = await call(middleware(raw_app(chunks, html_headers(wire, content_encoding="gzip"))))
        html = _ungzip(body_of(sent))  # gzip.decompress reads every member too
        assert_blocked(html)
        assert html.endswith(b"</body></html>")
        assert html.count(BANNER) == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
@pytest.mark.parametrize("streamed", [False, True], ids=["single", "streamed"])
async def test_corrupt_compressed_html_ends_cleanly_without_leaking_trackers(
    encoding: str, streamed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    compress = {"gzip": _gzip, "deflate": _zlib, "br": _brotli}[encoding]
    decompress = {"gzip": _ungzip, "deflate": _unzlib, "br": _unbrotli}[encoding]
    good = compress(b"<html><head></head><body><p>before</p>")
    wire = good[: len(good) // 2] + b"\xff" * 40 + compress(PAGE)
    chunks = split(wire, 16) if streamed else [wire]
    with caplog.at_level(logging.WARNING, logger="consentkit"):
        sent = await call(
            middleware(raw_app(chunks, html_headers(wire, content_encoding=encoding)))
        )
    start, raw = start_of(sent), body_of(sent)
    assert start["status"] == 200
    html = decompress(raw)  # whatever got through is a complete, valid stream
    assert TRACKER not in html
    assert MARKED not in html
    assert html.count(BANNER) == 1
    if not streamed:
        assert header(start, "content-length") == str(len(raw))
    assert any("decode" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("encoding", ["zstd", "compress", "gzip, br", "exotic"])
async def test_unknown_encoding_is_withheld_with_one_warning(
    encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A browser may decode what consentkit cannot (Chromium reads zstd and chains such as
    # "gzip, br"), and would run the page's trackers: the body is withheld (fail closed).
    wire = bytes(range(256)) * 3
    mw = middleware(raw_app(split(wire, 100), html_headers(wire, content_encoding=encoding)))
    with caplog.at_level(logging.WARNING, logger="consentkit"):
        results = [await call(mw) for _ in range(3)]
    for sent in results:
        assert body_of(sent) == b""
        assert header_list(start_of(sent), "content-length") in ([], ["0"])
        assert header(start_of(sent), "content-encoding") is None
    warnings = [r for r in caplog.records if r.name == "consentkit" and encoding in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    # Another encoding is news again: one warning each, per middleware.
    other = middleware(raw_app([wire], html_headers(wire, content_encoding=encoding + "2")))
    with caplog.at_level(logging.WARNING, logger="consentkit"):
        await call(other)
        await call(other)
    assert len([r for r in caplog.records if encoding + "2" in r.getMessage()]) == 1


# -- HEAD, bodiless statuses, files ------------------------------------------------------


def test_head_sends_headers_only() -> None:
    response = serve(page).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert "content-length" not in response.headers
    assert response.headers["cache-control"] == "private"
    assert "Cookie" in response.headers["vary"]


async def test_head_never_forwards_an_unrewritten_body() -> None:
    # Some apps write the body on HEAD anyway; it must not leave the middleware as is.
    sent = await call(
        middleware(raw_app([PAGE[:40], PAGE[40:]], html_headers(PAGE))), make_scope("HEAD")
    )
    assert body_of(sent) == b""
    assert header(start_of(sent), "content-length") is None


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_statuses_are_untouched(status: int) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"1234"),
        (b"etag", b'"abc"'),
        (b"cache-control", b"public, max-age=60"),
    ]
    sent = await call(middleware(raw_app([], headers, status=status)))
    start = start_of(sent)
    assert start["status"] == status
    assert start["headers"] == headers
    assert body_of(sent) == b""


async def test_partial_content_is_not_rewritten() -> None:
    part = PAGE[10:90]
    headers = html_headers(part, content_range=f"bytes 10-89/{len(PAGE)}")
    sent = await call(middleware(raw_app([part], headers, status=206)))
    assert body_of(sent) == part
    assert header(start_of(sent), "content-length") == str(len(part))


@pytest.fixture
def html_file(tmp_path: Path) -> Path:
    path = tmp_path / "index.html"
    path.write_bytes(PAGE)
    return path


def test_file_response_of_html_is_rewritten(html_file: Path) -> None:
    async def handler(request: Request) -> Response:
        return FileResponse(html_file)

    response = serve(handler).get("/")
    assert_blocked(response.content)
    assert response.content.count(BANNER) == 1
    assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize("size", [1, 3 * 64 * 1024], ids=["small", "large"])
async def test_pathsend_of_html_becomes_rewritten_body_messages(tmp_path: Path, size: int) -> None:
    path = tmp_path / "index.html"
    filler = b"<p>" + b"x" * (size // 2) + b"</p>"
    path.write_bytes(PAGE.replace(b"<p>end</p>", filler + b"<p>end</p>"))
    sent = await call(
        middleware(FileResponse(path)), make_scope(extensions={"http.response.pathsend": {}})
    )
    assert [m for m in sent if m["type"] == "http.response.pathsend"] == []
    body = body_of(sent)
    assert_blocked(body)
    assert body.count(BANNER) == 1
    assert filler in body
    length = header(start_of(sent), "content-length")
    assert length == (str(len(body)) if size == 1 else None)


async def test_pathsend_of_other_files_passes_through(tmp_path: Path) -> None:
    path = tmp_path / "site.css"
    path.write_bytes(b"body{color:red}")
    sent = await call(
        middleware(FileResponse(path)), make_scope(extensions={"http.response.pathsend": {}})
    )
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[1]["path"] == str(path)
    assert header(sent[0], "content-length") == "15"


async def test_head_of_an_html_file(html_file: Path) -> None:
    sent = await call(
        middleware(FileResponse(html_file)),
        make_scope("HEAD", extensions={"http.response.pathsend": {}}),
    )
    assert body_of(sent) == b""
    assert header(start_of(sent), "content-length") is None


# -- caching headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], ["Cookie", "Accept-Language"]),
        (["Accept-Encoding"], ["Accept-Encoding", "Cookie", "Accept-Language"]),
        (["accept-encoding, cookie"], ["accept-encoding", "cookie", "Accept-Language"]),
        (["Cookie"], ["Cookie", "Accept-Language"]),
        (["accept-language"], ["accept-language", "Cookie"]),
        (["*"], ["*"]),
        (
            ["Accept-Encoding", "Origin"],
            ["Accept-Encoding", "Origin", "Cookie", "Accept-Language"],
        ),
        (["Accept-Encoding", "COOKIE"], ["Accept-Encoding", "COOKIE", "Accept-Language"]),
        (["Origin", "*"], ["Origin", "*"]),
    ],
)
async def test_vary_cookie_is_added_once(existing: list[str], expected: list[str]) -> None:
    headers = html_headers(PAGE) + [(b"vary", v.encode()) for v in existing]
    sent = await call(middleware(raw_app([PAGE], headers)))
    lines = header_list(start_of(sent), "vary")
    tokens = [t.strip() for line in lines for t in line.split(",") if t.strip()]
    assert tokens == expected


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "private"),
        (["public, max-age=60"], "private, max-age=60"),
        (["no-store"], "no-store"),
        (["private, max-age=60"], "private, max-age=60"),
        (["s-maxage=600, max-age=60"], "private, max-age=60"),
        (["max-age=0, must-revalidate"], "private, max-age=0, must-revalidate"),
        (['private="set-cookie", max-age=60'], "private, max-age=60"),
        (['private="set-cookie, x-foo", max-age=60'], "private, max-age=60"),
        (["public", "max-age=60"], "private, max-age=60"),
        (["public, max-age=60", "no-store"], "public, max-age=60, no-store"),
        (["PUBLIC, Max-Age=60"], "private, Max-Age=60"),
    ],
)
async def test_rewritten_html_is_private(existing: list[str], expected: str) -> None:
    headers = html_headers(PAGE) + [(b"cache-control", v.encode()) for v in existing]
    sent = await call(middleware(raw_app([PAGE], headers)))
    assert ", ".join(header_list(start_of(sent), "cache-control")) == expected


async def test_non_html_keeps_its_cache_headers() -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"public, max-age=60"),
        (b"vary", b"Accept-Encoding"),
    ]
    sent = await call(middleware(raw_app([b"{}"], headers)))
    assert header_list(start_of(sent), "cache-control") == ["public, max-age=60"]
    assert header_list(start_of(sent), "vary") == ["Accept-Encoding"]


# -- Content-Security-Policy ---------------------------------------------------------------

PLAIN_PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>"
SCRIPT_TAG = re.compile(rb"<script\b[^>]*>")


async def _injected_scripts(*csp: str) -> list[bytes]:
    headers = html_headers(PLAIN_PAGE) + [(b"content-security-policy", c.encode()) for c in csp]
    body = body_of(await call(middleware(raw_app([PLAIN_PAGE], headers))))
    assert body.count(BANNER) == 1
    tags = SCRIPT_TAG.findall(body)
    assert len(tags) >= 2  # the consent-mode defaults and the banner script
    return tags


@pytest.mark.parametrize(
    ("csp", "nonce"),
    [
        (["script-src 'nonce-abc123'"], b"abc123"),
        (["default-src 'self'; script-src 'self' 'nonce-abc123' 'strict-dynamic'"], b"abc123"),
        (["style-src 'nonce-style1'; script-src 'nonce-abc123'"], b"abc123"),
        (["default-src 'nonce-abc123'"], b"abc123"),
        (["script-src-elem 'nonce-abc123'; script-src 'nonce-other'"], b"abc123"),
        (["img-src *", "script-src 'nonce-abc123'"], b"abc123"),
    ],
)
async def test_csp_nonce_goes_on_injected_scripts(csp: list[str], nonce: bytes) -> None:
    tags = await _injected_scripts(*csp)
    assert all(b'nonce="' + nonce + b'"' in tag for tag in tags), tags
    assert any(b"src=" not in tag for tag in tags)  # the defaults run inline, with the nonce


@pytest.mark.parametrize(
    "csp",
    [
        [],
        ["script-src 'self'"],
        ["default-src 'self'"],
        ["script-src 'self'; style-src 'nonce-style1'"],
        ["script-src 'self' 'sha256-AAAA'"],
        ["script-src 'nonce-abc123'", "script-src 'self'"],
    ],
)
async def test_without_a_script_nonce_injected_code_is_external(csp: list[str]) -> None:
    tags = await _injected_scripts(*csp)
    for tag in tags:
        assert b'src="/_consent/static/' in tag, tag
        assert b"nonce=" not in tag


# -- charsets and malformed documents ------------------------------------------------------


@pytest.mark.parametrize("declared", ["windows-1252", "iso-8859-1", None])
async def test_non_utf8_bytes_come_out_intact(declared: str | None) -> None:
    text = b"<p>caf\xe9 \x80 na\xefve \xff</p>"
    doc = b"<html><head><title>\xe9t\xe9</title></head><body>" + text + TRACKER + b"</body></html>"
    content_type = "text/html" + (f"; charset={declared}" if declared else "")
    headers = [(b"content-type", content_type.encode())]
    for chunks in ([doc], split(doc, 3)):
        body = body_of(await call(middleware(raw_app(chunks, headers))))
        assert text in body
        assert b"<title>\xe9t\xe9</title>" in body
        assert TRACKER not in body
        assert body.count(BANNER) == 1


MALFORMED = [
    pytest.param(b"<html><body><div><p>text<b>bold<i>", id="unclosed-tags"),
    pytest.param(b'<html><body><script>var s = "</body>";</script><p>x</p></body>', id="script"),
    pytest.param(b"<html><body><!-- </body> --><p>x</p></body></html>", id="comment"),
    pytest.param(b"<html><body><p>no end", id="no-body-end"),
    pytest.param(b"<p>fragment only</p>", id="fragment"),
    pytest.param(b"<body><!-- never closed </body>", id="open-comment"),
    pytest.param(b"<body><script>var x = '</body>", id="open-script"),
    pytest.param(b"<body><p>a</p></body><p>b</p></body></html>", id="two-body-ends"),
    pytest.param(b"</body></html>", id="end-only"),
    pytest.param(b"", id="empty"),
    pytest.param(b"<", id="lone-lt"),
    pytest.param(b"\x00\xff\xfe<<<>>></bo", id="garbage"),
    pytest.param(b'<body><div class="a></body>', id="open-attribute"),
    pytest.param(b"<body><textarea></body></textarea></body>", id="textarea"),
    pytest.param(b"<body><svg><script></body></script></svg></body>", id="svg-script"),
]


@pytest.mark.parametrize("doc", MALFORMED)
@pytest.mark.parametrize("chunk", [None, 1, 4], ids=lambda c: f"chunk={c}")
async def test_malformed_html_never_fails_and_gets_one_banner(
    doc: bytes, chunk: int | None
) -> None:
    chunks = [doc] if chunk is None else split(doc, chunk)
    sent = await call(middleware(raw_app(chunks, [(b"content-type", b"text/html")])))
    assert start_of(sent)["status"] == 200
    body = body_of(sent)
    assert body.count(BANNER) == 1
    single = body_of(await call(middleware(raw_app([doc], [(b"content-type", b"text/html")]))))
    assert body == single


@pytest.mark.parametrize("where", [b"script", b"comment"])
async def test_body_inside_script_or_comment_is_not_the_insertion_point(where: bytes) -> None:
    inner = b'<script>var s = "<body>";</script>' if where == b"script" else b"<!-- <body> -->"
    doc = b"<html><head>" + inner + b"</head><body class=page><p>first</p></body></html>"
    body = body_of(await call(middleware(raw_app([doc], [(b"content-type", b"text/html")]))))
    assert inner in body
    # Right after the real <body>: in the first paint, before the page's content.
    after_body = body.index(b"<body class=page>") + len(b"<body class=page>")
    assert body.index(BANNER) >= after_body
    assert body.index(BANNER) < body.index(b"<p>first</p>")
    assert body.index(b"<p>first</p>") > body.index(b"</aside>")


def test_malformed_html_through_the_client_is_200() -> None:
    async def handler(request: Request) -> Response:
        return HTMLResponse(b"<html><body><script>document.write('</body>')")

    response = serve(handler).get("/")
    assert response.status_code == 200
    assert response.content.count(BANNER) == 1


# -- misbehaving apps ----------------------------------------------------------------------


async def test_app_raising_after_start_does_not_hang() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": html_headers(None)})
        await send({"type": "http.response.body", "body": PAGE[:60], "more_body": True})
        raise RuntimeError("boom")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    with anyio.fail_after(10), pytest.raises(RuntimeError, match="boom"):
        await middleware(app)(make_scope(), receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert all(m.get("more_body", False) for m in sent if m["type"] == "http.response.body")


async def test_app_raising_before_any_body_sends_nothing() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": html_headers(None)})
        raise RuntimeError("boom")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    with anyio.fail_after(10), pytest.raises(RuntimeError, match="boom"):
        await middleware(app)(make_scope(), receive, send)
    # Nothing went out, so the server can still answer 500 instead of a half response.
    assert sent == []


@pytest.mark.parametrize(
    ("headers", "held"),
    [
        ([(b"content-type", b"application/json")], False),
        ([(b"Content-Type", b"image/png"), (b"cache-control", b"max-age=60")], False),
        ([(b"content-type", b"application/json"), (b"set-cookie", b"_ga=GA1.1.1")], False),
        ([(b"content-type", b"text/html; charset=utf-8")], True),
    ],
)
async def test_a_start_not_rewritten_goes_out_before_the_body(
    headers: list[tuple[bytes, bytes]], held: bool
) -> None:
    """A body that passes as written (edited headers or not) has its start sent at once,
    as without the middleware; a page to rewrite holds it until its first bytes."""
    seen_after_start: list[int] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        seen_after_start.append(len(sent))
        await send({"type": "http.response.body", "body": b"<p>x</p>", "more_body": False})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    with anyio.fail_after(10):
        await middleware(app)(make_scope(), receive, send)
    assert seen_after_start == [0 if held else 1]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    # The refused tracker cookie is gone even though its start left at once.
    cookies = [v for k, v in sent[0]["headers"] if k.lower() == b"set-cookie"]
    assert not [v for v in cookies if v.startswith(b"_ga=")]


@pytest.mark.parametrize("content_type", [b"text/html", b"application/json"])
async def test_app_sending_no_body_message_does_not_hang(content_type: bytes) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def app_typed(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    for inner in (app, app_typed):
        sent = await call(middleware(inner))
        # The held start goes out with an empty final body: a complete response.
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert sent[-1]["more_body"] is False


async def test_app_leaving_the_html_body_open_still_gets_the_banner() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE, "more_body": True})

    sent = await call(middleware(app))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert sent[-1]["more_body"] is False
    assert body.count(b'id="ck-root"') == 1


# -- crawlers ------------------------------------------------------------------------------


def test_crawlers_get_trackers_blocked_and_no_banner() -> None:
    client = serve(page)
    client.post("/_consent", json={"action": "accept_all"})
    assert MARKED in client.get("/").content  # the consent cookie is honoured for visitors
    body = client.get("/", headers={"User-Agent": GOOGLEBOT}).content
    assert_blocked(body)
    assert BANNER not in body
    assert HEAD_SNIPPET not in body


def test_crawler_mode_off_shows_crawlers_the_banner() -> None:
    body = serve(page, crawler_mode="off").get("/", headers={"User-Agent": GOOGLEBOT}).content
    assert_blocked(body)
    assert body.count(BANNER) == 1
    assert body.count(HEAD_SNIPPET) == 1
