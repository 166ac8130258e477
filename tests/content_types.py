"""``Content-Type`` values a browser renders as HTML though they look odd to a server.

Each is served with the same ASCII page holding a tracker tag: Chromium renders every one
as HTML (an unknown charset label as windows-1252) and would request the tracker.
"""

from __future__ import annotations

ODD_HTML_TYPES = [
    "text/html, */*",
    "text/html,",
    ", text/html",
    "text/html x",
    "text/plain, text/html",
    "TEXT/HTML ; charset=utf-8",
    'text/html; charset="utf-8"',
    'text/html; q="a;b,c"; charset=utf-8',
    "text/html; charset=utf-7",
    "text/html; charset=cp037",
    "text/html; charset=utf-32",
    "text/html; charset=UTF-32LE",
    "text/html; charset=no-such-label",
    "text/html; charset=iso-2022-kr",
    "text/html; charset=csiso2022kr",
    "text/html; charset=hz-gb-2312",
]
"""Every value whose page must reach the browser with its tracker neutralised (or withheld)."""

WITHHELD = frozenset(
    {
        "text/html; charset=iso-2022-kr",
        "text/html; charset=csiso2022kr",
        "text/html; charset=hz-gb-2312",
    }
)
"""The WHATWG ``replacement`` encoding: nothing to rewrite, so the body is withheld."""
