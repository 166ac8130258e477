"""``ConsentWSGIMiddleware``: the same consent enforcement for WSGI apps (Flask, Django, ...).

It is the ASGI middleware's twin on the same framework-neutral core
(:class:`~consentkit.web.core.ConsentCore`): the decision, the ``/_consent`` endpoints,
the ``Set-Cookie`` filtering, the expiry of refused cookies, the streaming HTML rewriter,
the banner and the receipts are the very same code; this module only speaks PEP 3333.
No ASGI bridge sits in the request path and nothing here needs an event loop.

The decision is in ``environ["consentkit.consent"]`` (see :func:`consent_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from itertools import chain
from types import TracebackType
from typing import Any, Final, Protocol

from .decision import Decision
from .web.core import ConsentCore
from .web.editor import ResponseEditor
from .web.request import RequestInfo
from .web.responses import BadRequest, Reply, error
from .web.rules import ResponseRules

__all__ = ["ENVIRON_KEY", "ConsentWSGIMiddleware", "consent_of"]

ENVIRON_KEY: Final = "consentkit.consent"
"""Where the WSGI middleware puts the request's :class:`~consentkit.decision.Decision`."""

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Headers = list[tuple[str, str]]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = ..., /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def consent_of(environ: dict[str, Any]) -> Decision:
    """The consent decision of a request passed through :class:`ConsentWSGIMiddleware`.

    Raises:
        LookupError: the middleware does not wrap this app (a missing wrapper must not
            look like a visitor who refused everything).
    """
    try:
        decision: Decision = environ[ENVIRON_KEY]
    except KeyError:
        raise LookupError(
            "no consent decision in the WSGI environ: wrap the app in "
            "consentkit.wsgi.ConsentWSGIMiddleware"
        ) from None
    return decision


class ConsentWSGIMiddleware(ConsentCore):
    """Keep a site's cookie-consent promises on the server (WSGI).

    Args:
        app: the WSGI app to wrap (``flask_app.wsgi_app``, Django's ``WSGIHandler``).
        **kwargs: the same options as :class:`~consentkit.ConsentMiddleware`.

    A store opened from a URL is closed by :meth:`close` (WSGI has no lifespan: call it
    at shutdown, e.g. with :func:`atexit.register`).
    """

    def __init__(self, app: WSGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        cookie_name = self.settings.request_cookie_name(environ.get("wsgi.url_scheme"))
        request = RequestInfo.from_environ(environ, cookie_name, self.cookie_reads(cookie_name))
        decision = self.decide(request)
        environ[ENVIRON_KEY] = decision
        route = self.route(request.path)
        if route == "endpoints":
            return _send(self._endpoint(request, decision, environ), start_response)
        if route == "gpc":
            return _send(self.endpoints.gpc_json(), start_response)
        response = _Response(self.rules, request, decision, self.app, environ, start_response)
        # Most responses need no body work: hand the server the app's own iterable
        # (its close() and any wsgi.file_wrapper stay intact).
        return response.result if response.passes_through else response

    def _endpoint(self, request: RequestInfo, decision: Decision, environ: dict[str, Any]) -> Reply:
        endpoints = self.endpoints
        body = b""
        if endpoints.reads_body(request):
            try:
                endpoints.admit_body(request)
                body = self._read_body(environ)
            except BadRequest as exc:
                return error(exc.status, exc.message)
        return endpoints.handle(request, decision, body)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        limit = self.settings.max_body_size
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        declared = environ.get("CONTENT_LENGTH") or ""
        # Read no further than the declared length (PEP 3333); a chunked body only when
        # the server says the stream ends (``wsgi.input_terminated``).
        if declared.strip().isdigit():
            wanted = int(declared)
        elif environ.get("wsgi.input_terminated"):
            wanted = limit + 1
        else:
            return b""
        chunks: list[bytes] = []
        size = 0
        while size < wanted:
            chunk: bytes = stream.read(min(wanted - size, 64 * 1024))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise self.endpoints.too_large()
            chunks.append(chunk)
        return b"".join(chunks)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _to_str(raw: list[tuple[bytes, bytes]]) -> Headers:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def _to_bytes(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def _send(reply: Reply, start_response: StartResponse) -> Iterable[bytes]:
    start_response(_status_line(reply.status), _to_str(reply.headers))
    return [reply.body] if isinstance(reply.body, bytes) else reply.body


class _Response:
    """One response of the wrapped app, as the iterable the server reads.

    Headers are enforced when the app calls ``start_response``; a page to rewrite is
    held until its first bytes are ready (a list body is rewritten whole, so its exact
    ``Content-Length`` is known), then streamed chunk by chunk. ``close()`` reaches the
    app's iterable whether or not the server iterated.
    """

    def __init__(
        self,
        rules: ResponseRules,
        request: RequestInfo,
        decision: Decision,
        app: WSGIApp,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> None:
        self._rules = rules
        self._request = request
        self._decision = decision
        self._start_response = start_response
        self._editor: ResponseEditor | None = None
        self._held: tuple[str, list[tuple[bytes, bytes]]] | None = None
        self._written: list[bytes] = []
        self._started = False
        self._closed = False
        self.result = app(environ, self._start)

    def _start(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if exc_info is not None and self._started:
            # Too late to change the answer: the server re-raises (PEP 3333).
            return self._start_response(status, headers, exc_info)
        editor = self._editor = ResponseEditor(self._rules, self._request, self._decision)
        given = _to_bytes(headers)
        raw = editor.headers(int(status[:3]), given)
        if editor.records_gpc():
            raw = list(raw)
            editor.record_gpc(raw)
        if not editor.rewriting:
            self._started = True
            # Untouched headers (the common case) go back as the app wrote them.
            out = headers if raw is given else _to_str(raw)
            return self._start_response(status, out, exc_info)
        self._held = (status, raw)  # converted when sent: sniffing may still edit it
        return self._written.append

    def _flush_start(self, length: int | None = None) -> None:
        if self._started or self._held is None:
            return
        status, raw = self._held
        headers = _to_str(raw)
        resized = self._editor is not None and self._editor.resized
        if length is not None and resized and self._request.method != "HEAD":
            headers.append(("content-length", str(length)))
        self._started = True
        self._start_response(status, headers)

    @property
    def passes_through(self) -> bool:
        """Headers already sent and the body untouched: the app's iterable can go as is."""
        return self._started and (self._editor is None or not self._editor.rewriting)

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.result)
        first: list[bytes] = []
        if self._editor is None:
            # start_response may come with the app's first chunk (a generator app).
            first = [chunk for chunk in (next(chunks, None),) if chunk is not None]
        editor = self._editor
        if editor is None or not editor.rewriting:
            yield from first
            yield from chunks
            return
        if isinstance(self.result, list | tuple):
            # The whole body is here: rewrite it in one go and send its exact length.
            whole = b"".join(
                editor.body(chunk, True)[0] for chunk in [*self._written, *self.result]
            )
            whole += editor.body(b"", False)[0]
            self._flush_start(len(whole))
            yield whole
            return
        for chunk in self._pending(first, chunks):
            payload, more = editor.body(chunk, True)
            if payload:
                self._flush_start()
                yield payload
            if not more:
                # An undecodable compressed body ends at the last good byte; a withheld
                # one before its first: either way the headers still go out.
                self._flush_start()
                return
        payload, _ = editor.body(b"", False)
        self._flush_start()
        yield payload

    def _pending(self, first: list[bytes], chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The body in order: bytes given to ``write()``, then the iterable's chunks."""
        for chunk in chain(first, chunks):
            if self._written:
                yield from self._written
                self._written = []
            yield chunk
        yield from self._written
        self._written = []

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self.result, "close", None)
        if close is not None:
            close()
