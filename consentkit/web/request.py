"""``RequestInfo``: what the web layer needs from a request, read in one pass.

It reads an ASGI scope; a WSGI environ is first turned into the few scope keys it uses
(:meth:`RequestInfo.from_environ`), so everything downstream sees one request shape.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from ..cookies import parse_cookie_pairs
from ..decision import Decision, token_in
from ..memo import Memo
from ..speedups import native
from .headers import header_value

__all__ = ["CookieRead", "CookieReads", "RequestInfo", "cookie_reads"]


_READ: Final = frozenset(
    {b"cookie", b"host", b"user-agent", b"accept-language", b"sec-gpc", b"dnt"}
)
"""The request headers read when some come more than once (ASGI names are lower case)."""
_READ_MAX: Final = 1024
_READ_LONGEST: Final = 4096


class CookieRead:
    """What one ``Cookie`` header says, remembered per header (a visitor sends the same one
    with every request): the consent token (``None`` when absent or duplicated) and the
    cookies, the first occurrence of a name winning. The dictionary is shared: read it,
    never change it. :attr:`decided` is where the decision's core remembers what the
    header decides when nothing else does (one region, no signal)."""

    __slots__ = ("cookies", "decided", "token")

    def __init__(self, token: str | None, cookies: dict[str, str]) -> None:
        self.token = token
        self.cookies = cookies
        self.decided: tuple[object, Decision, float, float] | None = None
        """``(owner, decision, valid from, valid until)``, set by the owner only."""


CookieReads = Memo[bytes, CookieRead]
"""The ``Cookie`` headers read lately for one consent cookie name (long ones are not
kept). Each :class:`~.core.ConsentCore` keeps its own; requests built without one share
one per name."""


def cookie_reads() -> CookieReads:
    """An empty memo of ``Cookie`` headers, bounded."""
    return Memo(_READ_MAX)


_shared_reads: dict[str, CookieReads] = {}


def _read_cookies(header: bytes, cookie_name: str, reads: CookieReads) -> CookieRead:
    """*header* read for *cookie_name* (remembered in *reads*)."""
    found = reads.get(header)
    if found is None:
        pairs = parse_cookie_pairs(header)
        cookies: dict[str, str] = {}
        for pair_name, pair_value in pairs:
            cookies.setdefault(pair_name, pair_value)
        found = CookieRead(token_in(pairs, cookie_name), cookies)
        if len(header) <= _READ_LONGEST:
            reads.put(header, found)
    return found


def _read_repeated(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The headers read, by name, when some come more than once: ``Cookie`` lines joined
    (HTTP/2 splits them), the last ``Host`` and ``User-Agent``, the first
    ``Accept-Language``, and ``Sec-GPC``/``DNT`` present when sent at all."""
    cookie_parts: list[bytes] = []
    found: dict[bytes, bytes] = {}
    for key, value in headers:
        if key not in _READ:
            continue
        if key == b"cookie":
            cookie_parts.append(value)
        elif key != b"accept-language" or key not in found:
            found[key] = value
    if cookie_parts:
        found[b"cookie"] = b"; ".join(cookie_parts)
    return found


_NO_COOKIES: Final[dict[str, str]] = {}
"""The cookies of a request without any (shared: never changed)."""


class _PyRequestCore:
    """The slots of :class:`RequestInfo` and its pure-Python reading."""

    __slots__ = (
        "_cookies",
        "consent_token",
        "cookie_header",
        "cookie_name",
        "found",
        "headers",
        "read",
        "scope",
    )

    scope: MutableMapping[str, Any]
    cookie_name: str
    headers: list[tuple[bytes, bytes]]
    found: dict[bytes, bytes]
    """The headers read, by (lower-case) name: at least those :func:`_read_repeated`
    reads, with its rules for names sent more than once. Read only."""
    cookie_header: bytes
    """The ``Cookie`` header (lines joined), empty when none came."""
    read: CookieRead | None
    """The ``Cookie`` header's reading (``None`` when none came)."""
    consent_token: str | None
    _cookies: Mapping[str, str]

    def __init__(
        self,
        scope: MutableMapping[str, Any],
        cookie_name: str,
        reads: CookieReads | None = None,
    ) -> None:
        """A :class:`RequestInfo`'s slots, read from *scope* in one pass over the headers.

        The pure-Python reading. The compiled ``RequestCore`` (:mod:`consentkit.speedups`)
        reads the usual request itself and hands anything else to this method.
        """
        self.scope = scope
        self.cookie_name = cookie_name
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        if type(headers) is not list:
            headers = list(headers)
        self.headers = headers
        # The usual request sends no header twice: one pass in C, then lookups.
        found = dict(headers)
        if len(found) != len(headers):
            found = _read_repeated(headers)
        self.found = found
        cookie_header = found.get(b"cookie")
        if cookie_header:
            self.cookie_header = cookie_header
            # Split once (remembered per header) for the consent token and the cookies.
            # Duplicates of our cookie read as no decision (cookie tossing).
            if reads is None:
                reads = _shared_reads.get(cookie_name)
                if reads is None:
                    reads = _shared_reads.setdefault(cookie_name, cookie_reads())
            read = reads.get(cookie_header)
            if read is None:
                read = _read_cookies(cookie_header, cookie_name, reads)
            self.read = read
            self.consent_token = read.token
            self._cookies = read.cookies
        else:
            self.cookie_header = b""
            self.read = None
            self.consent_token = None
            self._cookies = _NO_COOKIES


if TYPE_CHECKING or native is None:
    _RequestCore = _PyRequestCore
else:
    _RequestCore = native.RequestCore
    native.bind(
        request_fallback=_PyRequestCore.__init__, read_cookies=_read_cookies, no_cookies=_NO_COOKIES
    )


class RequestInfo(_RequestCore):
    """What the middleware needs from a request: one pass over the headers, the rest lazy.

    ``RequestInfo(scope, cookie_name, reads=None)``: *reads* is the site's memo of
    ``Cookie`` headers (:meth:`~.core.ConsentCore.cookie_reads`); without one, requests
    share one per cookie name.
    """

    __slots__ = ()

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, Any], cookie_name: str, reads: CookieReads | None = None
    ) -> RequestInfo:
        """The request of a WSGI *environ* (PEP 3333: header values are latin-1 strings)."""
        # A server that broke PEP 3333's latin-1 rule must not turn a request into a 500.
        headers = [
            (
                key[5:].replace("_", "-").lower().encode("latin-1"),
                value.encode("latin-1", "replace"),
            )
            for key, value in environ.items()
            if key[:5] == "HTTP_" and isinstance(value, str)
        ]
        for key, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
            value = environ.get(key)
            if value:
                headers.append((name, str(value).encode("latin-1", "replace")))
        # PATH_INFO holds the raw bytes as latin-1; ASGI paths are UTF-8 text.
        path = environ.get("PATH_INFO", "") or "/"
        with suppress(UnicodeEncodeError):  # already text: a server that decoded it itself
            path = path.encode("latin-1").decode("utf-8", "replace")
        remote = environ.get("REMOTE_ADDR")
        scope = {
            "type": "http",
            "method": environ.get("REQUEST_METHOD", "GET").upper(),
            "path": path,
            "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
            "headers": headers,
            "scheme": environ.get("wsgi.url_scheme", "http"),
            "client": (remote, 0) if remote else None,
            "server": (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")),
        }
        return cls(scope, cookie_name, reads)

    @property
    def path(self) -> str:
        return str(self.scope.get("path", "/"))

    @property
    def method(self) -> str:
        return str(self.scope.get("method", "GET"))

    @property
    def user_agent(self) -> bytes:
        """The ``User-Agent`` header as sent (empty when absent)."""
        return self.found.get(b"user-agent", b"")

    @property
    def signals_sent(self) -> bool:
        """Whether ``Sec-GPC`` or ``DNT`` came at all (read by
        :func:`~consentkit.jurisdiction.read_signals`)."""
        found = self.found
        return b"sec-gpc" in found or b"dnt" in found

    @property
    def host(self) -> str:
        host = self.found.get(b"host")
        if host:
            return host.decode("latin-1")
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

    @property
    def accept_language(self) -> str | None:
        """The first ``Accept-Language`` header, if any (read in the one pass)."""
        found = self.found.get(b"accept-language")
        return None if found is None else found.decode("latin-1")

    @property
    def has_cookies(self) -> bool:
        """Whether the request carried a ``Cookie`` header at all."""
        return bool(self.cookie_header)

    @property
    def cookies(self) -> Mapping[str, str]:
        """The request's cookies (the first occurrence of a name wins).

        Read-only: the mapping may be shared with other requests carrying the same header.
        """
        return self._cookies

    def header(self, name: str) -> str | None:
        """The first value of request header *name* (any spelling), else ``None``."""
        return header_value(self.headers, name)

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
