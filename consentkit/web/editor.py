"""What a response must become, decided without ASGI or WSGI: headers first, then the body.

:class:`ResponseEditor` applies the site's :class:`~.rules.ResponseRules` to one response.
Given the status and raw headers it filters ``Set-Cookie`` lines, expires refused
cookies, adds the cache headers and decides whether the body is HTML to rewrite; then
:meth:`ResponseEditor.body` turns each body chunk into the bytes to send. The ASGI
responder and the WSGI middleware only move bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, NamedTuple

from ..decision import Decision
from ..enforcement import (
    cookies_to_expire,
    enforce_set_cookies,
    expiry_headers,
)
from ..memo import Memo
from ..mime import SNIFF_BYTES, extract_mime_type, sniffs_as_html
from ..rewriter import (
    Blocked,
    HTMLRewriter,
    sniff_charset,
)
from ..speedups import native
from .declaration import Declaration
from .encodings import (
    CorruptBody,
    Decoder,
    Encoder,
    codec_for,
)
from .headers import RawHeaders, add_vary, csp_nonce, header_value, make_private
from .plans import page_plan
from .request import RequestInfo
from .rules import ResponseRules

__all__ = ["ResponseEditor"]

logger = logging.getLogger("consentkit")

_NO_BODY_STATUS: Final = frozenset({204, 304})
_NOT_REWRITTEN: Final = _NO_BODY_STATUS | {206}
"""Statuses whose body is never rewritten: none, or a range of the app's page."""
_VARY_BANNER: Final = ("Cookie", "Accept-Language")
_REWRITTEN_DROPS: Final = frozenset({b"content-length", b"etag", b"last-modified"})
"""What a rewritten body's headers lose: its length and the app's validators."""
_WITHHELD_DROPS: Final = _REWRITTEN_DROPS | {b"content-encoding"}

RawList = list[tuple[bytes, bytes]]


class _Rewrite(NamedTuple):
    """An HTML body being rewritten: the rewriter and the body's content codec."""

    rewriter: HTMLRewriter
    decoder: Decoder
    encoder: Encoder
    encoding: str


@dataclass(eq=False)
class _Sniff:
    """A body without ``Content-Type`` being held for sniffing, with its (held) headers."""

    headers: RawHeaders
    data: bytearray = field(default_factory=bytearray)

    def decoded(self) -> bytes:
        """The bytes held so far as the browser sniffs them: after ``Content-Encoding``."""
        encoding = (self.headers.get("content-encoding") or "identity").strip().lower()
        codec = codec_for(encoding or "identity", 64 * SNIFF_BYTES)
        if codec is None:  # pragma: no cover - such a body is withheld, never sniffed
            return bytes(self.data)
        try:
            return codec[0].decode(bytes(self.data))
        except CorruptBody:
            return bytes(self.data)


_html_types: Memo[bytes, bool] = Memo(512)
if native is not None:
    native.bind(html_types=_html_types)
_read_headers = None if native is None else native.read_response_headers


def _is_html(content_type: bytes) -> bool:
    """Whether a (combined) ``Content-Type`` value makes a body HTML to rewrite: essence
    ``text/html``, or no valid MIME type at all. Remembered: sites send a handful."""
    found = _html_types.get(content_type)
    if found is None:
        mime = extract_mime_type(content_type)
        found = _html_types.put(content_type, mime is None or mime.essence == "text/html")
    return found


@lru_cache(maxsize=512)
def _header_charset(content_type: str) -> str | None:
    """The charset a ``Content-Type`` value names (see :func:`sniff_charset`), remembered."""
    return sniff_charset(content_type, b"")


def _undecodable(headers: RawHeaders) -> bool:
    """Whether the body's ``Content-Encoding`` is one consentkit cannot decode."""
    encoding = (headers.get("content-encoding") or "identity").strip().lower() or "identity"
    return codec_for(encoding, SNIFF_BYTES) is None


def _browser_sniffs(raw: RawList, status: int) -> bool:
    """Whether a browser would sniff a body without ``Content-Type`` for HTML: a status
    with a body, not partial, and no ``X-Content-Type-Options: nosniff``."""
    if status in _NO_BODY_STATUS or status == 206:
        return False
    options = header_value(raw, "x-content-type-options") or ""
    return options.split(",", 1)[0].strip().lower() != "nosniff"


def _observe_services(declaration: Declaration | None, blocked: Sequence[Blocked]) -> None:
    """Tell the declaration which services a page embeds (seen when blocked), so the
    preferences centre lists them even when they set no cookie."""
    if declaration is not None and blocked:
        declaration.observe_services(b.service for b in blocked if b.service)


class Reading(NamedTuple):
    """What the headers say about a response that does not pass as it is."""

    content_type: bytes | None
    """Every ``Content-Type`` line as one value, as Fetch reads them (``None``: none)."""
    is_html: bool
    """A page to rewrite. The MIME type is extracted as Fetch does
    (:func:`~consentkit.mime.extract_mime_type`): essence ``text/html`` is HTML, and so is a
    ``Content-Type`` with no valid MIME type at all (``text/html x``), which a browser
    sniffs and renders as HTML. ``application/xhtml+xml`` is left alone: browsers parse
    it as XML, where the injected HTML would break the page. So is partial content (206):
    its byte ranges and ``Content-Range`` describe the page as the app wrote it."""
    sniff: bool
    """No ``Content-Type``: the first bytes decide, as a browser sniffs them."""


def read_response(
    rules: ResponseRules, request: RequestInfo, decision: Decision, status: int, raw: RawList
) -> Reading | None:
    """``None`` when a response goes out exactly as the app wrote it: it sets no cookie,
    the visitor has none to expire, and it is neither a page to rewrite nor a body to
    sniff. That is most API and asset responses, and the adapters then build no editor.
    Otherwise what :meth:`ResponseEditor.edit` needs from the headers."""
    found = None if _read_headers is None else _read_headers(raw)
    if found is None:
        content_type, sets_cookies = _read_response_headers(raw)
    else:
        content_type, sets_cookies = found
    if content_type is not None:
        is_html = _html_types.get(content_type)
        if is_html is None:
            is_html = _is_html(content_type)
        if is_html and rules.rewrite_html and status not in _NOT_REWRITTEN:
            return Reading(content_type, True, False)
    elif rules.rewrite_html and request.method != "HEAD" and _browser_sniffs(raw, status):
        return Reading(None, False, True)
    if sets_cookies or (
        request.cookie_header
        and not decision.grants_all
        and _has_stale_cookies(rules, request, decision)
    ):
        return Reading(content_type, False, False)
    return None


def _read_response_headers(raw: RawList) -> tuple[bytes | None, bool]:
    """The ``Content-Type`` lines (any spelling) joined with ``", "``, as Fetch reads
    them, and whether a ``Set-Cookie`` line came (the compiled twin:
    ``consentkit_speedups.read_response_headers``)."""
    content_type: bytes | None = None
    sets_cookies = False
    for key, value in raw:
        # Any spelling of the two names; only a name of their length is lowered.
        size = len(key)
        if size == 12:
            if key.lower() == b"content-type":
                content_type = value if content_type is None else content_type + b", " + value
        elif size == 10 and key.lower() == b"set-cookie":
            sets_cookies = True
    return content_type, sets_cookies


def _has_stale_cookies(rules: ResponseRules, request: RequestInfo, decision: Decision) -> bool:
    """Whether the visitor's cookies include some its decision refuses (they are expired);
    the caller has checked that it sent cookies and is not granted everything."""
    return bool(
        cookies_to_expire(
            request.cookies, decision=decision, policy=rules.policy, own_cookies=rules.own_cookies
        )
    )


class ResponseEditor:
    """One response's edits: :meth:`headers` once, then :meth:`body` per chunk.

    After :meth:`headers`, :attr:`rewriting` says whether the body goes through the
    rewriter; when it does not, the adapter passes the body on untouched.
    """

    __slots__ = ("decision", "ended", "plain", "request", "rewrite", "rules", "sniff", "withheld")

    def __init__(self, rules: ResponseRules, request: RequestInfo, decision: Decision) -> None:
        self.rules = rules
        self.request = request
        self.decision = decision
        self.rewrite: _Rewrite | None = None
        self.withheld = False
        """An HTML body this response cannot rewrite: nothing of it is sent."""
        self.sniff: _Sniff | None = None
        """A body without ``Content-Type`` whose first bytes decide whether it is HTML."""
        self.plain = False
        """A sniffed body that is not HTML: it passes through :meth:`body` untouched."""
        self.ended = False

    @property
    def rewriting(self) -> bool:
        """Whether the body goes through :meth:`body` (rewritten, withheld or sniffed)."""
        return self.rewrite is not None or self.withheld or self.sniff is not None or self.plain

    @property
    def resized(self) -> bool:
        """Whether the body sent differs from the app's (its length must be recomputed)."""
        return self.rewrite is not None or self.withheld

    # -- headers ------------------------------------------------------------------------

    def headers(self, status: int, raw: RawList) -> RawList:
        """The headers to send instead of *raw* (which is left as it was)."""
        reading = read_response(self.rules, self.request, self.decision, status, raw)
        return raw if reading is None else self.edit(raw, reading)

    def edit(self, raw: RawList, reading: Reading) -> RawList:
        """:meth:`headers` for a response :func:`read_response` did not let pass."""
        rules, request, decision = self.rules, self.request, self.decision
        content_type, is_html, sniff = reading
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
        if sniff and _undecodable(headers):
            # A browser decodes what consentkit cannot, then sniffs the page it finds and
            # runs its trackers: such a body is withheld like undecodable HTML (fail closed).
            is_html, sniff = True, False
        if is_html:
            self._prepare_rewrite(headers, (content_type or b"").decode("latin-1"))
        elif sniff:
            # Held until the first bytes tell (see :meth:`body`): the adapters send the
            # headers with the first bytes out, so this list can still change.
            self.sniff = _Sniff(headers)
        self._page_headers(headers, is_html, result.consent_dependent or bool(stale))
        return headers.raw

    def _page_headers(self, headers: RawHeaders, is_html: bool, depends: bool) -> None:
        """``Vary`` and ``Cache-Control`` for a page (or an answer that depends on consent)."""
        if self.rewrite is not None and self.rules.banner is not None:
            # The banner speaks the visitor's language.
            add_vary(headers, *_VARY_BANNER)
        elif is_html or depends:
            add_vary(headers, "Cookie")
        if is_html:
            make_private(headers)

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

    def _prepare_rewrite(self, headers: RawHeaders, content_type: str) -> None:
        encoding = "identity"
        if headers.has(b"content-encoding"):
            encoding = (headers.get("content-encoding") or "").strip().lower() or "identity"
        codec = codec_for(encoding, self.rules.max_decoded_size)
        if codec is None:
            # Fail closed: the browser can decode what we cannot, and would run it live.
            self.rules.warn_encoding(encoding)
            self.withheld = True
            headers.drop(_WITHHELD_DROPS)
            return
        nonce = None
        if headers.has(b"content-security-policy"):
            nonce = csp_nonce(headers.getlist("content-security-policy"))
        plan = page_plan(self.rules, self.request, self.decision, nonce)
        charset = _header_charset(content_type)
        decoder, encoder = codec
        self.rewrite = _Rewrite(HTMLRewriter(plan, encoding=charset), decoder, encoder, encoding)
        # The body changes length; a HEAD answer cannot know the new one either. The
        # app's validators describe its bytes, not ours: a 304 for them could revive
        # a copy rewritten under another consent state.
        headers.drop(_REWRITTEN_DROPS)

    # -- body ---------------------------------------------------------------------------

    def _sniffed(self, chunk: bytes, more: bool) -> tuple[bytes, bool]:
        """Hold a body without ``Content-Type`` until its first bytes say whether a browser
        renders it as HTML; then rewrite it, or pass it through untouched."""
        sniff = self.sniff
        if sniff is None:  # only called while sniffing
            return chunk, more
        sniff.data += chunk
        verdict = sniffs_as_html(sniff.decoded(), complete=not more)
        if verdict is None and more and len(sniff.data) < 4 * SNIFF_BYTES:
            return b"", True
        self.sniff = None
        data = bytes(sniff.data)
        if verdict is False:
            self.plain = True
            return self.body(data, more)
        # HTML (or still undecided after whitespace only: rewriting that is harmless). Say
        # so: the markup put in front of the page's own would change what a browser sniffs.
        sniff.headers["content-type"] = "text/html"
        self._prepare_rewrite(sniff.headers, "")
        self._page_headers(sniff.headers, True, False)
        return self.body(data, more)

    def body(self, chunk: bytes, more: bool) -> tuple[bytes, bool]:
        """``(bytes to send, more to come)`` for one chunk of a body being rewritten.

        ``more`` turns false early when a compressed body cannot be decoded: the
        response ends at the last good byte. A ``HEAD`` answer gets no body.
        """
        if self.sniff is not None:
            return self._sniffed(chunk, more)
        if self.plain:
            self.ended = not more
            return chunk, more
        rewrite = self.rewrite
        if rewrite is None or self.ended:
            self.ended = True  # withheld, or already over
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
            _observe_services(self.rules.declaration, rewrite.rewriter.stats.blocked)
        if rewrite.rewriter.refused and not self.ended:
            # Not a page the rewriter can read (the ``replacement`` encoding): fail closed
            # as an undecodable body does, with nothing sent.
            logger.warning("an HTML body in an encoding that cannot be rewritten is withheld")
            self.ended = True
            more = False
        return rewrite.encoder.encode(out, final=not more), more
