"""``RequestInfo``: the consent token and cookies read from a request, and their memo."""

from __future__ import annotations

import pytest

from consentkit.web import request as request_module
from consentkit.web.request import RequestInfo


def _info(cookie: bytes, name: str = "consentkit") -> RequestInfo:
    scope = {"type": "http", "path": "/", "headers": [(b"cookie", cookie)]}
    return RequestInfo(scope, name)


def test_the_same_header_reads_the_same_each_time() -> None:
    header = b"_ga=GA1.1; consentkit=tok.en; lang=fr; lang=de"
    for _ in range(3):  # the later rounds answer from memory
        info = _info(header)
        assert info.consent_token == "tok.en"
        assert dict(info.cookies) == {"_ga": "GA1.1", "consentkit": "tok.en", "lang": "fr"}


def test_the_memo_tells_cookie_names_and_duplicates_apart() -> None:
    header = b"consentkit=a; __Host-consentkit=b"
    assert _info(header).consent_token == "a"
    assert _info(header, "__Host-consentkit").consent_token == "b"
    # a tossed duplicate reads as no decision, remembered or not
    tossed = b"consentkit=a; consentkit=b"
    assert _info(tossed).consent_token is None
    assert _info(tossed).consent_token is None


def test_the_memo_is_bounded_and_skips_long_headers() -> None:
    for i in range(request_module._READ_MAX + 50):
        _info(f"consentkit=t{i}".encode())
    memo = request_module._shared_reads["consentkit"]
    assert 0 < len(memo) <= request_module._READ_MAX
    long_header = b"consentkit=t; pad=" + b"x" * request_module._READ_LONGEST
    assert _info(long_header).consent_token == "t"
    assert long_header not in memo


def test_accept_language_is_read_in_the_same_pass() -> None:
    scope = {
        "type": "http",
        "path": "/",
        "headers": [(b"accept-language", b"de-AT, en;q=0.5"), (b"accept-language", b"fr")],
    }
    assert RequestInfo(scope, "consentkit").accept_language == "de-AT, en;q=0.5"
    assert _info(b"a=b").accept_language is None


def _both_ways(headers: list[tuple[bytes, bytes]]) -> list[RequestInfo]:
    """The request as a list (the usual case) and as a one-shot iterator of headers."""
    return [
        RequestInfo({"type": "http", "headers": headers}, "consentkit"),
        RequestInfo({"type": "http", "headers": iter(headers)}, "consentkit"),
    ]


@pytest.mark.parametrize(
    ("headers", "token", "cookies", "language", "signals"),
    [
        pytest.param(
            [(b"host", b"shop.example:8443"), (b"user-agent", b"UA"),
             (b"cookie", b"consentkit=tok; _ga=1"), (b"accept-language", b"de"),
             (b"sec-gpc", b"1")],
            "tok", {"consentkit": "tok", "_ga": "1"}, "de", True, id="each-once",
        ),
        # HTTP/2 splits Cookie into lines: they are joined; the first Accept-Language counts.
        pytest.param(
            [(b"cookie", b"_ga=1"), (b"accept-language", b"fr"), (b"cookie", b"consentkit=tok"),
             (b"accept-language", b"de"), (b"dnt", b"1")],
            "tok", {"_ga": "1", "consentkit": "tok"}, "fr", True, id="some-twice",
        ),
        pytest.param(
            [(b"accept", b"*/*"), (b"accept", b"text/html")],
            None, {}, None, False, id="none-read",
        ),
    ],
)  # fmt: skip
def test_headers_sent_once_and_sent_twice_read_alike(
    headers: list[tuple[bytes, bytes]],
    token: str | None,
    cookies: dict[str, str],
    language: str | None,
    signals: bool,
) -> None:
    for info in _both_ways(headers):
        assert info.consent_token == token
        assert dict(info.cookies) == cookies
        assert info.has_cookies is bool(cookies)
        assert info.accept_language == language
        assert info.signals_sent is signals
        assert len(info.headers) == len(headers)
    first = _both_ways(headers)[0]
    if (b"host", b"shop.example:8443") in headers:
        assert first.hostname == "shop.example"
        assert first.user_agent == b"UA"
