"""Differential fuzz: tracker tags in every context a browser parses, html5lib as the judge.

Documents are assembled from tracker constructs (every loading element, URL spellings a
browser accepts, inline loaders, style sheets, import maps, srcdoc) placed in head, body,
after ``</html>``, in ``<template>``, ``<noscript>``, SVG and MathML (CDATA included),
tables, odd attribute quoting, comments and raw-text elements. Three properties:

* no refused tracker is left loadable in the tree html5lib builds from the output;
* the rewriter only inserts: the input is a subsequence of the output (attribute names it
  parks may change case), so every byte outside its edits is preserved;
* the output is the same whatever the chunking.

CI runs a bounded number of examples; ``CONSENTKIT_FUZZ_EXAMPLES=20000`` runs more.
"""

from __future__ import annotations

import html
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentkit.rewriter import HTMLRewriter, RewritePlan, rewrite
from tests.rewriter.judge import GTM_SPELLINGS, loadable_trackers

EXAMPLES = int(os.environ.get("CONSENTKIT_FUZZ_EXAMPLES", "150"))
OPTIONAL = ("performance", "functionality", "targeting")

SCRIPT_URLS = [
    "https://www.googletagmanager.com/gtm.js?id=GTM-1",
    *GTM_SPELLINGS,
    "https://connect.facebook.net/en_US/fbevents.js",
    "//static.hotjar.com/c/hotjar-1.js",
]
PIXEL_URLS = [
    "https://www.facebook.com/tr?id=1&amp;ev=PageView",
    "https://www.google-analytics.com/g/collect",
    "https://px.ads.linkedin.com/collect?a=1",
    "https://www.facebook%2Ecom/tr?id=1",
]
FRAME_URLS = ["https://www.youtube.com/embed/x", "https://player.vimeo.com/video/1"]


def _attr(name: str, value: str, style: int) -> str:
    if style == 0:
        return f'{name}="{value}"'
    if style == 1:
        return f"{name}='{value}'"
    if style == 2 and not any(c in value for c in " \t\n\"'=<>`"):
        return f"{name}={value}"
    if style == 3:
        return f'{name.upper()} = "{value}"'
    return f'{name}\n=\t"{value}"'


@st.composite
def trackers(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 17))
    q = draw(st.integers(0, 4))
    script = draw(st.sampled_from(SCRIPT_URLS))
    pixel = draw(st.sampled_from(PIXEL_URLS))
    if kind == 0:
        return f"<script async {_attr('src', script, q)}></script>"
    if kind == 1:
        return f"<img {_attr('src', pixel, q)} alt=''>"
    if kind == 2:
        return f"<img src=a.png {_attr('srcset', 'a.png 1x, ' + pixel + ' 2x', q)}>"
    if kind == 3:
        return f"<iframe {_attr('src', draw(st.sampled_from(FRAME_URLS)), q)}></iframe>"
    if kind == 4:
        inner = html.escape(f'<script src="{script}"></script><p>x</p>', quote=True)
        return f"<iframe {_attr('srcdoc', inner, q)}></iframe>"
    if kind == 5:
        return f"<video {_attr('poster', pixel, q)}></video>"
    if kind == 6:
        return f"<picture><source {_attr('srcset', pixel, q)}><img src=b.png></picture>"
    if kind == 7:
        return f"<audio {_attr('src', pixel, q)}></audio><video><track {_attr('src', pixel, q)}>"
    if kind == 8:
        return f"<embed {_attr('src', script, q)}><object {_attr('data', script, q)}></object>"
    if kind == 9:
        return f"<input type=image {_attr('src', pixel, q)}>"
    if kind == 10:
        attr = draw(st.sampled_from(("href", "xlink:href")))
        return f"<svg><image {_attr(attr, pixel, q)}/></svg>"
    if kind == 11:
        return f"<link rel=preload as=script {_attr('href', script, q)}>"
    if kind == 12:
        call = draw(
            st.sampled_from(
                (
                    'new Image().src = "{}";',
                    "fetch('{}', {{method: 'POST'}});",
                    "navigator.sendBeacon(`{}`, d);",
                )
            )
        )
        return "<script>" + call.format(pixel.replace("&amp;", "&")) + "</script>"
    if kind == 13:
        return f"<style>p {{ background: url({pixel.replace('&amp;', '&')}) }}</style>"
    if kind == 14:
        return f'<script type=importmap>{{"imports": {{"t": "{script}"}}}}</script>'
    if kind == 15:
        return "<script>fbq('init', '1'); fbq('track', 'PageView');</script>"
    if kind == 16:
        return '<base href="https://www.googletagmanager.com/"><script src="gtm.js"></script>'
    return f"<svg><script {_attr('href', script, q)}></script></svg>"


WRAPPERS = [
    "{}",
    "<table><tr><td>{}</td></tr></table>",
    "<table>{}</table>",
    "<template>{}</template>",
    "<noscript>{}</noscript>",
    "<svg>{}</svg>",
    "<math>{}</math>",
    "<svg><foreignObject>{}</foreignObject></svg>",
    "<math><mi>{}</mi></math>",
    "<svg><![CDATA[{}]]></svg>",
    "<!-- {} -->",
    "<textarea>{}</textarea>",
    "<title>{}</title>",
    "<xmp>{}</xmp>",
    "<iframe>{}</iframe>",
    "<select>{}</select>",
    "<p title='a>b' data-x=\"<script src=x>\">{}</p>",
    "<div a=b/>{}</div>",
    "<p>{}",
]
FIRST_PARTY = [
    '<script src="/app.js"></script>',
    "<img src=/logo.png alt='a > b'>",
    '<p class="x" style="color: red">text</p>',
    "<video src=/clip.mp4 poster=/clip.png></video>",
    '<script>fetch("/api/cart"); // https://www.facebook.com/tr</script>',
]


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        wrapper = draw(st.sampled_from(WRAPPERS))
        body = draw(st.one_of(trackers(), st.sampled_from(FIRST_PARTY)))
        parts.append(wrapper.replace("{}", body))
    head = draw(st.sampled_from(("", "<!DOCTYPE html><html><head>", "<head><title>t</title>")))
    in_head = draw(st.sampled_from(("", draw(trackers()))))
    after = draw(st.sampled_from(("", draw(trackers()))))
    return f"{head}{in_head}</head><body>{''.join(parts)}</body></html>{after}"


def _is_subsequence(small: bytes, big: bytes) -> bool:
    at = 0
    for byte in small:
        at = big.find(bytes([byte]), at)
        if at == -1:
            return False
        at += 1
    return True


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    document=documents(),
    granted=st.frozensets(st.sampled_from(OPTIONAL)),
    chunk=st.integers(1, 97),
)
def test_fuzzed_documents(document: str, granted: frozenset[str], chunk: int) -> None:
    plan = RewritePlan(granted=granted)
    source = document.encode("utf-8")
    whole = rewrite(source, plan, encoding="utf-8")
    assert loadable_trackers(whole, granted) == []
    assert _is_subsequence(source.lower(), whole.lower())
    rewriter = HTMLRewriter(plan, encoding="utf-8")
    pieces = [rewriter.feed(source[i : i + chunk]) for i in range(0, len(source), chunk)]
    assert b"".join(pieces) + rewriter.flush() == whole
