"""The per-request responder: ``send`` wrapped so each response keeps the consent.

One :class:`Responder` per request (no per-request state on the middleware). It holds
``http.response.start`` until the body path is known: headers only (``Set-Cookie``
filtered, refused cookies expired, cache headers), or headers plus the HTML body
streamed through the rewriter (decoded and re-encoded with :mod:`.encodings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Scope, Send

from ..decision import Decision
from ..enforcement import cookies_to_expire, enforce_set_cookies, expiry_headers
from ..policy import Policy
from ..rewriter import (
    Blocked,
    HTMLRewriter,
    RewritePlan,
    block_key_html,
    default_placeholder,
    new_block_key,
    sniff_charset,
)
from ..trackers import TrackerIndex
from .banner import Banner
from .encodings import DEFAULT_MAX_DECODED, CorruptBody, Decoder, Encoder, codec_for
from .headers import add_vary, csp_nonce, make_private
from .recorder import Recorder
from .request import RequestInfo
from .unclassified import UnclassifiedReport

__all__ = ["Responder", "ResponseRules"]

logger = logging.getLogger("consentkit")

_NO_BODY_STATUS: Final = frozenset({204, 304})
_FILE_CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """An HTML body being rewritten: the rewriter and the body's content codec."""

    rewriter: HTMLRewriter
    decoder: Decoder
    encoder: Encoder
    encoding: str


@dataclass(frozen=True, eq=False)
class ResponseRules:
    """What every response of the site is held to; built once by the middleware.

    Args:
        policy: classifies cookies and names the unclassified category.
        own_cookies: cookie names enforcement never touches (the consent cookie).
        trackers: the tracker index for unmarked third-party tags.
        recorder: records a GPC signal seen on a page view.
        unclassified: counts cookies that match no rule.
        banner: injected into HTML pages when *inject_banner*; ``None`` for none.
        rewrite_html: stream HTML bodies through the rewriter at all.
        inject_banner: put the banner into rewritten pages.
        max_decoded_size: the most bytes one compressed HTML body may decode to; above
            it the body ends at the last byte within the limit (fail closed).
        cookie_domain: the configured ``cookie_domain``: expiry lines name it, never the
            raw ``Host`` header's parents.
    """

    policy: Policy
    own_cookies: frozenset[str]
    trackers: TrackerIndex
    recorder: Recorder
    unclassified: UnclassifiedReport
    banner: Banner | None
    rewrite_html: bool = True
    inject_banner: bool = True
    cookie_domain: str | None = None
    max_decoded_size: int = DEFAULT_MAX_DECODED
    _warned_encodings: set[str] = field(default_factory=set, repr=False)

    def warn_encoding(self, encoding: str) -> None:
        """Log once per encoding that HTML in it passes through unrewritten."""
        if encoding not in self._warned_encodings:
            self._warned_encodings.add(encoding)
            logger.warning(
                "HTML with Content-Encoding %r passes through without tag blocking; "
                "put consentkit outside (after) the compression middleware",
                encoding,
            )


class Responder:
    """Per-request wrapper of ``send``: headers first, then the body path."""

    def __init__(
        self,
        rules: ResponseRules,
        scope: Scope,
        request: RequestInfo,
        decision: Decision,
        send: Send,
    ) -> None:
        self.rules = rules
        self.scope = scope
        self.request = request
        self.decision = decision
        self._send = send
        self.start: Message | None = None
        self.rewrite: _Rewrite | None = None
        self.started = False
        self.ended = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            self._enforce_headers(message)
            if self.rewrite is not None and self.rules.recorder.records_gpc(
                self.request, self.decision
            ):
                await self._record_gpc(message)
            return
        if kind == "http.response.body":
            await self._body(message)
            return
        if kind == "http.response.pathsend" and self.rewrite is not None:
            await self._pathsend(message)
            return
        await self._flush_start()
        await self._send(message)

    # -- headers ------------------------------------------------------------------------

    def _enforce_headers(self, message: Message) -> None:
        rules, request, decision = self.rules, self.request, self.decision
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
            raw, decision=decision, policy=rules.policy, own_cookies=rules.own_cookies
        )
        if result.unclassified:
            rules.unclassified.add(result.unclassified)
        stale = cookies_to_expire(
            request.cookies,
            decision=decision,
            policy=rules.policy,
            own_cookies=rules.own_cookies,
            being_set=result.kept,
        )
        headers = result.headers
        if stale:
            headers.extend(
                expiry_headers(
                    stale,
                    policy=rules.policy,
                    host=request.hostname,
                    path=request.path,
                    secure=request.scheme == "https",
                    cookie_domain=rules.cookie_domain,
                )
            )
        message["headers"] = headers
        mutable = MutableHeaders(scope=message)
        if is_html:
            self._prepare_rewrite(mutable)
        if self.rewrite is not None and self.rules.banner is not None:
            # The banner speaks the visitor's language.
            add_vary(mutable, "Cookie", "Accept-Language")
        elif is_html or result.consent_dependent or stale:
            add_vary(mutable, "Cookie")
        if is_html:
            make_private(mutable)

    def _has_stale_cookies(self) -> bool:
        request, rules = self.request, self.rules
        return request.has_cookies and bool(
            cookies_to_expire(
                request.cookies,
                decision=self.decision,
                policy=rules.policy,
                own_cookies=rules.own_cookies,
            )
        )

    async def _record_gpc(self, message: Message) -> None:
        cookie = await self.rules.recorder.record_gpc(self.request, self.decision)
        if cookie is not None:
            MutableHeaders(scope=message).append("set-cookie", cookie.decode("latin-1"))

    def _is_html(self, content_type: bytes, status: int) -> bool:
        """Whether the body is an HTML page to rewrite.

        ``application/xhtml+xml`` is left alone: browsers parse it as XML, where the
        injected HTML would break the page. So is partial content (206): its byte
        ranges and ``Content-Range`` describe the page as the app wrote it.
        """
        if not self.rules.rewrite_html or status in _NO_BODY_STATUS or status == 206:
            return False
        if content_type.lstrip()[:9].lower() != b"text/html":
            return False
        return content_type.split(b";", 1)[0].strip().lower() == b"text/html"

    def _prepare_rewrite(self, headers: MutableHeaders) -> None:
        encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
        codec = codec_for(encoding, self.rules.max_decoded_size)
        if codec is None:
            self.rules.warn_encoding(encoding)
            return
        rules, request, decision = self.rules, self.request, self.decision
        nonce = csp_nonce(headers.getlist("content-security-policy"))
        crawler = decision.crawler
        granted = decision.granted
        head_html = body_html = block_key = ""
        placeholder = default_placeholder
        if rules.banner is not None and rules.inject_banner and not crawler:
            banner = rules.banner
            ctx = banner.context(
                decision,
                accept_language=request.header("accept-language"),
                return_to=request.return_to,
                nonce=nonce,
            )
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
            trackers=rules.trackers,
            head_html=head_html,
            body_start_html=body_html,
            placeholder=placeholder,
            unclassified_category=rules.policy.unclassified,
            site_host=request.hostname,
            block_key=block_key,
        )
        charset = sniff_charset(headers.get("content-type"), b"")
        decoder, encoder = codec
        self.rewrite = _Rewrite(HTMLRewriter(plan, encoding=charset), decoder, encoder, encoding)
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
        if not self.started or (self.rewrite is not None and not self.ended):
            await self._body({"type": "http.response.body", "body": b"", "more_body": False})

    async def _flush_start(self) -> None:
        if not self.started and self.start is not None:
            self.started = True
            await self._send(self.start)

    # -- body ---------------------------------------------------------------------------

    async def _body(self, message: Message) -> None:
        rewrite = self.rewrite
        if rewrite is None:
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
        rewriter = rewrite.rewriter
        try:
            data = rewrite.decoder.decode(body) if body else b""
        except CorruptBody as exc:
            logger.warning(
                "could not decode a %r HTML body (%s): the response ends at the last good byte",
                rewrite.encoding,
                exc,
            )
            data, more = b"", False
        out = rewriter.feed(data) if data else b""
        if not more:
            self.ended = True
            out += rewriter.flush()
        payload = rewrite.encoder.encode(out, final=not more)
        if not self.started:
            if not more and self.start is not None:
                # One body: the exact new length is known.
                MutableHeaders(scope=self.start)["content-length"] = str(len(payload))
            await self._flush_start()
        if payload or not more:
            await self._send({"type": "http.response.body", "body": payload, "more_body": more})

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
