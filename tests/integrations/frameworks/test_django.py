"""Django 5 under uvicorn: every kind of response keeps one copy of each header."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from .server import raw_get, uvicorn_process

SINGLE = ("content-length", "vary", "cache-control", "content-type", "etag")


@pytest.fixture(scope="module")
def django_port() -> Iterator[int]:
    # h11 (uvicorn's pure-Python protocol) rejects a reply with two Content-Length lines.
    with uvicorn_process("tests.integrations.frameworks.django_site:application") as port:
        yield port


@pytest.mark.parametrize("path", ["/", "/json", "/stream", "/file"])
def test_django_responses_carry_each_header_once(django_port: int, path: str) -> None:
    reply = raw_get(django_port, path)
    assert reply.status == 200
    counts = Counter(reply.names())
    assert all(counts[name] <= 1 for name in SINGLE), reply.headers
    if reply.get("content-length"):
        assert int(reply.get("content-length")[0]) == len(reply.body)
    assert "cookie" in reply.get("vary")[0].lower()
    if path != "/json":
        assert "private" in reply.get("cache-control")[0]
    # The refused analytics cookie never leaves; the declared session cookie does.
    cookies = " ".join(reply.get("set-cookie"))
    assert "_ga=" not in cookies


@pytest.mark.parametrize("path", ["/", "/stream", "/file"])
def test_django_html_is_rewritten_with_the_banner(django_port: int, path: str) -> None:
    reply = raw_get(django_port, path)
    assert b"</html>" in reply.body
    assert b"/_consent/static/consentkit.css" in reply.body
    # This site declares no optional cookie, so nothing is pending: the banner injects
    # only its "Cookie settings" control (the centre is fetched on demand).
    assert b'<aside id="ck-root"' in reply.body
    assert b"Cookie settings" in reply.body
    assert b"/_consent/static/consentkit.js" in reply.body
    # Validators describe Django's bytes, not the rewritten ones.
    assert not reply.get("etag")
