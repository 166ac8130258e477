"""The Starlette contenders: the bare app, consentkit on it, and "the obvious way".

The obvious way is what a site would write without consentkit: a ``BaseHTTPMiddleware``
that buffers every HTML body, parses it into a DOM with selectolax (lexbor), neutralises
the trackers found with consentkit's own tracker index, appends the banner to ``<body>``,
serialises the page and drops ``Set-Cookie`` lines the visitor has not consented to. It
blocks the same elements as consentkit, so both do the same job on the same pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Final

from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from benchmarks.apps import (
    JSON_PAYLOAD,
    PAGE_SIZES,
    SECRET,
    STREAM_CHUNK,
    app_set_cookies,
    body,
)
from consentkit import ConsentMiddleware
from consentkit.categories import CATEGORIES, Category
from consentkit.cookies import parse_cookie_header
from consentkit.decision import ConsentCodec, StoredConsent, decide
from consentkit.policy import Policy
from consentkit.rewriter import Blocked, default_placeholder
from consentkit.rules import CookieRule
from consentkit.trackers import Tracker, default_index
from consentkit.web.banner import Banner, BannerContext

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "ObviousConsentMiddleware",
    "bare_app",
    "consent_cookie",
    "consentkit_app",
    "obvious_app",
    "policy",
]

COOKIE_NAME: Final = "consentkit"
_NECESSARY_ONLY: Final[frozenset[Category]] = frozenset({"necessary"})


@cache
def policy() -> Policy:
    """A small site policy: a session cookie, a language cookie and the Meta pixel."""
    return Policy(
        revision="bench-1",
        cookies=(
            CookieRule("session", "necessary", provider="This site", purpose="Session"),
            CookieRule("lang", "functionality", provider="This site", purpose="Language"),
            CookieRule("_fbp", "targeting", provider="Meta", purpose="Advertising"),
        ),
        site_name="Daily Bench",
    )


def consent_cookie() -> str:
    """A ``Cookie`` header carrying a valid, signed "accept all" decision."""
    pol = policy()
    stored = StoredConsent(
        consent_id="bench-0123456789abcdef",
        granted=frozenset(CATEGORIES),
        refused=frozenset(),
        revision=pol.revision,
        decided_at=datetime.now(UTC),
        fingerprints={c: pol.fingerprint(c) for c in CATEGORIES},
        action="accept_all",
    )
    return f"{COOKIE_NAME}={ConsentCodec(SECRET, site=pol.site_id).dumps(stored)}"


# -- the app --------------------------------------------------------------------------------


def _with_cookies(response: Response) -> Response:
    for value in app_set_cookies():
        response.raw_headers.append((b"set-cookie", value.encode("latin-1")))
    return response


async def _json(request: Request) -> Response:
    return JSONResponse(JSON_PAYLOAD)


async def _page(request: Request) -> Response:
    return _with_cookies(Response(body(request.url.path), media_type="text/html"))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), STREAM_CHUNK):
        yield data[start : start + STREAM_CHUNK]


async def _stream(request: Request) -> Response:
    response = StreamingResponse(_chunks(body("/stream3m")), media_type="text/html")
    return _with_cookies(response)


def bare_app() -> Starlette:
    """The site without any consent layer: the limit."""
    pages = [Route(path, _page) for path in PAGE_SIZES if path != "/stream3m"]
    return Starlette(
        routes=[Route("/json", _json), *pages, Route("/stream3m", _stream)],
    )


def consentkit_app() -> ConsentMiddleware:
    """The same site behind :class:`~consentkit.ConsentMiddleware` (no store)."""
    return ConsentMiddleware(bare_app(), policy=policy(), secret_key=SECRET)


def obvious_app() -> Starlette:
    """The same site behind :class:`ObviousConsentMiddleware`."""
    app = bare_app()
    app.add_middleware(ObviousConsentMiddleware, policy=policy(), secret_key=SECRET)
    return app


# -- the obvious way ------------------------------------------------------------------------

_JS_TYPES: Final = frozenset({"", "text/javascript", "application/javascript", "module"})
_HINTS: Final = frozenset({"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload"})


def _tracker_for(node: LexborNode, allowed: frozenset[Category]) -> Tracker | None:
    """The tracker *node* loads, if its category is not *allowed*."""
    index = default_index()
    attrs = node.attributes
    name = node.tag
    if name == "script":
        if (attrs.get("type") or "").strip().lower() not in _JS_TYPES:
            return None
        src = attrs.get("src")
        tracker = index.match_url(src) if src else index.match_inline(node.text())
    elif name == "link":
        rels = set((attrs.get("rel") or "").lower().split())
        tracker = index.match_url(attrs.get("href") or "") if rels & _HINTS else None
    else:
        tracker = index.match_url(attrs.get("src") or "")
    if tracker is None or tracker.category in allowed:
        return None
    return tracker


def _neutralise(node: LexborNode, tracker: Tracker, parse: type[LexborHTMLParser]) -> None:
    name = node.tag
    moved = "href" if name == "link" else "src"
    attrs = node.attrs
    value = attrs.get(moved)
    if value is not None:
        attrs["data-ck-" + moved] = value
        del attrs[moved]
    attrs["data-ck-category"] = tracker.category
    attrs["data-ck-blocked"] = ""
    if name == "script":
        attrs["data-ck-type"] = attrs.get("type") or ""
        attrs["type"] = "text/plain"
    elif name == "iframe":
        markup = default_placeholder(Blocked("iframe", tracker.category, tracker.provider))
        holder = parse(markup).body
        if holder is not None and holder.child is not None:
            node.insert_before(holder.child)


class ObviousConsentMiddleware(BaseHTTPMiddleware):
    """Consent enforcement written the straightforward way (buffer, DOM, serialise)."""

    def __init__(self, app: ASGIApp, *, policy: Policy, secret_key: str) -> None:
        super().__init__(app)
        self.policy = policy
        self.codec = ConsentCodec(secret_key, site=policy.site_id)
        decision = decide(None, policy, now=datetime.now(UTC))
        banner = Banner(policy)
        self.banner_html = banner.body_html(BannerContext(decision, "en", "/"))

    def _allowed(self, request: Request) -> frozenset[Category]:
        cookies = parse_cookie_header(request.headers.get("cookie", ""))
        stored = self.codec.loads(cookies.get(COOKIE_NAME))
        return stored.granted | _NECESSARY_ONLY if stored else _NECESSARY_ONLY

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        allowed = self._allowed(request)
        response = await call_next(request)
        headers = [
            (k, v)
            for k, v in response.headers.raw
            if k != b"content-length" and (k != b"set-cookie" or self._keeps(v, allowed))
        ]
        headers.append((b"vary", b"Cookie"))
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        data = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        content_type = response.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "text/html":
            data = self._rewrite(data, allowed)
        out = Response(data, status_code=response.status_code)
        out.raw_headers = [*headers, (b"content-length", str(len(data)).encode())]
        return out

    def _keeps(self, set_cookie: bytes, allowed: frozenset[Category]) -> bool:
        name = set_cookie.decode("latin-1").split("=", 1)[0].strip()
        return self.policy.required_category(name) in allowed

    def _rewrite(self, data: bytes, allowed: frozenset[Category]) -> bytes:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(data)
        for node in tree.css("script, iframe, img, link"):
            tracker = _tracker_for(node, allowed)
            if tracker is not None:
                _neutralise(node, tracker, LexborHTMLParser)
        html = tree.html or ""
        end = html.rfind("</body>")
        if end >= 0 and allowed == _NECESSARY_ONLY:
            html = html[:end] + self.banner_html + html[end:]
        return html.encode("utf-8")
