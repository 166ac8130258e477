"""A response's MIME type as a browser reads its ``Content-Type``: the Fetch standard's rules.

:func:`extract_mime_type` follows Fetch's "extract a MIME type" on the combined header
value (every ``Content-Type`` line joined with ``", "``): the value is split on commas
outside quoted strings, each piece parsed as MIME Sniffing's "parse a MIME type", and the
last valid one that is not ``*/*`` wins, keeping an earlier ``charset`` when the essence
stays the same. A header that looks odd to a server (``text/html, */*``, ``, text/html``,
``TEXT/HTML ; charset="utf-8"``) is still HTML to the browser, so it is HTML here too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

__all__ = [
    "SNIFF_BYTES",
    "MimeType",
    "extract_mime_type",
    "parse_mime_type",
    "sniffs_as_html",
    "split_header_value",
]

_WHITESPACE = "\t\n\r "
_TAB_OR_SPACE = "\t "
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class MimeType:
    """A parsed MIME type: lower-case ``type/subtype`` and its parameters (names lower-cased)."""

    type: str
    subtype: str
    parameters: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def essence(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def charset(self) -> str | None:
        return self.parameters.get("charset")


def _is_token(text: str) -> bool:
    return bool(text) and all(char in _TOKEN for char in text)


def _quoted_string_safe(text: str) -> bool:
    return all(char == "\t" or " " <= char <= "~" or "\x80" <= char <= "\xff" for char in text)


def _collect_quoted(text: str, position: int, *, extract: bool) -> tuple[str, int]:
    """Fetch's "collect an HTTP quoted string" from the ``"`` at *position*."""
    start = position
    value = []
    position += 1
    while True:
        stop = position
        while stop < len(text) and text[stop] not in '"\\':
            stop += 1
        value.append(text[position:stop])
        position = stop
        if position >= len(text):
            break
        quote_or_backslash = text[position]
        position += 1
        if quote_or_backslash == "\\":
            if position >= len(text):
                value.append("\\")
                break
            value.append(text[position])
            position += 1
        else:
            break
    return ("".join(value) if extract else text[start:position]), position


def split_header_value(value: str) -> list[str]:
    """Fetch's "get, decode, and split": commas inside quoted strings do not split."""
    values: list[str] = []
    piece = ""
    position = 0
    while True:
        stop = position
        while stop < len(value) and value[stop] not in '",':
            stop += 1
        piece += value[position:stop]
        position = stop
        if position < len(value) and value[position] == '"':
            quoted, position = _collect_quoted(value, position, extract=False)
            piece += quoted
            if position < len(value):
                continue
        values.append(piece.strip(_TAB_OR_SPACE))
        piece = ""
        if position >= len(value):
            return values
        position += 1  # the comma


def parse_mime_type(text: str) -> MimeType | None:
    """MIME Sniffing's "parse a MIME type"; ``None`` for failure."""
    text = text.strip(_WHITESPACE)
    slash = text.find("/")
    if slash < 0 or not _is_token(text[:slash]):
        return None
    semicolon = text.find(";", slash + 1)
    end = len(text) if semicolon < 0 else semicolon
    subtype = text[slash + 1 : end].rstrip(_WHITESPACE)
    if not _is_token(subtype):
        return None
    parameters: dict[str, str] = {}
    position = end
    while position < len(text):
        position += 1  # the semicolon
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        stop = position
        while stop < len(text) and text[stop] not in ";=":
            stop += 1
        name = text[position:stop].lower()
        position = stop
        if position < len(text):
            if text[position] == ";":
                continue
            position += 1  # the equals sign
        if position >= len(text):
            break
        if text[position] == '"':
            value, position = _collect_quoted(text, position, extract=True)
            while position < len(text) and text[position] != ";":
                position += 1
        else:
            stop = position
            while stop < len(text) and text[stop] != ";":
                stop += 1
            value = text[position:stop].rstrip(_WHITESPACE)
            position = stop
            if not value:
                continue
        if _is_token(name) and _quoted_string_safe(value) and name not in parameters:
            parameters[name] = value
    return MimeType(text[:slash].lower(), subtype.lower(), parameters)


def extract_mime_type(value: str | bytes) -> MimeType | None:
    """Fetch's "extract a MIME type" from a combined ``Content-Type`` value; ``None`` for failure.

    Bytes are decoded as Latin-1 (Fetch's isomorphic decode), so any byte sequence parses.
    Asked for every response, so answers are memoised: treat the result as read-only.
    """
    return _extract(value.decode("latin-1") if isinstance(value, bytes) else value)


@functools.lru_cache(maxsize=256)
def _extract(text: str) -> MimeType | None:
    charset: str | None = None
    essence: str | None = None
    found: MimeType | None = None
    for piece in split_header_value(text):
        candidate = parse_mime_type(piece)
        if candidate is None or candidate.essence == "*/*":
            continue
        found = candidate
        if found.essence != essence:
            charset = found.charset
            essence = found.essence
        elif found.charset is None and charset is not None:
            found.parameters["charset"] = charset
    return found


# --------------------------------------------------------------------------- sniffing

_HTML_SIGNATURES: tuple[bytes, ...] = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
)
"""MIME Sniffing's HTML patterns (each followed by a tag-terminating byte)."""
_SNIFF_WHITESPACE = b"\t\n\x0c\r "
_TAG_TERMINATORS = b" >"
SNIFF_BYTES = 512
"""How much of a body without ``Content-Type`` a browser looks at before deciding."""


def sniffs_as_html(data: bytes, *, complete: bool = False) -> bool | None:
    """Whether a browser sniffing a body without ``Content-Type`` renders it as HTML.

    MIME Sniffing's "identifying an unknown MIME type": leading whitespace is skipped, then
    one of the HTML patterns (``<!DOCTYPE HTML``, ``<html``, ``<script``, ``<p``, ``<!--``,
    ...), any case, followed by a space or ``>``. ``None`` when the bytes so far cannot tell
    (only whitespace, or a pattern cut short) and more may come; *complete* says none will.
    """
    start = len(data) - len(data.lstrip(_SNIFF_WHITESPACE))
    head = data[start : start + 16].lower()
    undecided = False
    for signature in _HTML_SIGNATURES:
        end = len(signature)
        if head[:end] == signature:
            if len(head) > end:
                if head[end] in _TAG_TERMINATORS:
                    return True
            else:
                undecided = True
        elif signature.startswith(head) and len(head) < end:
            undecided = True
    if (undecided or start == len(data)) and not complete and len(data) < SNIFF_BYTES:
        return None
    return False
