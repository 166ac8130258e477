"""Response header names in any spelling: each header the middleware edits ends up once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from consentkit import ConsentMiddleware

from ..conftest import SECRET, site_policy

PAGE = b"<html><head><title>t</title></head><body><p>hi</p></body></html>"
SPELLINGS = ("Content-Length", "CONTENT-LENGTH", "content-length")


def raw_app(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


async def run(app: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
        "scheme": "http",
        "server": ("example.org", 80),
        "client": ("203.0.113.9", 1234),
    }
    middleware = ConsentMiddleware(app, policy=site_policy(), secret_key=SECRET)
    await middleware(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return list(sent[0]["headers"]), body


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("streamed", [False, True])
async def test_each_edited_header_is_sent_once_whatever_its_spelling(
    spelling: str, streamed: bool
) -> None:
    name = str.upper if spelling.isupper() else str.title if spelling[0] == "C" else str.lower
    headers = [
        (b"Content-Type", b"text/html; charset=utf-8"),
        (spelling.encode(), str(len(PAGE)).encode()),
        (name("vary").encode(), b"Accept-Encoding"),
        (name("cache-control").encode(), b"public, max-age=60"),
        (name("etag").encode(), b'"v1"'),
        (name("last-modified").encode(), b"Wed, 21 Oct 2015 07:28:00 GMT"),
        (name("set-cookie").encode(), b"_ga=GA1.1.1; Path=/"),
        (name("set-cookie").encode(), b"sessionid=abc; Path=/"),
    ]
    chunks = [PAGE[:20], PAGE[20:]] if streamed else [PAGE]
    out, body = await run(raw_app(headers, chunks))
    counts = Counter(key.lower() for key, _ in out)
    assert counts[b"vary"] == 1
    assert counts[b"cache-control"] == 1
    assert counts[b"etag"] == counts[b"last-modified"] == 0
    assert counts[b"content-length"] == (0 if streamed else 1)
    values = {key.lower(): value for key, value in out}
    if not streamed:
        assert int(values[b"content-length"]) == len(body)
    assert values[b"vary"].lower() == b"accept-encoding, cookie, accept-language"
    assert values[b"cache-control"].startswith(b"private")
    cookies = [v for k, v in out if k.lower() == b"set-cookie"]
    assert any(v.startswith(b"sessionid=") for v in cookies)
    assert not any(v.startswith(b"_ga=") for v in cookies)
