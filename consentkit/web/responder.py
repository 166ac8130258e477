"""The ASGI side of a response: ``send`` wrapped so each response keeps the consent.

One :class:`Responder` per request (no per-request state on the middleware). It holds
``http.response.start`` until the body path is known and lets the framework-neutral
:class:`~.editor.ResponseEditor` decide the headers and rewrite the HTML body; it only
turns that into ASGI messages (and runs the blocking GPC receipt in a worker thread).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

import anyio
from starlette.types import Message, Send

from ..decision import Decision
from ..speedups import native
from .editor import Reading, ResponseEditor, read_response
from .request import RequestInfo
from .responses import Reply
from .rules import ResponseRules

__all__ = ["Responder", "ResponseRules", "send_reply"]

_FILE_CHUNK: Final = 64 * 1024


class _PyResponderCore:
    """The slots of :class:`Responder` and its ``send`` for the common case, in Python
    (the compiled ``ResponderCore`` of :mod:`consentkit.speedups` is its twin)."""

    __slots__ = (
        "_send",
        "_untouched",
        "decision",
        "editor",
        "open",
        "request",
        "rules",
        "start",
        "started",
    )

    def __init__(
        self,
        rules: ResponseRules,
        request: RequestInfo,
        decision: Decision,
        send: Send,
    ) -> None:
        self.rules = rules
        self.request = request
        self.decision = decision
        self._send = send
        self.editor: ResponseEditor | None = None
        """Built when the headers ask for edits (see :func:`read_response`)."""
        self.start: Message | None = None
        self.started = False
        self._untouched = False
        """Set once the headers are read when the body passes as the app wrote it."""
        self.open = True
        """False once an untouched response sent a message after its start; until then
        the middleware asks :attr:`Responder.unfinished`."""

    def send(self, message: Message) -> Awaitable[None]:
        """The ``send`` the app gets (it awaits what this returns)."""
        if self._untouched:
            # The common case: the message is the server's to send.
            self.open = False
            return self._send(message)
        return self._send_slow(message)

    def _send_slow(self, message: Message) -> Awaitable[None]:
        raise NotImplementedError


if TYPE_CHECKING or native is None:  # noqa: SIM108 - the type checker reads one branch
    _ResponderCore = _PyResponderCore
else:
    _ResponderCore = native.ResponderCore


class Responder(_ResponderCore):
    """Per-request wrapper of ``send``: headers first, then the body path.

    Most responses (API answers, assets) pass as the app wrote them; for those no
    :class:`ResponseEditor` is built, the start goes out at once and each message costs
    one check: :meth:`send` then hands back the server's own ``send`` awaitable instead
    of wrapping it in a coroutine of its own. With the compiled ``ResponderCore``, a
    start that surely passes untouched (a type known not to be HTML, no ``Set-Cookie``,
    no refused cookie to expire) never reaches :meth:`_send_slow` either.
    """

    __slots__ = ()

    def _send_slow(self, message: Message) -> Awaitable[None]:
        """:meth:`send` past the untouched case: the start read, or a message after it."""
        if self.start is None and message["type"] == "http.response.start":
            self.start = message
            raw = message.get("headers") or []
            if type(raw) is not list:  # any iterable (ASGI): read once, sent as read
                raw = message["headers"] = list(raw)
            status = message.get("status", 200)
            reading = read_response(self.rules, self.request, self.decision, status, raw)
            if reading is None:
                # Nothing to edit: the start leaves as it came, now.
                self._untouched = self.started = True
                return self._send(message)
            return self._start(message, reading)
        return self._message(message)

    async def _start(self, message: Message, reading: Reading) -> None:
        """A start whose headers change: edited, and held until the body path is known."""
        editor = self.editor = ResponseEditor(self.rules, self.request, self.decision)
        message["headers"] = editor.edit(message["headers"], reading)
        if editor.records_gpc():
            await anyio.to_thread.run_sync(editor.record_gpc, message["headers"])
        if not editor.rewriting:
            # Only the headers decide this: a body not rewritten, withheld or sniffed
            # passes as it is, behind its edited start.
            self._untouched = self.started = True
            await self._send(message)

    async def _message(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            await self._body(message)
            return
        if kind == "http.response.pathsend" and self._rewriting:
            await self._pathsend(message)
            return
        await self._flush_start()
        await self._send(message)

    @property
    def _rewriting(self) -> bool:
        return self.editor is not None and self.editor.rewriting

    @property
    def unfinished(self) -> bool:
        """Whether the app left something open: a held start with no body, or an
        unfinished rewrite (see :meth:`finish`)."""
        if self.start is None:
            return False
        if self._untouched:
            return self.open
        if not self.started:
            return True
        editor = self.editor
        return editor is not None and editor.rewriting and not editor.ended

    async def finish(self) -> None:
        """Complete what the app left open: a start with no body, an unfinished rewrite.

        Both break the ASGI contract, but the visitor should still get the page
        (and the banner) rather than a server error.
        """
        if self.unfinished:
            await self._body({"type": "http.response.body", "body": b"", "more_body": False})

    async def _flush_start(self) -> None:
        if not self.started and self.start is not None:
            self.started = True
            await self._send(self.start)

    async def _body(self, message: Message) -> None:
        editor = self.editor
        if editor is None or not editor.rewriting:
            await self._flush_start()
            await self._send(message)
            return
        if editor.ended:
            return  # the rewritten body was cut short at an undecodable chunk
        payload, more = editor.body(message.get("body", b""), message.get("more_body", False))
        if not self.started and (payload or not more):
            # Headers leave with the first bytes out: until then (a body held for sniffing)
            # they may still change.
            resized = editor.resized and editor.request.method != "HEAD"
            if not more and self.start is not None and resized:
                # One body: the exact new length is known.
                self.start["headers"].append((b"content-length", str(len(payload)).encode()))
            await self._flush_start()
        if payload or not more:
            await self._send({"type": "http.response.body", "body": payload, "more_body": more})

    async def _pathsend(self, message: Message) -> None:
        # Read one chunk ahead so a small file goes out as one body with its exact length.
        async with await anyio.open_file(message["path"], "rb") as fh:
            chunk = await fh.read(_FILE_CHUNK)
            while True:
                following = await fh.read(_FILE_CHUNK) if chunk else b""
                await self._body(
                    {"type": "http.response.body", "body": chunk, "more_body": bool(following)}
                )
                if not following:
                    return
                chunk = following


async def send_reply(reply: Reply, send: Send) -> None:
    """Send a framework-neutral :class:`Reply` as ASGI messages.

    An iterator body (an export reading the store) is pulled in a worker thread.
    """
    await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
    body = reply.body
    if isinstance(body, bytes):
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return
    done = object()
    while True:
        chunk = await anyio.to_thread.run_sync(next, body, done)
        if chunk is done:
            break
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
