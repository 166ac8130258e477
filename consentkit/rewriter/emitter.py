"""Where the tokenizer's bytes go, and the insertion points of the plan.

Bytes normally leave at once. Two things hold them back: an inline script whose text must
be seen whole before its start tag can be judged, and what follows a ``</body>``, held
(up to a bound) until it is clear whether that was the last ``</body>``, before which
``body_end_html`` goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from consentkit.rewriter.plan import RewritePlan, RewriteStats
from consentkit.rewriter.tags import Tag

__all__ = ["Emitter", "PendingScript"]

HELD_AFTER_BODY: Final = 64 * 1024
"""Bytes kept after a ``</body>`` while waiting to see whether it is the last one."""


@dataclass(slots=True)
class PendingScript:
    """An inline script held back until its end is seen."""

    tag: Tag
    content: bytearray = field(default_factory=bytearray)


class Emitter:
    """Collects output, holds what must wait, and inserts the plan's markup."""

    __slots__ = (
        "_enc",
        "_out",
        "body_pending",
        "body_start_pending",
        "head_pending",
        "held",
        "html_lang",
        "pending",
        "plan",
        "stats",
    )

    def __init__(self, plan: RewritePlan, stats: RewriteStats, encoding: str | None) -> None:
        self.plan = plan
        self.stats = stats
        self._enc = encoding or "ascii"
        self._out: list[bytes | memoryview] = []
        self.held: bytearray | None = None
        """What followed the latest ``</body>``, while ``body_end_html`` waits."""
        self.pending: PendingScript | None = None
        self.head_pending = bool(plan.head_html)
        self.body_start_pending = bool(plan.body_start_html)
        self.body_pending = bool(plan.body_end_html) or self.body_start_pending
        self.html_lang = ""
        """The ``lang`` of the document's ``<html>`` tag, once the tokenizer found it."""

    @property
    def inserting(self) -> bool:
        """Whether an insertion is still to come (or held output waits for one)."""
        return self.head_pending or self.body_pending or self.held is not None

    @property
    def holding(self) -> int:
        """Bytes held back right now."""
        held = len(self.held) if self.held is not None else 0
        return held + (len(self.pending.content) if self.pending is not None else 0)

    def emit(self, data: bytes) -> None:
        """Send *data* on, or hold it where the document requires."""
        if self.pending is not None:
            self.pending.content += data
            return
        if self.held is None:
            self._out.append(data)
            return
        self.held += data
        if len(self.held) > HELD_AFTER_BODY:
            self.release_body(inject=True)

    def direct(self, data: bytes | memoryview) -> None:
        """Send *data* on unconditionally (a byte order mark, a passed-through rest)."""
        self._out.append(data)

    def take(self) -> bytes:
        """Everything ready to leave, once."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def insert(self, markup: str) -> None:
        """Emit markup of the plan in the document's encoding."""
        if markup:
            self.emit(markup.encode(self._enc, "xmlcharrefreplace"))

    def inject_head(self) -> None:
        """``head_html`` goes here."""
        self.head_pending = False
        self.stats.head_injected = True
        self.insert(self.plan.head_html)

    def body_start_markup(self) -> str:
        """What goes after ``<body>``: per the page's language when the plan asks so."""
        for_lang = self.plan.body_start_html_for_lang
        return for_lang(self.html_lang) if for_lang is not None else self.plan.body_start_html

    def body_started(self) -> None:
        """Right after the ``<body>`` start tag: ``body_start_html`` goes here."""
        self.body_start_pending = False
        self.insert(self.body_start_markup())
        if not self.plan.body_end_html:
            self.body_pending = False

    def body_ended(self) -> None:
        """At a ``</body>``: hold what follows, in case it is the last one."""
        if self.held is not None:
            self.release_body(inject=False)
        self.held = bytearray()

    def release_body(self, *, inject: bool) -> None:
        """Let held bytes go, after ``body_end_html`` when *inject*."""
        held = self.held
        self.held = None
        if inject:
            self.body_pending = False
            self.stats.body_injected = True
            markup = self.plan.body_end_html
            if self.body_start_pending:
                # The document had no <body> tag: both insertions land together.
                self.body_start_pending = False
                markup = self.body_start_markup() + markup
            self._out.append(markup.encode(self._enc, "xmlcharrefreplace"))
        if held:
            self._out.append(bytes(held))

    def finish(self, closer: bytes) -> None:
        """At the end of the document: what is still to insert goes in now.

        *closer* ends an unterminated construct (comment, raw text) so that the
        inserted markup is markup.
        """
        if self.head_pending:
            self.inject_head()
        if not self.body_pending:
            return
        if self.held is None and closer:
            self.emit(closer)
        self.release_body(inject=True)
