"""Streaming HTML rewriter that neutralises trackers a visitor has not consented to.

:class:`HTMLRewriter` is an incremental codec: ``feed(chunk) -> bytes`` and ``flush() -> bytes``.
It works on bytes, so every byte it does not deliberately change comes out unchanged,
whatever the chunk boundaries, and memory stays bounded by the chunk plus the longest
pending construct. The package is layered:

* :mod:`~consentkit.rewriter.tokenizer` finds tags where a browser does (``tags`` holds the
  patterns and the parsed tag) and the insertion points;
* :mod:`~consentkit.rewriter.blocking` decides what to neutralise and edits those tags;
* :mod:`~consentkit.rewriter.charset` sniffs the charset and carries UTF-16 around the
  byte-level tokenizer;
* :mod:`~consentkit.rewriter.plan` says what one response's rewrite should do.

Given a :class:`RewritePlan` it blocks what lacks consent (see ``blocking``) and inserts
``head_html`` right after ``<head>``, ``body_start_html`` right after ``<body>`` and
``body_end_html`` right before ``</body>``. A plan under which nothing can need blocking
(:attr:`RewritePlan.blocks_nothing`, e.g. a visitor who accepted everything) costs only
the search for those insertion points: the rest of the document passes through.
"""

from __future__ import annotations

import codecs
import dataclasses

from consentkit.rewriter.blocking import Blocker, Nested
from consentkit.rewriter.charset import (
    REPLACEMENT,
    ascii_compatible,
    canonical,
    sniff_charset,
    transcode,
)
from consentkit.rewriter.plan import (
    Blocked,
    RewritePlan,
    RewriteStats,
    block_key_html,
    blocks_nothing,
    default_placeholder,
    new_block_key,
)
from consentkit.rewriter.prologue import insert_at_prologue, only_inserts_at_prologue
from consentkit.rewriter.sink import PASS_THROUGH, Sink
from consentkit.rewriter.tokenizer import MAX_PENDING, Tokenizer

__all__ = [
    "MAX_PENDING",
    "Blocked",
    "HTMLRewriter",
    "RewritePlan",
    "RewriteStats",
    "block_key_html",
    "blocks_nothing",
    "default_placeholder",
    "new_block_key",
    "rewrite",
    "scan_start_tags",
    "sniff_charset",
]


_SRCDOC_DEPTH = 4
"""``<iframe srcdoc>`` documents followed this deep; deeper ones are parked unread."""


def _tokenizer(
    plan: RewritePlan,
    encoding: str | None,
    max_pending: int,
    *,
    record: bool = False,
    depth: int = 0,
) -> Tokenizer:
    stats = RewriteStats()
    sink: Sink
    if plan.blocks_nothing:
        sink = PASS_THROUGH
    else:
        nested = _nested(plan, depth + 1) if depth < _SRCDOC_DEPTH else None
        sink = Blocker(plan, stats, encoding, nested)
    return Tokenizer(plan, sink, stats, encoding, max_pending, record=record)


def _nested(plan: RewritePlan, depth: int) -> Nested:
    """How an ``<iframe srcdoc>`` document is rewritten: same blocking, no insertions."""

    def run(document: bytes) -> tuple[bytes, list[Blocked]]:
        inner = dataclasses.replace(plan, head_html="", body_start_html="", body_end_html="")
        core = _tokenizer(inner, "utf-8", MAX_PENDING, depth=depth)
        return core.feed(document, True), core.stats.blocked

    return run


class HTMLRewriter:
    """Incremental HTML rewriter: ``feed(chunk) -> bytes`` then ``flush() -> bytes``.

    *encoding* is the document's charset if known (see :func:`sniff_charset`); without it a
    byte order mark is honoured and inserted text uses character references for non-ASCII.
    UTF-16 documents are transcoded around the byte-level tokenizer. A document in the
    ``replacement`` encoding (or any that is not ASCII-compatible) cannot be rewritten: it
    fails closed, its body withheld (``refused``), never passed on live.
    """

    __slots__ = (
        "_at_prologue",
        "_core",
        "_decoder",
        "_decoder_out",
        "_head",
        "_max",
        "_passthrough",
        "_peak",
        "_started",
        "_stats",
        "encoding",
        "plan",
        "refused",
        "transcoded",
    )

    def __init__(
        self, plan: RewritePlan, *, encoding: str | None = None, max_pending: int = MAX_PENDING
    ) -> None:
        self.plan = plan
        self.encoding: str | None = canonical(encoding) if encoding else None
        self.transcoded = False
        self.refused = False
        self._max = max_pending
        self._started = False
        self._head = b""
        self._core: Tokenizer | None = None
        self._decoder: codecs.IncrementalDecoder | None = None
        self._decoder_out: codecs.IncrementalDecoder | None = None
        self._stats = RewriteStats()
        self._peak = 0
        self._at_prologue = only_inserts_at_prologue(plan)
        """Set until the first bytes are read: they may take :func:`insert_at_prologue`."""
        self._passthrough = False
        """The page's insertions are behind it: the rest passes through untouched."""

    @property
    def stats(self) -> RewriteStats:
        """What was blocked and inserted so far."""
        return self._core.stats if self._core is not None else self._stats

    @property
    def peak_buffer(self) -> int:
        """Most bytes held internally at any time."""
        core = self._core.peak if self._core is not None else 0
        return max(core, self._peak)

    @property
    def work(self) -> int:
        """Units of tokenizer work so far (bytes matched plus steps): a count for tests."""
        return self._core.work if self._core is not None else 0

    def _setup(self, first: bytes) -> None:
        """Decide the byte path from a BOM (which wins, as in browsers) or the encoding."""
        self._started = True
        if first.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8"
        elif first.startswith(codecs.BOM_UTF16_LE):
            self.encoding = "utf-16-le"
        elif first.startswith(codecs.BOM_UTF16_BE):
            self.encoding = "utf-16-be"
        encoding = self.encoding
        if encoding in ("utf-16-le", "utf-16-be"):
            self.transcoded = True
            self._decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
            self._decoder_out = codecs.getincrementaldecoder("utf-8")("surrogatepass")
            self._core = _tokenizer(self.plan, "utf-8", self._max)
        elif encoding == REPLACEMENT or (encoding is not None and not ascii_compatible(encoding)):
            self.refused = True
        elif not self._at_prologue:
            self._core = _tokenizer(self.plan, encoding, self._max)

    def feed(self, chunk: bytes) -> bytes:
        """Rewrite the next piece of the document; returns what can be emitted now."""
        return self._feed(bytes(chunk), final=False)

    def flush(self) -> bytes:
        """Signal the end of the document; returns everything still held."""
        return self._feed(b"", final=True)

    def _feed(self, chunk: bytes, final: bool) -> bytes:
        if self._passthrough:
            return chunk
        if not self._started:
            self._head += chunk
            self._peak = max(self._peak, len(self._head))
            if len(self._head) < 3 and not final:
                return b""
            chunk, self._head = self._head, b""
            self._setup(chunk)
            if self._at_prologue and not self.refused and self._core is None:
                # A page that only gets insertions: no tokenizer when it starts the usual way.
                start = len(codecs.BOM_UTF8) if chunk.startswith(codecs.BOM_UTF8) else 0
                pieces = insert_at_prologue(self.plan, chunk, start, self.encoding)
                if pieces is not None:
                    self._passthrough = True
                    self._stats.head_injected = True
                    return b"".join(pieces)
                self._core = _tokenizer(self.plan, self.encoding, self._max)
        if self.refused or self._core is None:
            return b""
        if self._decoder is None or self._decoder_out is None:
            return self._core.feed(chunk, final)
        codec = self.encoding or "utf-16-le"
        return transcode(self._core.feed, self._decoder, self._decoder_out, codec, chunk, final)


def scan_start_tags(document: bytes) -> list[bytes]:
    """Names (lower case) of the start tags the tokenizer finds, in order: a diagnostic aid."""
    plan = RewritePlan(granted=frozenset({"performance", "functionality", "targeting"}))
    core = _tokenizer(plan, None, MAX_PENDING, record=True)
    core.feed(document, True)
    return list(core.seen or ())


def rewrite(document: bytes, plan: RewritePlan, *, encoding: str | None = None) -> bytes:
    """Rewrite a whole document in one call."""
    rewriter = HTMLRewriter(plan, encoding=encoding)
    return rewriter.feed(document) + rewriter.flush()
