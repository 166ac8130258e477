"""Streaming HTML rewriter that neutralises trackers a visitor has not consented to.

:class:`HTMLRewriter` is an incremental codec: ``feed(chunk) -> bytes`` and ``flush() -> bytes``.
It follows the WHATWG tokenizer (data, tags, comments, raw text, RCDATA, the script-data
escape states, CDATA in SVG/MathML) closely enough to find tags where a browser does, and
works on bytes, so every byte it does not deliberately change comes out unchanged, whatever
the chunk boundaries. Memory stays bounded by the chunk plus the longest pending construct.

What it changes, given a :class:`RewritePlan`:

* scripts (marked with a category, or from a known tracker) become ``type="text/plain"``
  with ``src`` parked in ``data-ck-src``;
* iframes lose ``src`` (kept in ``data-ck-src``) and get a placeholder in front;
* tracking pixels and resource hints lose ``src``/``srcset``/``href``;
* ``head_html`` goes right after ``<head>``, ``body_start_html`` right after ``<body>`` and
  ``body_end_html`` right before ``</body>``.
"""

from __future__ import annotations

import codecs
import html
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from consentkit.trackers import Tracker, TrackerIndex, default_index

__all__ = [
    "Blocked",
    "HTMLRewriter",
    "RewritePlan",
    "RewriteStats",
    "block_key_html",
    "default_placeholder",
    "new_block_key",
    "rewrite",
    "scan_start_tags",
    "sniff_charset",
]

MAX_PENDING: Final = 256 * 1024
"""Longest construct (tag or inline script) held back to be classified whole."""

_HELD_AFTER_BODY: Final = 64 * 1024
"""Bytes kept after a ``</body>`` while waiting to see whether it is the last one."""


@dataclass(frozen=True, slots=True)
class Blocked:
    """One element the rewriter neutralised."""

    kind: str
    """``script``, ``iframe``, ``img`` or ``link``."""
    category: str
    provider: str | None = None
    url: str | None = None


def new_block_key() -> str:
    """A fresh, unguessable key for one response's blocked elements."""
    return secrets.token_urlsafe(12)


def block_key_html(key: str) -> str:
    """Markup placed right after the banner script: it tells the script this response's key.

    The script reads it as its own next sibling, which reflected markup cannot be.
    """
    return f'<meta data-ck-key="{html.escape(key)}">'


def default_placeholder(blocked: Blocked) -> str:
    """Accessible English placeholder shown where a blocked iframe would be."""
    who = html.escape(blocked.provider or "a third party")
    cat = html.escape(blocked.category)
    return (
        f'<div class="ck-placeholder" data-ck-placeholder data-ck-category="{cat}" '
        f'role="region" aria-label="Blocked content from {who}">'
        f"<p>This content from {who} is blocked because it needs your consent to "
        f"{cat} cookies.</p>"
        f'<button type="button" data-ck-load>Load content from {who}</button> '
        f'<button type="button" data-ck-allow="{cat}">Always allow {cat}</button>'
        "</div>"
    )


@dataclass(frozen=True)
class RewritePlan:
    """What to block and what to insert for one response."""

    granted: frozenset[str] = frozenset()
    """Categories the visitor granted; ``necessary`` is always granted."""
    trackers: TrackerIndex = field(default_factory=default_index)
    head_html: str = ""
    """Inserted right after the ``<head>`` start tag (or where a head would begin)."""
    body_start_html: str = ""
    """Inserted right after the ``<body>`` start tag; with no such tag, with ``body_end_html``.

    Markup here is in the first paint even when the body is long or streamed.
    """
    body_end_html: str = ""
    """Inserted right before the last real ``</body>`` (or at the end)."""
    placeholder: Callable[[Blocked], str] = default_placeholder
    block_unmarked_trackers: bool = True
    unclassified_category: str = "targeting"
    """Category assumed for a marking the rewriter does not recognise."""
    site_host: str | None = None
    """The page's own host: URLs on it (and its subdomains) are never trackers."""
    block_key: str = ""
    """The value of ``data-ck-blocked`` on what this response blocks (see :func:`new_block_key`).

    ``consentkit.js`` activates only elements carrying this response's key, so markup the
    page reflects from its visitors, pre-marked or not, is never run by the banner.
    """

    def allows(self, category: str) -> bool:
        """Whether elements of *category* may run."""
        return category == "necessary" or category in self.granted


@dataclass
class RewriteStats:
    """What a rewriter did so far."""

    blocked: list[Blocked] = field(default_factory=list)
    head_injected: bool = False
    body_injected: bool = False

    def by_category(self) -> dict[str, int]:
        """Number of blocked elements per category."""
        counts: dict[str, int] = {}
        for item in self.blocked:
            counts[item.category] = counts.get(item.category, 0) + 1
        return counts


# --------------------------------------------------------------------------- charset sniffing

_META_CHARSET = re.compile(
    rb"""<meta[\t\n\f\r /][^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)


def _canonical(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    if name == "utf-16":
        return "utf-16-le"
    return name


def sniff_charset(content_type: str | None, first_bytes: bytes) -> str | None:
    """Return the Python codec name of a document, or ``None`` when nothing says.

    A byte order mark wins, then the ``charset`` of the Content-Type header, then a
    ``<meta charset>`` / ``<meta http-equiv content>`` in the first 1024 bytes (where, as
    browsers do, a declared UTF-16 means UTF-8).
    """
    if first_bytes.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if first_bytes.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if first_bytes.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    if content_type:
        found = _HEADER_CHARSET.search(content_type)
        if found is not None:
            name = _canonical(found.group(1))
            if name is not None:
                return name
    found_meta = _META_CHARSET.search(_strip_comments(first_bytes[:1024]))
    if found_meta is not None:
        name = _canonical(found_meta.group(1).decode("ascii", "replace"))
        if name is not None:
            return "utf-8" if name.startswith("utf-16") else name
    return None


def _strip_comments(data: bytes) -> bytes:
    return re.sub(rb"<!--.*?(?:-->|$)", b"", data, flags=re.S)


def _ascii_compatible(encoding: str) -> bool:
    probe = "<a b='c' d=\"e\">\t\n\f\r/!?-=</a>"
    try:
        return probe.encode(encoding) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


# --------------------------------------------------------------------------- tokenizer regexes

_ATTRS = (
    rb"(?:[\t\n\f\r /]++"
    rb"|(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)[\t\n\f\r ]*+"
    rb"""(?:=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))|(?!=)))*+"""
)
_TAG = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*+)" + _ATTRS + rb">")
_ATTR = re.compile(
    rb"(=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)[\t\n\f\r ]*+"
    rb"(?:=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+)|(?=>)))?+"""
)


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


def _boring(starts: Iterable[bytes], ends: Iterable[bytes], *, cdata: bool) -> re.Pattern[bytes]:
    """A regex consuming text and every construct needing no decision, in one C-level call."""
    bang = rb"<!(?!--|\[CDATA\[)[^>]*+>" if cdata else rb"<!(?!--)[^>]*+>"
    return re.compile(
        rb"(?:[^<]++"
        rb"|<(?=[^A-Za-z/!?])"
        rb"|<[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"<", starts) + _ATTRS + rb">"
        rb"|</[A-Za-z][^\t\n\f\r />]*+" + _not_named(b"</", ends) + _ATTRS + rb">"
        rb"|</(?=[^A-Za-z])[^>]*+>"
        rb"|<\?[^>]*+>"
        rb"|<!--(?>-?>|(?s:.)*?--!?>)"
        rb"|" + bang + rb")*+"
    )


_NON_WS = re.compile(rb"[^\t\n\f\r ]")
_COMMENT_END = re.compile(rb"--!?>")
_SCRIPT_DATA = re.compile(rb"<(?:!--|/script[\t\n\f\r />])", re.I)
_SCRIPT_ESCAPED = re.compile(rb"-->|<(/?)script[\t\n\f\r />]", re.I)
_SCRIPT_DOUBLE = re.compile(rb"-->|</script[\t\n\f\r />]", re.I)
_NOSCRIPT = re.compile(rb"</noscript[\t\n\f\r />]|<(?:img|image|iframe|link)[\t\n\f\r />]", re.I)
_NOSCRIPT_END = re.compile(rb"</noscript[\t\n\f\r />]", re.I)
_DASHES = re.compile(rb"-*+")
_TAG_NAME = re.compile(rb"</?([A-Za-z][^\t\n\f\r />]*+)")
_SKIP_SEP = re.compile(rb"[\t\n\f\r /]*+")
_SKIP_WS = re.compile(rb"[\t\n\f\r ]*+")
_SKIP_NAME = re.compile(rb"[^\t\n\f\r />=]*+")
_SKIP_UNQUOTED = re.compile(rb"[^\t\n\f\r >]*+")

_RAWTEXT: Final = frozenset({b"style", b"xmp", b"iframe", b"noembed", b"noframes"})
_RCDATA: Final = frozenset({b"textarea", b"title"})
_VOID: Final = frozenset(
    b"area base br col embed hr img image input keygen link meta param source track wbr".split()
)
_BREAKOUT: Final = frozenset(
    (
        b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr "
        b"i img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table "
        b"tt u ul var"
    ).split()
)
_HTML_END_BREAKOUT: Final = frozenset(
    b"br p div body html span section article li ul ol table tbody tr td th form main nav "
    b"header footer aside button label".split()
)
_SVG_IP: Final = frozenset({b"foreignobject", b"desc", b"title"})
_MATH_IP: Final = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})
_JS_TYPES: Final = frozenset(
    {
        "",
        "module",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
_HINT_RELS: Final = frozenset(
    {
        "preconnect",
        "dns-prefetch",
        "preload",
        "prefetch",
        "modulepreload",
        "stylesheet",
        "prerender",
    }
)
_SYNONYMS: Final = {
    "necessary": "necessary",
    "essential": "necessary",
    "required": "necessary",
    "strictly-necessary": "necessary",
    "strictly_necessary": "necessary",
    "ignore": "necessary",
    "performance": "performance",
    "statistics": "performance",
    "analytics": "performance",
    "measurement": "performance",
    "functionality": "functionality",
    "functional": "functionality",
    "preferences": "functionality",
    "personalization": "functionality",
    "targeting": "targeting",
    "marketing": "targeting",
    "advertising": "targeting",
    "ads": "targeting",
}
_MARKINGS: Final = (b"data-consent", b"data-category", b"data-cookieconsent")
_INTERESTING_STARTS: Final = (
    b"script style xmp iframe noembed noframes noscript textarea title plaintext "
    b"svg math template img image link".split()
)
_BORING_HTML: Final = _boring(_INTERESTING_STARTS, (b"body", b"template"), cdata=False)
# While body_start_html waits for its <body> tag, that tag is interesting too.
_BORING_BEFORE_BODY: Final = _boring(
    [*_INTERESTING_STARTS, b"body"], (b"body", b"template"), cdata=False
)
_BORING_FOREIGN: Final = _boring(
    _BREAKOUT | _SVG_IP | _MATH_IP | {b"script", b"svg", b"math", b"annotation-xml", b"font"},
    _HTML_END_BREAKOUT | _SVG_IP | _MATH_IP | {b"svg", b"math", b"annotation-xml"},
    cdata=True,
)
_QUICK_IGNORE: Final = re.compile(rb"[/\\]{2}|\\|&|:/|(?i:data-c)")
_SCRIPT_RENAMES: Final = {b"src": b"data-ck-src", b"type": b"data-ck-type"}
_SVG_SCRIPT_RENAMES: Final = {
    **_SCRIPT_RENAMES,
    b"href": b"data-ck-href",
    b"xlink:href": b"data-ck-xlink:href",
}

# tokenizer states
_DATA, _COMMENT_START, _COMMENT, _BOGUS, _CDATA, _RAW, _NOSCRIPT_STATE = range(7)
_PLAINTEXT, _SCRIPT, _TAGSKIP = 7, 8, 9
# script sub-states
_S_DATA, _S_ESCAPED_START, _S_ESCAPED, _S_DOUBLE = range(4)
# namespaces of open foreign-content elements
_NS_HTML, _NS_SVG, _NS_MATH = range(3)


def _text(value: bytes | None) -> str:
    return "" if value is None else html.unescape(value.decode("latin-1"))


class _Tag:
    """A complete tag in the buffer; attributes are parsed on first use."""

    __slots__ = ("_attrs", "_items", "_last", "buf", "end", "name", "name_end", "start")

    def __init__(self, buf: bytes, start: int, end: int, name: bytes, name_end: int) -> None:
        self.buf = buf
        self.start = start
        self.end = end
        self.name = name
        self.name_end = name_end
        self._items: list[tuple[bytes, int, int, bytes | None]] | None = None
        self._attrs: dict[bytes, bytes | None] = {}
        self._last = name_end

    @property
    def items(self) -> list[tuple[bytes, int, int, bytes | None]]:
        """``(lower-case name, name start, name end, raw value or None)`` in source order."""
        if self._items is None:
            self._items = []
            for found in _ATTR.finditer(self.buf, self.name_end, self.end):
                attr = found.group(1).lower()
                value = found.group(2)
                if value is None:
                    value = found.group(3)
                    if value is None:
                        value = found.group(4)
                        if value is None and b"=" in found.group()[len(found.group(1)) :]:
                            value = b""
                self._items.append((attr, found.start(1), found.end(1), value))
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
        return name in self._parsed()

    def get(self, name: bytes) -> bytes | None:
        return self._parsed().get(name)

    def text(self, name: bytes) -> str:
        return _text(self.get(name)).strip()

    def quick_ignore(self) -> bool:
        """True when no attribute can hold an absolute URL or a consent marking."""
        return _QUICK_IGNORE.search(self.buf, self.start, self.end) is None

    @property
    def self_closing(self) -> bool:
        if self.buf[self.end - 2] != 0x2F:  # no "/" before ">": no need to parse
            return False
        self._parsed()
        return self.buf[self.end - 2 : self.end - 1] == b"/" and self._last <= self.end - 2


@dataclass(slots=True)
class _Pending:
    """An inline script held back until its end is seen."""

    tag: _Tag
    content: bytearray = field(default_factory=bytearray)


class _Core:
    """The byte-level tokenizer and editor for ASCII-compatible documents."""

    def __init__(
        self, plan: RewritePlan, encoding: str | None, max_pending: int, *, record: bool = False
    ) -> None:
        self.plan = plan
        self.seen: list[bytes] | None = [] if record else None
        self.stats = RewriteStats()
        self.peak = 0
        self._enc = encoding or "ascii"
        self._max = max_pending
        self._buf = b""
        self._out: list[bytes] = []
        self._state = _DATA
        self._sub = _S_DATA
        self._raw_end: re.Pattern[bytes] = _NOSCRIPT_END
        self._foreign: list[tuple[bytes, int, bool]] = []
        self._template = 0
        self._head_pending = bool(plan.head_html)
        self._body_start_pending = bool(plan.body_start_html)
        self._body_pending = bool(plan.body_end_html) or self._body_start_pending
        self._held: bytearray | None = None
        self._pending: _Pending | None = None
        self._skip: tuple[bytes, bool, str] = (b"", False, "name")
        self._skip_raw = False
        self._raw_cache: dict[bytes, re.Pattern[bytes]] = {}
        self._bom_pending = True
        categories = {t.category for t in plan.trackers.trackers if t.inline}
        self._classify_inline = plan.block_unmarked_trackers and not all(
            plan.allows(c) for c in categories
        )

    # ----------------------------------------------------------------- driving

    def feed(self, chunk: bytes, final: bool) -> bytes:
        buf = self._buf + chunk if self._buf else chunk
        held = len(self._held) if self._held is not None else 0
        pending = len(self._pending.content) if self._pending is not None else 0
        self.peak = max(self.peak, len(buf) + held + pending)
        pos = 0
        if self._bom_pending:
            if len(buf) < 3 and not final:
                self._buf = buf
                return b""
            self._bom_pending = False
            if buf.startswith(codecs.BOM_UTF8):
                self._out.append(codecs.BOM_UTF8)
                pos = 3
        n = len(buf)
        handlers = self._handlers
        while pos < n:
            state = self._state
            new = handlers[state](self, buf, pos, final)
            if new == pos and state == self._state:
                break
            pos = new
        self._buf = buf[pos:]
        if final:
            self._finish()
        out = b"".join(self._out)
        self._out.clear()
        return out

    def _emit(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending.content += data
            return
        if self._held is None:
            self._out.append(data)
            return
        self._held += data
        if len(self._held) > _HELD_AFTER_BODY:
            self._release_body(inject=True)

    def _insert(self, markup: str) -> None:
        if markup:
            self._emit(markup.encode(self._enc, "xmlcharrefreplace"))

    def _inject_head(self) -> None:
        self._head_pending = False
        self.stats.head_injected = True
        self._insert(self.plan.head_html)

    def _release_body(self, *, inject: bool) -> None:
        held = self._held
        self._held = None
        if inject:
            self._body_pending = False
            self.stats.body_injected = True
            markup = self.plan.body_end_html
            if self._body_start_pending:
                # The document had no <body> tag: both insertions land together.
                self._body_start_pending = False
                markup = self.plan.body_start_html + markup
            self._out.append(markup.encode(self._enc, "xmlcharrefreplace"))
        if held:
            self._out.append(bytes(held))

    def _finish(self) -> None:
        if self._pending is not None:
            self._decide_pending()
        if self._head_pending:
            self._inject_head()
        if not self._body_pending:
            return
        if self._held is not None:
            self._release_body(inject=True)
            return
        closer = self._closer()
        if closer:
            self._emit(closer)
        self._release_body(inject=True)

    def _closer(self) -> bytes:
        """What ends an unterminated construct at EOF so that inserted markup is markup."""
        if self._state in (_COMMENT, _COMMENT_START):
            return b"-->"
        if self._state == _SCRIPT and self._pending is None:
            return b"</script>"
        if self._state == _RAW:
            name = self._raw_end.pattern[2:].split(b"[", 1)[0]
            return b"</" + name + b">"
        if self._state == _NOSCRIPT_STATE:
            return b"</noscript>"
        return b""

    # ----------------------------------------------------------------- data state

    def _data(self, buf: bytes, pos: int, final: bool) -> int:
        boring = None
        if not self._head_pending and self.seen is None:
            if not self._foreign:
                boring = _BORING_BEFORE_BODY if self._body_start_pending else _BORING_HTML
            elif self._foreign[-1][1] != _NS_HTML and not self._foreign[-1][2]:
                boring = _BORING_FOREIGN
        if boring is not None:
            found = boring.match(buf, pos)
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
            if self._head_pending:
                first = _NON_WS.search(buf, pos, stop)
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
            return self._enter(buf, pos, pos + 2, _BOGUS)
        if second == 0x2F:  # "/"
            if pos + 3 > n:
                return self._text_if(final, buf, pos, n)
            third = buf[pos + 2]
            if third == 0x3E:
                self._emit(b"</>")
                return pos + 3
            if not (0x41 <= third <= 0x5A or 0x61 <= third <= 0x7A):
                return self._enter(buf, pos, pos + 2, _BOGUS)
        elif not (0x41 <= second <= 0x5A or 0x61 <= second <= 0x7A):
            return self._text_if(True, buf, pos, pos + 1)
        found = _TAG.match(buf, pos)
        if found is None:
            return self._incomplete_tag(buf, pos, final)
        name = found.group(2).lower()
        if found.group(1):
            return self._end_tag(buf, pos, found.end(), name)
        return self._start_tag(_Tag(buf, pos, found.end(), name, found.end(2)))

    def _text_if(self, final: bool, buf: bytes, pos: int, end: int) -> int:
        if not final:
            return pos
        if self._head_pending and _NON_WS.search(buf, pos, end):
            self._inject_head()
        self._emit(buf[pos:end])
        return end

    def _bang(self, buf: bytes, pos: int, final: bool) -> int:
        head = buf[pos : pos + 9]
        if head.startswith(b"<!--"):
            self._emit(b"<!--")
            self._state = _COMMENT_START
            return pos + 4
        cdata = bool(self._foreign) and self._foreign[-1][1] != _NS_HTML
        if cdata and head == b"<![CDATA[":
            self._emit(head)
            self._state = _CDATA
            return pos + 9
        if not final and (
            (len(head) < 4 and b"<!--".startswith(head))
            or (cdata and len(head) < 9 and b"<![CDATA[".startswith(head))
        ):
            return pos
        return self._enter(buf, pos, pos + 2, _BOGUS)

    def _enter(self, buf: bytes, pos: int, body: int, state: int) -> int:
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
        self._state = _COMMENT
        return self._comment(buf, pos, final)

    def _comment(self, buf: bytes, pos: int, final: bool) -> int:
        found = _COMMENT_END.search(buf, pos)
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
        self._state = _DATA
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
            keep = len(self._raw_end.pattern)
            return self._stream_to(buf, pos, len(buf), final, keep=keep)
        return self._close_raw(buf, pos, found.start(), final)

    def _close_raw(self, buf: bytes, pos: int, start: int, final: bool) -> int:
        if start > pos:
            self._emit(buf[pos:start])
        tag = _TAG.match(buf, start)
        if tag is None:
            if final:
                self._emit(buf[start:])
                return len(buf)
            if start > pos:
                return start
            return self._incomplete_tag(buf, start, final)
        self._state = _DATA
        return self._end_tag(buf, start, tag.end(), tag.group(2).lower())

    def _noscript(self, buf: bytes, pos: int, final: bool) -> int:
        found = _NOSCRIPT.search(buf, pos)
        if found is None:
            return self._stream_to(buf, pos, len(buf), final, keep=10)
        start = found.start()
        if buf[start + 1] == 0x2F:
            return self._close_raw(buf, pos, start, final)
        tag = _TAG.match(buf, start)
        if tag is None:
            if start > pos:
                self._emit(buf[pos:start])
            if final or len(buf) - start > self._max:
                self._emit(b"<")
                return start + 1
            return start
        if _NOSCRIPT_END.search(buf, start, tag.end()) is not None:
            # browsers with scripting on end the noscript inside this tag: it is not a tag
            self._emit(buf[pos : start + 1])
            return start + 1
        if start > pos:
            self._emit(buf[pos:start])
        name = tag.group(2).lower()
        self._element(_Tag(buf, start, tag.end(), name, tag.end(2)), in_noscript=True)
        return tag.end()

    # ----------------------------------------------------------------- script data

    def _script(self, buf: bytes, pos: int, final: bool) -> int:
        n = len(buf)
        while pos < n:
            sub = self._sub
            if sub == _S_ESCAPED_START:
                dashes = _DASHES.match(buf, pos).end()  # type: ignore[union-attr]
                if dashes >= n:
                    if not final:
                        self._script_out(buf[pos:dashes])
                        return dashes
                    break
                self._sub = _S_DATA if buf[dashes] == 0x3E else _S_ESCAPED
                self._script_out(buf[pos : dashes + (buf[dashes] == 0x3E)])
                pos = dashes + (buf[dashes] == 0x3E)
                continue
            pattern = (_SCRIPT_DATA, _SCRIPT_DATA, _SCRIPT_ESCAPED, _SCRIPT_DOUBLE)[sub]
            found = pattern.search(buf, pos)
            if found is None:
                break
            start = found.start()
            text = found.group()
            if text == b"<!--":
                self._sub = _S_ESCAPED_START
                self._script_out(buf[pos : found.end()])
                pos = found.end()
            elif text == b"-->":
                self._sub = _S_DATA
                self._script_out(buf[pos : found.end()])
                pos = found.end()
            elif sub == _S_DOUBLE:
                self._sub = _S_ESCAPED
                self._script_out(buf[pos : found.end()])
                pos = found.end()
            elif sub == _S_ESCAPED and text[1] != 0x2F:
                self._sub = _S_DOUBLE
                self._script_out(buf[pos : found.end()])
                pos = found.end()
            else:
                return self._script_end(buf, pos, start, final)
        safe = n if final else max(pos, n - 8)
        if safe > pos:
            self._script_out(buf[pos:safe])
        if self._pending is not None and len(self._pending.content) > self._max:
            self._decide_pending()
        return safe

    def _script_out(self, data: bytes) -> None:
        self._emit(data)

    def _script_end(self, buf: bytes, pos: int, start: int, final: bool) -> int:
        tag = _TAG.match(buf, start)
        if tag is None and not final and len(buf) - start <= self._max:
            if start > pos:
                self._script_out(buf[pos:start])
            return start
        if start > pos:
            self._script_out(buf[pos:start])
        if self._pending is not None:
            self._decide_pending()
        self._state = _DATA
        self._sub = _S_DATA
        if tag is None:
            return self._incomplete_tag(buf, start, final)
        self._emit(buf[start : tag.end()])
        return tag.end()

    def _decide_pending(self) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        tracker = self.plan.trackers.match_inline_bytes(bytes(pending.content))
        if tracker is not None and not self.plan.allows(tracker.category):
            self._block_script(pending.tag, tracker.category, tracker, None)
        else:
            self._emit(pending.tag.raw)
        self._emit(bytes(pending.content))

    # ----------------------------------------------------------------- oversized tags

    def _incomplete_tag(self, buf: bytes, pos: int, final: bool) -> int:
        if final:
            self._text_if(True, buf, pos, len(buf))
            return len(buf)
        if len(buf) - pos <= self._max:
            return pos
        name = _TAG_NAME.match(buf, pos)
        if name is None:
            return self._text_if(True, buf, pos, pos + 1)
        self._skip = (name.group(1).lower(), buf[pos + 1] == 0x2F, "name")
        self._emit(buf[pos : name.end()])
        self._state = _TAGSKIP
        return name.end()

    def _tagskip(self, buf: bytes, pos: int, final: bool) -> int:
        """Stream a tag too long to hold, following the attribute states to find its end."""
        name, is_end, where = self._skip
        n = len(buf)
        start = pos
        while pos < n:
            if where == "name":
                pos = _SKIP_NAME.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= n:
                    break
                where = {0x3D: "value"}.get(buf[pos], "before")
                pos += buf[pos] == 0x3D
            elif where == "before":
                pos = _SKIP_SEP.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= n:
                    break
                if buf[pos] == 0x3E:
                    self._emit(buf[start : pos + 1])
                    self._state = _DATA
                    self._after_skipped(name, is_end)
                    return pos + 1
                where = "name"
                pos += buf[pos] == 0x3D
            elif where == "value":
                pos = _SKIP_WS.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= n:
                    break
                quote = buf[pos]
                if quote in (0x22, 0x27):
                    close = buf.find(bytes([quote]), pos + 1)
                    if close == -1:
                        pos = n
                        where = "dq" if quote == 0x22 else "sq"
                        break
                    pos = close + 1
                    where = "before"
                else:
                    where = "unquoted"
            elif where in ("dq", "sq"):
                close = buf.find(b'"' if where == "dq" else b"'", pos)
                if close == -1:
                    pos = n
                    break
                pos = close + 1
                where = "before"
            else:
                pos = _SKIP_UNQUOTED.match(buf, pos).end()  # type: ignore[union-attr]
                if pos < n:
                    where = "before"
        self._skip = (name, is_end, where)
        self._emit(buf[start:pos])
        return pos

    def _after_skipped(self, name: bytes, is_end: bool) -> None:
        if is_end or self._foreign:
            return
        if name == b"script":
            self._state, self._sub = _SCRIPT, _S_DATA
        elif name == b"noscript":
            self._state = _NOSCRIPT_STATE
            self._raw_end = _NOSCRIPT_END
        elif name in _RAWTEXT or name in _RCDATA:
            self._enter_raw(name)
        elif name == b"plaintext":
            self._state = _PLAINTEXT

    # ----------------------------------------------------------------- tags

    def _end_tag(self, buf: bytes, start: int, end: int, name: bytes) -> int:
        if self._head_pending and not self._foreign and name in (b"head", b"body", b"html", b"br"):
            self._inject_head()
        stack = self._foreign
        if stack:
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == name:
                    del stack[index:]
                    self._emit(buf[start:end])
                    return end
            if name not in _HTML_END_BREAKOUT:
                self._emit(buf[start:end])
                return end
            stack.clear()
        if name == b"template":
            self._template = max(0, self._template - 1)
        elif name == b"body" and self._body_pending and self._template == 0:
            if self._held is not None:
                self._release_body(inject=False)
            self._held = bytearray()
        self._emit(buf[start:end])
        return end

    def _start_tag(self, tag: _Tag) -> int:
        name = tag.name
        if self.seen is not None:
            self.seen.append(name)
        if self._head_pending and not self._foreign and name != b"html":
            if name == b"head":
                self._emit(tag.raw)
                self._inject_head()
                return tag.end
            self._inject_head()
        stack = self._foreign
        if stack and stack[-1][1] != _NS_HTML and not stack[-1][2]:
            if name in _BREAKOUT or (
                name == b"font" and (tag.has(b"color") or tag.has(b"face") or tag.has(b"size"))
            ):
                while stack and stack[-1][1] != _NS_HTML and not stack[-1][2]:
                    stack.pop()
            else:
                return self._foreign_tag(tag, stack[-1][1])
        if name in (b"svg", b"math"):
            self._emit(tag.raw)
            if not tag.self_closing:
                ns = _NS_SVG if name == b"svg" else _NS_MATH
                stack.append((name, ns, False))
            return tag.end
        if name == b"body" and self._body_start_pending and self._template == 0:
            self._emit(tag.raw)
            self._body_start_pending = False
            self._insert(self.plan.body_start_html)
            if not self.plan.body_end_html:
                self._body_pending = False
            return tag.end
        state_before = self._state
        self._element(tag, in_noscript=False)
        if name == b"template" and not stack:
            self._template += 1
        if stack and self._state == state_before and name not in _VOID:
            stack.append((name, _NS_HTML, False))
        return tag.end

    def _foreign_tag(self, tag: _Tag, ns: int) -> int:
        name = tag.name
        if name == b"script":
            self._svg_script(tag)
        else:
            self._emit(tag.raw)
        if tag.self_closing:
            return tag.end
        if name == b"svg":
            ns = _NS_SVG
        elif name == b"math":
            ns = _NS_MATH
        if ns == _NS_SVG:
            point = name in _SVG_IP
        elif name == b"annotation-xml":
            point = tag.text(b"encoding").lower() in ("text/html", "application/xhtml+xml")
        else:
            point = name in _MATH_IP
        # plain foreign elements are not tracked: only these decide where foreign content ends
        if point or name in (b"svg", b"math"):
            self._foreign.append((name, ns, point))
        return tag.end

    def _enter_raw(self, name: bytes) -> None:
        pattern = self._raw_cache.get(name)
        if pattern is None:
            pattern = re.compile(b"</" + re.escape(name) + rb"[\t\n\f\r />]", re.I)
            self._raw_cache[name] = pattern
        self._raw_end = pattern
        self._state = _RAW

    def _element(self, tag: _Tag, *, in_noscript: bool) -> None:
        """Emit an HTML start tag, edited if it needs blocking, and switch tokenizer state."""
        name = tag.name
        if name == b"script":
            if not in_noscript:
                self._html_script(tag)
                self._state, self._sub = _SCRIPT, _S_DATA
            else:
                self._emit(tag.raw)
            return
        if name == b"iframe":
            self._iframe(tag, in_noscript)
        elif name in (b"img", b"image"):
            self._img(tag)
        elif name == b"link":
            self._link(tag)
        else:
            self._emit(tag.raw)
        if in_noscript:
            return
        if name == b"noscript":
            self._state = _NOSCRIPT_STATE
            self._raw_end = _NOSCRIPT_END
        elif name in _RAWTEXT or name in _RCDATA:
            self._enter_raw(name)
        elif name == b"plaintext":
            self._state = _PLAINTEXT

    # ----------------------------------------------------------------- classification

    def _marked(self, tag: _Tag) -> str | None:
        """Category a marking attribute asks for (the first refused one), or ``None``."""
        for attr in _MARKINGS:
            if tag.has(attr):
                names = re.split(r"[\s,;]+", tag.text(attr).lower())
                categories = [
                    _SYNONYMS.get(n, self.plan.unclassified_category) for n in names if n
                ] or [self.plan.unclassified_category]
                for category in categories:
                    if not self.plan.allows(category):
                        return category
                return categories[0]
        return None

    def _match(self, url: bytes | None) -> Tracker | None:
        if url is None or not self.plan.block_unmarked_trackers:
            return None
        return self.plan.trackers.match_url(_text(url), site=self.plan.site_host)

    def _record(self, kind: str, category: str, tracker: Tracker | None, url: bytes | None) -> None:
        provider = tracker.provider if tracker is not None else None
        item = Blocked(kind, category, provider, _text(url) if url is not None else None)
        self.stats.blocked.append(item)

    def _html_script(self, tag: _Tag) -> None:
        script_type = tag.text(b"type").lower()
        is_js = script_type.split(";", 1)[0].strip() in _JS_TYPES
        category = self._marked(tag)
        src = tag.get(b"src")
        if category is None and script_type == "text/plain" and tag.has(b"data-name"):
            tracker = self.plan.trackers.by_provider(tag.text(b"data-name"))
            tracker = tracker or self._match(tag.get(b"data-src"))
            category = tracker.category if tracker else self.plan.unclassified_category
        if category is not None:
            if self.plan.allows(category):
                self._emit(tag.raw)
            elif is_js:
                self._block_script(tag, category, self._match(src), src)
            elif script_type == "text/plain":
                self._mark_inert(tag, category)
            else:
                self._emit(tag.raw)
            return
        if not is_js:
            self._emit(tag.raw)
            return
        if src is not None:
            tracker = self._match(src)
            if tracker is not None and not self.plan.allows(tracker.category):
                self._block_script(tag, tracker.category, tracker, src)
            else:
                self._emit(tag.raw)
            return
        if self._classify_inline:
            self._pending = _Pending(tag)
        else:
            self._emit(tag.raw)

    def _svg_script(self, tag: _Tag) -> None:
        category = self._marked(tag)
        url_attr = next((a for a in (b"href", b"xlink:href", b"src") if tag.has(a)), None)
        url = tag.get(url_attr) if url_attr else None
        tracker = self._match(url)
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or self.plan.allows(category):
            self._emit(tag.raw)
            return
        self._block_script(tag, category, tracker, url, svg=True)

    def _block_script(
        self,
        tag: _Tag,
        category: str,
        tracker: Tracker | None,
        src: bytes | None,
        *,
        svg: bool = False,
    ) -> None:
        self._record("script", category, tracker, src)
        added: list[tuple[str, str | None]] = []
        if not tag.has(b"type"):
            added.append(("data-ck-type", ""))
        added.append(("type", "text/plain"))
        added += self._markers(category, tracker)
        self._emit(self._edit(tag, _SVG_SCRIPT_RENAMES if svg else _SCRIPT_RENAMES, added))

    def _mark_inert(self, tag: _Tag, category: str) -> None:
        if tag.has(b"data-ck-blocked"):
            self._emit(tag.raw)
            return
        data_src = tag.get(b"data-src")
        tracker = self._match(tag.get(b"src") or data_src)
        self._record("script", category, tracker, tag.get(b"src") or data_src)
        added: list[tuple[str, str | None]] = [("data-ck-type", tag.text(b"data-type"))]
        if data_src is not None and not tag.has(b"src"):
            added.append(("data-ck-src", _text(data_src)))
        added += self._markers(category, tracker)
        self._emit(self._edit(tag, {b"src": b"data-ck-src"}, added))

    def _markers(self, category: str, tracker: Tracker | None) -> list[tuple[str, str | None]]:
        markers: list[tuple[str, str | None]] = [("data-ck-category", category)]
        if tracker is not None:
            markers.append(("data-ck-provider", tracker.provider))
        markers.append(("data-ck-blocked", self.plan.block_key or None))
        return markers

    def _iframe(self, tag: _Tag, in_noscript: bool) -> None:
        if tag.quick_ignore():
            self._emit(tag.raw)
            return
        src = tag.get(b"src")
        category = self._marked(tag)
        tracker = self._match(src)
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or src is None or self.plan.allows(category):
            self._emit(tag.raw)
            return
        self._record("iframe", category, tracker, src)
        item = self.stats.blocked[-1]
        if not in_noscript:
            self._insert(self.plan.placeholder(item))
        added = self._markers(category, tracker)
        if not tag.has(b"hidden"):
            added.append(("hidden", None))
        self._emit(self._edit(tag, {b"src": b"data-ck-src"}, added))

    def _img(self, tag: _Tag) -> None:
        if tag.quick_ignore():
            self._emit(tag.raw)
            return
        src = tag.get(b"src")
        srcset = tag.get(b"srcset")
        category = self._marked(tag)
        tracker = self._match(src)
        if tracker is None and srcset is not None:
            for candidate in _text(srcset).split(","):
                parts = candidate.split()
                tracker = self._match(parts[0].encode("latin-1", "replace")) if parts else None
                if tracker is not None:
                    break
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or (src is None and srcset is None) or self.plan.allows(category):
            self._emit(tag.raw)
            return
        self._record("img", category, tracker, src if src is not None else srcset)
        renames = {b"src": b"data-ck-src", b"srcset": b"data-ck-srcset"}
        self._emit(self._edit(tag, renames, self._markers(category, tracker)))

    def _link(self, tag: _Tag) -> None:
        if tag.quick_ignore():
            self._emit(tag.raw)
            return
        rels = set(tag.text(b"rel").lower().split())
        href = tag.get(b"href")
        category = self._marked(tag)
        tracker = self._match(href) if rels & _HINT_RELS else None
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or href is None or self.plan.allows(category):
            self._emit(tag.raw)
            return
        self._record("link", category, tracker, href)
        self._emit(self._edit(tag, {b"href": b"data-ck-href"}, self._markers(category, tracker)))

    def _edit(
        self, tag: _Tag, renames: dict[bytes, bytes], added: list[tuple[str, str | None]]
    ) -> bytes:
        """The tag with attributes renamed in place and new ones appended, all else unchanged."""
        buf = tag.buf
        parts: list[bytes] = []
        cursor = tag.start
        for attr, name_start, name_end, _value in tag.items:
            new = renames.get(attr)
            if new is not None:
                parts.append(buf[cursor:name_start])
                parts.append(new)
                cursor = name_end
        insert_at = tag.end - 2 if tag.self_closing else tag.end - 1
        parts.append(buf[cursor:insert_at])
        for attr_name, value in added:
            if value is None:
                parts.append(b" " + attr_name.encode("ascii"))
            else:
                escaped = html.escape(value, quote=True).encode(self._enc, "xmlcharrefreplace")
                parts.append(b" " + attr_name.encode("ascii") + b'="' + escaped + b'"')
        parts.append(buf[insert_at : tag.end])
        return b"".join(parts)

    _handlers: Final[tuple[Callable[[_Core, bytes, int, bool], int], ...]] = (
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


class HTMLRewriter:
    """Incremental HTML rewriter: ``feed(chunk) -> bytes`` then ``flush() -> bytes``.

    *encoding* is the document's charset if known (see :func:`sniff_charset`); without it a
    byte order mark is honoured and inserted text uses character references for non-ASCII.
    UTF-16 documents are transcoded around the byte-level core; documents in other
    encodings that are not ASCII-compatible pass through unchanged (``passthrough``).
    """

    def __init__(
        self, plan: RewritePlan, *, encoding: str | None = None, max_pending: int = MAX_PENDING
    ) -> None:
        self.plan = plan
        self.encoding: str | None = _canonical(encoding) if encoding else None
        self.transcoded = False
        self.passthrough = False
        self._max = max_pending
        self._started = False
        self._head = b""
        self._core: _Core | None = None
        self._decoder: codecs.IncrementalDecoder | None = None
        self._decoder_out: codecs.IncrementalDecoder | None = None
        self._stats = RewriteStats()
        self._peak = 0

    @property
    def stats(self) -> RewriteStats:
        """What was blocked and inserted so far."""
        return self._core.stats if self._core is not None else self._stats

    @property
    def peak_buffer(self) -> int:
        """Most bytes held internally at any time."""
        core = self._core.peak if self._core is not None else 0
        return max(core, self._peak)

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
            self._core = _Core(self.plan, "utf-8", self._max)
        elif encoding is not None and not _ascii_compatible(encoding):
            self.passthrough = True
        else:
            self._core = _Core(self.plan, encoding, self._max)

    def feed(self, chunk: bytes) -> bytes:
        """Rewrite the next piece of the document; returns what can be emitted now."""
        return self._feed(bytes(chunk), final=False)

    def flush(self) -> bytes:
        """Signal the end of the document; returns everything still held."""
        return self._feed(b"", final=True)

    def _feed(self, chunk: bytes, final: bool) -> bytes:
        if not self._started:
            self._head += chunk
            self._peak = max(self._peak, len(self._head))
            if len(self._head) < 3 and not final:
                return b""
            chunk, self._head = self._head, b""
            self._setup(chunk)
        if self.passthrough or self._core is None:
            return chunk
        if self._decoder is None or self._decoder_out is None:
            return self._core.feed(chunk, final)
        codec = self.encoding or "utf-16-le"
        return _transcode(self._core, self._decoder, self._decoder_out, codec, chunk, final)


def _transcode(
    core: _Core,
    decoder: codecs.IncrementalDecoder,
    recoder: codecs.IncrementalDecoder,
    encoding: str,
    chunk: bytes,
    final: bool,
) -> bytes:
    """Run a UTF-16 chunk through the byte core as UTF-8 and back, losslessly."""
    tail = b""
    text = decoder.decode(chunk, False)
    if final:
        rest = decoder.getstate()[0]
        try:
            text += decoder.decode(b"", True)
        except UnicodeDecodeError:
            tail = rest
    inner = core.feed(text.encode("utf-8", "surrogatepass"), final)
    return recoder.decode(inner, final).encode(encoding, "surrogatepass") + tail


def scan_start_tags(document: bytes) -> list[bytes]:
    """Names (lower case) of the start tags the tokenizer finds, in order: a diagnostic aid."""
    plan = RewritePlan(granted=frozenset({"performance", "functionality", "targeting"}))
    core = _Core(plan, None, MAX_PENDING, record=True)
    core.feed(document, True)
    return list(core.seen or ())


def rewrite(document: bytes, plan: RewritePlan, *, encoding: str | None = None) -> bytes:
    """Rewrite a whole document in one call."""
    rewriter = HTMLRewriter(plan, encoding=encoding)
    return rewriter.feed(document) + rewriter.flush()
