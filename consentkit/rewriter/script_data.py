"""Script data: where an HTML ``<script>`` element's text ends.

The WHATWG tokenizer reads a script's text in four sub-states (data, escape start,
escaped, double escaped) so that ``<!--<script></script>-->`` inside a script does not end
it. :class:`ScriptDataScanner` follows them across chunks.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Final

__all__ = ["ScriptDataScanner", "ScriptState"]


class ScriptState(IntEnum):
    """The script-data sub-states."""

    DATA = 0
    ESCAPED_START = 1
    ESCAPED = 2
    DOUBLE_ESCAPED = 3


_SCRIPT_DATA = re.compile(rb"<(?:!--|/script[\t\n\f\r />])", re.I)
_SCRIPT_ESCAPED = re.compile(rb"-->|<(/?)script[\t\n\f\r />]", re.I)
_SCRIPT_DOUBLE = re.compile(rb"-->|</script[\t\n\f\r />]", re.I)
_PATTERNS: Final = (_SCRIPT_DATA, _SCRIPT_DATA, _SCRIPT_ESCAPED, _SCRIPT_DOUBLE)
_DASHES = re.compile(rb"-*+")
_KEEP: Final = 8
"""Bytes held at a chunk's end: a ``</script`` or ``<!--`` may continue in the next."""


class ScriptDataScanner:
    """Follows script text to the ``</script`` that ends it. ``steps`` counts loop turns."""

    __slots__ = ("state", "steps")

    def __init__(self) -> None:
        self.state = ScriptState.DATA
        self.steps = 0

    def scan(self, buf: bytes, pos: int, final: bool) -> tuple[int, bool]:
        """``(position, found)``: the ``</script`` that ends the text, or how far it is safe.

        Without *found*, ``buf[pos:position]`` is script text the next chunk cannot change.
        """
        n = len(buf)
        while pos < n:
            self.steps += 1
            state = self.state
            if state == ScriptState.ESCAPED_START:
                dashes = _DASHES.match(buf, pos).end()  # type: ignore[union-attr]
                if dashes >= n:
                    if not final:
                        return dashes, False
                    break
                closed = buf[dashes] == 0x3E
                self.state = ScriptState.DATA if closed else ScriptState.ESCAPED
                pos = dashes + closed
                continue
            found = _PATTERNS[state].search(buf, pos)
            if found is None:
                break
            text = found.group()
            if text == b"<!--":
                self.state = ScriptState.ESCAPED_START
            elif text == b"-->":
                self.state = ScriptState.DATA
            elif state == ScriptState.DOUBLE_ESCAPED:
                self.state = ScriptState.ESCAPED
            elif state == ScriptState.ESCAPED and text[1] != 0x2F:
                self.state = ScriptState.DOUBLE_ESCAPED
            else:
                return found.start(), True
            pos = found.end()
        return (n if final else max(pos, n - _KEEP)), False
