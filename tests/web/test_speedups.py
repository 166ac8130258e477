"""The compiled fast paths (``consentkit_speedups``) answer as their pure-Python twins.

``./dev test`` runs the suite with the compiled twins, then the web layer's tests again
with ``CONSENTKIT_PURE_PYTHON=1``; the first test here checks each run took the path it
asked for. The rest hold each compiled function and type to its Python twin over
generated input, including the shapes it leaves to Python, and check that the types
neither leak nor keep cycles alive.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
import types
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from consentkit import ConsentMiddleware, speedups
from consentkit.categories import Category
from consentkit.web import editor, request, responder
from consentkit.web.editor import read_response
from consentkit.web.request import RequestInfo, cookie_reads

from ..conftest import SECRET, site_policy
from .test_response_reading import GRANTS, HEADER, RULES, SENT, decision_for, request_for

try:
    import consentkit_speedups as compiled
except ImportError as missing:  # pragma: no cover - ./dev test installs it
    raise ImportError(
        "consentkit_speedups is not installed: `pip install ./speedups` (./dev test does)"
    ) from missing

MIDDLEWARE = ConsentMiddleware(Starlette(), policy=site_policy(), secret_key=SECRET)
READ = sorted(request._READ)


@pytest.fixture(autouse=True)
def _bound() -> None:
    # What consentkit binds on import when it uses the compiled twins; the pure run binds
    # nothing, and these tests still hold the compiled types to the Python ones.
    compiled.bind(
        request_fallback=request._PyRequestCore.__init__,
        read_cookies=request._read_cookies,
        no_cookies=request._NO_COOKIES,
        html_types=editor._html_types,
    )


def test_the_path_in_use_is_the_one_asked_for() -> None:
    in_use = (RequestInfo.__mro__[1], responder.Responder.__mro__[1])
    if os.environ.get("CONSENTKIT_PURE_PYTHON"):
        assert speedups.native is None
        assert in_use == (request._PyRequestCore, responder._PyResponderCore)
        assert "CONSENTKIT_PURE_PYTHON" in speedups.status
    elif os.environ.get("CONSENTKIT_EXPECT_COMPILED"):
        assert speedups.native is compiled, speedups.status
        assert in_use == (compiled.RequestCore, compiled.ResponderCore)
        assert speedups.status == "compiled (consentkit_speedups)"
    else:
        assert (speedups.native is None) == (in_use[0] is request._PyRequestCore)


def test_a_module_of_another_api_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENTKIT_PURE_PYTHON", raising=False)
    other = types.ModuleType("consentkit_speedups")
    other.API = speedups.API + 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "consentkit_speedups", other)
    native, status = speedups._load()
    assert native is None
    assert f"API {speedups.API + 1}" in status
    monkeypatch.setitem(sys.modules, "consentkit_speedups", compiled)
    assert speedups._load()[0] is compiled
    monkeypatch.setenv("CONSENTKIT_PURE_PYTHON", "1")
    assert speedups._load() == (None, "pure Python (CONSENTKIT_PURE_PYTHON is set)")


# -- request headers ---------------------------------------------------------------------

NAME = st.sampled_from(
    [*READ, b"accept", b"x-cookie", b"cookies", b"Cookie", b"HOST", b"dnT", b"", b"x" * 15]
)
VALUE = st.binary(max_size=12)
PAIR = st.tuples(NAME, VALUE)
HEADERS = st.lists(st.one_of(PAIR, PAIR.map(list)), max_size=12)


@given(HEADERS)
def test_request_headers_read_as_in_python(headers: list[Any]) -> None:
    assert compiled.read_request_headers(headers) == request._read_repeated(headers)


@pytest.mark.parametrize(
    "headers",
    [
        ((b"host", b"a"),),  # not a list
        [(b"host", b"a"), (b"cookie", "text")],
        [(b"host", b"a", b"b")],
        [[b"host"]],
        [(bytearray(b"host"), b"a")],
        [b"host: a"],
        None,
    ],
)
def test_other_shapes_are_left_to_python(headers: Any) -> None:
    assert compiled.read_request_headers(headers) is None
    assert compiled.read_response_headers(headers) is None


RESPONSE_NAME = st.sampled_from(["content-type", "set-cookie", "content-length", "x-set-cookie"])
RESPONSE_PAIR = st.tuples(
    RESPONSE_NAME.flatmap(lambda n: st.sampled_from([n, n.upper(), n.title()])).map(str.encode),
    st.sampled_from([b"text/html", b"application/json", b"a=b", b""]),
)


@given(st.lists(RESPONSE_PAIR, max_size=8))
def test_response_headers_read_as_in_python(raw: list[tuple[bytes, bytes]]) -> None:
    assert compiled.read_response_headers(raw) == editor._read_response_headers(raw)


# -- RequestInfo -------------------------------------------------------------------------


class CompiledRequest(compiled.RequestCore):  # type: ignore[misc]
    __slots__ = ()


class PythonRequest(request._PyRequestCore):
    __slots__ = ()


def _reading(info: Any) -> tuple[Any, ...]:
    found = {name: info.found[name] for name in READ if name in info.found}
    return (
        info.scope,
        info.cookie_name,
        info.headers,
        found,
        info.cookie_header,
        info.consent_token,
        dict(info._cookies),
        info.read is None,
    )


COOKIE = st.sampled_from([b"", b"consentkit=tok", b"_ga=1; consentkit=a; consentkit=b", b"x=1"])
SCOPE_HEADERS = st.lists(st.one_of(PAIR, st.tuples(st.just(b"cookie"), COOKIE)), max_size=8)


@settings(max_examples=300)
@given(SCOPE_HEADERS, st.booleans(), st.sampled_from(["list", "tuple", "absent", "none"]))
def test_requests_read_as_in_python(headers: list[Any], memo: bool, shape: str) -> None:
    scope: dict[str, Any] = {"type": "http", "path": "/"}
    if shape != "absent":
        scope["headers"] = {"list": headers, "tuple": tuple(headers), "none": None}[shape]
    reads = (cookie_reads(), cookie_reads()) if memo else (None, None)
    fast = CompiledRequest(scope, "consentkit", reads[0])
    slow = PythonRequest(scope, "consentkit", reads[1])
    assert _reading(fast) == _reading(slow)


def test_keywords_and_other_mappings_take_the_python_reading() -> None:
    headers = [(b"cookie", b"consentkit=tok; _ga=1"), (b"host", b"shop.example")]
    scope = {"type": "http", "headers": headers}
    by_keyword = CompiledRequest(scope, cookie_name="consentkit", reads=cookie_reads())
    assert _reading(by_keyword) == _reading(PythonRequest(scope, "consentkit", cookie_reads()))
    mapping = types.MappingProxyType(scope)
    proxied = CompiledRequest(mapping, "consentkit", cookie_reads())
    assert proxied.consent_token == "tok"
    assert proxied.found[b"host"] == b"shop.example"
    with pytest.raises(TypeError):
        CompiledRequest(scope)


def test_a_remembered_reading_is_shared() -> None:
    reads = cookie_reads()
    scope = {"type": "http", "headers": [(b"cookie", b"consentkit=tok")]}
    first = CompiledRequest(scope, "consentkit", reads)
    assert CompiledRequest(scope, "consentkit", reads).read is first.read
    assert list(reads) == [b"consentkit=tok"]


# -- Responder ---------------------------------------------------------------------------


class Probe(compiled.ResponderCore):  # type: ignore[misc]
    """The compiled ``send``; what it leaves to Python is recorded, not sent."""

    def _send_slow(self, message: Any) -> str:
        self.slow = message
        return "python"


def _sent(message: Any) -> str:
    return "server"


@settings(max_examples=400, deadline=None)
@given(
    raw=st.lists(st.one_of(HEADER, RESPONSE_PAIR), max_size=6),
    status=st.sampled_from([200, 204, 304, 404]),
    method=st.sampled_from(["GET", "HEAD"]),
    granted=GRANTS,
    sent=SENT,
)
def test_an_untouched_start_is_one_python_lets_pass(
    raw: list[tuple[bytes, bytes]],
    status: int,
    method: str,
    granted: frozenset[Category] | None,
    sent: bytes,
) -> None:
    # A start the compiled send lets out is one read_response lets pass, which
    # tests/web/test_response_reading.py holds to the editor's full path.
    info = request_for(method, sent)
    decision = decision_for(granted)
    probe = Probe(RULES, info, decision, _sent)
    for content_type in (b"text/html", b"application/json", b"image/png", b"a=b"):
        editor._is_html(content_type)  # the memo the compiled send consults
    start = {"type": "http.response.start", "status": status, "headers": list(raw)}
    answer = probe.send(start)
    if answer == "server":
        assert read_response(RULES, info, decision, status, list(raw)) is None
        assert probe._untouched
        assert probe.started
        assert probe.start is start
    else:
        assert answer == "python"
        assert probe.slow is start
        assert not probe._untouched
    assert start["headers"] == raw  # read, never changed


def test_an_api_answer_passes_in_c_and_later_messages_go_straight_out() -> None:
    info = RequestInfo({"type": "http", "headers": []}, "consentkit", cookie_reads())
    probe = Probe(MIDDLEWARE.rules, info, MIDDLEWARE.decide(info), _sent)
    editor._is_html(b"application/json")
    start = {"type": "http.response.start", "headers": [(b"content-type", b"application/json")]}
    assert probe.send(start) == "server"
    assert probe.open
    assert probe.send({"type": "http.response.body", "body": b"{}"}) == "server"
    assert not probe.open
    assert not hasattr(probe, "slow")


@pytest.mark.parametrize(
    "start",
    [
        {"type": "http.response.start", "headers": ((b"content-type", b"application/json"),)},
        {"type": "http.response.start"},
        {"type": "http.response.start", "headers": [(b"content-type", b"application/x-new")]},
        {"type": "http.response.start", "headers": [(b"set-cookie", b"_ga=1")]},
        {"type": "http.response.body", "body": b""},
        types.MappingProxyType({"type": "http.response.start", "headers": []}),
    ],
)
def test_what_the_compiled_send_leaves_to_python(start: Any) -> None:
    info = RequestInfo({"type": "http", "headers": []}, "consentkit", cookie_reads())
    probe = Probe(MIDDLEWARE.rules, info, MIDDLEWARE.decide(info), _sent)
    editor._is_html(b"application/json")
    editor._html_types.pop(b"application/x-new", None)
    assert probe.send(start) == "python"
    assert probe.slow is start


def test_slots_take_what_python_gives_them() -> None:
    probe = Probe(MIDDLEWARE.rules, None, None, _sent)
    assert (probe.editor, probe.start, probe.started, probe._untouched, probe.open) == (
        None,
        None,
        False,
        False,
        True,
    )
    probe.editor = "editor"
    probe.started = True
    assert (probe.editor, probe.started) == ("editor", True)
    with pytest.raises(TypeError):
        probe.open = 1
    by_keyword = Probe(rules=1, request=2, decision=3, send=4)
    assert (by_keyword.rules, by_keyword.request, by_keyword.decision) == (1, 2, 3)


def test_cycles_through_the_compiled_types_are_collected() -> None:
    probe = Probe(MIDDLEWARE.rules, None, None, _sent)
    probe._send = probe.send  # the responder holds itself
    gone = weakref.ref(probe)
    del probe
    gc.collect()
    assert gone() is None


def test_the_compiled_types_leak_nothing() -> None:
    reads = cookie_reads()
    scope = {"type": "http", "headers": [(b"cookie", b"consentkit=t; _ga=1"), (b"host", b"h")]}
    start = {"type": "http.response.start", "headers": [(b"content-type", b"application/json")]}

    def serve(count: int) -> None:
        for _ in range(count):
            info = CompiledRequest(dict(scope), "consentkit", reads)
            probe = Probe(MIDDLEWARE.rules, info, MIDDLEWARE.decide(info), _sent)
            probe.send(dict(start))
            probe.send({"type": "http.response.body"})

    serve(1000)
    gc.collect()
    counts = [sys.getrefcount(held) for held in (CompiledRequest, Probe, scope["headers"], reads)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        serve(20_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64_000, grown
    # what every request touches keeps its count: the types, the headers, the memo
    assert [sys.getrefcount(x) for x in (CompiledRequest, Probe, scope["headers"], reads)] == counts
