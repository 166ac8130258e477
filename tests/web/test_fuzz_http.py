"""The HTTP API under fuzzed requests: never a 5xx, never a receipt from a refused request.

Hypothesis writes requests to the real middleware (ASGI, and the WSGI middleware on the same
examples) in front of a real SQLite store: methods, paths under the consent prefix and
beside it (odd encodings, dot segments, Unicode), hostile headers (``Host``, ``Origin``,
``Sec-Fetch-Site``, ``Content-Type``, duplicated consent cookies, ``Sec-GPC``,
``Authorization``) and bodies (forms with repeated and unknown fields, JSON of any shape
and depth, binary junk). After every request: no 5xx and no exception out of the
middleware; a refused request (4xx) added no receipt; the chain still verifies.

``CONSENTKIT_FUZZ_EXAMPLES`` raises the number of examples for a longer run.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentkit import ConsentMiddleware
from consentkit.stores import open_store, verify_store
from consentkit.wsgi import ConsentWSGIMiddleware

from ..conftest import SECRET, site_policy

EXAMPLES = int(os.environ.get("CONSENTKIT_FUZZ_EXAMPLES", "120"))
RECEIPT_KEY = "fuzz-receipt-key-0123456789abcdef"
ADMIN = {"admin_token": "fuzz-admin-token-0123456789abcdef"}

methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "X-Y"])
segments = st.sampled_from(
    ["", "/", "/preferences", "/cookies", "/receipt", "/admin", "/admin/export", "/admin/x",
     "/static/consentkit.js", "/static/../x", "/%2e%2e/x", "/%2fetc", "/☃", "//", "/./"]
)  # fmt: skip
paths = st.one_of(
    segments.map(lambda s: "/_consent" + s),
    st.sampled_from(["/", "/page", "/.well-known/gpc.json", "/_consentx", "/_CONSENT"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF), max_size=20).map(
        lambda t: "/_consent/" + t
    ),
)
header_values = st.one_of(
    st.sampled_from(["", " ", "null", "http://testserver", "https://evil.example", "same-origin",
                     "cross-site", "none", "1", "0", "*/*", "\t"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)  # fmt: skip
consent_cookies = st.sampled_from(
    ["", "consentkit=x", "consentkit=a; consentkit=b", "consentkit=", "consentkit=\"q\"",
     "_ga=1; consentkit=" + "A" * 300, "a" * 500]
)  # fmt: skip
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
     "text/plain", "application/json; charset=utf-7", "APPLICATION/JSON", "", "x/y;;;", "*/*"]
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
form_fields = st.lists(
    st.tuples(
        st.sampled_from(["action", "categories", "services", "return_to", "x", "csrf", ""]),
        st.sampled_from(["accept_all", "reject_all", "save", "withdraw", "targeting",
                         "performance", "/", "//evil.example", "/☃", "", "\x00"]),
    ),
    max_size=6,
)  # fmt: skip
bodies = st.one_of(
    st.just(b""),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["accept_all", "reject_all", "save", "withdraw", "nope"])},
        optional={"categories": json_values, "return_to": st.text(max_size=10)},
    ).map(lambda v: json.dumps(v).encode()),
    form_fields.map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 5000),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    headers: list[tuple[str, str]] = []
    for name in ("host", "origin", "referer", "sec-fetch-site", "sec-gpc", "authorization",
                 "accept-language", "accept"):  # fmt: skip
        if draw(st.booleans()):
            headers.append((draw(st.sampled_from([name, name.upper(), name.title()])),
                            draw(header_values)))  # fmt: skip
    cookie = draw(consent_cookies)
    if cookie:
        headers.append(("cookie", cookie))
    body = draw(bodies)
    if body or draw(st.booleans()):
        headers.append(("content-type", draw(content_types)))
    if ADMIN and draw(st.booleans()):
        headers.append(
            ("authorization", "Bearer " + draw(st.sampled_from(["x", ADMIN["admin_token"]])))
        )
    query = draw(st.sampled_from(["", "return_to=//evil", "fragment=1", "a=%ff", "since=x"]))
    return {
        "method": draw(methods),
        "path": draw(paths),
        "headers": headers,
        "body": body,
        "query": query,
    }


@st.composite
def consent_posts(draw: st.DrawFn) -> dict[str, Any]:
    """Near-valid consent posts, so that receipts are written and their edges explored."""
    action = draw(st.sampled_from(["accept_all", "reject_all", "save", "withdraw", "nope"]))
    fields: dict[str, Any] = {"action": action}
    if draw(st.booleans()):
        fields["categories"] = draw(
            st.one_of(st.lists(st.sampled_from(["performance", "targeting", "x"])), json_values)
        )
    if draw(st.booleans()):
        fields["return_to"] = draw(st.sampled_from(["/", "/☃", "//evil.example", "", "/a?b"]))
    as_json = draw(st.booleans())
    body = (
        json.dumps(fields).encode()
        if as_json
        else "&".join(f"{quote(k)}={quote(str(v))}" for k, v in fields.items()).encode()
    )
    kind = "application/json" if as_json else "application/x-www-form-urlencoded"
    site = draw(
        st.sampled_from(
            [
                ("origin", "http://testserver"),
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ]
        )
    )
    headers = [("content-type", kind), site]
    if draw(st.booleans()):
        headers.append(("cookie", draw(consent_cookies)))
    if draw(st.booleans()):
        headers.append(("sec-gpc", "1"))
    return {"method": "POST", "path": "/_consent", "headers": headers, "body": body, "query": ""}


async def _app(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/html"), (b"set-cookie", b"_fbp=fb.1; Path=/")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<html><body><p>x</p></body></html>"})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Set-Cookie", "_fbp=1; Path=/")])
    return [b"<html><body><p>x</p></body></html>"]


def _options(db: Path) -> dict[str, Any]:
    return {
        "policy": site_policy(),
        "secret_key": SECRET,
        "store": f"sqlite:///{db}",
        "receipt_key": RECEIPT_KEY,
        **ADMIN,
    }


def _count(db: Path) -> int:
    store = open_store(f"sqlite:///{db}", receipt_keys=[RECEIPT_KEY], migrate=False)
    try:
        assert verify_store(store, keys=[RECEIPT_KEY]).ok
        return store.count()
    finally:
        store.close()


async def _asgi_call(app: Any, request: dict[str, Any]) -> int:
    path: str = request["path"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request["method"],
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": request["query"].encode(),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request["headers"]],
        "client": ("203.0.113.9", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    body: bytes = request["body"]
    given_body = False

    async def receive() -> dict[str, Any]:
        nonlocal given_body
        if given_body:
            await anyio.sleep_forever()
        given_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(20):  # a hang guard, not a timing assertion
        await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return int(starts[0]["status"])


def _wsgi_call(app: Any, request: dict[str, Any]) -> int:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request["method"],
        "PATH_INFO": request["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": request["query"],
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "203.0.113.9",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request["body"]),
        "CONTENT_LENGTH": str(len(request["body"])),
    }
    for key, value in request["headers"]:
        name = key.upper().replace("-", "_")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name] = value
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    result = app(environ, start_response)
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[-1][:3])


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    db = tmp_path_factory.mktemp("fuzz") / "receipts.db"
    asgi = ConsentMiddleware(_app, **_options(db))
    wsgi = ConsentWSGIMiddleware(_wsgi_app, **_options(db))
    return db, asgi, wsgi


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(request=st.one_of(requests(), consent_posts()))
def test_no_5xx_and_no_receipt_from_a_refused_request(
    request: dict[str, Any], doors: tuple[Path, Any, Any]
) -> None:
    db, asgi, wsgi = doors
    for door in ("asgi", "wsgi"):
        before = _count(db)
        if door == "asgi":
            status = anyio.run(_asgi_call, asgi, request)
        else:
            status = _wsgi_call(wsgi, request)
        assert status < 500, (door, status, request)
        after = _count(db)
        if status >= 400:
            assert after == before, (door, status, request)
        assert after - before <= 1, (door, request)
