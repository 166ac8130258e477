"""The framework-neutral answer (:class:`Reply`) every endpoint returns, JSON errors, queries.

Endpoints never talk ASGI or WSGI: they return a :class:`Reply` (status, raw headers, a
body as bytes or an iterator of chunks) that the ASGI middleware sends as messages and
the WSGI middleware hands to ``start_response``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = ["BadRequest", "Reply", "error", "json_reply", "query_value", "reply"]

_NO_BODY: Final = frozenset({204, 304})


class BadRequest(Exception):
    """Bad input from the visitor: answered with *status* and a JSON error, never a 500."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(slots=True)
class Reply:
    """An answer: status, raw lower-case headers, and bytes or an iterator of chunks.

    An iterator body is produced lazily (an export streams from the store); the ASGI
    adapter pulls it in a worker thread, the WSGI adapter returns it to the server.
    """

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes | Iterator[bytes] = b""

    def header(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        return next((v.decode("latin-1") for k, v in self.headers if k == key), None)


def reply(
    body: bytes | str | Iterator[bytes] = b"",
    *,
    status: int = 200,
    media_type: str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Reply:
    """A :class:`Reply` with *headers*, a ``Content-Type`` and, for bytes, a ``Content-Length``."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items]
    if isinstance(body, str):
        body = body.encode("utf-8")
    if media_type is not None:
        raw.append((b"content-type", media_type.encode("latin-1")))
    if isinstance(body, bytes) and status >= 200 and status not in _NO_BODY:
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
    return Reply(status, raw, body)


def json_reply(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """*data* as compact UTF-8 JSON."""
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return reply(body, status=status, media_type="application/json", headers=headers)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON ``{"error": message}`` answer."""
    return json_reply({"error": message}, status=status, headers=headers)


def query_value(query: str, key: str) -> str | None:
    """The first value of *key* in a query string; ``None`` when absent or malformed."""
    try:
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k == key:
                return v
    except ValueError:
        return None
    return None
