"""What a response must become, decided without ASGI or WSGI: headers first, then the body.

:class:`ResponseRules` is what every response of the site is held to (built once);
:class:`ResponseEditor` applies them to one response. Given the status and raw headers it
filters ``Set-Cookie`` lines, expires refused cookies, adds the cache headers and decides
whether the body is HTML to rewrite; then :meth:`ResponseEditor.body` turns each body chunk
into the bytes to send. The ASGI responder and the WSGI middleware only move bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..consent_mode import advanced_mode_providers
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
from .banner import Banner, BannerContext
from .declaration import Declaration
from .encodings import DEFAULT_MAX_DECODED, CorruptBody, Decoder, Encoder, codec_for
from .headers import RawHeaders, add_vary, csp_nonce, make_private
from .i18n import LANGUAGE_STATE_KEY, preferring
from .recorder import Recorder
from .request import RequestInfo
from .third_party import UnknownHosts
from .unclassified import UnclassifiedReport

__all__ = ["ResponseEditor", "ResponseRules"]

logger = logging.getLogger("consentkit")

_NO_BODY_STATUS: Final = frozenset({204, 304})

RawList = list[tuple[bytes, bytes]]


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
        declaration: records the cookie names responses set, for the declaration.
        unknown_hosts: judges script and frame hosts no tracker matches.
        cookie_domain: the configured ``cookie_domain``: expiry lines name it, never the
            raw ``Host`` header's parents.
        max_decoded_size: the most bytes one compressed HTML body may decode to; above
            it the body ends at the last byte within the limit (fail closed).
    """

    policy: Policy
    own_cookies: frozenset[str]
    trackers: TrackerIndex
    recorder: Recorder
    unclassified: UnclassifiedReport
    banner: Banner | None
    declaration: Declaration | None = None
    unknown_hosts: UnknownHosts | None = None
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


class ResponseEditor:
    """One response's edits: :meth:`headers` once, then :meth:`body` per chunk.

    After :meth:`headers`, :attr:`rewriting` says whether the body goes through the
    rewriter; when it does not, the adapter passes the body on untouched.
    """

    __slots__ = ("decision", "ended", "request", "rewrite", "rules")

    def __init__(self, rules: ResponseRules, request: RequestInfo, decision: Decision) -> None:
        self.rules = rules
        self.request = request
        self.decision = decision
        self.rewrite: _Rewrite | None = None
        self.ended = False

    @property
    def rewriting(self) -> bool:
        return self.rewrite is not None

    # -- headers ------------------------------------------------------------------------

    def headers(self, status: int, raw: RawList) -> RawList:
        """The headers to send instead of *raw* (which is left as it was)."""
        rules, request, decision = self.rules, self.request, self.decision
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
        is_html = self._is_html(content_type, status)
        if not sets_cookies and not is_html and not self._has_stale_cookies():
            return raw
        result = enforce_set_cookies(
            list(raw), decision=decision, policy=rules.policy, own_cookies=rules.own_cookies
        )
        if result.unclassified:
            rules.unclassified.add(result.unclassified)
        if result.undeclared:
            rules.unclassified.add_undeclared(result.undeclared)
        if result.seen and rules.declaration is not None:
            rules.declaration.observe(result.seen)
        stale = cookies_to_expire(
            request.cookies,
            decision=decision,
            policy=rules.policy,
            own_cookies=rules.own_cookies,
            being_set=result.kept,
        )
        edited = result.headers
        if stale:
            edited.extend(
                expiry_headers(
                    stale,
                    policy=rules.policy,
                    host=request.hostname,
                    path=request.path,
                    secure=request.scheme == "https",
                    cookie_domain=rules.cookie_domain,
                )
            )
        headers = RawHeaders(edited)
        if is_html:
            self._prepare_rewrite(headers)
        if self.rewrite is not None and self.rules.banner is not None:
            # The banner speaks the visitor's language.
            add_vary(headers, "Cookie", "Accept-Language")
        elif is_html or result.consent_dependent or stale:
            add_vary(headers, "Cookie")
        if is_html:
            make_private(headers)
        return headers.raw

    def records_gpc(self) -> bool:
        """Whether this page view records a GPC signal (call :meth:`record_gpc`, blocking)."""
        return self.rewrite is not None and self.rules.recorder.records_gpc(
            self.request, self.decision
        )

    def record_gpc(self, headers: RawList) -> None:
        """Record the GPC receipt; add the consent cookie remembering it to *headers*."""
        cookie = self.rules.recorder.record_gpc(self.request, self.decision)
        if cookie is not None:
            headers.append((b"set-cookie", cookie))

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

    def _prepare_rewrite(self, headers: RawHeaders) -> None:
        encoding = (headers.get("content-encoding") or "identity").strip().lower() or "identity"
        codec = codec_for(encoding, self.rules.max_decoded_size)
        if codec is None:
            self.rules.warn_encoding(encoding)
            return
        rules, request, decision = self.rules, self.request, self.decision
        nonce = csp_nonce(headers.getlist("content-security-policy"))
        head_html = body_html = block_key = ""
        placeholder = default_placeholder
        body_for_lang: Callable[[str], str] | None = None
        if rules.banner is not None and rules.inject_banner and not decision.crawler:
            banner = rules.banner
            # The app's choice for this response, then the page's <html lang>, then
            # the visitor's Accept-Language: the first the banner offers wins.
            override = (request.scope.get("state") or {}).get(LANGUAGE_STATE_KEY)
            accept = request.header("accept-language")

            def context(html_lang: str = "") -> BannerContext:
                return banner.context(
                    decision,
                    accept_language=preferring(override, html_lang, accept_language=accept),
                    return_to=request.return_to,
                    nonce=nonce,
                )

            ctx = context()
            head_html = banner.head_html(ctx)
            # This response's key for what it blocks, right after the banner script.
            block_key = new_block_key()
            key_html = block_key_html(block_key)
            body_html = banner.body_html(ctx) + key_html
            language = [ctx.language]

            def body_for_lang(html_lang: str) -> str:
                page_ctx = context(html_lang)
                language[0] = page_ctx.language
                return banner.body_html(page_ctx) + key_html

            def placeholder(blocked: Blocked) -> str:
                return banner.placeholder_html(
                    provider=blocked.provider,
                    category=blocked.category,
                    src=blocked.url,
                    language=language[0],
                    granted=decision.granted,
                    return_to=request.return_to,
                    service=blocked.service,
                )

        plan = RewritePlan(
            granted=decision.granted,
            services=rules.policy.service_index,
            service_answers=decision.service_exceptions(),
            preconsent_providers=advanced_mode_providers(
                rules.policy.consent_mode,
                decided=decision.decided or decision.crawler,
                gpc=decision.gpc,
            ),
            trackers=rules.trackers,
            head_html=head_html,
            body_start_html=body_html,
            body_start_html_for_lang=body_for_lang,
            placeholder=placeholder,
            unclassified_category=rules.policy.unclassified,
            site_host=request.hostname,
            unknown_source=(
                rules.unknown_hosts.for_site(request.hostname) if rules.unknown_hosts else None
            ),
            block_key=block_key,
        )
        charset = sniff_charset(headers.get("content-type"), b"")
        decoder, encoder = codec
        self.rewrite = _Rewrite(HTMLRewriter(plan, encoding=charset), decoder, encoder, encoding)
        # The body changes length; a HEAD answer cannot know the new one either. The
        # app's validators describe its bytes, not ours: a 304 for them could revive
        # a copy rewritten under another consent state.
        for name in ("content-length", "etag", "last-modified"):
            del headers[name]

    # -- body ---------------------------------------------------------------------------

    def body(self, chunk: bytes, more: bool) -> tuple[bytes, bool]:
        """``(bytes to send, more to come)`` for one chunk of a body being rewritten.

        ``more`` turns false early when a compressed body cannot be decoded: the
        response ends at the last good byte. A ``HEAD`` answer gets no body.
        """
        rewrite = self.rewrite
        if rewrite is None or self.ended:
            return b"", False
        if self.request.method == "HEAD":
            # Headers only: a body some apps write anyway was never rewritten.
            self.ended = not more
            return b"", more
        try:
            data = rewrite.decoder.decode(chunk) if chunk else b""
        except CorruptBody as exc:
            logger.warning(
                "could not decode a %r HTML body (%s): the response ends at the last good byte",
                rewrite.encoding,
                exc,
            )
            data, more = b"", False
        out = rewrite.rewriter.feed(data) if data else b""
        if not more:
            self.ended = True
            out += rewrite.rewriter.flush()
        return rewrite.encoder.encode(out, final=not more), more
