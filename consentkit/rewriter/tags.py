"""Tags as the WHATWG tokenizer sees them: patterns, a parsed tag, an incremental end finder.

Everything works on the bytes of an ASCII-compatible document, so a tag's bytes can be
copied out unchanged or edited in place.
"""

from __future__ import annotations

import html
import re
from enum import IntEnum
from typing import Final, NamedTuple

__all__ = [
    "ATTR",
    "ATTRS",
    "TAG",
    "TAG_NAME",
    "Attribute",
    "FoundTag",
    "Tag",
    "TagEndScanner",
    "TagSpan",
    "attr_text",
]

ATTRS: Final = (
    rb"(?:[\t\n\f\r /]++"
    rb"|(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)[\t\n\f\r ]*+"
    rb"""(?:=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))|(?!=)))*+"""
)
TAG: Final = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*+)" + ATTRS + rb">")
"""A complete start or end tag: group 1 is ``/`` for an end tag, group 2 the name."""
ATTR: Final = re.compile(
    rb"(=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)[\t\n\f\r ]*+"
    rb"(?:=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+)|(?=>)))?+"""
)
TAG_NAME: Final = re.compile(rb"</?([A-Za-z][^\t\n\f\r />]*+)")
# URL parsers drop tabs and newlines: "/\n/" is "//" to them.
# "https:host" needs no slashes at all.
_QUICK_IGNORE: Final = re.compile(
    rb"[/\\][\t\n\r]*+[/\\]|\\|&|:[\t\n\r]*+/|[pPsS\t\n\r]:|(?i:data-(?:c|service))"
)

# Whole attributes that end before the data does: the end finder's bulk step. A name or an
# unquoted value only counts once the byte after it is seen, and a name followed by
# whitespace only once it is known whether "=" follows, so the step never ends in the middle
# of something whose meaning the next chunk could change.
_WHOLE_ATTRS: Final = re.compile(
    rb"(?:[\t\n\f\r /]++"
    rb"|(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)"
    rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+(?=[\t\n\f\r >]))"""
    rb"|(?=[/>])|[\t\n\f\r ]++(?=[^\t\n\f\r =])))*+"
)
_NAME_KEPT: Final = 32
"""Tag-name bytes kept by the end finder: enough for every name that changes state."""
_NAME_CHARS: Final = re.compile(rb"[^\t\n\f\r />=]*+")
_TAG_NAME_CHARS: Final = re.compile(rb"[^\t\n\f\r />]*+")
_WS: Final = re.compile(rb"[\t\n\f\r ]*+")
_WS_SLASH: Final = re.compile(rb"[\t\n\f\r /]*+")
_UNQUOTED: Final = re.compile(rb"[^\t\n\f\r >]*+")


def attr_text(value: bytes | None) -> str:
    """An attribute value as the browser reads it (character references decoded)."""
    return "" if value is None else html.unescape(value.decode("latin-1"))


class Attribute(NamedTuple):
    """One attribute of a tag, with where its name sits in the document."""

    name: bytes
    """Lower case."""
    name_start: int
    name_end: int
    value: bytes | None
    """Raw bytes between the quotes, or ``None`` for an attribute without ``=``."""


class TagSpan(NamedTuple):
    """Where a tag lies in a buffer."""

    start: int
    end: int


class FoundTag(NamedTuple):
    """A complete tag in a buffer, as far as the tokenizer needs it."""

    end: int
    is_end: bool
    name: bytes
    """Lower case."""
    name_end: int


class Tag:
    """A complete tag in a buffer; attributes are parsed on first use."""

    __slots__ = ("_attrs", "_items", "_last", "buf", "end", "name", "name_end", "start")

    def __init__(self, buf: bytes, start: int, end: int, name: bytes, name_end: int) -> None:
        self.buf = buf
        self.start = start
        self.end = end
        self.name = name
        self.name_end = name_end
        self._items: list[Attribute] | None = None
        self._attrs: dict[bytes, bytes | None] = {}
        self._last = name_end

    @property
    def items(self) -> list[Attribute]:
        """The attributes in source order (duplicates included)."""
        if self._items is None:
            self._items = []
            for found in ATTR.finditer(self.buf, self.name_end, self.end):
                attr = found.group(1).lower()
                value = found.group(2)
                if value is None:
                    value = found.group(3)
                    if value is None:
                        value = found.group(4)
                        if value is None and b"=" in found.group()[len(found.group(1)) :]:
                            value = b""
                self._items.append(Attribute(attr, found.start(1), found.end(1), value))
                self._attrs.setdefault(attr, value)
                self._last = found.end()
        return self._items

    @property
    def raw(self) -> bytes:
        """The tag's bytes as in the source."""
        return self.buf[self.start : self.end]

    def _parsed(self) -> dict[bytes, bytes | None]:
        if self._items is None:
            _ = self.items
        return self._attrs

    def has(self, name: bytes) -> bool:
        """Whether the tag has attribute *name* (lower case)."""
        return name in self._parsed()

    def get(self, name: bytes) -> bytes | None:
        """The first raw value of attribute *name*."""
        return self._parsed().get(name)

    def text(self, name: bytes) -> str:
        """The first value of attribute *name*, decoded and stripped."""
        return attr_text(self.get(name)).strip()

    def quick_ignore(self) -> bool:
        """True when no attribute can hold an absolute URL or a consent marking
        (``data-c...``, or another tool's ``data-service``)."""
        return _QUICK_IGNORE.search(self.buf, self.start, self.end) is None

    @property
    def self_closing(self) -> bool:
        """Whether the tag ends with ``/>`` (not a ``/`` ending an unquoted value)."""
        if self.buf[self.end - 2] != 0x2F:  # no "/" before ">": no need to parse
            return False
        self._parsed()
        return self._last <= self.end - 2


class _Where(IntEnum):
    """Where inside a tag the end finder stands (the WHATWG tag and attribute states)."""

    TAG_NAME = 0
    BEFORE_NAME = 1
    NAME = 2
    AFTER_NAME = 3
    BEFORE_VALUE = 4
    DOUBLE_QUOTED = 5
    SINGLE_QUOTED = 6
    UNQUOTED = 7


class TagEndScanner:
    """Finds where a tag ends, resuming where the previous chunk stopped.

    Each byte is looked at once, whatever the chunking, so a tag too long to hold costs
    time in proportion to its length. ``steps`` counts the loop turns (for tests).
    """

    __slots__ = ("is_end", "name", "steps", "where")

    def __init__(self, name: bytes, *, is_end: bool) -> None:
        self.name = name
        """Tag name, lower case, as far as seen."""
        self.is_end = is_end
        self.where = _Where.TAG_NAME
        self.steps = 0

    def scan(self, buf: bytes | bytearray, pos: int, end: int) -> int:
        """Index just past the tag's ``>`` in ``buf[pos:end]``, or -1 after consuming it all."""
        while pos < end:
            self.steps += 1
            where = self.where
            if where is _Where.TAG_NAME:
                stop = _TAG_NAME_CHARS.match(buf, pos, end).end()  # type: ignore[union-attr]
                if len(self.name) < _NAME_KEPT:
                    self.name += bytes(buf[pos : min(stop, pos + _NAME_KEPT)]).lower()
                pos = stop
                if pos < end:
                    if buf[pos] == 0x3E:
                        return pos + 1
                    self.where = _Where.BEFORE_NAME
                    pos += 1
            elif where is _Where.BEFORE_NAME:
                pos = _WHOLE_ATTRS.match(buf, pos, end).end()  # type: ignore[union-attr]
                pos = _WS_SLASH.match(buf, pos, end).end()  # type: ignore[union-attr]
                if pos < end:
                    if buf[pos] == 0x3E:
                        return pos + 1
                    self.where = _Where.NAME
                    pos += 1  # the first character, "=" included, belongs to the name
            elif where is _Where.NAME:
                pos = _NAME_CHARS.match(buf, pos, end).end()  # type: ignore[union-attr]
                if pos < end:
                    byte = buf[pos]
                    pos += 1
                    if byte == 0x3E:
                        return pos
                    if byte == 0x3D:
                        self.where = _Where.BEFORE_VALUE
                    elif byte == 0x2F:
                        self.where = _Where.BEFORE_NAME
                    else:
                        self.where = _Where.AFTER_NAME
            elif where is _Where.AFTER_NAME:
                pos = _WS.match(buf, pos, end).end()  # type: ignore[union-attr]
                if pos < end:
                    byte = buf[pos]
                    if byte == 0x3E:
                        return pos + 1
                    if byte == 0x3D:
                        self.where = _Where.BEFORE_VALUE
                        pos += 1
                    elif byte == 0x2F:
                        self.where = _Where.BEFORE_NAME
                        pos += 1
                    else:  # a new attribute: the bulk step takes it from here
                        self.where = _Where.BEFORE_NAME
            elif where is _Where.BEFORE_VALUE:
                pos = _WS.match(buf, pos, end).end()  # type: ignore[union-attr]
                if pos < end:
                    byte = buf[pos]
                    if byte == 0x3E:
                        return pos + 1
                    if byte == 0x22:
                        self.where = _Where.DOUBLE_QUOTED
                        pos += 1
                    elif byte == 0x27:
                        self.where = _Where.SINGLE_QUOTED
                        pos += 1
                    else:
                        self.where = _Where.UNQUOTED
            elif where is _Where.UNQUOTED:
                pos = _UNQUOTED.match(buf, pos, end).end()  # type: ignore[union-attr]
                if pos < end:
                    if buf[pos] == 0x3E:
                        return pos + 1
                    self.where = _Where.BEFORE_NAME
                    pos += 1
            else:
                quote = b'"' if where is _Where.DOUBLE_QUOTED else b"'"
                close = buf.find(quote, pos, end)
                if close == -1:
                    return -1
                self.where = _Where.BEFORE_NAME
                pos = close + 1
        return -1
