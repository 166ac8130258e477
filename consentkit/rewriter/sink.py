"""The interface between the tokenizer and what decides about tags (``blocking``)."""

from __future__ import annotations

from typing import Protocol

from consentkit.rewriter.tags import Tag

__all__ = ["Sink"]


class Sink(Protocol):
    """Decides about the tags that can need blocking; returns the bytes to emit."""

    def element(self, tag: Tag, *, in_noscript: bool) -> bytes | None:
        """An HTML ``script``, ``iframe``, ``img``/``image`` or ``link`` start tag.

        ``None`` (only for an inline script outside ``noscript``) asks to hold the
        script's text and decide with :meth:`inline_script`.
        """

    def inline_script(self, tag: Tag, content: bytes) -> bytes:
        """The start tag to emit for a held inline script, given its text."""

    def foreign_script(self, tag: Tag) -> bytes:
        """A ``script`` start tag in SVG or MathML."""
