"""What to neutralise and how: the decisions behind each edited tag.

:class:`Blocker` is the tokenizer's sink. Given a complete start tag it decides, from the
site's markings (``data-consent``, Cookiebot's ``data-cookieconsent``,
vanilla-cookieconsent's ``data-category``, Klaro's ``data-name``) and the tracker index,
whether the element may run for this visitor, and if not returns the tag edited in place:

* scripts become ``type="text/plain"`` with ``src`` parked in ``data-ck-src``;
* iframes lose ``src`` (kept in ``data-ck-src``) and get a placeholder in front;
* tracking pixels and resource hints lose ``src``/``srcset``/``href``; so do the other
  elements that fetch a URL (``source``, ``video``/``audio`` with ``poster``, ``track``,
  ``embed``, ``object``'s ``data``, ``input type=image``, SVG ``image``/``feImage``) and a
  ``<base>`` on a tracker's host, against which relative URLs would resolve;
* inline scripts that load a known tracker (a loader snippet, or a string literal holding
  a tracker's URL: ``fetch``, ``sendBeacon``, ``new Image().src``) are made inert;
* other consent managers' inert scripts (``type="text/plain"``) get consentkit's markers so
  its banner can load them once the visitor agrees.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Final

from consentkit.categories import normalize_category
from consentkit.rewriter.plan import Blocked, RewritePlan, RewriteStats
from consentkit.rewriter.tags import Tag, attr_text
from consentkit.trackers import Tracker

__all__ = ["Blocker"]

_MARKINGS: Final = (b"data-consent", b"data-category", b"data-cookieconsent")
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
_SCRIPT_RENAMES: Final = {b"src": b"data-ck-src", b"type": b"data-ck-type"}
_SVG_SCRIPT_RENAMES: Final = {
    **_SCRIPT_RENAMES,
    b"href": b"data-ck-href",
    b"xlink:href": b"data-ck-xlink:href",
}
_LIST_SEPARATORS: Final = re.compile(r"[\s,;]+")
_LOADING_ATTRS: Final[dict[bytes, tuple[bytes, ...]]] = {
    b"source": (b"src", b"srcset"),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"track": (b"src",),
    b"embed": (b"src",),
    b"object": (b"data",),
    b"input": (b"src",),
}
"""HTML elements besides scripts, iframes, images and links that fetch their URLs."""
_SVG_LOADING_ATTRS: Final = (b"href", b"xlink:href")

_Added = list[tuple[str, str | None]]
Nested = Callable[[bytes], tuple[bytes, list[Blocked]]]
"""Rewrites a whole nested document (an ``<iframe srcdoc>``) under the same plan."""
_DecisionKey = tuple[bytes, bool, tuple[object, ...]]
_Consulted = tuple[tuple[str, str, Tracker | None], ...]
"""The unknown-host hook's answers a decision rested on: ``(kind, url, answer)``."""

_CACHED_TAG_BYTES: Final = 2048
_CACHED_DECISIONS: Final = 1024
_DECISIONS: dict[_DecisionKey, tuple[bytes | None, Blocked | None, _Consulted]] = {}
# Remembered decisions carry this in place of the response's block key, put in on output.
_KEY_SLOT: Final = "ck-block-key-slot"
_KEY_ATTR: Final = b'data-ck-blocked="' + _KEY_SLOT.encode() + b'"'
"""Decisions by tag bytes and context, shared by all rewriters (bounded, then cleared)."""


class Blocker:
    """Decides, per tag, whether it may run, and returns its bytes (edited if not).

    Longer than most classes because it is one decision table: a method per kind of
    element that can load something (script, iframe, pixel, hint, source, object, SVG
    image, base, style) sharing the plan, the tracker lookups memoised for this response
    and the tag-editing helpers.
    """

    def __init__(
        self,
        plan: RewritePlan,
        stats: RewriteStats,
        encoding: str | None,
        nested: Nested | None = None,
    ) -> None:
        self.plan = plan
        self._nested = nested
        self.stats = stats
        self._enc = encoding or "ascii"
        self._url_enc = encoding or "utf-8"
        self._context = (
            plan.granted,
            plan.trackers,
            plan.block_unmarked_trackers,
            plan.unclassified_category,
            plan.site_host,
            bool(plan.block_key),
            plan.unknown_source is not None,
            self._enc,
            plan.services,
            plan.service_answers,
            plan.preconsent_providers,
        )
        """Everything besides a tag's bytes that its decision depends on."""
        # any tracker's URL in a string literal makes an inline script a loader
        categories = plan.trackers.categories
        self._consulted: list[tuple[str, str, Tracker | None]] = []
        self._answers: dict[tuple[str, str], Tracker | None] = {}
        """Hook answers already obtained for the tag being decided (each asked once)."""
        self._classify_inline = plan.block_unmarked_trackers and not (
            all(plan.allows(c) for c in categories)
            and all(allowed for _, allowed in plan.service_answers)
        )

    # ----------------------------------------------------------------- the sink protocol

    def element(self, tag: Tag, *, in_noscript: bool) -> bytes | None:
        """An HTML start tag that may need blocking; ``None`` holds an inline script.

        Decisions are remembered per tag bytes and visitor context: the same tracker tags
        recur on every page of a site, so most are decided once per process.
        """
        raw = tag.raw
        key = None if len(raw) > _CACHED_TAG_BYTES else (raw, in_noscript, self._context)
        hit = _DECISIONS.get(key) if key is not None else None
        if hit is not None and not self._still_answered(hit[2]):
            hit = None
        if hit is None:
            before = len(self.stats.blocked)
            self._consulted.clear()
            out = self._decide(tag, in_noscript)
            self._answers.clear()
            blocked = self.stats.blocked[-1] if len(self.stats.blocked) > before else None
            if key is not None:
                if len(_DECISIONS) >= _CACHED_DECISIONS:
                    _DECISIONS.clear()
                _DECISIONS[key] = (out, blocked, tuple(self._consulted))
        else:
            self._answers.clear()
            out, blocked, _ = hit
            if blocked is not None:
                self.stats.blocked.append(blocked)
        if out is not None and self.plan.block_key and _KEY_ATTR in out:
            block_key = self.plan.block_key.encode(self._enc, "xmlcharrefreplace")
            out = out.replace(_KEY_ATTR, b'data-ck-blocked="' + block_key + b'"')
        if out is None or blocked is None or blocked.kind != "iframe" or in_noscript:
            return out
        placeholder = self.plan.placeholder(blocked).encode(self._enc, "xmlcharrefreplace")
        return placeholder + out

    def _still_answered(self, consulted: _Consulted) -> bool:
        """Ask the unknown-host hook again for a remembered decision (it counts each
        sighting); the decision holds while every answer is the same."""
        hook = self.plan.unknown_source
        if not consulted or hook is None:
            return True
        same = True
        for kind, url, answer in consulted:
            now = hook(kind, url)
            self._answers[(kind, url)] = now  # a recomputed decision asks no second time
            same = same and now == answer
        return same

    def _decide(self, tag: Tag, in_noscript: bool) -> bytes | None:
        name = tag.name
        if name == b"script":
            return tag.raw if in_noscript else self._html_script(tag)
        if name == b"iframe":
            return self._iframe(tag)
        if name in (b"img", b"image"):
            return self._img(tag)
        if name == b"link":
            return self._link(tag)
        if name == b"base":
            return self._base(tag)
        if name == b"style":
            # an inline style sheet is judged once its text is seen
            return None if self._classify_inline and not in_noscript else tag.raw
        attrs = _LOADING_ATTRS.get(name)
        if attrs is not None:
            return self._loader(tag, attrs)
        return tag.raw

    def inline_script(self, tag: Tag, content: bytes) -> bytes:
        """A held inline script (or import map, or style sheet), judged by its text.

        Loader snippets and tracker URLs in string literals make a script a tracker's;
        a tracker URL (``url(...)``, ``@import``) makes a style sheet one: it becomes
        ``type="text/plain"``, which a browser does not apply.
        """
        trackers = self.plan.trackers
        tracker = None if tag.name == b"style" else trackers.match_inline_bytes(content)
        if tracker is None or self._ok(tracker.category, tracker):
            tracker = trackers.match_url_literal(content, site=self.plan.site_host)
        if tracker is not None and not self._ok(tracker.category, tracker):
            return self._block_script(tag, tracker.category, tracker, None)
        return tag.raw

    def foreign_element(self, tag: Tag) -> bytes:
        """An SVG or MathML ``script``, ``image`` or ``feImage``: its marking or its URL."""
        if tag.name != b"script":
            return self._loader(tag, _SVG_LOADING_ATTRS)
        category = self._marked(tag)
        url_attr = next((a for a in (b"href", b"xlink:href", b"src") if tag.has(a)), None)
        url = tag.get(url_attr) if url_attr else None
        tracker = self._match(url)
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or self._ok(category, tracker, tag):
            return tag.raw
        return self._block_script(tag, category, tracker, url, svg=True)

    # ----------------------------------------------------------------- classification

    def _marked(self, tag: Tag) -> str | None:
        """Category a marking attribute asks for (the first refused one), or ``None``."""
        for attr in _MARKINGS:
            if tag.has(attr):
                names = _LIST_SEPARATORS.split(tag.text(attr).lower())
                unclassified = self.plan.unclassified_category
                categories = [normalize_category(n) or unclassified for n in names if n]
                for category in categories:
                    if not self.plan.allows(category):
                        return category
                return categories[0] if categories else unclassified
        if tag.has(b"data-service") and self.plan.services is not None:
            # Another CMP's service marking (data-service="youtube") names its category.
            return self.plan.services.category_of(tag.text(b"data-service").strip().lower())
        return None

    def _service(self, tracker: Tracker | None, tag: Tag | None) -> str | None:
        marked = None
        if tag is not None and tag.has(b"data-service"):
            marked = tag.text(b"data-service").strip().lower()
        return self.plan.service_of(tracker, marked)

    def _ok(self, category: str, tracker: Tracker | None, tag: Tag | None = None) -> bool:
        """Whether an element may run: its service decides when answered on its own."""
        if tracker is not None and tracker.provider in self.plan.preconsent_providers:
            return True
        if not self.plan.service_answers:
            return self.plan.allows(category)
        return self.plan.permits(category, self._service(tracker, tag))

    def _match(self, url: bytes | None) -> Tracker | None:
        if url is None or not self.plan.block_unmarked_trackers:
            return None
        return self.plan.trackers.match_url(self._url_text(url), site=self.plan.site_host)

    def _url_text(self, value: bytes) -> str:
        """A URL attribute as the browser reads it, in the document's encoding.

        Non-ASCII matters for hosts (``U+3002`` is a dot); an unknown encoding is read as
        UTF-8 where it decodes, as the ASCII-safe Latin-1 otherwise.
        """
        if value.isascii():
            return attr_text(value)
        try:
            text = value.decode(self._url_enc)
        except (UnicodeDecodeError, LookupError):
            text = value.decode("latin-1")
        return html.unescape(text)

    def _unknown(self, kind: str, url: bytes | None) -> Tracker | None:
        hook = self.plan.unknown_source
        if hook is None or url is None or not self.plan.block_unmarked_trackers:
            return None
        text = attr_text(url)
        known = (kind, text) in self._answers
        answer = self._answers[kind, text] if known else hook(kind, text)
        self._consulted.append((kind, text, answer))
        return answer

    def _record(
        self,
        kind: str,
        category: str,
        tracker: Tracker | None,
        url: bytes | None,
        tag: Tag | None = None,
    ) -> None:
        provider = tracker.provider if tracker is not None else None
        service = self._service(tracker, tag)
        if service is not None and self.plan.services is not None:
            found = self.plan.services.get(service)
            provider = found.name if found is not None else provider
        text = attr_text(url) if url is not None else None
        self.stats.blocked.append(Blocked(kind, category, provider, text, service))

    # ----------------------------------------------------------------- elements

    def _html_script(self, tag: Tag) -> bytes | None:
        script_type = tag.text(b"type").lower()
        is_js = script_type.split(";", 1)[0].strip() in _JS_TYPES
        category = self._marked(tag)
        src = tag.get(b"src")
        if category is None and script_type == "text/plain" and tag.has(b"data-name"):
            tracker = self.plan.trackers.by_provider(tag.text(b"data-name"))
            tracker = tracker or self._match(tag.get(b"data-src"))
            category = tracker.category if tracker else self.plan.unclassified_category
        if category is not None:
            if self._ok(category, self._match(src) if src is not None else None, tag):
                return tag.raw
            if is_js:
                return self._block_script(tag, category, self._match(src), src)
            if script_type == "text/plain":
                return self._mark_inert(tag, category)
            return tag.raw
        if not is_js:
            if script_type == "importmap" and src is None and self._classify_inline:
                return None  # an import map pointing at a tracker is its loader
            return tag.raw
        if src is not None:
            tracker = self._match(src) or self._unknown("script", src)
            if tracker is not None and not self._ok(tracker.category, tracker, tag):
                return self._block_script(tag, tracker.category, tracker, src)
            return tag.raw
        return None if self._classify_inline else tag.raw

    def _block_script(
        self,
        tag: Tag,
        category: str,
        tracker: Tracker | None,
        src: bytes | None,
        *,
        svg: bool = False,
    ) -> bytes:
        self._record("style" if tag.name == b"style" else "script", category, tracker, src, tag)
        added: _Added = []
        if not tag.has(b"type"):
            added.append(("data-ck-type", ""))
        added.append(("type", "text/plain"))
        added += self._markers(category, tracker, tag)
        return self._edit(tag, _SVG_SCRIPT_RENAMES if svg else _SCRIPT_RENAMES, added)

    def _mark_inert(self, tag: Tag, category: str) -> bytes:
        if tag.has(b"data-ck-blocked"):
            return tag.raw
        data_src = tag.get(b"data-src")
        tracker = self._match(tag.get(b"src") or data_src)
        self._record("script", category, tracker, tag.get(b"src") or data_src, tag)
        added: _Added = [("data-ck-type", tag.text(b"data-type"))]
        if data_src is not None and not tag.has(b"src"):
            added.append(("data-ck-src", attr_text(data_src)))
        added += self._markers(category, tracker, tag)
        return self._edit(tag, {b"src": b"data-ck-src"}, added)

    def _markers(self, category: str, tracker: Tracker | None, tag: Tag | None = None) -> _Added:
        markers: _Added = [("data-ck-category", category)]
        if tracker is not None:
            markers.append(("data-ck-provider", tracker.provider))
        service = self._service(tracker, tag)
        if service is not None:
            markers.append(("data-ck-service", service))
        markers.append(("data-ck-blocked", _KEY_SLOT if self.plan.block_key else None))
        return markers

    def _srcdoc(self, tag: Tag) -> bytes:
        """An ``<iframe srcdoc>``: its document rewritten by the same plan.

        The original goes to ``data-ck-srcdoc`` (for activation after consent) and the
        rewritten one, escaped again, into a new ``srcdoc``.
        """
        value = tag.get(b"srcdoc")
        if value is None:
            return tag.raw
        if self._nested is None:
            # nested deeper than the rewriter follows: the document is parked, unread
            category = self.plan.unclassified_category
            if self.plan.allows(category):
                return tag.raw
            self._record("srcdoc", category, None, None)
            return self._edit(tag, {b"srcdoc": b"data-ck-srcdoc"}, self._markers(category, None))
        document = self._url_text(value)
        inner, blocked = self._nested(document.encode("utf-8", "surrogatepass"))
        if not blocked:
            return tag.raw
        first = blocked[0]
        tracker = self.plan.trackers.by_provider(first.provider) if first.provider else None
        self._record("srcdoc", first.category, tracker, None)
        rewritten = inner.decode("utf-8", "replace")
        added: _Added = [("srcdoc", rewritten), *self._markers(first.category, tracker)]
        return self._edit(tag, {b"srcdoc": b"data-ck-srcdoc"}, added)

    def _iframe(self, tag: Tag) -> bytes:
        if tag.quick_ignore():
            return tag.raw
        if tag.has(b"srcdoc"):
            return self._srcdoc(tag)  # srcdoc wins over src
        src = tag.get(b"src")
        category = self._marked(tag)
        tracker = self._match(src) or self._unknown("iframe", src)
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or src is None or self._ok(category, tracker, tag):
            return tag.raw
        self._record("iframe", category, tracker, src, tag)
        added = self._markers(category, tracker, tag)
        if not tag.has(b"hidden"):
            added.append(("hidden", None))
        return self._edit(tag, {b"src": b"data-ck-src"}, added)

    def _match_srcset(self, srcset: bytes | None) -> Tracker | None:
        if srcset is None or not self.plan.block_unmarked_trackers:
            return None
        for candidate in self._url_text(srcset).split(","):
            parts = candidate.split()
            if parts:
                tracker = self.plan.trackers.match_url(parts[0], site=self.plan.site_host)
                if tracker is not None:
                    return tracker
        return None

    def _img(self, tag: Tag) -> bytes:
        if tag.quick_ignore():
            return tag.raw
        src = tag.get(b"src")
        srcset = tag.get(b"srcset")
        category = self._marked(tag)
        tracker = self._match(src) or self._match_srcset(srcset)
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or (src is None and srcset is None) or self._ok(category, tracker, tag):
            return tag.raw
        self._record("img", category, tracker, src if src is not None else srcset, tag)
        renames = {b"src": b"data-ck-src", b"srcset": b"data-ck-srcset"}
        return self._edit(tag, renames, self._markers(category, tracker, tag))

    def _loader(self, tag: Tag, attrs: tuple[bytes, ...]) -> bytes:
        """An element fetching the URLs in *attrs*: all of them parked if one is refused."""
        if tag.quick_ignore():
            return tag.raw
        category = self._marked(tag)
        tracker: Tracker | None = None
        first: bytes | None = None
        for attr in attrs:
            value = tag.get(attr)
            if value is None:
                continue
            first = value if first is None else first
            found = self._match_srcset(value) if attr == b"srcset" else self._match(value)
            if found is not None and not self._ok(found.category, found, tag):
                tracker = found
                break
            tracker = tracker or found
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or first is None or self._ok(category, tracker, tag):
            return tag.raw
        self._record(tag.name.decode("ascii", "replace"), category, tracker, first, tag)
        renames = {attr: b"data-ck-" + attr for attr in attrs}
        return self._edit(tag, renames, self._markers(category, tracker, tag))

    def _base(self, tag: Tag) -> bytes:
        """A ``<base>`` on a tracker's host would make every relative URL a tracker's."""
        href = tag.get(b"href")
        if href is None or tag.quick_ignore() or not self.plan.block_unmarked_trackers:
            return tag.raw
        tracker = self.plan.trackers.match_base(self._url_text(href), site=self.plan.site_host)
        if tracker is None or self._ok(tracker.category, tracker):
            return tag.raw
        self._record("base", tracker.category, tracker, href)
        return self._edit(tag, {b"href": b"data-ck-href"}, self._markers(tracker.category, tracker))

    def _link(self, tag: Tag) -> bytes:
        if tag.quick_ignore():
            return tag.raw
        rels = set(tag.text(b"rel").lower().split())
        href = tag.get(b"href")
        category = self._marked(tag)
        tracker = self._match(href) if rels & _HINT_RELS else None
        if category is None and tracker is not None:
            category = tracker.category
        if category is None or href is None or self._ok(category, tracker, tag):
            return tag.raw
        self._record("link", category, tracker, href, tag)
        return self._edit(tag, {b"href": b"data-ck-href"}, self._markers(category, tracker, tag))

    def _edit(self, tag: Tag, renames: dict[bytes, bytes], added: _Added) -> bytes:
        """The tag with attributes renamed in place and new ones appended, all else unchanged."""
        buf = tag.buf
        parts: list[bytes] = []
        cursor = tag.start
        for attr in tag.items:
            new = renames.get(attr.name)
            if new is not None:
                parts.append(buf[cursor : attr.name_start])
                parts.append(new)
                cursor = attr.name_end
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
