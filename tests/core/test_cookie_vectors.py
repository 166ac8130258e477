"""Third-party conformance vectors for the cookie parsers (skipped when the data is absent).

* http-state parser vectors: Set-Cookie lines sent by a server and the Cookie header a browser
  then sends. A tiny cookie jar (below) stores what ``parse_set_cookie`` reads and serialises
  the Cookie header, so the parser is checked end to end.
* http-state date vectors: ``parse_cookie_date``.
* web-platform-tests cookie value vectors: name/value parsing under RFC 6265bis.

The http-state suite follows RFC 6265 (2011); consentkit parses like RFC 6265bis browsers. The
few vectors where the two specs disagree are listed with the reason and the Cookie header a
6265bis browser sends; each listed vector must give exactly that header, and every other vector
must give the suite's own expectation.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from consentkit.cookies import parse_cookie_date, parse_set_cookie

from ..helpers import SHARED_DATA, require_shared_data

DATA = SHARED_DATA
HTTP_STATE = DATA / "http-state" / "tests" / "data"
PARSER = HTTP_STATE / "parser"
DATES = HTTP_STATE / "dates"
WPT_VALUES = DATA / "wpt-cookies" / "value-vectors.json"

ORIGIN = "http://home.example.org:8888"
# Late enough that the suite's 2007 dates are past, early enough that 2019 is still future.
FROZEN_NOW = datetime(2011, 4, 1, tzinfo=UTC)

_NAMELESS = "a header with an empty name (no '=' or a leading '=') sets a nameless cookie"
BIS_DIFFERENCES: dict[str, str] = {
    **dict.fromkeys(("0004", "0021", "0023", "0024", "0025", "0026", "0027", "0028"), _NAMELESS),
    **dict.fromkeys(("CHROMIUM0009", "CHROMIUM0010", "CHROMIUM0012"), _NAMELESS),
    **dict.fromkeys(
        ("MOZILLA0012", "MOZILLA0014", "MOZILLA0015", "MOZILLA0016", "MOZILLA0017"), _NAMELESS
    ),
    **dict.fromkeys(
        ("NAME0017", "NAME0023", "NAME0025", "NAME0028", "NAME0031", "NAME0032", "NAME0033"),
        _NAMELESS,
    ),
    "OPTIONAL_DOMAIN0042": "an empty Domain attribute resets the cookie to host-only",
}
"""Vectors whose Cookie header changes when the jar applies RFC 6265bis instead of RFC 6265."""

UPSTREAM_DISABLED: dict[str, tuple[str, str]] = {
    # id: (why the suite disabled it, what current browsers send instead)
    "DISABLED_CHROMIUM0022": ("a NUL byte rejects the whole header (RFC 6265bis)", ""),
    "DISABLED_CHROMIUM0023": ("a CR rejects the whole header (RFC 6265bis)", ""),
    "DISABLED_PATH0029": ("paths are compared without percent-decoding", ""),
}
"""Vectors the upstream suite itself disables: their expectation is no spec's behaviour."""

WPT_DIFFERENCES: dict[str, tuple[str, str]] = {
    "Set cookie but ignore value after LF": (
        "RFC 6265bis now rejects any control character instead of truncating at it",
        "",
    ),
}
"""WPT value vectors that predate the 6265bis control-character rule."""


def _require(path: Path) -> None:
    require_shared_data(path)


# --------------------------------------------------------------------------- a tiny cookie jar


@dataclass
class _Stored:
    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    expiry: datetime | None
    secure: bool
    created: int


def _domain_match(host: str, domain: str) -> bool:
    if host == domain:
        return True
    is_ip = host.replace(".", "").isdigit() or ":" in host
    return host.endswith("." + domain) and not is_ip


def _path_match(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def _default_path(request_path: str) -> str:
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


# RFC 6265 ignores an empty Domain attribute; RFC 6265bis lets it reset the cookie to host-only.
_EMPTY_DOMAIN = re.compile(r";[ \t]*domain[ \t]*=[ \t]*(?=;|$)", re.IGNORECASE)


class CookieJar:
    """RFC 6265 section 5.3-5.4 storage and retrieval around ``parse_set_cookie``.

    Cookies are keyed by (name, domain, host-only, path) as in RFC 6265bis; a replaced cookie
    keeps its creation order; single-label domains stand in for public suffixes. With
    ``rfc6265=True`` the jar applies the two RFC 6265 rules that 6265bis dropped: a cookie with
    an empty name is ignored, and so is an empty Domain attribute.
    """

    def __init__(self, now: datetime, *, rfc6265: bool = False) -> None:
        self.now = now
        self.rfc6265 = rfc6265
        self.cookies: list[_Stored] = []
        self._clock = itertools.count()

    def receive(self, header: str, url: str) -> None:
        if self.rfc6265:
            header = _EMPTY_DOMAIN.sub("", header)
        parsed = parse_set_cookie(header)
        if parsed is None or (self.rfc6265 and not parsed.name):
            return
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        domain, host_only = host, True
        if parsed.domain is not None and "." not in parsed.domain:
            if parsed.domain != host:
                return
        elif parsed.domain is not None:
            if not _domain_match(host, parsed.domain):
                return
            domain, host_only = parsed.domain, False
        cookie = _Stored(
            name=parsed.name,
            value=parsed.value,
            domain=domain,
            host_only=host_only,
            path=parsed.path or _default_path(parts.path),
            expiry=parsed.expiry(self.now),
            secure=parsed.secure,
            created=next(self._clock),
        )
        key = (cookie.name, cookie.domain, cookie.host_only, cookie.path)
        for old in self.cookies:
            if (old.name, old.domain, old.host_only, old.path) == key:
                cookie.created = old.created
                self.cookies.remove(old)
                break
        if cookie.expiry is None or cookie.expiry > self.now:
            self.cookies.append(cookie)

    def cookie_header(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        sent = [
            c
            for c in self.cookies
            if (host == c.domain if c.host_only else _domain_match(host, c.domain))
            and _path_match(path, c.path)
            and (parts.scheme == "https" or not c.secure)
            and (c.expiry is None or c.expiry > self.now)
        ]
        sent.sort(key=lambda c: (-len(c.path), c.created))
        return "; ".join(f"{c.name}={c.value}" if c.name else c.value for c in sent)


# --------------------------------------------------------------------------- http-state parser


def _load_json(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    # The BSD date file opens with a licence in // comments.
    return json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))


def _parser_vectors() -> list[dict[str, Any]]:
    index = HTTP_STATE / "parser.json"
    return _load_json(index) if index.exists() else []


VECTORS = {vector["test"]: vector for vector in _parser_vectors()}
# Without the data one "absent" case runs, and fails (or skips) in _require.
VECTOR_IDS = list(VECTORS) or ["absent"]


def _vector_files(test_id: str) -> tuple[list[str], str]:
    stem = PARSER / test_id.lower().replace("_", "-")
    lines = stem.with_name(stem.name + "-test").read_bytes().decode("latin-1").split("\n")
    headers = [
        line[len("Set-Cookie:") :].strip(" \t") for line in lines if line.startswith("Set-Cookie:")
    ]
    expected_lines = stem.with_name(stem.name + "-expected").read_bytes().decode("latin-1")
    cookie_lines = [line for line in expected_lines.split("\n") if line.startswith("Cookie:")]
    expected = cookie_lines[0][len("Cookie:") :].strip(" ") if cookie_lines else ""
    return headers, expected


def _jar_after(test_id: str, *, rfc6265: bool) -> tuple[CookieJar, str]:
    """Replay a vector's Set-Cookie lines; return the jar and the URL the result is read at."""
    vector = VECTORS[test_id]
    headers, _ = _vector_files(test_id)
    jar = CookieJar(FROZEN_NOW, rfc6265=rfc6265)
    for header in headers:
        jar.receive(header, f"{ORIGIN}/cookie-parser?{test_id.lower()}")
    sent_to = urljoin(ORIGIN, vector.get("sent-to", f"/cookie-parser-result?{test_id.lower()}"))
    return jar, sent_to


def _run_vector(test_id: str, *, rfc6265: bool) -> str:
    jar, sent_to = _jar_after(test_id, rfc6265=rfc6265)
    return jar.cookie_header(sent_to)


@pytest.mark.parametrize("test_id", VECTOR_IDS)
def test_http_state_parser_vector(test_id: str) -> None:
    """Under the RFC 6265 rules the suite was written for, every enabled vector passes."""
    _require(HTTP_STATE / "parser.json")
    _require(PARSER)
    _, expected = _vector_files(test_id)
    got = _run_vector(test_id, rfc6265=True)
    if test_id in UPSTREAM_DISABLED:
        reason, current = UPSTREAM_DISABLED[test_id]
        assert expected != current
        assert got == current, reason
    else:
        assert got == expected


def test_rfc6265bis_changes_exactly_the_listed_vectors() -> None:
    _require(HTTP_STATE / "parser.json")
    _require(PARSER)
    changed = {
        test_id
        for test_id in VECTORS
        if _run_vector(test_id, rfc6265=False) != _run_vector(test_id, rfc6265=True)
    }
    assert changed == set(BIS_DIFFERENCES)


@pytest.mark.parametrize("test_id", sorted(BIS_DIFFERENCES))
def test_rfc6265bis_keeps_what_rfc6265_ignored(test_id: str) -> None:
    """Where the specs differ, 6265bis holds a nameless or a host-only cookie that 6265 lacks."""
    _require(HTTP_STATE / "parser.json")
    _require(PARSER)
    bis, _ = _jar_after(test_id, rfc6265=False)
    old, _ = _jar_after(test_id, rfc6265=True)
    if "Domain" in BIS_DIFFERENCES[test_id]:
        assert [c.host_only for c in bis.cookies] == [True]
        assert old.cookies == []
    else:
        assert any(c.name == "" for c in bis.cookies)
        assert all(c.name for c in old.cookies)


def test_listed_vectors_exist() -> None:
    _require(HTTP_STATE / "parser.json")
    _require(PARSER)
    assert set(BIS_DIFFERENCES) <= set(VECTORS)
    assert set(UPSTREAM_DISABLED) <= {t for t in VECTORS if t.startswith("DISABLED_")}


@pytest.mark.parametrize("test_id", VECTOR_IDS)
def test_expected_files_agree_with_index(test_id: str) -> None:
    """The loader reads the same headers and expectation as the suite's JSON index."""
    _require(HTTP_STATE / "parser.json")
    _require(PARSER)
    vector = VECTORS[test_id]
    headers, expected = _vector_files(test_id)
    received = [h.encode("utf-8").decode("latin-1").strip(" \t") for h in vector["received"]]
    assert headers == received
    sent = "; ".join(f"{c['name']}={c['value']}" for c in vector["sent"])
    assert expected == sent.encode("utf-8").decode("latin-1")


def test_jar_sorts_longer_paths_first_then_older() -> None:
    """The jar used above must itself be right, or the vectors prove nothing."""
    jar = CookieJar(FROZEN_NOW)
    url = "http://a.example.org/x/y/z"
    jar.receive("b=1; Path=/", url)
    jar.receive("a=2; Path=/x/y", url)
    jar.receive("c=3; Path=/", url)
    jar.receive("b=4; Path=/", url)
    jar.receive("gone=1; Max-Age=0", url)
    jar.receive("other=1; Domain=example.com", url)
    assert jar.cookie_header(url) == "a=2; b=4; c=3"
    assert jar.cookie_header("http://b.example.org/x/y/z") == ""


# --------------------------------------------------------------------------- dates


def _date_vectors() -> list[Any]:
    files = [DATES / "examples.json", DATES / "bsd-examples.json"]
    vectors = [v for f in files if f.exists() for v in _load_json(f)]
    return vectors or [{"test": None, "expected": None}]


@pytest.mark.parametrize("vector", _date_vectors(), ids=lambda v: repr(v.get("test")))
def test_cookie_date_vector(vector: dict[str, str | None]) -> None:
    _require(DATES / "examples.json")
    _require(DATES / "bsd-examples.json")
    test, expected = vector["test"], vector["expected"]
    assert test is not None
    want = None
    if expected is not None:
        # Compare instants, not the weekday names the vectors sometimes get wrong.
        want = datetime.strptime(expected.split(", ", 1)[1], "%d %b %Y %H:%M:%S GMT")
        want = want.replace(tzinfo=UTC)
    assert parse_cookie_date(test) == want


# --------------------------------------------------------------------------- WPT values


def _wpt_vectors() -> list[Any]:
    if not WPT_VALUES.exists():
        return [pytest.param({}, id="absent")]
    return [pytest.param(v, id=v["name"]) for v in json.loads(WPT_VALUES.read_text("utf-8"))]


@pytest.mark.parametrize("vector", _wpt_vectors())
def test_wpt_value_vector(vector: dict[str, Any]) -> None:
    _require(WPT_VALUES)
    cookies = vector["cookie"] if isinstance(vector["cookie"], list) else [vector["cookie"]]
    jar = CookieJar(FROZEN_NOW)
    url = "http://web-platform.test/cookies/value/"
    for cookie in cookies:
        jar.receive(cookie, url)
    got = jar.cookie_header(url)
    if vector["name"] in WPT_DIFFERENCES:
        reason, bis_expected = WPT_DIFFERENCES[vector["name"]]
        assert bis_expected != vector["expected"]
        assert got == bis_expected, reason
    else:
        assert got == vector["expected"]


def test_wpt_differences_are_real_vectors() -> None:
    _require(WPT_VALUES)
    names = {v["name"] for v in json.loads(WPT_VALUES.read_text("utf-8"))}
    assert set(WPT_DIFFERENCES) <= names
