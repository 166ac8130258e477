"""Response header edits that keep pages cache-safe, and header lookups.

Header names are compared lowered: ASGI servers lowercase request headers, but
apps write response headers in any spelling, and :class:`MutableHeaders` removes
every spelling before adding ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from starlette.datastructures import MutableHeaders

__all__ = [
    "add_vary",
    "csp_nonce",
    "header_value",
    "list_items",
    "lowered_names",
    "make_private",
]

_LIST_ITEM: Final = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')
_NONCE_RE: Final = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
_SCRIPT_DIRECTIVES: Final = ("script-src-elem", "script-src", "default-src")


def header_value(headers: Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    """The first value of header *name* (any spelling) in a raw ASGI list, else ``None``."""
    key = name.lower().encode("latin-1")
    for k, v in headers:
        if k == key or k.lower() == key:
            return v.decode("latin-1")
    return None


def lowered_names(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A raw ASGI header list with every name lower-cased.

    :class:`MutableHeaders` finds, replaces and deletes only lower-case names: an app that
    writes ``Content-Length`` (Django does) would otherwise keep its line next to ours.
    HTTP names are case-insensitive, so lowering them changes nothing for the client.
    """
    return [(key.lower(), value) for key, value in headers]


def list_items(lines: Sequence[str]) -> list[str]:
    """Elements of comma-separated header lines; commas inside quoted strings stay put."""
    return [item.strip() for line in lines for item in _LIST_ITEM.findall(line) if item.strip()]


def add_vary(headers: MutableHeaders, *fields: str) -> None:
    """Add *fields* to ``Vary`` unless present (or ``*``), as one merged line."""
    items = list_items(headers.getlist("vary"))
    lowered = {item.lower() for item in items}
    missing = [f for f in fields if f.lower() not in lowered]
    if "*" in lowered or not missing:
        return
    # One merged line: assigning by key would drop every Vary line but the first.
    del headers["vary"]
    headers["vary"] = ", ".join([*items, *missing])


def make_private(headers: MutableHeaders) -> None:
    """A consent-dependent page must not be stored by shared caches."""
    directives = list_items(headers.getlist("cache-control"))
    names = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "no-store" in names or "private" in (d.lower() for d in directives):
        return
    # ``private="set-cookie"`` only hides the named fields: the page itself stays shareable.
    dropped = ("public", "s-maxage", "private")
    kept = [d for d, name in zip(directives, names, strict=True) if name not in dropped]
    del headers["cache-control"]
    headers["cache-control"] = ", ".join(["private", *kept])


def csp_nonce(policies: Sequence[str]) -> str | None:
    """The nonce injected ``<script>`` elements need under every policy, else ``None``.

    Each policy is read at the directive browsers apply to script elements: a nonce in,
    say, ``style-src`` would not let a script run. Without a usable nonce the injected
    code is external (under the prefix), which ``script-src 'self'`` allows.
    """
    nonce: str | None = None
    for header in policies:
        for policy in header.split(","):
            directives: dict[str, list[str]] = {}
            for part in policy.split(";"):
                tokens = part.split()
                if tokens:
                    directives.setdefault(tokens[0].lower(), tokens[1:])
            sources = next((directives[d] for d in _SCRIPT_DIRECTIVES if d in directives), None)
            if sources is None:
                continue  # this policy does not restrict scripts
            found = next((m.group(1) for s in sources if (m := _NONCE_RE.fullmatch(s))), None)
            if found is None:
                return None
            nonce = nonce or found
    return nonce
