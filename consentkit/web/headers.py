"""Response header edits that keep pages cache-safe, and header lookups.

Header names are compared lowered: ASGI servers lowercase request headers, but
apps write response headers in any spelling, and :class:`RawHeaders` removes every
spelling before adding ours. Everything here works on the raw ``(bytes, bytes)`` list
both the ASGI and the WSGI adapters hold, so neither needs a framework's header type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final

__all__ = [
    "RawHeaders",
    "add_vary",
    "csp_nonce",
    "header_value",
    "list_items",
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


@lru_cache(maxsize=64)
def _keys(names: tuple[str, ...]) -> frozenset[bytes]:
    """The lowered keys of header *names*: the same few sets, asked for on every page."""
    return frozenset(name.lower().encode("latin-1") for name in names)


class RawHeaders:
    """A case-insensitive view that edits a raw header list in place.

    Assigning a name removes every spelling of it first (``Content-Length`` and
    ``content-length`` never both leave); :meth:`append` adds a line beside the others
    (``Set-Cookie``, ``Vary``). The lowered names present are read once, so asking for
    a header the response does not carry (the usual answer) costs no pass over the list.
    Edit the list through this view only while it is in use.
    """

    __slots__ = ("_names", "raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._names = {k.lower() for k, _ in raw}

    def has(self, key: bytes) -> bool:
        """Whether a line of header *key* (lower case) is present, in any spelling."""
        return key in self._names

    def getlist(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        if key not in self._names:
            return []
        return [v.decode("latin-1") for k, v in self.raw if k.lower() == key]

    def get(self, name: str, default: str | None = None) -> str | None:
        if name.lower().encode("latin-1") not in self._names:
            return default
        found = header_value(self.raw, name)
        return default if found is None else found

    def __contains__(self, name: str) -> bool:
        return name.lower().encode("latin-1") in self._names

    def __delitem__(self, name: str) -> None:
        self.remove(name)

    def remove(self, *names: str) -> None:
        """Remove every line of each header in *names* (any spelling), in one pass."""
        self.drop(_keys(names))

    def drop(self, keys: frozenset[bytes]) -> None:
        """:meth:`remove` for header names given lowered, as bytes."""
        present = keys & self._names
        if present:
            self.raw[:] = [(k, v) for k, v in self.raw if k.lower() not in present]
            self._names -= present

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self.append(name, value)

    def append(self, name: str, value: str) -> None:
        self.append_raw(name.lower().encode("latin-1"), value.encode("latin-1"))

    def append_raw(self, key: bytes, value: bytes) -> None:
        """:meth:`append` for a name given lowered and a value, as bytes."""
        self.raw.append((key, value))
        self._names.add(key)


@lru_cache(maxsize=16)
def _joined(fields: tuple[str, ...]) -> bytes:
    """A list header's value of *fields* (the same few, asked for on every page)."""
    return ", ".join(fields).encode("latin-1")


def list_items(lines: Sequence[str]) -> list[str]:
    """Elements of comma-separated header lines; commas inside quoted strings stay put."""
    return [item.strip() for line in lines for item in _LIST_ITEM.findall(line) if item.strip()]


def add_vary(headers: RawHeaders, *fields: str) -> None:
    """Add *fields* to ``Vary`` unless present (or ``*``), as one merged line."""
    if not headers.has(b"vary"):  # the common case: one new line
        headers.append_raw(b"vary", _joined(fields))
        return
    items = list_items(headers.getlist("vary"))
    lowered = {item.lower() for item in items}
    missing = [f for f in fields if f.lower() not in lowered]
    if "*" in lowered or not missing:
        return
    # One merged line (assigning removes every Vary line first).
    headers["vary"] = ", ".join([*items, *missing])


def make_private(headers: RawHeaders) -> None:
    """A consent-dependent page must not be stored by shared caches."""
    if not headers.has(b"cache-control"):  # the common case: one new line
        headers.append_raw(b"cache-control", b"private")
        return
    directives = list_items(headers.getlist("cache-control"))
    names = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "no-store" in names or "private" in (d.lower() for d in directives):
        return
    # ``private="set-cookie"`` only hides the named fields: the page itself stays shareable.
    dropped = ("public", "s-maxage", "private")
    kept = [d for d, name in zip(directives, names, strict=True) if name not in dropped]
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
