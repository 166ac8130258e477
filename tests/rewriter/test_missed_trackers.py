"""Trackers a browser loads that the rewriter must neutralise (URL spellings, elements, base,
inline loaders), judged by html5lib: no refused tracker URL left loadable."""

from __future__ import annotations

import html

import pytest

from consentkit.rewriter import RewritePlan, rewrite
from tests.rewriter.judge import GTM_SPELLINGS, loadable_trackers

BLOCK = RewritePlan()


def _page(body: str) -> bytes:
    return f"<!doctype html><html><head></head><body>{body}</body></html>".encode()


@pytest.mark.parametrize("url", GTM_SPELLINGS)
def test_every_url_spelling_chromium_loads_is_blocked(url: str) -> None:
    document = _page(f'<script src="{url}"></script>')
    assert loadable_trackers(document)  # the judge sees the tracker
    out = rewrite(document, BLOCK)
    assert loadable_trackers(out) == []
    assert b'type="text/plain"' in out


ELEMENTS = [
    '<object data="https://www.googletagmanager.com/ns.html"></object>',
    '<embed src="https://www.googletagmanager.com/ns.html">',
    '<picture><source srcset="https://www.facebook.com/tr?id=1 1x"><img src="a.png"></picture>',
    '<img src="a.png" srcset="a.png 1x, https://www.facebook.com/tr?id=1 2x">',
    '<video poster="https://www.facebook.com/tr?id=1"></video>',
    '<video src="https://www.google-analytics.com/g/collect"></video>',
    '<video><source src="https://www.google-analytics.com/collect"></video>',
    '<audio src="https://www.google-analytics.com/collect"></audio>',
    '<video><track src="https://www.google-analytics.com/collect"></video>',
    '<input type=image src="https://www.facebook.com/tr?id=1">',
    '<svg><image href="https://www.facebook.com/tr?id=1"/></svg>',
    '<svg><image xlink:href="https://www.facebook.com/tr?id=1"></image></svg>',
    '<link rel=modulepreload href="https://www.googletagmanager.com/gtm.js">',
    '<base href="https://www.googletagmanager.com/"><script src="gtm.js"></script>',
    '<base href="https://www.facebook.com/"><img src="tr?id=1">',
]


@pytest.mark.parametrize("markup", ELEMENTS)
def test_every_loading_element_is_neutralised(markup: str) -> None:
    document = _page(markup)
    assert loadable_trackers(document)
    out = rewrite(document, BLOCK)
    assert loadable_trackers(out) == [], out


def test_a_base_on_the_site_itself_changes_nothing() -> None:
    document = _page('<base href="https://shop.example/"><script src="app.js"></script>')
    assert rewrite(document, BLOCK) == document


@pytest.mark.parametrize(
    "script",
    [
        'new Image().src = "https://www.facebook.com/tr?id=1&ev=PageView";',
        'fetch("https://www.google-analytics.com/g/collect?v=2", {method: "POST"});',
        "navigator.sendBeacon('https://www.google-analytics.com/g/collect', data);",
        'var u = "https:\\/\\/www.google-analytics.com\\/g\\/collect"; fetch(u);',
    ],
)
def test_inline_loaders_of_tracker_urls_are_blocked(script: str) -> None:
    document = _page(f"<script>{script}</script>")
    out = rewrite(document, BLOCK)
    assert b'<script data-ck-type="" type="text/plain"' in out


def test_inline_scripts_naming_other_urls_run() -> None:
    document = _page('<script>fetch("https://api.shop.example/cart"); // see docs.example</script>')
    assert rewrite(document, BLOCK) == document


CONTENT = [
    '<iframe srcdoc="<script src=&quot;https://www.googletagmanager.com/gtm.js&quot;></script>">'
    "</iframe>",
    "<iframe srcdoc='<img src=\"https://www.facebook.com/tr?id=1\">'></iframe>",
    '<script type="importmap">{"imports": {"a": "https://www.googletagmanager.com/gtm.js"}}'
    "</script>",
    "<style>body { background: url(https://www.facebook.com/tr?id=1) }</style>",
    "<style>@import 'https://www.google-analytics.com/collect';</style>",
]


@pytest.mark.parametrize("markup", CONTENT)
def test_nested_documents_import_maps_and_style_sheets_are_neutralised(markup: str) -> None:
    document = _page(markup)
    out = rewrite(document, BLOCK)
    assert out != document
    assert b"data-ck-blocked" in out
    assert loadable_trackers(out) == []


def test_srcdoc_is_rewritten_with_the_same_plan_and_escaped_again() -> None:
    srcdoc = '<p title="a&amp;b">x</p><img src="https://www.facebook.com/tr?id=1">'
    document = _page(f"<iframe srcdoc='{srcdoc}'></iframe>")
    out = rewrite(document, BLOCK)
    from html5lib import parse

    root = parse(out, treebuilder="etree", namespaceHTMLElements=False)
    frame = root.find(".//iframe")
    assert frame is not None
    assert frame.get("data-ck-srcdoc") == srcdoc.replace("&amp;", "&")
    inner = frame.get("srcdoc", "")
    assert '<p title="a&b">x</p>' in inner  # the same document, but for the pixel
    assert "data-ck-src=" in inner
    assert loadable_trackers(inner.encode()) == []


def test_style_sheets_without_tracker_urls_stay_as_written() -> None:
    css = "@import url(/site.css); a { background: url(//cdn.test/a.png) }"
    document = _page(f"<style>{css}</style>")
    assert rewrite(document, BLOCK) == document


def test_srcdoc_wins_over_src_so_it_is_rewritten_too() -> None:
    srcdoc = html.escape('<img src="https://www.facebook.com/tr?id=1">', quote=True)
    document = _page(f'<iframe src="/safe" srcdoc="{srcdoc}"></iframe>')
    assert loadable_trackers(document)
    out = rewrite(document, BLOCK)
    assert loadable_trackers(out) == []
    assert b' src="/safe"' in out


def _nest(markup: str, depth: int) -> str:
    for _ in range(depth):
        markup = f'<iframe srcdoc="{html.escape(markup, quote=True)}"></iframe>'
    return markup


@pytest.mark.parametrize("depth", [1, 3, 6, 40])
def test_nested_srcdoc_is_followed_or_parked_never_loaded(depth: int) -> None:
    pixel = '<img src="https://www.facebook.com/tr?id=1">'
    document = _page(_nest(pixel, depth))
    out = rewrite(document, BLOCK)
    assert b"data-ck-srcdoc" in out
    assert loadable_trackers(out) == []
    granted = RewritePlan(granted=frozenset({"performance", "functionality", "targeting"}))
    assert rewrite(document, granted) == document
