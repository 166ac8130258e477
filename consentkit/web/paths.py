"""The one rule for paths and links taken from a request or a policy.

A ``return_to`` value comes from the visitor (a form field, a query string), so it
is reduced to a path on this site before it reaches a ``Location`` header, a link
or a hidden field: never another site, never a header-splitting character.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, urlsplit

__all__ = ["safe_path", "safe_url"]

_MAX_PATH: Final = 2048


def safe_path(value: object, fallback: str = "/") -> str:
    """*value* if it is a same-site path (and query), else *fallback*.

    Refused: anything not starting with one ``/`` (``//host`` and ``/\\host`` are
    other sites to a browser), any backslash, control character or DEL, and paths
    over 2,048 characters. Characters beyond ASCII are percent-encoded as UTF-8, as a
    browser does, so the path fits a ``Location`` header.
    """
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 0x20 or ch == "\x7f" for ch in value)
        or len(value) > _MAX_PATH
    ):
        return fallback
    if not value.isascii():
        value = "".join(ch if ch.isascii() else quote(ch, safe="") for ch in value)
        if len(value) > _MAX_PATH:
            return fallback
    return value


def safe_url(value: str) -> str:
    """An http(s) or site-relative URL for ``href``; empty when unsafe."""
    if not value:
        return ""
    if value.startswith("/") and not value.startswith("//"):
        return safe_path(value, "")
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme in ("http", "https") and parts.netloc else ""
