"""Small pieces every endpoint module shares: JSON errors and query-string lookups."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response

__all__ = ["BadRequest", "error", "query_value"]


class BadRequest(Exception):
    """Bad input from the visitor: answered with *status* and a JSON error, never a 500."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON ``{"error": message}`` answer."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def query_value(query: str, key: str) -> str | None:
    """The first value of *key* in a query string; ``None`` when absent or malformed."""
    try:
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k == key:
                return v
    except ValueError:
        return None
    return None
