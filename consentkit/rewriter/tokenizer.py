"""The byte-level tokenizer: finds tags where a browser does and hands them to a sink.

It follows the WHATWG tokenizer (data, tags, comments, raw text, RCDATA, the script-data
escape states, CDATA in SVG/MathML) on the bytes of an ASCII-compatible document, so
every byte it is not told to change comes out unchanged, whatever the chunk boundaries,
and it finds the insertion points (after ``<head>`` and ``<body>``, before ``</body>``).

Python code runs only where something can matter: ``skipping`` leaps to the next
candidate construct or walks past everything else in one C-level call. Work stays linear:
an incomplete tag is scanned once however many chunks it spans, and closing foreign
content looks names up instead of walking the open-element stack.

The module is the one class: its vocabulary lives in :mod:`.states`, the patterns that skip
and leap in :mod:`.skipping`, tag scanning in :mod:`.tags`, the decisions in the sink.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Final

from consentkit.rewriter.emitter import Emitter, PendingScript
from consentkit.rewriter.foreign import HTML_END_BREAKOUT, VOID, ForeignStack, Namespace
from consentkit.rewriter.plan import RewritePlan, RewriteStats
from consentkit.rewriter.script_data import ScriptDataScanner
from consentkit.rewriter.sink import Sink
from consentkit.rewriter.skipping import (
    LoweredPrefix,
    boring_foreign,
    html_patterns,
    leap,
)
from consentkit.rewriter.states import (
    COMMENT_END,
    FOREIGN_SINK_TAGS,
    MAX_PENDING,
    NON_WS,
    NOSCRIPT,
    NOSCRIPT_END,
    RAW_END,
    RAWTEXT,
    RCDATA,
    SINK_TAGS,
    State,
)
from consentkit.rewriter.tags import TAG, TAG_NAME, FoundTag, Tag, TagEndScanner, TagSpan

__all__ = ["MAX_PENDING", "State", "Tokenizer"]


_WALK: Final = 2048
"""Bytes the walking pattern reads at most before the leap takes over again."""


class Tokenizer:
    """The incremental tokenizer and editor for ASCII-compatible documents.

    Longer than most classes on purpose: it is one state machine, one handler per
    :class:`State`, and the handlers share the buffers and the open-element stack; split
    apart, every transition would cross an object boundary on the hot path. What to do
    with a tag that may need blocking lives in the :class:`Sink` (``blocking.py``).
    """

    def __init__(
        self,
        plan: RewritePlan,
        sink: Sink,
        stats: RewriteStats,
        encoding: str | None,
        max_pending: int,
        *,
        record: bool = False,
    ) -> None:
        self.plan = plan
        self.sink = sink
        self.stats = stats
        self.seen: list[bytes] | None = [] if record else None
        self.peak = 0
        self._work = 0
        self._max = max_pending
        self._blocking = not plan.blocks_nothing
        self._out = Emitter(plan, stats, encoding)
        self._emit = self._out.emit
        self._buf = b""
        self._state = State.DATA
        self._script_data = ScriptDataScanner()
        self._raw_end: re.Pattern[bytes] = NOSCRIPT_END
        self._raw_name = b"noscript"
        self._open = ForeignStack()
        self._template = 0
        self._scan: TagEndScanner | None = None
        """Set while an incomplete tag is held: it resumes on the next chunk."""
        self._hold = bytearray()
        self._known: TagSpan | None = None
        """``(start, end)`` of a tag the end finder completed, so it is not matched again."""
        self._skip: TagEndScanner | None = None
        self._bom_pending = True
        self._lowered = LoweredPrefix(whole=self._blocking)
        self._passthrough = False
        self._want_lang = plan.body_start_html_for_lang is not None and bool(plan.body_start_html)
        """Set until the first start tag: if it is ``<html>``, its ``lang`` is recorded."""
        self._check_passthrough()

    @property
    def work(self) -> int:
        """Bytes handed to the tag matcher plus loop steps: linear in the input."""
        return self._work + self._open.steps

    # ----------------------------------------------------------------- driving

    def feed(self, chunk: bytes, final: bool) -> bytes:
        """Tokenize the next chunk; returns the bytes that can leave now."""
        if self._passthrough:
            return chunk
        if self._scan is not None:
            found = self._scan.scan(chunk, 0, len(chunk))
            self._work += len(chunk)
            held = len(self._hold)
            self._hold += chunk
            self.peak = max(self.peak, len(self._hold))
            if found == -1 and not final and len(self._hold) <= self._max:
                return b""
            buf = bytes(self._hold)
            self._hold = bytearray()
            self._scan = None
            if found != -1:
                self._known = TagSpan(0, held + found)
        else:
            buf = self._buf + chunk if self._buf else chunk
        self.peak = max(self.peak, len(buf) + self._out.holding)
        pos = 0
        if self._bom_pending:
            if len(buf) < 3 and not final:
                self._buf = buf
                return b""
            self._bom_pending = False
            if buf.startswith(codecs.BOM_UTF8):
                self._out.direct(codecs.BOM_UTF8)
                pos = 3
        n = len(buf)
        handlers = self._handlers
        while pos < n:
            state = self._state
            new = handlers[state](self, buf, pos, final)
            self._work += 1
            if self._scan is not None:
                pos = new
                break
            if new == pos and state == self._state:
                break
            pos = new
            if self._passthrough:
                self._out.direct(memoryview(buf)[pos:] if pos else buf)  # no copy yet
                pos = n
        self._known = None  # positions in this buffer only
        if self._scan is not None:
            self._hold = bytearray(buf[pos:])
            self._buf = b""
        else:
            self._buf = buf[pos:]
        if final:
            self._passthrough = False
            if self._out.pending is not None:
                self._decide_pending()
            self._out.finish(self._closer())
        return self._out.take()

    def _check_passthrough(self) -> None:
        """With nothing to block and nothing left to insert, the rest passes through."""
        if not self._blocking and not self._out.inserting and self.seen is None:
            self._passthrough = True

    def _inject_head(self) -> None:
        self._out.inject_head()
        self._check_passthrough()

    def _closer(self) -> bytes:
        """What ends an unterminated construct at EOF so that inserted markup is markup."""
        if self._state in (State.COMMENT, State.COMMENT_START):
            return b"-->"
        if self._state == State.SCRIPT:
            return b"</script>"
        if self._state in (State.RAW_TEXT, State.NOSCRIPT):
            return b"</" + self._raw_name + b">"
        return b""

    # ----------------------------------------------------------------- tags in the buffer

    def _match(self, buf: bytes, start: int) -> FoundTag | None:
        """``(end, is_end_tag, lower-case name, name end)`` of the tag at *start*, if whole."""
        known = self._known
        if known is not None and known.start == start:
            self._known = None
            name = TAG_NAME.match(buf, start)
            if name is not None:
                is_end = buf[start + 1] == 0x2F
                return FoundTag(known.end, is_end, name.group(1).lower(), name.end())
        found = TAG.match(buf, start)
        if found is None:
            self._work += len(buf) - start
            return None
        self._work += found.end() - start
        return FoundTag(found.end(), bool(found.group(1)), found.group(2).lower(), found.end(2))

    def _hold_tag(self, buf: bytes, start: int) -> int:
        """Hold the incomplete tag at *start*; the end finder resumes with the next chunk."""
        name = TAG_NAME.match(buf, start)
        if name is None:
            return start
        scanner = TagEndScanner(b"", is_end=buf[start + 1] == 0x2F)
        found = scanner.scan(buf, name.start(1), len(buf))
        self._work += len(buf) - start
        if found != -1:
            self._known = TagSpan(start, found)
        else:
            self._scan = scanner
        return start

    # ----------------------------------------------------------------- data state

    def _data(self, buf: bytes, pos: int, final: bool) -> int:
        pattern = None
        text: bytes | bytearray = buf  # what the pattern reads: buf, or its lowered copy
        # The fast paths skip tags; while the <html> tag's lang is wanted, the first start
        # tag is read here (only a doctype or comments can come before it).
        if not self._out.head_pending and self.seen is None and not self._want_lang:
            if not self._open:
                pattern, candidates = html_patterns(
                    blocking=self._blocking, before_body=self._out.body_start_pending
                )
                text = self._lowered.of(buf, pos)
                end, steps = leap(buf, text, pos, candidates)
                self._work += steps
                if end > pos:
                    self._emit(buf[pos:end])
                    pos = end
                    if pos >= len(buf):
                        return pos
            elif self._open.foreign:
                pattern = boring_foreign(self._open.open_names)
        if pattern is not None:
            # Walk a bounded stretch only: past it, leaping (one search) is faster again.
            found = pattern.match(text, pos, pos + _WALK)
            if found is not None and found.end() > pos:
                self._emit(buf[pos : found.end()])
                pos = found.end()
                if pos >= len(buf):
                    return pos
            if buf[pos] == 0x3C:
                return self._markup(buf, pos, final)
        lt = buf.find(b"<", pos)
        stop = len(buf) if lt == -1 else lt
        if stop > pos:
            if self._out.head_pending:
                first = NON_WS.search(buf, pos, stop)
                if first is not None:
                    self._emit(buf[pos : first.start()])
                    self._inject_head()
                    pos = first.start()
            self._emit(buf[pos:stop])
            return stop
        return self._markup(buf, pos, final)

    def _markup(self, buf: bytes, pos: int, final: bool) -> int:
        n = len(buf)
        if pos + 2 > n:
            return self._text_if(final, buf, pos, n)
        second = buf[pos + 1]
        if second == 0x21:  # "!"
            return self._bang(buf, pos, final)
        if second == 0x3F:  # "?"
            return self._enter(buf, pos, pos + 2, State.BOGUS_COMMENT)
        if second == 0x2F:  # "/"
            if pos + 3 > n:
                return self._text_if(final, buf, pos, n)
            third = buf[pos + 2]
            if third == 0x3E:
                self._emit(b"</>")
                return pos + 3
            if not (0x41 <= third <= 0x5A or 0x61 <= third <= 0x7A):
                return self._enter(buf, pos, pos + 2, State.BOGUS_COMMENT)
        elif not (0x41 <= second <= 0x5A or 0x61 <= second <= 0x7A):
            return self._text_if(True, buf, pos, pos + 1)
        found = self._match(buf, pos)
        if found is None:
            return self._incomplete_tag(buf, pos, final)
        end, is_end, name, name_end = found.end, found.is_end, found.name, found.name_end
        if is_end:
            return self._end_tag(buf, pos, end, name)
        return self._start_tag(Tag(buf, pos, end, name, name_end))

    def _text_if(self, final: bool, buf: bytes, pos: int, end: int) -> int:
        if not final:
            return pos
        if self._out.head_pending and NON_WS.search(buf, pos, end):
            self._inject_head()
        self._emit(buf[pos:end])
        return end

    def _bang(self, buf: bytes, pos: int, final: bool) -> int:
        head = buf[pos : pos + 9]
        if head.startswith(b"<!--"):
            self._emit(b"<!--")
            self._state = State.COMMENT_START
            return pos + 4
        cdata = self._open.cdata
        if cdata and head == b"<![CDATA[":
            self._emit(head)
            self._state = State.CDATA
            return pos + 9
        if not final and (
            (len(head) < 4 and b"<!--".startswith(head))
            or (cdata and len(head) < 9 and b"<![CDATA[".startswith(head))
        ):
            return pos
        return self._enter(buf, pos, pos + 2, State.BOGUS_COMMENT)

    def _enter(self, buf: bytes, pos: int, body: int, state: State) -> int:
        self._emit(buf[pos:body])
        self._state = state
        return body

    # ----------------------------------------------------------------- comments and friends

    def _comment_start(self, buf: bytes, pos: int, final: bool) -> int:
        n = len(buf)
        if buf[pos] == 0x3E:
            return self._leave(buf, pos, pos + 1)
        if buf[pos] == 0x2D:
            if pos + 1 >= n:
                return self._stream_to(buf, pos, n, final, keep=1)
            if buf[pos + 1] == 0x3E:
                return self._leave(buf, pos, pos + 2)
        self._state = State.COMMENT
        return self._comment(buf, pos, final)

    def _comment(self, buf: bytes, pos: int, final: bool) -> int:
        found = COMMENT_END.search(buf, pos)
        if found is not None:
            return self._leave(buf, pos, found.end())
        return self._stream_to(buf, pos, len(buf), final, keep=3)

    def _bogus(self, buf: bytes, pos: int, final: bool) -> int:
        end = buf.find(b">", pos)
        if end != -1:
            return self._leave(buf, pos, end + 1)
        return self._stream_to(buf, pos, len(buf), final, keep=0)

    def _cdata(self, buf: bytes, pos: int, final: bool) -> int:
        end = buf.find(b"]]>", pos)
        if end != -1:
            return self._leave(buf, pos, end + 3)
        return self._stream_to(buf, pos, len(buf), final, keep=2)

    def _plaintext(self, buf: bytes, pos: int, final: bool) -> int:
        self._emit(buf[pos:])
        return len(buf)

    def _leave(self, buf: bytes, pos: int, end: int) -> int:
        self._emit(buf[pos:end])
        self._state = State.DATA
        return end

    def _stream_to(self, buf: bytes, pos: int, n: int, final: bool, keep: int) -> int:
        """Emit what cannot be part of a terminator that the next chunk may complete."""
        safe = n if final else max(pos, n - keep)
        if safe > pos:
            self._emit(buf[pos:safe])
        return safe

    # ----------------------------------------------------------------- raw text

    def _raw(self, buf: bytes, pos: int, final: bool) -> int:
        found = self._raw_end.search(buf, pos)
        if found is None:
            keep = len(self._raw_name) + 3
            end = self._stream_to(buf, pos, len(buf), final, keep=keep)
            if self._out.pending is not None and len(self._out.pending.content) > self._max:
                self._decide_pending()  # a held style sheet too long: judged by its start
            return end
        return self._close_raw(buf, pos, found.start(), final)

    def _close_raw(self, buf: bytes, pos: int, start: int, final: bool) -> int:
        if start > pos:
            self._emit(buf[pos:start])
        tag = self._match(buf, start)
        if tag is None:
            if final:
                self._emit(buf[start:])
                return len(buf)
            if start > pos:
                return start
            return self._incomplete_tag(buf, start, final)
        if self._out.pending is not None:
            self._decide_pending()  # a held style sheet
        self._state = State.DATA
        end, name = tag.end, tag.name
        return self._end_tag(buf, start, end, name)

    def _noscript(self, buf: bytes, pos: int, final: bool) -> int:
        found = NOSCRIPT.search(buf, pos)
        if found is None:
            return self._stream_to(buf, pos, len(buf), final, keep=10)
        start = found.start()
        if buf[start + 1] == 0x2F:
            return self._close_raw(buf, pos, start, final)
        if start > pos:
            self._emit(buf[pos:start])
            return start
        tag = self._match(buf, start)
        if tag is None:
            if final or len(buf) - start > self._max:
                self._emit(b"<")
                return start + 1
            return self._hold_tag(buf, start)
        end, name, name_end = tag.end, tag.name, tag.name_end
        if NOSCRIPT_END.search(buf, start, end) is not None:
            # browsers with scripting on end the noscript inside this tag: it is not a tag
            self._emit(buf[start : start + 1])
            return start + 1
        self._element(Tag(buf, start, end, name, name_end), in_noscript=True)
        return end

    # ----------------------------------------------------------------- script data

    def _script(self, buf: bytes, pos: int, final: bool) -> int:
        found, is_end = self._script_data.scan(buf, pos, final)
        self._work += self._script_data.steps
        self._script_data.steps = 0
        if is_end:
            return self._script_end(buf, pos, found, final)
        if found > pos:
            self._emit(buf[pos:found])
        if self._out.pending is not None and len(self._out.pending.content) > self._max:
            self._decide_pending()
        return found

    def _script_end(self, buf: bytes, pos: int, start: int, final: bool) -> int:
        if start > pos:
            self._emit(buf[pos:start])
        tag = self._match(buf, start)
        if tag is None and not final and len(buf) - start <= self._max:
            return self._hold_tag(buf, start)
        if self._out.pending is not None:
            self._decide_pending()
        self._state = State.DATA
        if tag is None:
            return self._incomplete_tag(buf, start, final)
        self._emit(buf[start : tag.end])
        return tag.end

    def _decide_pending(self) -> None:
        pending = self._out.pending
        if pending is None:
            return
        self._out.pending = None
        content = bytes(pending.content)
        self._emit(self.sink.inline_script(pending.tag, content))
        self._emit(content)

    # ----------------------------------------------------------------- oversized tags

    def _incomplete_tag(self, buf: bytes, pos: int, final: bool) -> int:
        if final:
            self._text_if(True, buf, pos, len(buf))
            return len(buf)
        if len(buf) - pos <= self._max:
            return self._hold_tag(buf, pos)
        name = TAG_NAME.match(buf, pos)
        if name is None:
            return self._text_if(True, buf, pos, pos + 1)
        self._skip = TagEndScanner(b"", is_end=buf[pos + 1] == 0x2F)
        start = name.start(1)
        self._emit(buf[pos:start])
        self._state = State.TAG_SKIP
        return start

    def _tagskip(self, buf: bytes, pos: int, final: bool) -> int:
        """Stream a tag too long to hold, following the attribute states to find its end."""
        scanner = self._skip or TagEndScanner(b"", is_end=False)
        found = scanner.scan(buf, pos, len(buf))
        self._work += scanner.steps
        scanner.steps = 0
        if found == -1:
            self._emit(buf[pos:])
            return len(buf)
        self._emit(buf[pos:found])
        self._state = State.DATA
        self._skip = None
        self._after_skipped(scanner.name, scanner.is_end)
        return found

    def _after_skipped(self, name: bytes, is_end: bool) -> None:
        if not is_end:
            self._want_lang = False  # a start tag too long to hold: no lang from it
        if not is_end and not self._open:
            self._enter_content(name)

    # ----------------------------------------------------------------- tags

    def _end_tag(self, buf: bytes, start: int, end: int, name: bytes) -> int:
        out = self._out
        if out.head_pending and not self._open and name in (b"head", b"body", b"html", b"br"):
            self._inject_head()
        if self._open:
            if self._open.close(name) or name not in HTML_END_BREAKOUT:
                self._emit(buf[start:end])
                return end
            self._open.clear()
        if name == b"template":
            self._template = max(0, self._template - 1)
        elif name == b"body" and out.body_pending and self._template == 0:
            out.body_ended()
        self._emit(buf[start:end])
        return end

    def _start_tag(self, tag: Tag) -> int:
        name = tag.name
        out = self._out
        if self._want_lang:
            # Only a document's first tag can be its <html>.
            self._want_lang = False
            if name == b"html":
                out.html_lang = tag.text(b"lang")
        if self.seen is not None:
            self.seen.append(name)
        if out.head_pending and not self._open and name != b"html":
            if name == b"head":
                self._emit(tag.raw)
                self._inject_head()
                return tag.end
            self._inject_head()
        stack = self._open
        if stack.foreign and not stack.breaks_out(tag):
            return self._foreign_tag(tag, stack.namespace)
        if name in (b"svg", b"math"):
            self._emit(tag.raw)
            if tag.self_closing:
                return tag.end
            stack.push(name, Namespace.SVG if name == b"svg" else Namespace.MATH)
            return self._repeats(tag)
        if name == b"body" and out.body_start_pending and self._template == 0:
            self._emit(tag.raw)
            out.body_started()
            self._check_passthrough()
            return tag.end
        state_before = self._state
        self._element(tag, in_noscript=False)
        if name == b"template" and not stack:
            self._template += 1
        if stack and self._state == state_before and name not in VOID:
            stack.push(name, Namespace.HTML)
        return tag.end

    def _foreign_tag(self, tag: Tag, namespace: Namespace) -> int:
        if tag.name in FOREIGN_SINK_TAGS and self._blocking:
            self._emit(self.sink.foreign_element(tag))
        else:
            self._emit(tag.raw)
        if tag.self_closing:
            return tag.end
        self._open.open_foreign(tag, namespace)
        return self._repeats(tag) if tag.name in (b"svg", b"math") else tag.end

    def _repeats(self, tag: Tag) -> int:
        """Take in one go the same ``<svg>``/``<math>`` tag repeated right after *tag*.

        Inside foreign content each repeat opens one more of the same element, so a run
        of them is one push, not one trip through the tokenizer per tag.
        """
        if self.seen is not None:
            return tag.end
        raw = tag.raw
        buf = tag.buf
        pos = tag.end
        while buf.startswith(raw, pos):
            pos += len(raw)
        if pos > tag.end:
            count = (pos - tag.end) // len(raw)
            self._work += count
            self._emit(buf[tag.end : pos])
            self._open.push(tag.name, self._open.namespace, count=count)
        return pos

    def _enter_content(self, name: bytes) -> None:
        """Switch to the state an HTML start tag named *name* opens, if any."""
        if name == b"script":
            self._state = State.SCRIPT
            self._script_data = ScriptDataScanner()
        elif name == b"noscript" or name in RAWTEXT or name in RCDATA:
            self._raw_end = RAW_END[name]
            self._raw_name = name
            self._state = State.NOSCRIPT if name == b"noscript" else State.RAW_TEXT
        elif name == b"plaintext":
            self._state = State.PLAINTEXT

    def _element(self, tag: Tag, *, in_noscript: bool) -> None:
        """Emit an HTML start tag, edited if the sink says so, and switch tokenizer state."""
        name = tag.name
        if name in SINK_TAGS and self._blocking:
            out = self.sink.element(tag, in_noscript=in_noscript)
            if out is None:
                self._out.pending = PendingScript(tag)
            else:
                self._emit(out)
        else:
            self._emit(tag.raw)
        if not in_noscript:
            self._enter_content(name)

    _handlers: Final[tuple[Callable[[Tokenizer, bytes, int, bool], int], ...]] = (
        _data,
        _comment_start,
        _comment,
        _bogus,
        _cdata,
        _raw,
        _noscript,
        _plaintext,
        _script,
        _tagskip,
    )
