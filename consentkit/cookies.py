"""Cookie wire formats: parsing ``Cookie`` and ``Set-Cookie``, rendering and expiring.

This is the only module that knows how cookies look on the wire. Everything here is pure,
synchronous and tolerant: parsers never raise on malformed input, they return the safe
reading a browser would make of it (or ``None`` when a browser would ignore the header).

Parsing follows RFC 6265bis (the revision of RFC 6265 that browsers implement):

* a ``Set-Cookie`` value without ``=`` sets a *nameless* cookie (name ``""``), where RFC 6265
  ignored it; a nameless cookie is sent back as its bare value;
* a header containing a control character other than HTAB is ignored entirely;
* a name plus value longer than 4096 octets is ignored, and so is any attribute whose value is
  longer than 1024 octets;
* an empty ``Domain`` attribute means host-only, and the host-only flag is part of a cookie's
  identity (a host-only ``a`` and an ``a`` with ``Domain=`` the same host are two cookies).

Bytes are always decoded as latin-1, like ASGI servers and Starlette decode header values:
every byte sequence decodes, the result re-encodes to the same bytes, and one non-UTF-8 cookie
cannot change how its neighbours are read.

Public suffixes: :func:`expire_cookie_headers` never emits ``Domain=`` for a single-label name
(``com``, ``localhost``) nor for an entry of a small built-in list of common multi-label public
suffixes (``co.uk``, ``com.au``, ``github.io``, ...). It is not the full Public Suffix List; for
a suffix missing from it the only cost is one extra header that browsers reject.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Final, Literal, TypeAlias

from .cookie_dates import parse_cookie_date
from .domains import is_public_suffix

__all__ = [
    "MAX_ATTRIBUTE_OCTETS",
    "MAX_NAME_VALUE_OCTETS",
    "SameSite",
    "SetCookie",
    "canonical_deletion",
    "cookie_name_of_header",
    "expire_cookie_headers",
    "parse_cookie_date",
    "parse_cookie_header",
    "parse_cookie_pairs",
    "parse_set_cookie",
    "render_set_cookie",
    "request_paths",
]

SameSite: TypeAlias = Literal["lax", "strict", "none"]
"""A ``SameSite`` enforcement mode, lower-cased."""

MAX_NAME_VALUE_OCTETS: Final = 4096
"""Browsers ignore a cookie whose name and value together are longer than this."""

MAX_ATTRIBUTE_OCTETS: Final = 1024
"""Browsers ignore an attribute whose value is longer than this."""

_WSP: Final = " \t"
# RFC 6265bis rejects the whole header on any CTL except HTAB.
_CTL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_EPOCH: Final = "Thu, 01 Jan 1970 00:00:00 GMT"
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
_LATEST: Final = datetime.max.replace(tzinfo=UTC)
_SAME_SITE: Final[dict[str, SameSite]] = {"lax": "lax", "strict": "strict", "none": "none"}
_SAME_SITE_RENDERED: Final[dict[SameSite, str]] = {
    "lax": "Lax",
    "strict": "Strict",
    "none": "None",
}

# Server-side grammar of RFC 6265 section 4.1.1, used to validate what we render.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_VALUE: Final = re.compile(
    r'(?:[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")'
)
_DOMAIN: Final = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)
_PATH: Final = re.compile(r"/[\x20-\x3a\x3c-\x7e]*")

# --------------------------------------------------------------------------- helpers


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return value


def _octets(text: str) -> int:
    """Length on the wire: latin-1 octets, or UTF-8 for text latin-1 cannot carry."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("latin-1"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def _name_value(raw: str) -> tuple[str, str, str] | None:
    """Split a Set-Cookie value into (name, value, unparsed attributes), or None if ignored."""
    if _CTL.search(raw):
        return None
    pair, _, attributes = raw.partition(";")
    name, equals, value = pair.partition("=")
    if not equals:
        name, value = "", name
    name = name.strip(_WSP)
    value = value.strip(_WSP)
    if not name and not value:
        return None
    if _octets(name) + _octets(value) > MAX_NAME_VALUE_OCTETS:
        return None
    return name, value, attributes


# --------------------------------------------------------------------------- Cookie header


def parse_cookie_pairs(value: str | bytes) -> list[tuple[str, str]]:
    """Parse a request ``Cookie`` header into ``(name, value)`` pairs, duplicates kept in order.

    Pairs are split on ``;`` and on the first ``=``; whitespace around names and values is
    dropped; a pair without ``=`` is a nameless cookie (name ``""``). Values are returned as
    sent: quotes are kept and nothing is decoded. Never raises.
    """
    pairs: list[tuple[str, str]] = []
    for chunk in _text(value).split(";"):
        name, equals, val = chunk.partition("=")
        if equals:
            name = name.strip(_WSP)
            val = val.strip(_WSP)
        else:
            name, val = "", name.strip(_WSP)
        if name or val:
            pairs.append((name, val))
    return pairs


def parse_cookie_header(value: str | bytes) -> dict[str, str]:
    """Parse a request ``Cookie`` header into a mapping; the first occurrence of a name wins.

    Browsers send the cookie with the longest path first, so the first value is the most
    specific one. See :func:`parse_cookie_pairs` for the splitting rules. Never raises.
    """
    cookies: dict[str, str] = {}
    for name, val in parse_cookie_pairs(value):
        cookies.setdefault(name, val)
    return cookies


# --------------------------------------------------------------------------- Set-Cookie


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One parsed ``Set-Cookie`` header value.

    ``domain`` is ``None`` for a host-only cookie (no ``Domain`` attribute, or an empty one);
    otherwise it is lower-cased without its leading dot. ``path`` is ``None`` when the browser
    would use the default path (no ``Path`` attribute, or one not starting with ``/``).
    ``raw`` is the header value as received. ``expires_ambiguous`` is true when the
    ``Expires`` date is only a date under the lenient rules of RFC 6265bis (see
    :func:`parse_cookie_date`'s ``strict``): browsers may read it as no date at all.
    """

    name: str
    value: str
    domain: str | None = None
    path: str | None = None
    expires: datetime | None = None
    max_age: int | None = None
    secure: bool = False
    http_only: bool = False
    same_site: SameSite | None = None
    partitioned: bool = False
    raw: str = ""
    expires_ambiguous: bool = False

    def expiry(self, now: datetime) -> datetime | None:
        """When a browser receiving this header at *now* would drop the cookie.

        ``Max-Age`` wins over ``Expires``; ``None`` means a session cookie. A non-positive
        ``Max-Age`` gives the earliest representable time. Browsers also cap lifetimes
        (400 days in RFC 6265bis); that cap is not applied here.
        """
        if self.max_age is not None:
            if self.max_age <= 0:
                return _EARLIEST
            try:
                return now + timedelta(seconds=self.max_age)
            except OverflowError:
                return _LATEST
        return self.expires

    def is_deletion(self, now: datetime | None = None) -> bool:
        """Whether this header removes the cookie (it is already expired at *now*; the
        clock is read, when *now* is ``None``, only if an ``Expires`` date decides).

        An ambiguous ``Expires`` (see the class docstring) never counts: a browser that
        ignores it stores the cookie as a session cookie.
        """
        # What expiry(now) <= now answers, without the date arithmetic: a positive
        # Max-Age always ends after now, a non-positive one before.
        if self.max_age is not None:
            return self.max_age <= 0
        if self.expires is None or self.expires_ambiguous:
            return False
        return self.expires <= (now or datetime.now(UTC))


_MAX_AGE: Final = re.compile(r"-?[0-9]+")


def parse_set_cookie(value: str | bytes) -> SetCookie | None:
    """Parse a ``Set-Cookie`` header value as a browser does (RFC 6265bis section 5.6).

    Returns ``None`` when a browser would ignore the header: a control character other than
    HTAB anywhere, an empty name and value, or a name plus value over 4096 octets. Attribute
    names are case-insensitive, the last valid attribute of a kind wins, unknown attributes
    and invalid values (a bad date, a non-numeric ``Max-Age``) are ignored. Never raises.
    """
    raw = _text(value)
    split = _name_value(raw)
    if split is None:
        return None
    name, val, unparsed = split
    expires: datetime | None = None
    ambiguous = False
    max_age: int | None = None
    domain: str | None = None
    path: str | None = None
    same_site: SameSite | None = None
    flags: set[str] = set()
    for cookie_av in unparsed.split(";"):
        key, _, attribute = cookie_av.partition("=")
        key = key.strip(_WSP).lower()
        attribute = attribute.strip(_WSP)
        if _octets(attribute) > MAX_ATTRIBUTE_OCTETS:
            continue
        if key == "expires":
            date = parse_cookie_date(attribute)
            if date is not None:
                expires = date
                ambiguous = parse_cookie_date(attribute, strict=True) is None
        elif key == "max-age":
            if _MAX_AGE.fullmatch(attribute):
                max_age = int(attribute)
        elif key == "domain":
            # An empty Domain (or a lone ".") means host-only again in RFC 6265bis.
            domain = attribute.removeprefix(".").lower() or None
        elif key == "path":
            path = attribute if attribute.startswith("/") else None
        elif key == "samesite":
            same_site = _SAME_SITE.get(attribute.lower())
        elif key in ("secure", "httponly", "partitioned"):
            flags.add(key)
    return SetCookie(
        name=name,
        value=val,
        domain=domain,
        path=path,
        expires=expires,
        max_age=max_age,
        secure="secure" in flags,
        http_only="httponly" in flags,
        same_site=same_site,
        partitioned="partitioned" in flags,
        raw=raw,
        expires_ambiguous=ambiguous,
    )


def cookie_name_of_header(value: str | bytes) -> str | None:
    """Return only the cookie name a ``Set-Cookie`` value sets, or ``None`` if it is ignored.

    Agrees with ``parse_set_cookie(value).name`` (``None`` when that returns ``None``) while
    skipping the attributes, for the per-header hot path.
    """
    split = _name_value(_text(value))
    return None if split is None else split[0]


# --------------------------------------------------------------------------- rendering


def _check_attribute(label: str, text: str, pattern: re.Pattern[str], rule: str) -> None:
    if not pattern.fullmatch(text):
        raise ValueError(f"invalid cookie {label} {text!r}: {rule}")
    if _octets(text) > MAX_ATTRIBUTE_OCTETS:
        raise ValueError(
            f"cookie {label} is {_octets(text)} octets; browsers ignore attribute values "
            f"over {MAX_ATTRIBUTE_OCTETS}"
        )


def _prefix_rules(name: str, *, secure: bool, domain: str | None, path: str | None) -> None:
    lowered = name.lower()
    if lowered.startswith("__secure-") and not secure:
        raise ValueError(f"cookie {name!r}: the __Secure- prefix requires secure=True")
    if lowered.startswith("__host-") and not (secure and domain is None and path == "/"):
        raise ValueError(
            f"cookie {name!r}: the __Host- prefix requires secure=True, domain=None and path='/'"
        )


def render_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    http_only: bool = False,
    same_site: SameSite | None = "lax",
    partitioned: bool = False,
) -> str:
    """Render a ``Set-Cookie`` header value that browsers store exactly as asked.

    Validates against the server grammar of RFC 6265 section 4.1: *name* must be a token,
    *value* cookie-octets (optionally wrapped in double quotes), *domain* a host name and
    *path* start with ``/``. Also refuses what browsers would silently drop: oversize names,
    values or attributes, ``__Secure-``/``__Host-`` prefixes without their requirements, and
    ``SameSite=None`` or ``Partitioned`` without ``Secure``. ``expires`` must be timezone-aware
    and is written as an IMF-fixdate. Raises :class:`ValueError` naming the problem.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(
            f"invalid cookie name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only"
        )
    if not _COOKIE_VALUE.fullmatch(value):
        raise ValueError(
            f"invalid cookie value {value!r}: spaces, control characters, '\"', ',', ';' and "
            "'\\' are not allowed (quotes only around the whole value); encode the value, "
            "for example with base64"
        )
    if len(name) + len(value) > MAX_NAME_VALUE_OCTETS:
        raise ValueError(
            f"cookie {name!r} is {len(name) + len(value)} octets; browsers ignore cookies whose "
            f"name and value exceed {MAX_NAME_VALUE_OCTETS}"
        )
    parts = [f"{name}={value}"]
    if domain is not None:
        domain = domain.removeprefix(".").lower()
        _check_attribute("domain", domain, _DOMAIN, "expected a host name such as example.com")
        parts.append(f"Domain={domain}")
    if path is not None:
        _check_attribute("path", path, _PATH, "must start with '/' and contain no ';' or CTL")
        parts.append(f"Path={path}")
    if max_age is not None:
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise ValueError(f"max_age must be an int number of seconds, not {max_age!r}")
        parts.append(f"Max-Age={max_age}")
    if expires is not None:
        if expires.tzinfo is None or expires.utcoffset() is None:
            raise ValueError("expires must be a timezone-aware datetime (for example in UTC)")
        parts.append(f"Expires={format_datetime(expires.astimezone(UTC), usegmt=True)}")
    _prefix_rules(name, secure=secure, domain=domain, path=path)
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if same_site is not None:
        mode = _SAME_SITE.get(str(same_site).lower())
        if mode is None:
            raise ValueError(
                f"same_site must be 'lax', 'strict', 'none' or None, not {same_site!r}"
            )
        if mode == "none" and not secure:
            raise ValueError("same_site='none' requires secure=True: browsers reject it otherwise")
        parts.append(f"SameSite={_SAME_SITE_RENDERED[mode]}")
    if partitioned:
        if not secure:
            raise ValueError("partitioned=True requires secure=True: browsers reject it otherwise")
        parts.append("Partitioned")
    return "; ".join(parts)


# --------------------------------------------------------------------------- expiring


def request_paths(path: str | bytes) -> list[str]:
    """Cookie paths whose cookies a browser sends with a request for *path*.

    Pass the raw, still percent-encoded URL path (ASGI ``raw_path``): browsers compare paths
    without decoding. For ``/a/b/c`` this is ``["/", "/a", "/a/b", "/a/b/c"]``: every default
    path (RFC 6265 section 5.1.4: the request path up to its last ``/``) of a page at or below
    this one, plus the path itself. Variants with a trailing slash (``/a/``) only come from an
    explicit ``Path`` attribute and are left out to keep the count small; list them yourself if
    your site sets them. A query or fragment is ignored; anything not starting with ``/`` gives
    ``["/"]``.
    """
    text = _text(path).partition("?")[0].partition("#")[0]
    if not text.startswith("/"):
        return ["/"]
    candidates = ["/"]
    slash = text.find("/", 1)
    while slash != -1:
        candidates.append(text[:slash])
        slash = text.find("/", slash + 1)
    candidates.append(text)
    return list(dict.fromkeys(candidates))


def _canonical_host(request_host: str) -> tuple[str, bool]:
    """Return (host without port, lower-cased; whether it can only hold host-only cookies)."""
    host = request_host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]", True
    name, colon, port = host.rpartition(":")
    if colon and ":" not in name and port.isdigit():
        host = name
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host, True
    if host == "localhost" or host.endswith(".localhost") or "." not in host:
        return host, True
    return host, not _DOMAIN.fullmatch(host)


def _domain_candidates(
    host: str, host_only: bool, domains: Sequence[str | None] | None
) -> list[str | None]:
    if host_only:
        return [None]
    if domains is None:
        labels = host.split(".")
        parents = (".".join(labels[i:]) for i in range(len(labels) - 1))
        domains = [None, *parents]
    candidates: list[str | None] = []
    for domain in domains:
        if domain is None:
            candidates.append(None)
            continue
        domain = domain.strip().removeprefix(".").lower()
        if not domain:
            candidates.append(None)
        elif (
            (host == domain or host.endswith("." + domain))
            and not is_public_suffix(domain)
            and _DOMAIN.fullmatch(domain)
        ):
            candidates.append(domain)
    return list(dict.fromkeys(candidates))


def _expressible(name: str) -> bool:
    """Whether a browser could hold a cookie named *name* (so a header can address it)."""
    return (
        name == name.strip(_WSP)
        and not _CTL.search(name)
        and ";" not in name
        and "=" not in name
        and _octets(name) < MAX_NAME_VALUE_OCTETS
        and _is_latin1(name)
    )


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _valid_paths(paths: Iterable[str]) -> list[str]:
    valid = (p for p in paths if _PATH.fullmatch(p) and _octets(p) <= MAX_ATTRIBUTE_OCTETS)
    return list(dict.fromkeys(valid))


def expire_cookie_headers(
    name: str,
    *,
    request_host: str,
    paths: Sequence[str] = ("/",),
    domains: Sequence[str | None] | None = None,
    secure: bool = False,
) -> list[str]:
    """``Set-Cookie`` values that delete cookie *name*, whatever domain and path it was set with.

    A browser keys a cookie by name, domain, host-only flag and path, and never tells the
    server which ones a cookie has, so one header is produced per candidate domain and path:

    * domains: host-only, plus ``Domain=`` the request host and each parent domain below the
      public suffix (``a.shop.example.co.uk`` gives the host, ``shop.example.co.uk`` and
      ``example.co.uk``). IP addresses, ``localhost`` and single-label hosts get host-only only.
      Pass *domains* to choose the candidates yourself (``None`` means host-only); entries the
      request host could not have set are dropped.
    * paths: each of *paths* (see :func:`request_paths`); invalid ones are dropped.

    ``__Host-`` cookies can only live at host-only ``Path=/`` with ``Secure``, so they get that
    one header; ``__Secure-`` cookies always get ``Secure``. Pass ``secure=True`` on HTTPS
    requests: browsers only let secure origins touch ``Secure`` cookies. Headers carry an empty
    value (``deleted`` for a nameless cookie, which an empty value cannot address),
    ``Max-Age=0`` and an Expires in 1970. Returns ``[]`` for a name no browser could hold
    (with ``;``, ``=``, control characters or surrounding whitespace). Partitioned cookies are
    not covered.
    """
    if not _expressible(name):
        return []
    lowered = name.lower()
    if lowered.startswith("__host-"):
        return [_expiry_header(name, None, "/", secure=True)]
    secure = secure or lowered.startswith("__secure-")
    host, host_only = _canonical_host(request_host)
    candidates = _domain_candidates(host, host_only, domains)
    headers = (
        _expiry_header(name, domain, path, secure=secure)
        for domain in candidates
        for path in _valid_paths(paths)
    )
    return list(dict.fromkeys(headers))


def _expiry_header(
    name: str, domain: str | None, path: str | None, *, secure: bool, partitioned: bool = False
) -> str:
    value = "" if name else "deleted"
    parts = [f"{name}={value}", "Max-Age=0", f"Expires={_EPOCH}"]
    if domain is not None:
        parts.append(f"Domain={domain}")
    if path is not None:
        parts.append(f"Path={path}")
    if secure:
        parts.append("Secure")
    if partitioned and secure:
        parts.append("Partitioned")
    return "; ".join(parts)


def canonical_deletion(cookie: SetCookie) -> str:
    """The one deleting ``Set-Cookie`` value for the cookie *cookie* addresses.

    ``name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`` with the original
    ``Domain`` and ``Path`` (and ``Secure``/``Partitioned``, which a browser needs to let
    the header touch such a cookie). Whatever value, date or attribute the original carried
    is gone, so a header that only looks like a deletion cannot set anything.
    """
    lowered = cookie.name.lower()
    secure = cookie.secure or lowered.startswith(("__secure-", "__host-"))
    return _expiry_header(
        cookie.name, cookie.domain, cookie.path, secure=secure, partitioned=cookie.partitioned
    )
