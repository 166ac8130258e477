"""``ConsentMiddleware``: pure ASGI middleware that enforces consent on every response.

Per request it reads the signed consent cookie into a :class:`~consentkit.decision.Decision`
(exposed as ``request.state.consent``), sends requests under the prefix to the
:class:`~.endpoints.ConsentEndpoints`, and wraps ``send`` in a :class:`~.responder.Responder`
that filters ``Set-Cookie`` lines, expires refused cookies and, for HTML, streams the
body through the rewriter. Everything but the ASGI protocol lives in
:class:`~.core.ConsentCore`, which the WSGI middleware shares.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..decision import Decision
from .core import ConsentCore
from .request import RequestInfo
from .responder import Responder, send_reply
from .responses import BadRequest, error

__all__ = ["ConsentMiddleware"]


class ConsentMiddleware(ConsentCore):
    """Keep a site's cookie-consent promises on the server (ASGI).

    Args:
        app: the ASGI app to wrap (positionally or as ``app=``, as Litestar's
            ``DefineMiddleware`` passes it).
        **kwargs: the options of :class:`~.core.ConsentCore` (``policy``, ``secret_key``,
            ``store``, ``receipt_key``, ``banner``, ... and the fields of ``Settings``).
    """

    def __init__(self, app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self._https_cookie = self.settings.request_cookie_name("https")
        self._http_cookie = self.settings.request_cookie_name("http")
        self._https_reads = self.cookie_reads(self._https_cookie)
        self._http_reads = self.cookie_reads(self._http_cookie)
        self._routed = (self._prefix, "/.well-known/gpc.json")
        """What a path that may not be the app's starts with (:meth:`route` tells)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every request runs this: the rare branches live in methods of their own, so the
        # code a request walks through stays small (it is cold in the CPU's caches).
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        if scope.get("scheme") == "https":
            request = RequestInfo(scope, self._https_cookie, self._https_reads)
        else:
            request = RequestInfo(scope, self._http_cookie, self._http_reads)
        decision = self.decide(request)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["consent"] = decision
        if scope["path"].startswith(self._routed) and await self._answered(
            request, decision, receive, send
        ):
            return
        responder = Responder(self.rules, request, decision, send)
        await self.app(scope, receive, responder.send)
        if responder.open and responder.unfinished:
            await responder.finish()

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answered(
        self, request: RequestInfo, decision: Decision, receive: Receive, send: Send
    ) -> bool:
        """Answer a request for consentkit's own endpoints or the GPC file; ``False`` when
        the path only looks like one (the app answers it)."""
        route = self.route(request.path)
        if route == "endpoints":
            await self._endpoint(request, decision, receive, send)
            return True
        if route == "gpc":
            await send_reply(self.endpoints.gpc_json(), send)
            return True
        return False

    async def _endpoint(
        self, request: RequestInfo, decision: Decision, receive: Receive, send: Send
    ) -> None:
        endpoints = self.endpoints
        body = b""
        if endpoints.reads_body(request):
            try:
                endpoints.admit_body(request)
                body = await self._read_body(receive)
            except BadRequest as exc:
                # After a timed-out body the connection's state is unknown: the server closes it.
                close = {"Connection": "close"} if exc.status == 408 else None
                await send_reply(error(exc.status, exc.message, close), send)
                return
        if endpoints.blocks(request):
            reply = await anyio.to_thread.run_sync(endpoints.handle, request, decision, body)
        else:
            reply = endpoints.handle(request, decision, body)
        await send_reply(reply, send)

    async def _read_body(self, receive: Receive) -> bytes:
        limit = self.settings.max_body_size
        chunks: list[bytes] = []
        size = 0
        # A body dribbled in byte by byte must not hold the request open for ever.
        with anyio.move_on_after(self.settings.body_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise BadRequest(400, "client disconnected")
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise self.endpoints.too_large()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        raise BadRequest(408, "the request body did not arrive in time")

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the lifespan protocol through; close the store once the app has shut down."""

        async def send_closing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await anyio.to_thread.run_sync(self.close)
            await send(message)

        await self.app(scope, receive, send_closing)
