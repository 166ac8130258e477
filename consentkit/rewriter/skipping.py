"""Skipping: compiled patterns that pass over everything needing no decision in one call.

Most of a page is text and tags that can never need blocking. :func:`boring` builds a
pattern that consumes them, tag by tag as the WHATWG tokenizer reads them (quoted
attribute values included, so a ``<script`` inside ``title="..."`` is never mistaken for a
tag), and stops before the first construct that matters: a start tag named in *starts*,
an end tag named in *ends*, or anything incomplete. Python code then runs only there.

Which constructs matter depends on the plan: with something to block, images and links
too; with nothing to block, only what changes the tokenizer's state (raw text, scripts,
foreign content, templates) and the insertion points.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from consentkit.rewriter.foreign import (
    BREAKOUT,
    HTML_END_BREAKOUT,
    MATH_INTEGRATION,
    SVG_INTEGRATION,
)
from consentkit.rewriter.tags import ATTRS

__all__ = [
    "BORING_BEFORE_BODY",
    "BORING_FOREIGN",
    "BORING_HTML",
    "BORING_STRUCTURE",
    "BORING_STRUCTURE_BEFORE_BODY",
    "CANDIDATES_HTML",
    "CANDIDATES_STRUCTURE",
    "HEAD_WALK",
    "ONE_SAFE_CONSTRUCT",
    "ONE_SAFE_CONSTRUCT_STRUCTURE",
    "Leap",
    "LoweredPrefix",
    "boring",
    "boring_foreign",
    "html_patterns",
    "leap",
    "lowercase",
]


def _not_named(prefix: bytes, names: Iterable[bytes]) -> bytes:
    """Lookbehinds refusing a tag name among *names*, any case (cheaper than a lookahead)."""
    by_width: dict[int, list[bytes]] = {}
    for name in sorted(set(names)):
        cased = b"".join(
            b"[" + bytes([c, c ^ 0x20]) + b"]" if chr(c).isalpha() else re.escape(bytes([c]))
            for c in name
        )
        by_width.setdefault(len(name), []).append(cased)
    return b"".join(
        b"(?<!" + prefix + b"(?:" + b"|".join(group) + b"))"
        for _, group in sorted(by_width.items())
    )


# Attribute values that cannot hold an absolute URL (no "//", ":/", "\" or character
# reference) and names that are no consent marking (none starts with "data-c" or is
# "data-service"): an image or a link made only of these needs no decision, as
# Tag.quick_ignore would find.
# (URL parsers drop tabs and newlines, so "/\n/" counts as "//"; "https:host" needs no
# slashes, so a colon after "p" or "s" is no safe value either.)
_SAFE_SLASH = rb"/(?![\t\n\r]*+/)|(?<![pPsS\t\n\r]):(?![\t\n\r]*+/)"
# (Runs of plain bytes are matched by a possessive "++" each: one step per run, not per
# byte, which is most of the cost of judging an image.)
_SAFE_CHAR = rb"(?:[^\t\n\f\r >\"'\\&/:]|" + _SAFE_SLASH + rb")"
_SAFE_VALUE = (
    rb"(?:\"(?:[^\"\\&/:]++|" + _SAFE_SLASH + rb")*+\""
    rb"|'(?:[^'\\&/:]++|" + _SAFE_SLASH + rb")*+'"
    rb"|" + _SAFE_CHAR + rb"(?:[^\t\n\f\r >\\&/:]++|" + _SAFE_SLASH
    + rb")*+(?=[\t\n\f\r >])|(?=>))"
)  # fmt: skip
_SAFE_ATTRS = (
    rb"(?:[\t\n\f\r /]++"
    rb"|(?![dD][aA][tT][aA]-(?:[cC]|[sS][eE][rR][vV][iI][cC][eE]))"
    rb"(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)[\t\n\f\r ]*+"
    rb"(?:=[\t\n\f\r ]*+" + _SAFE_VALUE + rb"|(?!=)))*+"
)
_LOADERS: Final = b"img image link source video audio track embed object input base".split()
"""Void-ish HTML elements whose attributes can make the browser fetch a URL."""
_LOADER_NAMES = rb"(?i:" + b"|".join(_LOADERS) + rb")(?=[\t\n\f\r />])"
_SAFE_PIXEL = rb"<" + _LOADER_NAMES + _SAFE_ATTRS + rb">"
# An inline icon: <svg> holding only shapes, text without markup, and <title>/<desc> with
# plain text. Its tokens are the same whether read as SVG or HTML, it ends where it
# started (in HTML), and nothing in it can need blocking.
_SHAPES = (
    rb"(?i:path|g|rect|circle|ellipse|line|polyline|polygon|use|defs|symbol|stop"
    rb"|lineargradient|radialgradient|clippath|mask|pattern|text|tspan)(?=[\t\n\f\r />])"
)
_SAFE_SVG_REST = (
    ATTRS + rb">"
    rb"(?:[^<]++"
    rb"|</?" + _SHAPES + ATTRS + rb">"
    rb"|<(?i:title)(?=[\t\n\f\r />])"
    + ATTRS
    + rb">[^<]*+</(?i:title)(?=[\t\n\f\r />])"
    + ATTRS
    + rb">"
    rb"|<(?i:desc)(?=[\t\n\f\r />])"
    + ATTRS
    + rb">[^<]*+</(?i:desc)(?=[\t\n\f\r />])"
    + ATTRS
    + rb">"
    rb"|<!--(?>-?>|(?s:.)*?--!?>))*+"
    rb"</(?i:svg)(?=[\t\n\f\r />])" + ATTRS + rb">"
)
_SAFE_SVG = rb"<(?i:svg)(?=[\t\n\f\r />])" + _SAFE_SVG_REST
# A <title> holding plain text: as RCDATA or as an SVG title, the same text.
_PLAIN_TITLE_REST = ATTRS + rb">[^<]*+</(?i:title)(?=[\t\n\f\r />])"


def boring(
    starts: Iterable[bytes],
    ends: Iterable[bytes],
    *,
    cdata: bool,
    safe: bool = False,
    whole_text: bool = False,
) -> re.Pattern[bytes]:
    """A pattern consuming text and every construct needing no decision, in one C-level call.

    It stops before a start tag named in *starts*, an end tag named in *ends*, or anything
    incomplete; what it consumed is byte for byte what the tokenizer would emit unchanged.
    With *safe* it also consumes images and links that cannot hold a tracker URL or a
    marking, and inline SVG icons (for HTML content, where both are named in *starts*).
    With *whole_text* it consumes whole raw-text and plain script elements too (for a
    plan under which nothing can need blocking).
    """
    bang = rb"<!(?!--|\[CDATA\[)[^>]*+>" if cdata else rb"<!(?!--)[^>]*+>"
    extra = rb"|" + _SAFE_PIXEL + rb"|" + _SAFE_SVG if safe else b""
    if whole_text:
        extra += rb"|" + _WHOLE_TEXT_ELEMENTS
    return re.compile(
        rb"(?:[^<]++"
        rb"|<(?=[^A-Za-z/!?])"
        rb"|<[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"<", starts) + ATTRS + rb">"
        rb"|</[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"</", ends) + ATTRS + rb">"
        rb"|</(?=[^A-Za-z])[^>]*+>"
        rb"|<\?[^>]*+>"
        rb"|<!--(?>-?>|(?s:.)*?--!?>)"
        rb"|" + bang + extra + rb")*+"
    )


_RAW_TEXT: Final = b"style xmp iframe noembed noframes noscript textarea title".split()
"""Elements whose text ends at the first matching end tag (RAWTEXT and RCDATA, with
scripting enabled as in a browser): ``<plaintext>``, which never ends, is not one."""


def _whole(name: bytes, content: bytes) -> bytes:
    """One whole element *name* from start tag to end tag, its text matched by *content*."""
    named = rb"(?i:" + name + rb")"
    return (
        rb"<" + named + rb"(?=[\t\n\f\r />])" + ATTRS + rb">" + content
        + rb"</" + named + rb"(?=[\t\n\f\r />])" + ATTRS + rb">"
    )  # fmt: skip


def _text_until_end_tag(name: bytes, also: bytes = b"") -> bytes:
    return rb"(?:[^<]++|<(?!" + also + rb"/(?i:" + name + rb")[\t\n\f\r />]))*+"


_WHOLE_TEXT_ELEMENTS: Final = b"|".join(
    [_whole(name, _text_until_end_tag(name)) for name in _RAW_TEXT]
    # Script text without "<!--" ends at the first "</script": the escape states that
    # "<!--" opens are left to the tokenizer.
    + [_whole(b"script", _text_until_end_tag(b"script", also=rb"!--|"))]
)
"""A raw-text, RCDATA or plain script element, whole: what the tokenizer reads as one tag,
text it passes on untouched, and an end tag. Harmless when nothing can need blocking."""

_STRUCTURE: Final = (
    b"script style xmp iframe noembed noframes noscript textarea title plaintext "
    b"svg math template".split()
)
_PIXELS: Final = list(_LOADERS)
_END_STOPS: Final = (b"body", b"template")

BORING_HTML: Final = boring([*_STRUCTURE, *_PIXELS], _END_STOPS, cdata=False, safe=True)
"""HTML content of a page with something to block."""
BORING_BEFORE_BODY: Final = boring(
    [*_STRUCTURE, *_PIXELS, b"body"], _END_STOPS, cdata=False, safe=True
)
"""The same while ``body_start_html`` waits for its ``<body>`` tag."""
BORING_STRUCTURE: Final = boring(_STRUCTURE, _END_STOPS, cdata=False, safe=True, whole_text=True)
"""HTML content when nothing can need blocking: images, links and whole raw-text and
script elements are skipped too."""
BORING_STRUCTURE_BEFORE_BODY: Final = boring(
    [*_STRUCTURE, b"body"], _END_STOPS, cdata=False, safe=True, whole_text=True
)
_FOREIGN_STARTS: Final = (
    BREAKOUT
    | SVG_INTEGRATION
    | MATH_INTEGRATION
    | {b"script", b"image", b"feimage", b"svg", b"math", b"annotation-xml", b"font"}
)
_FOREIGN_TRACKED: Final = SVG_INTEGRATION | MATH_INTEGRATION | {b"svg", b"math", b"annotation-xml"}
BORING_FOREIGN: Final = boring(_FOREIGN_STARTS, HTML_END_BREAKOUT | _FOREIGN_TRACKED, cdata=True)
"""SVG and MathML content outside integration points, whatever is open."""
_BY_OPEN: dict[frozenset[bytes], re.Pattern[bytes]] = {}
_BY_OPEN_MAX: Final = 64


def boring_foreign(open_names: frozenset[bytes]) -> re.Pattern[bytes]:
    """:data:`BORING_FOREIGN` that also skips end tags of elements that are not open.

    Such an end tag closes nothing, so it needs no decision; without this, a page of
    ``</desc>`` after ``<svg>`` would stop the skipping at every one of them.
    """
    key = open_names & _FOREIGN_TRACKED
    found = _BY_OPEN.get(key)
    if found is None:
        if len(_BY_OPEN) >= _BY_OPEN_MAX:
            return BORING_FOREIGN
        found = boring(_FOREIGN_STARTS, HTML_END_BREAKOUT | key, cdata=True)
        _BY_OPEN[key] = found
    return found


# Leaping: instead of walking every tag, search for the next construct that could matter
# and prove, from a few bytes around it, that the tokenizer is in the data state there.


def _candidates(names: Iterable[bytes], *, pixels: bool) -> re.Pattern[bytes]:
    """The next construct that may matter: a start tag named in *names* (and, with *pixels*,
    an image or link not made only of harmless attributes), an inline SVG or ``<title>``
    that is not plain, a ``<body>``/``<template>`` end tag, a bogus comment or a
    processing instruction.

    The tag names are grouped by their first letter (``t(?:extarea|emplate|...)``), so
    the common tags of a page (``<td``, ``<li``, ``<a``) fail one group, not every name.
    """
    delimited = rb"(?![^\t\n\f\r />])"
    opens = rb"(?=[\t\n\f\r />])"
    tails: list[tuple[bytes, bytes]] = [
        (name, delimited) for name in set(names) - {b"svg", b"title"}
    ]
    # Harmless images, links, icons and titles are no candidates at all: the search goes
    # on through them, and the data-state proof covers them like any other tag.
    tails.append((b"svg", opens + rb"(?!" + _SAFE_SVG_REST + rb")"))
    tails.append((b"title", opens + rb"(?!" + _PLAIN_TITLE_REST + rb")"))
    if pixels:
        tails += [(name, opens + rb"(?!" + _SAFE_ATTRS + rb">)") for name in _LOADERS]
    groups: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for name, tail in tails:
        groups.setdefault(name[:1], []).append((name[1:], tail))
    by_letter = b"|".join(
        re.escape(first)
        + rb"(?:"
        + b"|".join(
            re.escape(rest) + tail for rest, tail in sorted(items, key=lambda i: -len(i[0]))
        )
        + rb")"
        for first, items in sorted(groups.items())
    )
    # Letters compare exactly: the pattern reads the lowered buffer (see lowercase()).
    return re.compile(
        rb"<(?:!(?!--)|\?|/(?:[^A-Za-z]|(?:body|template)(?![^\t\n\f\r />]))|" + by_letter + rb")"
    )


CANDIDATES_HTML: Final = _candidates([*_STRUCTURE, b"body"], pixels=True)
"""Every construct :data:`BORING_HTML` (or its before-body variant) may stop at, and more;
for the lowered buffer (its letters compare exactly)."""
CANDIDATES_STRUCTURE: Final = _candidates([*_STRUCTURE, b"body"], pixels=False)
"""The same for :data:`BORING_STRUCTURE` and its before-body variant."""
ONE_SAFE_CONSTRUCT: Final = re.compile(
    _SAFE_PIXEL + rb"|" + _SAFE_SVG + rb"|<!--(?>-?>|(?s:.)*?--!?>)"
)
"""One image, link, icon or comment that needs no decision, at a known data-state point."""
ONE_SAFE_CONSTRUCT_STRUCTURE: Final = re.compile(
    ONE_SAFE_CONSTRUCT.pattern + rb"|" + _WHOLE_TEXT_ELEMENTS
)
"""The same when nothing can need blocking: whole raw-text and plain script elements too."""


def lowercase(pattern: re.Pattern[bytes]) -> re.Pattern[bytes]:
    """*pattern* for a buffer already lowered with ``bytes.lower()``: the same matches.

    The HTML patterns above compare letters case-insensitively, either in ``(?i:...)``
    groups of lower-case literals or in classes holding both cases; on lowered bytes the
    groups can compare exactly, which lets the engine skip a failing alternative on its
    first byte (case-insensitive literals get no such shortcut): about a third less time
    on a page with thousands of tags. Lowering maps only ASCII capitals, so every match
    has the same extent in the lowered copy as in the original.
    """
    return re.compile(pattern.pattern.replace(b"(?i:", b"(?:"))


_LOWERED: Final = {
    p: lowercase(p)
    for p in (
        BORING_HTML,
        BORING_BEFORE_BODY,
        BORING_STRUCTURE,
        BORING_STRUCTURE_BEFORE_BODY,
        CANDIDATES_HTML,
        CANDIDATES_STRUCTURE,
        ONE_SAFE_CONSTRUCT,
        ONE_SAFE_CONSTRUCT_STRUCTURE,
    )
}
_HTML_UNITS: Final = _LOWERED[CANDIDATES_HTML], _LOWERED[ONE_SAFE_CONSTRUCT]
_STRUCTURE_UNITS: Final = (
    _LOWERED[CANDIDATES_STRUCTURE],
    _LOWERED[ONE_SAFE_CONSTRUCT_STRUCTURE],
)
# (blocking, before_body) -> (walking, (candidates, units)), lowered: looked up on every step.
_HTML_PATTERNS: Final = {
    (True, True): (_LOWERED[BORING_BEFORE_BODY], _HTML_UNITS),
    (True, False): (_LOWERED[BORING_HTML], _HTML_UNITS),
    (False, True): (_LOWERED[BORING_STRUCTURE_BEFORE_BODY], _STRUCTURE_UNITS),
    (False, False): (_LOWERED[BORING_STRUCTURE], _STRUCTURE_UNITS),
}
_TAIL: Final = 16
"""Bytes left to the walking pattern at a buffer's end, where a candidate may be cut."""
_WS_BYTES: Final = b"\t\n\f\r "
# "<!-->" and "<!--->" are whole comments: searched from "<!" + 2, "-->" finds them too
_COMMENT_CLOSE: Final = re.compile(rb"--!?>")


def _opens_value(buf: bytes, start: int, quote: int) -> bool:
    """Whether the quote at *quote* may open an attribute value (``=`` before it)."""
    at = quote - 1
    while at >= start and buf[at] in _WS_BYTES:
        at -= 1
    return at >= start and buf[at] == 0x3D


def data_state_at(buf: bytes, start: int, end: int) -> bool:
    """Whether *end* is surely in the data state, given *start* is and no candidate between.

    State-changing elements and bogus comments are candidates, so only a comment or a tag
    can span *end*. A comment does if the last ``<!--`` is not closed before *end*. A tag
    does if *end* is in a quoted value (then the last quote of its kind follows ``=``) or
    elsewhere in the tag (then a ``<`` follows the last ``>``, or that ``>`` is in a
    quoted value that closed since). Conservative: ``False`` only means "walk instead".
    """
    if buf.find(b"<", start, end) == -1:
        return True  # only "<" leaves the data state: no comment, no tag in between
    opened = buf.rfind(b"<!--", start, end)
    if opened != -1 and _COMMENT_CLOSE.search(buf, opened + 2, end) is None:
        return False
    for quote in b'"', b"'":
        last = buf.rfind(quote, start, end)
        if last != -1 and _opens_value(buf, start, last):
            return False
    gt = buf.rfind(b">", start, end)
    after = start if gt == -1 else gt + 1
    if buf.find(b"<", after, end) != -1:
        return False
    if gt != -1:
        for quote in b'"', b"'":
            if buf.find(quote, after, end) != -1:
                last = buf.rfind(quote, start, gt)
                if last != -1 and _opens_value(buf, start, last):
                    return False
    return True


Leap = tuple[re.Pattern[bytes], re.Pattern[bytes]]
"""What :func:`leap` searches for: the candidates, and the harmless units it passes over."""


def leap(buf: bytes, low: bytes | bytearray, pos: int, search: Leap) -> tuple[int, int]:
    """``(end, steps)``: how far from data-state *pos* the bytes surely need no decision.

    Searches for the next candidate, checks the tokenizer is in the data state there,
    passes over it when it is a harmless image, link, icon or comment, and goes on.
    Stops at a candidate that matters, where the check fails, or near the buffer's end.
    *low* is ``buf.lower()``, or a lowered prefix of it (the search then treats its end
    as the buffer's), and *search* the pair from :func:`html_patterns`, which reads it.
    """
    candidates, units = search
    n = len(low)
    steps = 0
    while True:
        steps += 1
        found = candidates.search(low, pos)
        # without a candidate, stop after the last ">" short of the end: a point in the
        # data state far more often than an arbitrary cut
        stop = found.start() if found is not None else buf.rfind(b">", pos, n - _TAIL) + 1
        if stop <= pos or not data_state_at(buf, pos, stop):
            return pos, steps
        if found is None:
            return stop, steps
        unit = units.match(low, stop)
        if unit is None:
            return stop, steps
        pos = unit.end()


def _head_walk() -> re.Pattern[bytes]:
    whole_script = _whole(b"script", _text_until_end_tag(b"script", also=rb"!--|"))
    whole_raw_text = b"|".join(_whole(name, _text_until_end_tag(name)) for name in _RAW_TEXT)
    starts = [*_STRUCTURE, b"body"]
    return lowercase(
        re.compile(
            rb"(?:[^<]++"
            rb"|" + whole_script
            + rb"|<(?i:meta|link|base)(?=[\t\n\f\r />])" + ATTRS + rb">"
            rb"|</[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"</", _END_STOPS) + ATTRS + rb">"
            rb"|" + whole_raw_text
            + rb"|<[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"<", starts) + ATTRS + rb">"
            rb"|<!--(?>-?>|(?s:.)*?--!?>)"
            rb"|<(?=[^A-Za-z/!?])|</(?=[^A-Za-z])[^>]*+>|<\?[^>]*+>|<!(?!--)[^>]*+>"
            rb"|" + _SAFE_SVG + rb")*+"
        )
    )  # fmt: skip


HEAD_WALK: Final = _head_walk()
""":data:`BORING_STRUCTURE_BEFORE_BODY` for the lowered bytes of a page's head, its
alternatives in the order a head needs them: scripts, ``<meta>`` and ``<link>`` first.
The alternatives are disjoint (no two match at one place), so the order changes the time
taken, never the match: about a third less time on a head of scripts."""


def html_patterns(*, blocking: bool, before_body: bool) -> tuple[re.Pattern[bytes], Leap]:
    """The walking pattern and what :func:`leap` searches for, for HTML content (no foreign
    element open), all for the lowered buffer (see :func:`lowercase`)."""
    return _HTML_PATTERNS[blocking, before_body]


class LoweredPrefix:
    """``bytes.lower()`` of the buffer being tokenized, made only as far as it is read.

    :meth:`of` reaches at least ``AHEAD`` bytes past the position asked for (or the
    buffer's end), extended in doubling steps with each byte lowered once: a page that
    passes through after its ``<body>`` is hardly lowered at all. With *whole* (a plan
    that blocks something reads every byte anyway) each buffer is lowered in one call.
    A new buffer starts over.
    """

    AHEAD: Final = 4 * 1024

    __slots__ = ("_all", "_low", "_of", "_whole")

    def __init__(self, *, whole: bool = False) -> None:
        self._of: bytes | None = None
        self._low = bytearray()
        self._all = b""
        self._whole = whole

    def of(self, buf: bytes, pos: int) -> bytes | bytearray:
        """The lowered prefix of *buf*, covering at least ``pos + AHEAD`` bytes."""
        if self._whole:
            if self._of is not buf:
                self._of = buf
                self._all = buf.lower()
            return self._all
        low = self._low
        if self._of is not buf:
            self._of = buf
            low.clear()
        have = len(low)
        want = min(len(buf), pos + self.AHEAD)
        if have < want:
            low += buf[have : min(len(buf), max(want, 2 * have))].lower()
        return low
