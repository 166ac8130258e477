"""The tokenizer's vocabulary: its states, and the tag names and patterns that move it
between them (kept apart from the state machine in :mod:`.tokenizer`, which reads them on
every step).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Final

__all__ = [
    "COMMENT_END",
    "FOREIGN_SINK_TAGS",
    "MAX_PENDING",
    "NON_WS",
    "NOSCRIPT",
    "NOSCRIPT_END",
    "RAWTEXT",
    "RAW_END",
    "RCDATA",
    "SINK_TAGS",
    "State",
]

MAX_PENDING: Final = 256 * 1024
"""Longest construct (tag or inline script) held back to be classified whole."""


class State(IntEnum):
    """Tokenizer states; each has one handler in :attr:`Tokenizer._handlers`."""

    DATA = 0
    COMMENT_START = 1
    COMMENT = 2
    BOGUS_COMMENT = 3
    CDATA = 4
    RAW_TEXT = 5
    """RAWTEXT and RCDATA alike: only the matching end tag ends them."""
    NOSCRIPT = 6
    """Raw text for a browser with scripting on, but pixels inside still count."""
    PLAINTEXT = 7
    SCRIPT = 8
    TAG_SKIP = 9
    """Streaming a tag too long to hold, until its ``>``."""


NON_WS = re.compile(rb"[^\t\n\f\r ]")
COMMENT_END = re.compile(rb"--!?>")
NOSCRIPT = re.compile(rb"</noscript[\t\n\f\r />]|<(?:img|image|iframe|link)[\t\n\f\r />]", re.I)
NOSCRIPT_END = re.compile(rb"</noscript[\t\n\f\r />]", re.I)

RAWTEXT: Final = frozenset({b"style", b"xmp", b"iframe", b"noembed", b"noframes"})
RCDATA: Final = frozenset({b"textarea", b"title"})
RAW_END: Final = {
    name: re.compile(b"</" + re.escape(name) + rb"[\t\n\f\r />]", re.I)
    for name in (b"noscript", *RAWTEXT, *RCDATA)
}
"""The end tag that closes each raw-text and RCDATA element's text."""
SINK_TAGS: Final = frozenset(
    b"script iframe img image link source video audio track embed object input base style".split()
)
FOREIGN_SINK_TAGS: Final = frozenset({b"script", b"image", b"feimage"})
