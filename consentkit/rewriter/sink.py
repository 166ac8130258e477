"""The interface between the tokenizer and what decides about tags (``blocking``)."""

from __future__ import annotations

from typing import Protocol

from consentkit.rewriter.tags import Tag

__all__ = ["PASS_THROUGH", "PassThrough", "Sink"]


class Sink(Protocol):
    """Decides about the tags that can need blocking; returns the bytes to emit."""

    def element(self, tag: Tag, *, in_noscript: bool) -> bytes | None:
        """An HTML start tag that can load a URL (``script``, ``img``, ``video``, ``base``...).

        ``None`` (only for an inline script outside ``noscript``) asks to hold the
        script's text and decide with :meth:`inline_script`.
        """

    def inline_script(self, tag: Tag, content: bytes) -> bytes:
        """The start tag to emit for a held inline script, given its text."""

    def foreign_element(self, tag: Tag) -> bytes:
        """A ``script``, ``image`` or ``feImage`` start tag in SVG or MathML."""


class PassThrough:
    """The sink of a plan under which nothing can need blocking: every tag as written.

    The tokenizer does not consult a sink under such a plan; this one stands in so that
    no :class:`~consentkit.rewriter.blocking.Blocker` is built for the response.
    """

    def element(self, tag: Tag, *, in_noscript: bool) -> bytes | None:
        return tag.raw

    def inline_script(self, tag: Tag, content: bytes) -> bytes:
        return tag.raw

    def foreign_element(self, tag: Tag) -> bytes:
        return tag.raw


PASS_THROUGH = PassThrough()
