"""Foreign content: the open SVG and MathML elements that change how tags are read.

Inside ``<svg>`` and ``<math>`` a ``<script>`` holds markup, not script text, ``<style>``
and ``<title>`` are not raw text, CDATA sections exist, and some HTML tags break back out.
:class:`ForeignStack` keeps just enough of the open-element stack to know which rules
apply, and counts the names on it so that an end tag that closes nothing costs O(1), not
a walk down a stack an attacker can make 20,000 elements deep.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from consentkit.rewriter.tags import Tag

__all__ = ["VOID", "ForeignStack", "Namespace"]

VOID: Final = frozenset(
    b"area base br col embed hr img image input keygen link meta param source track wbr".split()
)
BREAKOUT: Final = frozenset(
    (
        b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr "
        b"i img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table "
        b"tt u ul var"
    ).split()
)
"""Start tags that end foreign content (``font`` too, with ``color``, ``face`` or ``size``)."""
HTML_END_BREAKOUT: Final = frozenset(
    b"br p div body html span section article li ul ol table tbody tr td th form main nav "
    b"header footer aside button label".split()
)
"""End tags that, closing nothing open, end foreign content."""
SVG_INTEGRATION: Final = frozenset({b"foreignobject", b"desc", b"title"})
MATH_INTEGRATION: Final = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})


class Namespace(IntEnum):
    """Namespace of an open element that decides how foreign content is tokenized."""

    HTML = 0
    SVG = 1
    MATH = 2


@dataclass(slots=True)
class OpenElement:
    """An open element that matters for foreign content."""

    name: bytes
    namespace: Namespace
    integration_point: bool
    """HTML (or MathML text) integration point: its content is tokenized as HTML."""
    count: int = 1
    """How many such elements are open one inside the other (``<svg><svg><svg>``)."""


class ForeignStack:
    """The open elements that decide whether tags are read as HTML or as foreign content."""

    __slots__ = ("_count", "_key", "_open", "steps")

    def __init__(self) -> None:
        self._open: list[OpenElement] = []
        self._count: dict[bytes, int] = {}
        self._key: frozenset[bytes] | None = frozenset()
        self.steps = 0
        """Entries popped so far (each pushed entry is popped at most once)."""

    def __bool__(self) -> bool:
        return bool(self._open)

    @property
    def foreign(self) -> bool:
        """Whether tags are read as SVG/MathML right now (not at an integration point)."""
        if not self._open:
            return False
        top = self._open[-1]
        return top.namespace != Namespace.HTML and not top.integration_point

    @property
    def cdata(self) -> bool:
        """Whether ``<![CDATA[`` opens a CDATA section here."""
        return bool(self._open) and self._open[-1].namespace != Namespace.HTML

    @property
    def namespace(self) -> Namespace:
        """Namespace of the innermost open element."""
        return self._open[-1].namespace if self._open else Namespace.HTML

    @property
    def open_names(self) -> frozenset[bytes]:
        """Names of the open elements (the end tags that can close something)."""
        if self._key is None:
            self._key = frozenset(name for name, count in self._count.items() if count)
        return self._key

    def push(self, name: bytes, namespace: Namespace, point: bool = False, count: int = 1) -> None:
        """Open *count* elements, one inside the other."""
        self._key = None
        top = self._open[-1] if self._open else None
        if (
            top is not None
            and top.name == name
            and top.namespace == namespace
            and top.integration_point == point
        ):
            top.count += count
        else:
            self._open.append(OpenElement(name, namespace, point, count))
        self._count[name] = self._count.get(name, 0) + count

    def _pop(self, count: int | None = None) -> OpenElement:
        """Close the innermost entry's elements (*count* of them, or all)."""
        self.steps += 1
        self._key = None
        top = self._open[-1]
        closing = top.count if count is None else count
        top.count -= closing
        self._count[top.name] -= closing
        if not top.count:
            self._open.pop()
        return top

    def close(self, name: bytes) -> bool:
        """Close the innermost open *name* and all inside it; whether one was open."""
        if not self._count.get(name):
            return False
        while self._open:
            if self._open[-1].name == name:
                self._pop(1)
                break
            self._pop()
        return True

    def clear(self) -> None:
        """Leave foreign content altogether."""
        self._open.clear()
        self._count.clear()
        self._key = frozenset()

    def breaks_out(self, tag: Tag) -> bool:
        """Pop foreign content if *tag*, met inside it, is HTML that ends it."""
        name = tag.name
        if name in BREAKOUT or (
            name == b"font" and (tag.has(b"color") or tag.has(b"face") or tag.has(b"size"))
        ):
            while self.foreign:
                self._pop()
            return True
        return False

    def open_foreign(self, tag: Tag, namespace: Namespace) -> None:
        """Track a non-self-closing start tag met in foreign content, if it matters."""
        name = tag.name
        if name == b"svg":
            namespace = Namespace.SVG
        elif name == b"math":
            namespace = Namespace.MATH
        if namespace == Namespace.SVG:
            point = name in SVG_INTEGRATION
        elif name == b"annotation-xml":
            point = tag.text(b"encoding").lower() in ("text/html", "application/xhtml+xml")
        else:
            point = name in MATH_INTEGRATION
        # plain foreign elements are not tracked: only these decide where foreign content ends
        if point or name in (b"svg", b"math"):
            self.push(name, namespace, point)
