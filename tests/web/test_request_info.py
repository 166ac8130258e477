"""``RequestInfo``: the consent token and cookies read from a request, and their memo."""

from __future__ import annotations

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
    assert len(request_module._read) <= request_module._READ_MAX
    long_header = b"consentkit=t; pad=" + b"x" * request_module._READ_LONGEST
    assert _info(long_header).consent_token == "t"
    assert (long_header, "consentkit") not in request_module._read


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


def test_headers_sent_once_and_sent_twice_read_alike() -> None:
    once = [
        (b"host", b"shop.example:8443"),
        (b"user-agent", b"UA"),
        (b"cookie", b"consentkit=tok; _ga=1"),
        (b"accept-language", b"de"),
        (b"sec-gpc", b"1"),
    ]
    for info in _both_ways(once):
        assert info.hostname == "shop.example"
        assert info.user_agent == b"UA"
        assert info.consent_token == "tok"
        assert dict(info.cookies) == {"consentkit": "tok", "_ga": "1"}
        assert info.accept_language == "de"
        assert info.signals_sent
        assert len(info.headers) == len(once)
    # HTTP/2 splits Cookie into lines: they are joined; the first Accept-Language counts.
    twice = [
        (b"cookie", b"_ga=1"),
        (b"accept-language", b"fr"),
        (b"cookie", b"consentkit=tok"),
        (b"accept-language", b"de"),
        (b"dnt", b"1"),
    ]
    for info in _both_ways(twice):
        assert info.consent_token == "tok"
        assert dict(info.cookies) == {"_ga": "1", "consentkit": "tok"}
        assert info.accept_language == "fr"
        assert info.signals_sent
    for info in _both_ways([(b"accept", b"*/*"), (b"accept", b"text/html")]):
        assert not info.has_cookies
        assert not info.signals_sent
        assert info.accept_language is None
