"""``RawHeaders``: a case-insensitive view editing a raw header list in place."""

from __future__ import annotations

from consentkit.web.headers import RawHeaders, add_vary, make_private


def test_every_spelling_is_found_read_and_removed() -> None:
    raw = [(b"Content-Length", b"10"), (b"ETag", b'"x"'), (b"content-type", b"text/html")]
    headers = RawHeaders(raw)
    assert headers.has(b"content-length")
    assert "CONTENT-LENGTH" in headers
    assert headers.get("content-length") == "10"
    assert headers.getlist("etag") == ['"x"']
    headers.remove("content-length", "etag", "last-modified")
    assert raw == [(b"content-type", b"text/html")]  # edited in place
    assert not headers.has(b"content-length")
    assert headers.get("etag") is None
    assert headers.getlist("etag") == []


def test_what_the_view_adds_it_then_finds() -> None:
    raw: list[tuple[bytes, bytes]] = []
    headers = RawHeaders(raw)
    assert headers.get("vary", "none") == "none"
    headers.append("Set-Cookie", "a=1")
    headers.append("set-cookie", "b=2")
    headers["Content-Type"] = "text/html"
    headers["content-type"] = "text/plain"
    assert headers.getlist("set-cookie") == ["a=1", "b=2"]
    assert raw[-1] == (b"content-type", b"text/plain")
    assert headers.getlist("content-type") == ["text/plain"]
    del headers["set-cookie"]
    assert not headers.has(b"set-cookie")
    assert raw == [(b"content-type", b"text/plain")]


def test_vary_and_cache_control_merge_with_any_spelling() -> None:
    raw = [(b"VARY", b"Accept-Encoding"), (b"Cache-Control", b"public, max-age=60")]
    headers = RawHeaders(raw)
    add_vary(headers, "Cookie")
    make_private(headers)
    assert raw == [
        (b"vary", b"Accept-Encoding, Cookie"),
        (b"cache-control", b"private, max-age=60"),
    ]
    fresh: list[tuple[bytes, bytes]] = []
    add_vary(RawHeaders(fresh), "Cookie", "Accept-Language")
    make_private(RawHeaders(fresh))
    assert fresh == [(b"vary", b"Cookie, Accept-Language"), (b"cache-control", b"private")]


def test_names_given_as_lowered_bytes() -> None:
    raw = [(b"Content-Length", b"10"), (b"ETAG", b'"x"'), (b"content-type", b"text/html")]
    headers = RawHeaders(raw)
    headers.drop(frozenset({b"content-length", b"etag", b"last-modified"}))
    assert raw == [(b"content-type", b"text/html")]  # every spelling, in place
    headers.append_raw(b"vary", b"Cookie")
    assert headers.has(b"vary")
    assert headers.get("Vary") == "Cookie"
    headers.drop(frozenset({b"vary"}))
    assert raw == [(b"content-type", b"text/html")]
