"""``ConsentMiddleware``: pure ASGI middleware that enforces consent on every response.

Per request it reads the signed consent cookie into a :class:`~consentkit.decision.Decision`
(exposed as ``request.state.consent``), answers the consent endpoints under the prefix,
and wraps ``send`` in a :class:`_Responder` that filters ``Set-Cookie`` lines, expires
refused cookies and, for HTML, streams the body through the rewriter.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, Protocol

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .banner import Banner, BannerContext
from .cookies import parse_cookie_header
from .crawlers import is_crawler
from .decision import (
    DEFAULT_COOKIE_NAME,
    ConsentCodec,
    Decision,
    StoredConsent,
    consent_cookie_name,
    consent_token,
    decide,
    new_consent_id,
)
from .endpoints import ConsentEndpoints
from .enforcement import cookies_to_expire, enforce_set_cookies, expiry_headers
from .errors import ConfigError
from .jurisdiction import JurisdictionResolver, read_signals
from .policy import Policy
from .rewriter import (
    Blocked,
    HTMLRewriter,
    RewritePlan,
    block_key_html,
    default_placeholder,
    new_block_key,
    sniff_charset,
)
from .stores import ReceiptStore, open_store
from .stores.spool import SpooledStore
from .trackers import TrackerIndex, default_index

__all__ = ["ConsentMiddleware", "Settings"]

logger = logging.getLogger("consentkit")

_NONCE_RE: Final = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
_NO_BODY_STATUS: Final = frozenset({204, 304})
_MEMO_ITEMS: Final = 4096


@lru_cache(maxsize=_MEMO_ITEMS)
def _is_crawler_ua(user_agent: bytes) -> bool:
    return bool(user_agent) and is_crawler(user_agent.decode("latin-1"))


class _Decompressor(Protocol):
    def decompress(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Settings:
    """Middleware configuration, validated once."""

    prefix: str = "/_consent"
    # None: "__Host-consentkit" on secure requests without cookie_domain, else "consentkit".
    cookie_name: str | None = None
    cookie_domain: str | None = None
    cookie_secure: bool | None = None
    rewrite_html: bool = True
    inject_banner: bool = True
    admin_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_body_size: int = 16 * 1024
    ip_mode: Literal["truncate", "omit", "full"] = "truncate"
    crawler_mode: Literal["block", "off"] = "block"
    controller: str = ""

    def __post_init__(self) -> None:
        src = "ConsentMiddleware(...)"
        if not self.prefix.startswith("/") or self.prefix.endswith("/") or len(self.prefix) < 2:
            raise ConfigError(
                f"invalid prefix {self.prefix!r}",
                source=src,
                key="prefix",
                fix='use a path like "/_consent" (leading slash, no trailing slash)',
            )
        if self.cookie_name is not None and not re.fullmatch(
            r"[A-Za-z0-9_.-]{1,64}", self.cookie_name
        ):
            raise ConfigError(
                f"invalid cookie name {self.cookie_name!r}",
                source=src,
                key="cookie_name",
                fix="use letters, digits, '_', '.' or '-'",
            )
        # A prefixed name the browser would always reject is a configuration error.
        prefix = (self.cookie_name or "").lower()
        if prefix.startswith("__host-") and self.cookie_domain:
            raise ConfigError(
                "a __Host- cookie cannot have a Domain",
                source=src,
                key="cookie_name",
                fix="drop cookie_domain, or use a name without the __Host- prefix",
            )
        if prefix.startswith(("__host-", "__secure-")) and self.cookie_secure is False:
            raise ConfigError(
                "__Host- and __Secure- cookies must be Secure",
                source=src,
                key="cookie_secure",
                fix="leave cookie_secure unset (Secure on HTTPS) or drop the prefix",
            )
        if self.ip_mode not in ("truncate", "omit", "full"):
            raise ConfigError(
                f"unknown ip_mode {self.ip_mode!r}",
                source=src,
                key="ip_mode",
                fix='use "truncate", "omit" or "full"',
            )
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ConfigError(
                "admin token is too short",
                source=src,
                key="admin_token",
                fix="use a random token of at least 16 characters",
            )


class UnclassifiedReport:
    """Cookies seen in responses that match no rule, for the dashboard and logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float]] = {}

    def add(self, names: Sequence[str]) -> None:
        with self._lock:
            for name in names:
                count, first = self._seen.get(name, (0, time.time()))
                if count == 0:
                    logger.warning(
                        "unclassified cookie %r: declare it in the policy "
                        "(treated as needing the policy's 'unclassified' category)",
                        name,
                    )
                self._seen[name] = (count + 1, first)

    def snapshot(self) -> list[tuple[str, int, datetime]]:
        """``(name, count, first seen)`` for every unclassified cookie, most seen first."""
        with self._lock:
            items = list(self._seen.items())
        return sorted(
            ((n, c, datetime.fromtimestamp(f, UTC)) for n, (c, f) in items),
            key=lambda row: (-row[1], row[0]),
        )


class ConsentMiddleware:
    """Keep a site's cookie-consent promises on the server.

    Args:
        app: the ASGI app to wrap.
        policy: the site's :class:`~consentkit.policy.Policy`.
        secret_key: key (or keys, newest first) signing the consent cookie. Required.
        store: a :class:`~consentkit.stores.ReceiptStore` or a store URL
            (``sqlite:///consent.db``, ``postgresql://...``); ``None`` records nothing.
        receipt_key: key (or keys, newest first) sealing receipts; required with a store
            and distinct from ``secret_key``.
        spool_path: where receipts wait when the store is down (default: next to a
            SQLite store, else ``consentkit-spool.jsonl``).
        banner: a :class:`~consentkit.banner.Banner`, ``True`` for the default one,
            ``False`` to inject nothing.
        jurisdiction: resolves the visitor's region and consent model; by default
            the policy's region table with ``trusted_headers`` (none: every visitor
            gets the policy's default region) and ``geoip_path``.
        trusted_headers: CDN presets (``cloudflare``, ``cloudfront``, ``vercel``,
            ``fastly``) or header pairs to read the country from. Only list headers
            your CDN sets: a visitor can send any header to an origin it reaches.
        geoip_path: a MaxMind database file (``consentkit[geoip]``).
        trackers: the tracker index used to block unmarked third-party tags.
        **options: fields of :class:`Settings`.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        *,
        policy: Policy,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        store: ReceiptStore | str | None = None,
        receipt_key: str | Sequence[str] | None = None,
        spool_path: str | None = None,
        banner: Banner | bool = True,
        jurisdiction: JurisdictionResolver | None = None,
        trusted_headers: Sequence[str | tuple[str, str | None]] = (),
        geoip_path: str | None = None,
        trackers: TrackerIndex | None = None,
        **options: Any,
    ) -> None:
        src = "ConsentMiddleware(...)"
        if not isinstance(policy, Policy):
            raise ConfigError(
                "policy is required", source=src, key="policy", fix="pass policy=Policy(...)"
            )
        if not secret_key:
            raise ConfigError(
                "a secret key is required to sign consent cookies",
                source=src,
                key="secret_key",
                fix="pass secret_key=os.environ['CONSENTKIT_SECRET'] (a long random string)",
            )
        try:
            self.settings = Settings(**options)
        except TypeError as exc:
            raise ConfigError(
                str(exc), source=src, key="options", fix="see docs/configuration.md"
            ) from None
        self.app = app
        self.policy = policy
        # The policy's site id binds tokens to this site (see ConsentCodec).
        self.codec = ConsentCodec(secret_key, site=policy.site_id)
        self.store = self._open_store(store, receipt_key, secret_key, spool_path)
        if banner is True:
            banner = Banner(policy, prefix=self.settings.prefix)
        self.banner: Banner | None = banner or None
        self.jurisdiction = jurisdiction or JurisdictionResolver(
            trusted_headers, geoip_path, table=policy.region_table
        )
        self.trackers = trackers or default_index()
        self.unclassified = UnclassifiedReport()
        self.own_cookies = frozenset(
            {self.cookie_name_for(True), self.cookie_name_for(False), DEFAULT_COOKIE_NAME}
        )
        self.endpoints = ConsentEndpoints(self)
        self._warned_encodings: set[str] = set()
        self._prefix_slash = self.settings.prefix + "/"
        self._tokens: dict[str, StoredConsent | None] = {}
        self._defaults: dict[tuple[str, str, bool, bool], Decision] = {}
        self._static_region = (
            self.jurisdiction.resolve([], None) if self.jurisdiction.is_static else None
        )

    @staticmethod
    def _open_store(
        store: ReceiptStore | str | None,
        receipt_key: str | Sequence[str] | None,
        secret_key: object,
        spool_path: str | None,
    ) -> ReceiptStore | SpooledStore | None:
        if store is None:
            return None
        src = "ConsentMiddleware(...)"
        keys = [receipt_key] if isinstance(receipt_key, str) else list(receipt_key or [])
        if not keys or not all(keys):
            raise ConfigError(
                "a receipt key is required with a store",
                source=src,
                key="receipt_key",
                fix="pass receipt_key=os.environ['CONSENTKIT_RECEIPT_KEY'] "
                "(distinct from secret_key)",
            )
        secrets_ = (
            [secret_key] if isinstance(secret_key, str | bytes) else list(secret_key)  # type: ignore[call-overload]
        )
        if any(k in secrets_ for k in keys):
            raise ConfigError(
                "the receipt key must differ from the cookie secret key",
                source=src,
                key="receipt_key",
                fix="use a separate random key for receipts",
            )
        if isinstance(store, str):
            if spool_path is None:
                spool_path = _default_spool(store)
            inner = open_store(store, receipt_keys=keys)
            return SpooledStore(inner, spool_path)
        return store

    # -- per request --------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.settings.cookie_secure
        if secure is None:
            secure = scope.get("scheme") == "https"
        request = RequestInfo(scope, self.cookie_name_for(secure))
        decision = self.decide(request)
        scope.setdefault("state", {})["consent"] = decision
        path: str = scope["path"]
        if path == self.settings.prefix or path.startswith(self._prefix_slash):
            await self.endpoints(scope, receive, send, request, decision)
            return
        if path == "/.well-known/gpc.json":
            await self.endpoints.gpc_json(scope, receive, send)
            return
        responder = _Responder(self, scope, request, decision, send)
        await self.app(scope, receive, responder.send)
        await responder.finish()

    def cookie_name_for(self, secure: bool) -> str:
        """The consent cookie's name on a request whose cookies are *secure* or not."""
        settings = self.settings
        return consent_cookie_name(
            settings.cookie_name, secure=secure, cookie_domain=settings.cookie_domain
        )

    def decide(self, request: RequestInfo) -> Decision:
        """The decision for a request: stored cookie, region model and signals.

        This runs on every request, so its pure parts are memoised: verified tokens,
        the region when it cannot vary, and the decision of a visitor without a cookie.
        """
        token = request.consent_token
        stored = self._verify(token) if token else None
        resolved = self._static_region or self.jurisdiction.resolve(
            request.headers, request.client_ip
        )
        gpc = dnt = False
        if request.signals_sent:
            signals = read_signals(request.headers)
            gpc, dnt = signals.gpc, signals.dnt
        key = (resolved.region, resolved.model, gpc, dnt)
        decision = self._defaults.get(key) if stored is None else None
        if decision is None:
            decision = decide(
                stored,
                self.policy,
                now=datetime.now(UTC),
                model=resolved.model,
                region=resolved.region,
                gpc=gpc,
                dnt=dnt,
            )
            if stored is None and len(self._defaults) < _MEMO_ITEMS:
                self._defaults[key] = decision
        if self.settings.crawler_mode == "block" and _is_crawler_ua(request.user_agent):
            # Search and link-preview crawlers index the content, not the trackers.
            decision = replace(
                decision, granted=frozenset({"necessary"}), pending=frozenset(), crawler=True
            )
        return decision

    def _verify(self, token: str) -> StoredConsent | None:
        # A token's signature and content never change: verify each one once.
        if token in self._tokens:
            return self._tokens[token]
        stored = self.codec.loads(token)
        if len(self._tokens) >= _MEMO_ITEMS:
            self._tokens.clear()
        self._tokens[token] = stored
        return stored

    def banner_context(
        self, request: RequestInfo, decision: Decision, nonce: str | None
    ) -> BannerContext:
        assert self.banner is not None
        return BannerContext(
            decision=decision,
            language=self.banner.negotiate(request.header("accept-language")),
            return_to=request.return_to,
            nonce=nonce,
            gpc_honoured=decision.gpc and "targeting" not in decision.granted,
        )

    def warn_encoding(self, encoding: str) -> None:
        if encoding not in self._warned_encodings:
            self._warned_encodings.add(encoding)
            logger.warning(
                "HTML with Content-Encoding %r passes through without tag blocking; "
                "put consentkit outside (after) the compression middleware",
                encoding,
            )


def _default_spool(store_url: str) -> str:
    if store_url.startswith("sqlite:///"):
        return store_url[len("sqlite:///") :] + ".spool.jsonl"
    if "://" not in store_url:
        return store_url + ".spool.jsonl"
    return "consentkit-spool.jsonl"


class RequestInfo:
    """What the middleware needs from a request: one pass over the headers, the rest lazy."""

    __slots__ = (
        "_cookie_header",
        "_cookies",
        "_host",
        "consent_token",
        "cookie_name",
        "headers",
        "method",
        "path",
        "scope",
        "signals_sent",
        "user_agent",
    )

    def __init__(self, scope: Scope, cookie_name: str) -> None:
        self.scope = scope
        self.cookie_name = cookie_name
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        self.headers = headers
        cookie_parts: list[bytes] = []
        host = b""
        user_agent = b""
        signals_sent = False
        for key, value in headers:
            if key == b"cookie":
                cookie_parts.append(value)
            elif key == b"host":
                host = value
            elif key == b"user-agent":
                user_agent = value
            elif key == b"sec-gpc" or key == b"dnt":
                signals_sent = True
        self._host = host
        self.user_agent = user_agent
        self.signals_sent = signals_sent
        self.path: str = scope.get("path", "/")
        self.method: str = scope.get("method", "GET")
        if cookie_parts:
            self._cookie_header = b"; ".join(cookie_parts)
            self._cookies: dict[str, str] | None = None
            # The consent token is looked up only when the header mentions our cookie.
            # Duplicates of our cookie read as no decision (cookie tossing).
            self.consent_token = (
                consent_token(self._cookie_header, cookie_name)
                if cookie_name.encode() in self._cookie_header
                else None
            )
        else:
            self._cookie_header = b""
            self._cookies = {}
            self.consent_token = None

    @property
    def host(self) -> str:
        if self._host:
            return self._host.decode("latin-1")
        server = self.scope.get("server")
        return str(server[0]) if server else ""

    @property
    def query(self) -> str:
        return (self.scope.get("query_string") or b"").decode("latin-1")

    @property
    def scheme(self) -> str:
        return str(self.scope.get("scheme", "http"))

    @property
    def client_ip(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None

    @classmethod
    def from_scope(cls, scope: Scope, cookie_name: str) -> RequestInfo:
        return cls(scope, cookie_name)

    @property
    def has_cookies(self) -> bool:
        """Whether the request carried a ``Cookie`` header at all."""
        return bool(self._cookie_header)

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies (parsed on first use; first occurrence of a name wins)."""
        if self._cookies is None:
            self._cookies = parse_cookie_header(self._cookie_header)
        return self._cookies

    def header(self, name: str) -> str | None:
        key = name.encode("latin-1")
        for k, v in self.headers:
            if k == key:
                return v.decode("latin-1")
        return None

    @property
    def hostname(self) -> str:
        """The host without the port (IPv6 literals keep their brackets)."""
        host = self.host
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def return_to(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


class _Responder:
    """Per-request wrapper of ``send``: headers first, then the body path."""

    def __init__(
        self,
        mw: ConsentMiddleware,
        scope: Scope,
        request: RequestInfo,
        decision: Decision,
        send: Send,
    ) -> None:
        self.mw = mw
        self.scope = scope
        self.request = request
        self.decision = decision
        self._send = send
        self.start: Message | None = None
        self.rewriter: HTMLRewriter | None = None
        self.decoder: _Decompressor | None = None
        self.encoder: Any = None
        self.encoding = "identity"
        self.started = False
        self.ended = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            self._enforce_headers(message)
            if self.rewriter is not None and self._records_gpc():
                await self._record_gpc(message)
            return
        if kind == "http.response.body":
            await self._body(message)
            return
        if kind == "http.response.pathsend" and self.rewriter is not None:
            await self._pathsend(message)
            return
        await self._flush_start()
        await self._send(message)

    # -- headers ------------------------------------------------------------------------

    def _enforce_headers(self, message: Message) -> None:
        mw, request, decision = self.mw, self.request, self.decision
        raw = message.get("headers") or []
        # Fast path, taken by most API and asset responses: nothing set, nothing to
        # expire, not a page to rewrite.
        content_type = b""
        sets_cookies = False
        for key, value in raw:
            lowered = key.lower()
            if lowered == b"set-cookie":
                sets_cookies = True
            elif lowered == b"content-type":
                content_type = value
        status = message.get("status", 200)
        is_html = self._is_html(content_type, status)
        if not sets_cookies and not is_html and not self._has_stale_cookies():
            return
        raw = list(raw)
        result = enforce_set_cookies(
            raw, decision=decision, policy=mw.policy, own_cookies=mw.own_cookies
        )
        if result.unclassified:
            mw.unclassified.add(result.unclassified)
        stale = cookies_to_expire(
            request.cookies,
            decision=decision,
            policy=mw.policy,
            own_cookies=mw.own_cookies,
            being_set=result.kept,
        )
        headers = result.headers
        if stale:
            headers.extend(
                expiry_headers(
                    stale,
                    policy=mw.policy,
                    host=request.hostname,
                    path=request.path,
                    secure=request.scheme == "https",
                    cookie_domain=mw.settings.cookie_domain,
                )
            )
        message["headers"] = headers
        mutable = MutableHeaders(scope=message)
        if is_html:
            self._prepare_rewrite(mutable)
        if self.rewriter is not None and self.mw.banner is not None:
            # The banner speaks the visitor's language.
            _add_vary(mutable, "Cookie", "Accept-Language")
        elif is_html or result.consent_dependent or stale:
            _add_vary(mutable, "Cookie")
        if is_html:
            _make_private(mutable)

    def _has_stale_cookies(self) -> bool:
        request, mw = self.request, self.mw
        return request.has_cookies and bool(
            cookies_to_expire(
                request.cookies,
                decision=self.decision,
                policy=mw.policy,
                own_cookies=mw.own_cookies,
            )
        )

    def _records_gpc(self) -> bool:
        """A page view with GPC and nothing recorded yet gets one ``gpc`` receipt."""
        d = self.decision
        return (
            self.mw.store is not None
            and d.gpc
            and not d.decided
            and not d.gpc_recorded
            and self.request.method == "GET"
        )

    async def _record_gpc(self, message: Message) -> None:
        mw, decision = self.mw, self.decision
        now = datetime.now(UTC)
        consent_id = decision.consent_id or new_consent_id()
        decision = replace(decision, consent_id=consent_id)
        recorded, _ = await mw.endpoints.store_receipt(
            self.request, decision, "gpc", "signal", self.request.path, now
        )
        if not recorded:
            return  # no cookie: the next page view tries again
        stored = StoredConsent(
            consent_id=consent_id,
            granted=decision.granted,
            refused=decision.refused,
            revision=mw.policy.revision,
            decided_at=now,
            fingerprints={},
            action="gpc",
            gpc_recorded=True,
        )
        cookie = mw.endpoints.consent_cookie(self.request, stored)
        MutableHeaders(scope=message).append("set-cookie", cookie.decode("latin-1"))

    def _is_html(self, content_type: bytes, status: int) -> bool:
        """Whether the body is an HTML page to rewrite.

        ``application/xhtml+xml`` is left alone: browsers parse it as XML, where the
        injected HTML would break the page. So is partial content (206): its byte
        ranges and ``Content-Range`` describe the page as the app wrote it.
        """
        if not self.mw.settings.rewrite_html or status in _NO_BODY_STATUS or status == 206:
            return False
        if content_type.lstrip()[:9].lower() != b"text/html":
            return False
        return content_type.split(b";", 1)[0].strip().lower() == b"text/html"

    def _prepare_rewrite(self, headers: MutableHeaders) -> None:
        encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
        codec = _codecs(encoding)
        if codec is None:
            self.mw.warn_encoding(encoding)
            return
        self.decoder, self.encoder = codec
        self.encoding = encoding
        mw, request, decision = self.mw, self.request, self.decision
        nonce = _csp_nonce(headers.getlist("content-security-policy"))
        crawler = decision.crawler
        granted = decision.granted
        head_html = body_html = block_key = ""
        placeholder = default_placeholder
        if mw.banner is not None and mw.settings.inject_banner and not crawler:
            banner = mw.banner
            ctx = mw.banner_context(request, decision, nonce)
            head_html = banner.head_html(ctx)
            # This response's key for what it blocks, right after the banner script.
            block_key = new_block_key()
            body_html = banner.body_html(ctx) + block_key_html(block_key)
            language = ctx.language

            def placeholder(blocked: Blocked) -> str:
                return banner.placeholder_html(
                    provider=blocked.provider,
                    category=blocked.category,
                    src=blocked.url,
                    language=language,
                    granted=decision.granted,
                    return_to=request.return_to,
                )

        plan = RewritePlan(
            granted=granted,
            trackers=mw.trackers,
            head_html=head_html,
            body_start_html=body_html,
            placeholder=placeholder,
            unclassified_category=mw.policy.unclassified,
            site_host=request.hostname,
            block_key=block_key,
        )
        charset = sniff_charset(headers.get("content-type"), b"")
        self.rewriter = HTMLRewriter(plan, encoding=charset)
        # The body changes length; a HEAD answer cannot know the new one either. The
        # app's validators describe its bytes, not ours: a 304 for them could revive
        # a copy rewritten under another consent state.
        for name in ("content-length", "etag", "last-modified"):
            if name in headers:
                del headers[name]

    async def finish(self) -> None:
        """Complete what the app left open: a held start with no body, an unfinished rewrite.

        Both break the ASGI contract, but the visitor should still get the page
        (and the banner) rather than a server error.
        """
        if self.start is None:
            return
        if not self.started or (self.rewriter is not None and not self.ended):
            await self._body({"type": "http.response.body", "body": b"", "more_body": False})

    async def _flush_start(self) -> None:
        if not self.started and self.start is not None:
            self.started = True
            await self._send(self.start)

    # -- body ---------------------------------------------------------------------------

    async def _body(self, message: Message) -> None:
        rewriter = self.rewriter
        if rewriter is None:
            await self._flush_start()
            await self._send(message)
            return
        if self.ended:
            return  # the rewritten body was cut short at an undecodable chunk
        more: bool = message.get("more_body", False)
        if self.request.method == "HEAD":
            # Headers only: a body some apps write anyway was never rewritten.
            await self._flush_start()
            if not more:
                self.ended = True
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        body: bytes = message.get("body", b"")
        assert self.decoder is not None
        try:
            data = self.decoder.decompress(body) if body else b""
        except _CorruptBody as exc:
            logger.warning(
                "could not decode a %r HTML body (%s): the response ends at the last good byte",
                self.encoding,
                exc,
            )
            data, more = b"", False
        out = rewriter.feed(data) if data else b""
        if not more:
            self.ended = True
            out += rewriter.flush()
        payload = self._encode(out, final=not more)
        if not self.started:
            if not more and self.start is not None:
                # One body: the exact new length is known.
                MutableHeaders(scope=self.start)["content-length"] = str(len(payload))
            await self._flush_start()
        if payload or not more:
            await self._send({"type": "http.response.body", "body": payload, "more_body": more})

    def _encode(self, data: bytes, *, final: bool) -> bytes:
        if self.encoder is None:
            return data
        out: bytes = self.encoder.compress(data)
        if final:
            out += self.encoder.flush()
        elif data:
            out += self.encoder.flush(zlib.Z_SYNC_FLUSH)
        return out

    async def _pathsend(self, message: Message) -> None:
        # Read one chunk ahead so a small file goes out as one body with its exact length.
        async with await anyio.open_file(message["path"], "rb") as fh:
            chunk = await fh.read(_FILE_CHUNK)
            while True:
                following = await fh.read(_FILE_CHUNK) if chunk else b""
                await self._body(
                    {"type": "http.response.body", "body": chunk, "more_body": bool(following)}
                )
                if not following:
                    return
                chunk = following


_FILE_CHUNK: Final = 64 * 1024
_LIST_ITEM: Final = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')


class _CorruptBody(Exception):
    """A compressed body that does not decode."""


class _Identity:
    def decompress(self, data: bytes) -> bytes:
        return data


def _codecs(encoding: str) -> tuple[_Decompressor, Any] | None:
    if encoding == "identity":
        return _Identity(), None
    if encoding in ("gzip", "x-gzip"):
        return _Gzip(), zlib.compressobj(6, zlib.DEFLATED, 31)
    if encoding == "deflate":
        return _Deflate(), zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)
    if encoding == "br":
        try:
            import brotli
        except ImportError:
            return None
        return _Brotli(brotli), _BrotliEncoder(brotli)
    return None


class _Gzip:
    """gzip, including several members back to back as some servers stream it."""

    _MAGIC: Final = b"\x1f\x8b"

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._between = b""
        self._trailing = False

    def decompress(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data and not self._trailing:
            if self._obj.eof:
                data = self._between + data
                if len(data) < 2:
                    self._between = data
                    break
                self._between = b""
                if not data.startswith(self._MAGIC):
                    # Padding after the last member is ignored, as gzip readers do.
                    self._trailing = True
                    break
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out.append(self._obj.decompress(data))
            except zlib.error as exc:
                raise _CorruptBody(str(exc)) from None
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)


class _Deflate:
    """``deflate`` is zlib-wrapped by the standard but raw in some servers: accept both."""

    def __init__(self) -> None:
        self._obj: Any = None
        self._pending = b""

    def decompress(self, data: bytes) -> bytes:
        if self._obj is None:
            self._pending += data
            if len(self._pending) < 2:
                return b""
            first = self._pending[0]
            wbits = (
                zlib.MAX_WBITS
                if first & 0x0F == 8 and (first << 8 | self._pending[1]) % 31 == 0
                else -zlib.MAX_WBITS
            )
            self._obj = zlib.decompressobj(wbits)
            data, self._pending = self._pending, b""
        try:
            return bytes(self._obj.decompress(data))
        except zlib.error as exc:
            raise _CorruptBody(str(exc)) from None


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._obj = module.Decompressor()
        self._error: type[Exception] = module.error

    def decompress(self, data: bytes) -> bytes:
        try:
            return bytes(self._obj.process(data))
        except self._error as exc:
            raise _CorruptBody(str(exc)) from None


class _BrotliEncoder:
    def __init__(self, module: Any) -> None:
        self._obj = module.Compressor()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._obj.process(data))

    def flush(self, mode: int | None = None) -> bytes:
        if mode is None:
            return bytes(self._obj.finish())
        return bytes(self._obj.flush())


def _list_items(lines: Sequence[str]) -> list[str]:
    """Elements of comma-separated header lines; commas inside quoted strings stay put."""
    return [item.strip() for line in lines for item in _LIST_ITEM.findall(line) if item.strip()]


def _add_vary(headers: MutableHeaders, *fields: str) -> None:
    items = _list_items(headers.getlist("vary"))
    lowered = {item.lower() for item in items}
    missing = [f for f in fields if f.lower() not in lowered]
    if "*" in lowered or not missing:
        return
    # One merged line: assigning by key would drop every Vary line but the first.
    del headers["vary"]
    headers["vary"] = ", ".join([*items, *missing])


def _make_private(headers: MutableHeaders) -> None:
    """A consent-dependent page must not be stored by shared caches."""
    directives = _list_items(headers.getlist("cache-control"))
    names = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "no-store" in names or "private" in (d.lower() for d in directives):
        return
    # ``private="set-cookie"`` only hides the named fields: the page itself stays shareable.
    dropped = ("public", "s-maxage", "private")
    kept = [d for d, name in zip(directives, names, strict=True) if name not in dropped]
    del headers["cache-control"]
    headers["cache-control"] = ", ".join(["private", *kept])


_SCRIPT_DIRECTIVES: Final = ("script-src-elem", "script-src", "default-src")


def _csp_nonce(policies: Sequence[str]) -> str | None:
    """The nonce injected ``<script>`` elements need under every policy, else ``None``.

    Each policy is read at the directive browsers apply to script elements: a nonce in,
    say, ``style-src`` would not let a script run. Without a usable nonce the injected
    code is external (under the prefix), which ``script-src 'self'`` allows.
    """
    nonce: str | None = None
    for header in policies:
        for policy in header.split(","):
            directives: dict[str, list[str]] = {}
            for part in policy.split(";"):
                tokens = part.split()
                if tokens:
                    directives.setdefault(tokens[0].lower(), tokens[1:])
            sources = next((directives[d] for d in _SCRIPT_DIRECTIVES if d in directives), None)
            if sources is None:
                continue  # this policy does not restrict scripts
            found = next((m.group(1) for s in sources if (m := _NONCE_RE.fullmatch(s))), None)
            if found is None:
                return None
            nonce = nonce or found
    return nonce
