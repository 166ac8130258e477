"""Differential test: html5lib parses the rewriter's output like a browser would.

Generated documents mix marked and unmarked scripts, trackers and first-party elements,
iframes, pixels, comments, raw text and awkward attributes. In the parsed output no refused
tracker may remain active, and every first-party element must be exactly as in the input.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import html5lib  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from consentkit.rewriter import HTMLRewriter, RewritePlan
from consentkit.trackers import default_index

INDEX = default_index()
OPTIONAL = ("performance", "functionality", "targeting")
JS_TYPES = {"", "text/javascript", "module", "application/javascript"}
TRACKER_SCRIPTS = [
    "https://www.googletagmanager.com/gtag/js?id=G-1",
    "//static.hotjar.com/c/hotjar-1.js",
    "https://connect.facebook.net/en_US/fbevents.js",
    "HTTPS://SNAP.LICDN.COM/li.lms-analytics/insight.min.js",
    "https://widget.intercom.io/widget/abc",
]
TRACKER_FRAMES = [
    "https://www.youtube-nocookie.com/embed/x",
    "https://player.vimeo.com/video/1",
    "https://www.google.com/maps/embed?pb=1",
]
TRACKER_PIXELS = ["https://www.facebook.com/tr?id=1", "https://px.ads.linkedin.com/collect?a=1"]
SYNONYMS = {"statistics": "performance", "marketing": "targeting"}
INLINE = ["fbq('init','1');", "gtag('js', new Date());", "var _paq = [];", "ttq.load('x');"]


def _quote(value: str, style: int) -> str:
    return (f'"{value}"', f"'{value}'", value)[style]


@st.composite
def fragments(draw: st.DrawFn, fp: int) -> str:
    kind = draw(st.integers(0, 13))
    q = draw(st.integers(0, 2))
    cat = draw(st.sampled_from((*OPTIONAL, "necessary", "statistics", "marketing")))
    script = draw(st.sampled_from(("script", "SCRIPT", "Script")))
    if kind == 0:
        return f"<{script} data-consent={_quote(cat, q)} src=/m{fp}.js></script>"
    if kind == 1:
        return (
            f"<script data-cookieconsent={_quote(cat, q)}>{draw(st.sampled_from(INLINE))}</script>"
        )
    if kind == 2:
        url = draw(st.sampled_from(TRACKER_SCRIPTS))
        return f"<{script} async src={_quote(url, q)}></{script}>"
    if kind == 3:
        return f"<script>{draw(st.sampled_from(INLINE))}</script>"
    if kind == 4:
        return (
            f'<script id="fp{fp}" src="/app{fp}.js"></script>'
            f'<script id="fp{fp}i">var a{fp}=1</script>'
        )
    if kind == 5:
        url = draw(st.sampled_from(TRACKER_FRAMES))
        return f"<iframe width=5 src={_quote(url, q)}></iframe>"
    if kind == 6:
        return f'<iframe id="fp{fp}" src="/embed/{fp}"></iframe>'
    if kind == 7:
        url = draw(st.sampled_from(TRACKER_PIXELS))
        wrap = draw(st.booleans())
        tag = f"<img height=1 src={_quote(url, q)}>"
        return f"<noscript>{tag}</noscript>" if wrap else tag
    if kind == 8:
        return f'<p id="fp{fp}" title="a>b" data-x=\'<script src={TRACKER_SCRIPTS[0]}>\'>t{fp}</p>'
    if kind == 9:
        return f"<!-- <script src={TRACKER_SCRIPTS[1]}></script> -->"
    if kind == 10:
        return f"<style>a>b{{}} <img src={TRACKER_PIXELS[0]}></style>"
    if kind == 11:
        return f"<textarea id=fp{fp}><script src={TRACKER_SCRIPTS[2]}></script></textarea>"
    if kind == 12:
        return f'<svg id="fp{fp}"><script href="{TRACKER_SCRIPTS[1]}"/><rect width="1"/></svg>'
    return f'<img id="fp{fp}" src="/img/{fp}.png" alt="x > y"><a id="fp{fp}a" href="/x">l</a>'


@st.composite
def documents(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 12))
    parts = [draw(fragments(i)) for i in range(count)]
    head = draw(st.sampled_from(("", "<!DOCTYPE html><html><head>", "<head><title>t</title>")))
    return head + "<body>" + "".join(parts) + "</body></html>"


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower()


def _parse(document: bytes) -> ET.Element:
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False)
    tree: ET.Element = parser.parse(document.decode("utf-8"))
    return tree


def _refused(url: str | None, plan: RewritePlan) -> bool:
    if not url:
        return False
    tracker = INDEX.match_url(url)
    return tracker is not None and not plan.allows(tracker.category)


def _active_refused(element: ET.Element, plan: RewritePlan) -> str | None:
    name = _local(element.tag)
    attrs = element.attrib
    if name == "script":
        if attrs.get("type", "").strip().lower() not in JS_TYPES:
            return None
        src = attrs.get("src") or attrs.get("href")
        marked = attrs.get("data-consent") or attrs.get("data-cookieconsent")
        if marked:  # a site's marking is authoritative, whatever the script loads
            category = SYNONYMS.get(marked, marked)
            return None if plan.allows(category) else f"marked script {marked}"
        if _refused(src, plan):
            return f"script {src}"
        tracker = INDEX.match_inline(element.text or "")
        if not src and tracker is not None and not plan.allows(tracker.category):
            return f"inline {tracker.provider}"
    if name == "iframe" and _refused(attrs.get("src"), plan):
        return f"iframe {attrs.get('src')}"
    if name == "img" and _refused(attrs.get("src"), plan):
        return f"img {attrs.get('src')}"
    return None


def _first_party(tree: ET.Element) -> list[tuple[str, dict[str, str], str]]:
    return [
        (_local(e.tag), dict(e.attrib), e.text or "")
        for e in tree.iter()
        if str(e.attrib.get("id", "")).startswith("fp")
    ]


@settings(max_examples=200, deadline=None)
@given(
    document=documents(),
    granted=st.frozensets(st.sampled_from(OPTIONAL)),
    chunk=st.integers(1, 64),
)
def test_no_refused_tracker_survives(document: str, granted: frozenset[str], chunk: int) -> None:
    plan = RewritePlan(granted=granted, body_end_html="<div id=ck-banner></div>")
    source = document.encode()
    rewriter = HTMLRewriter(plan)
    out = b"".join(rewriter.feed(source[i : i + chunk]) for i in range(0, len(source), chunk))
    out += rewriter.flush()
    tree = _parse(out)
    survivors = [found for e in tree.iter() if (found := _active_refused(e, plan))]
    assert survivors == []
    assert _first_party(tree) == _first_party(_parse(source))
    assert [e for e in tree.iter() if e.attrib.get("id") == "ck-banner"]
    if len(granted) == len(OPTIONAL):
        assert out == source.replace(b"</body>", b"<div id=ck-banner></div></body>")
