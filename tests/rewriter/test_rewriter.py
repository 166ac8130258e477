"""Tests of the streaming HTML rewriter: exact output bytes, chunking, memory."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from consentkit.rewriter import (
    MAX_PENDING,
    Blocked,
    HTMLRewriter,
    RewritePlan,
    default_placeholder,
    rewrite,
    scan_start_tags,
    sniff_charset,
)
from consentkit.trackers import Tracker, default_index

try:
    from benchmarks.pages import TRACKER_COUNT, page
except ImportError:  # the project root is not on sys.path when pytest runs from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.pages import TRACKER_COUNT, page

ALL = frozenset({"performance", "functionality", "targeting"})


def _placeholder(item: Blocked) -> str:
    return f"[{item.provider}|{item.category}]"


BLOCK = RewritePlan(placeholder=_placeholder)
ALLOW = RewritePlan(granted=ALL, placeholder=_placeholder)
GA = "https://www.google-analytics.com/analytics.js"
FB_PIXEL = "https://www.facebook.com/tr?id=1&ev=PageView"
YT = "https://www.youtube.com/embed/abc"
CK = 'data-ck-category="{}" data-ck-provider="{}" data-ck-blocked'
GA_MARK = CK.format("performance", "Google Analytics")
FB_MARK = CK.format("targeting", "Meta Pixel")
YT_MARK = CK.format("targeting", "YouTube")


def run(document: bytes, plan: RewritePlan = BLOCK) -> bytes:
    return rewrite(document, plan)


def split_run(document: bytes, plan: RewritePlan, cuts: list[int]) -> bytes:
    rewriter = HTMLRewriter(plan)
    out = []
    last = 0
    for cut in [*cuts, len(document)]:
        out.append(rewriter.feed(document[last:cut]))
        last = cut
    out.append(rewriter.flush())
    return b"".join(out)


# ------------------------------------------------------------------ scripts

SCRIPT_CASES = [
    pytest.param(
        b'<script data-consent="performance" src="/a.js"></script>',
        b'<script data-consent="performance" data-ck-src="/a.js" data-ck-type="" type="text/plain"'
        b' data-ck-category="performance" data-ck-blocked></script>',
        id="marked-src",
    ),
    pytest.param(
        b"<script data-consent=targeting>track()</script>",
        b'<script data-consent=targeting data-ck-type="" type="text/plain"'
        b' data-ck-category="targeting" data-ck-blocked>track()</script>',
        id="marked-inline-unquoted",
    ),
    pytest.param(
        b'<script type="text/javascript" data-cookieconsent="statistics">x()</script>',
        b'<script data-ck-type="text/javascript" data-cookieconsent="statistics" type="text/plain"'
        b' data-ck-category="performance" data-ck-blocked>x()</script>',
        id="cookiebot",
    ),
    pytest.param(
        b'<script data-cookieconsent="preferences, marketing">x()</script>',
        b'<script data-cookieconsent="preferences, marketing" data-ck-type="" type="text/plain"'
        b' data-ck-category="functionality" data-ck-blocked>x()</script>',
        id="cookiebot-list",
    ),
    pytest.param(
        b'<script type="text/plain" data-category="analytics">x()</script>',
        b'<script type="text/plain" data-category="analytics" data-ck-type=""'
        b' data-ck-category="performance" data-ck-blocked>x()</script>',
        id="vanilla-cookieconsent-inert",
    ),
    pytest.param(
        b'<script type="text/plain" data-type="text/javascript" data-name="googleAnalytics"'
        b' data-src="' + GA.encode() + b'"></script>',
        b'<script type="text/plain" data-type="text/javascript" data-name="googleAnalytics"'
        b' data-src="'
        + GA.encode()
        + b'" data-ck-type="text/javascript" data-ck-src="'
        + GA.encode()
        + b'" '
        + GA_MARK.encode()
        + b"></script>",
        id="klaro",
    ),
    pytest.param(
        b"<SCRIPT SRC='//WWW.GOOGLE-ANALYTICS.COM/ga.js' async></SCRIPT>",
        b"<SCRIPT data-ck-src='//WWW.GOOGLE-ANALYTICS.COM/ga.js' async data-ck-type=\"\""
        b' type="text/plain" ' + GA_MARK.encode() + b"></SCRIPT>",
        id="unmarked-tracker-upper",
    ),
    pytest.param(
        b'<script src="https://connect.facebook.net/a.js" src="/b.js"></script>',
        b'<script data-ck-src="https://connect.facebook.net/a.js" data-ck-src="/b.js"'
        b' data-ck-type="" type="text/plain" ' + FB_MARK.encode() + b"></script>",
        id="duplicate-src-all-parked",
    ),
    pytest.param(
        b"<script>fbq('init','1')</script>",
        b'<script data-ck-type="" type="text/plain" '
        + FB_MARK.encode()
        + b">fbq('init','1')</script>",
        id="inline-tracker",
    ),
    pytest.param(
        b"<script type=module src=" + GA.encode() + b"/>",
        b"<script data-ck-type=module data-ck-src="
        + GA.encode()
        + b'/ type="text/plain" '
        + GA_MARK.encode()
        + b">",
        id="unquoted-slash-is-value",
    ),
]


@pytest.mark.parametrize(("document", "expected"), SCRIPT_CASES)
def test_scripts_blocked(document: bytes, expected: bytes) -> None:
    assert run(document) == expected


@pytest.mark.parametrize(
    "document",
    [
        b'<script data-consent="performance" src="/a.js"></script>',
        b"<script src=" + GA.encode() + b"></script>",
        b"<script>fbq('init','1')</script>",
        b'<script type="text/plain" data-category="analytics">x()</script>',
    ],
)
def test_granted_scripts_untouched(document: bytes) -> None:
    assert run(document, ALLOW) == document


@pytest.mark.parametrize(
    "document",
    [
        b'<script type="application/ld+json">{"u":"' + GA.encode() + b'"}</script>',
        b'<script type="text/template"><img src="' + FB_PIXEL.encode() + b'"></script>',
        b"<script src=/app.js></script><script>console.log(1)</script>",
        b"<script data-consent=necessary>fbq('init')</script>",
        b"<script data-cookieconsent=ignore src=" + GA.encode() + b"></script>",
    ],
)
def test_scripts_left_alone(document: bytes) -> None:
    assert run(document) == document


def test_unmarked_trackers_can_be_left_to_markings() -> None:
    plan = RewritePlan(block_unmarked_trackers=False)
    document = b"<script src=" + GA.encode() + b"></script><script data-consent=x>y</script>"
    expected = (
        b"<script src=" + GA.encode() + b'></script><script data-consent=x data-ck-type=""'
        b' type="text/plain" data-ck-category="targeting" data-ck-blocked>y</script>'
    )
    assert rewrite(document, plan) == expected


def test_site_declared_tracker_and_same_site() -> None:
    own = Tracker("Own", "performance", frozenset({"script"}), ("stats.example.com",))
    index = default_index().with_extra([own])
    document = b'<script src="https://stats.example.com/s.js"></script>'
    blocked = rewrite(document, RewritePlan(trackers=index))
    assert b"data-ck-src=" in blocked
    assert rewrite(document, RewritePlan(trackers=index, site_host="example.com")) == document


# ------------------------------------------------------------------ script data states


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            b'<script>a="<!--<script>";b="</script><img src=' + FB_PIXEL.encode() + b'>";</script>'
            b"<img src=" + FB_PIXEL.encode() + b">",
            b'<script>a="<!--<script>";b="</script><img src=' + FB_PIXEL.encode() + b'>";</script>'
            b"<img data-ck-src=" + FB_PIXEL.encode() + b" " + FB_MARK.encode() + b">",
            id="double-escaped",
        ),
        pytest.param(
            b"<script><!-- x --></script><img src=" + FB_PIXEL.encode() + b">",
            b"<script><!-- x --></script><img data-ck-src="
            + FB_PIXEL.encode()
            + b" "
            + FB_MARK.encode()
            + b">",
            id="escaped-then-end",
        ),
        pytest.param(
            b"<script><!--></script><img src=" + FB_PIXEL.encode() + b">",
            b"<script><!--></script><img data-ck-src="
            + FB_PIXEL.encode()
            + b" "
            + FB_MARK.encode()
            + b">",
            id="escape-closed-at-once",
        ),
        pytest.param(
            b"<script>x='</scripty>'</script ><img src=" + FB_PIXEL.encode() + b">",
            b"<script>x='</scripty>'</script ><img data-ck-src="
            + FB_PIXEL.encode()
            + b" "
            + FB_MARK.encode()
            + b">",
            id="not-an-end-tag",
        ),
        pytest.param(
            b'<script>x</script foo=">"><img src=' + FB_PIXEL.encode() + b">",
            b'<script>x</script foo=">"><img data-ck-src='
            + FB_PIXEL.encode()
            + b" "
            + FB_MARK.encode()
            + b">",
            id="end-tag-with-quoted-gt",
        ),
    ],
)
def test_script_data_states(document: bytes, expected: bytes) -> None:
    assert run(document) == expected


# ------------------------------------------------------------------ iframes, pixels, hints


def test_iframe_parked_with_placeholder() -> None:
    document = b'<p><iframe width=560 src="' + YT.encode() + b'"></iframe></p>'
    expected = (
        b'<p>[YouTube|targeting]<iframe width=560 data-ck-src="'
        + YT.encode()
        + b'" '
        + YT_MARK.encode()
        + b" hidden></iframe></p>"
    )
    assert run(document) == expected


def test_iframe_keeps_existing_hidden_and_content_is_raw() -> None:
    document = (
        b"<iframe hidden src=" + YT.encode() + b"><img src=" + FB_PIXEL.encode() + b"></iframe>"
    )
    expected = (
        b"[YouTube|targeting]<iframe hidden data-ck-src="
        + YT.encode()
        + b" "
        + YT_MARK.encode()
        + b"><img src="
        + FB_PIXEL.encode()
        + b"></iframe>"
    )
    assert run(document) == expected


def test_marked_first_party_iframe() -> None:
    document = b'<iframe src="/map" data-consent="functionality"></iframe>'
    expected = (
        b'[None|functionality]<iframe data-ck-src="/map" data-consent="functionality"'
        b' data-ck-category="functionality" data-ck-blocked hidden></iframe>'
    )
    assert run(document) == expected


def test_default_placeholder_escapes() -> None:
    item = Blocked("iframe", 'tar"get<', '<b>Evil & "Co"</b>', None)
    markup = default_placeholder(item)
    assert "<b>" not in markup
    assert "&lt;b&gt;Evil &amp; &quot;Co&quot;&lt;/b&gt;" in markup
    assert 'data-ck-allow="tar&quot;get&lt;"' in markup
    assert markup.startswith('<div class="ck-placeholder" data-ck-placeholder')


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            b'<img height=1 src="' + FB_PIXEL.encode() + b'"/>',
            b'<img height=1 data-ck-src="' + FB_PIXEL.encode() + b'" ' + FB_MARK.encode() + b"/>",
            id="pixel-self-closing",
        ),
        pytest.param(
            b'<img srcset="https://px.ads.linkedin.com/collect?x 1x" src=/a.png>',
            b'<img data-ck-srcset="https://px.ads.linkedin.com/collect?x 1x" data-ck-src=/a.png '
            + CK.format("targeting", "LinkedIn Insight").encode()
            + b">",
            id="srcset",
        ),
        pytest.param(
            b"<noscript><img src=" + FB_PIXEL.encode() + b"></noscript>",
            b"<noscript><img data-ck-src="
            + FB_PIXEL.encode()
            + b" "
            + FB_MARK.encode()
            + b"></noscript>",
            id="noscript-pixel",
        ),
        pytest.param(
            b'<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-1"'
            b' height="0"></iframe></noscript>',
            b'<noscript><iframe data-ck-src="https://www.googletagmanager.com/ns.html?id=GTM-1"'
            b' height="0" '
            + CK.format("performance", "Google Tag Manager").encode()
            + b" hidden></iframe></noscript>",
            id="noscript-gtm-iframe-no-placeholder",
        ),
        pytest.param(
            b'<noscript><img alt="</noscript>" src=' + FB_PIXEL.encode() + b">",
            b'<noscript><img alt="</noscript>" src=' + FB_PIXEL.encode() + b">",
            id="noscript-ends-inside-attribute",
        ),
        pytest.param(
            b'<link rel="preconnect" href="https://www.google-analytics.com">'
            b'<link rel=stylesheet href="/site.css">',
            b'<link rel="preconnect" data-ck-href="https://www.google-analytics.com" '
            + CK.format("performance", "Google Analytics").encode()
            + b'><link rel=stylesheet href="/site.css">',
            id="resource-hint",
        ),
        pytest.param(
            b"<image src=" + FB_PIXEL.encode() + b">",
            b"<image data-ck-src=" + FB_PIXEL.encode() + b" " + FB_MARK.encode() + b">",
            id="image-is-img",
        ),
        pytest.param(
            b'<a href="https://www.facebook.com/tr">x</a><img src="/logo.png">',
            b'<a href="https://www.facebook.com/tr">x</a><img src="/logo.png">',
            id="links-and-first-party-images-untouched",
        ),
    ],
)
def test_pixels_and_hints(document: bytes, expected: bytes) -> None:
    assert run(document) == expected


# ------------------------------------------------------------------ tokenizer corners

PIXEL = b"<img src=" + FB_PIXEL.encode() + b">"
PIXEL_BLOCKED = b"<img data-ck-src=" + FB_PIXEL.encode() + b" " + FB_MARK.encode() + b">"


@pytest.mark.parametrize(
    "document",
    [
        b"<!-- " + PIXEL + b" -->",
        b"<!-- a --!> <!-- " + PIXEL + b" -->",
        b"<? " + PIXEL + b" ?>",
        b"</ x " + PIXEL,
        b"<!x " + PIXEL,
        b"<style>" + PIXEL + b"</style>",
        b"<STYLE>" + PIXEL + b"</Style >",
        b"<textarea>" + PIXEL + b"</textarea>",
        b"<title>" + PIXEL + b"</title>",
        b"<xmp>" + PIXEL + b"</xmp>",
        b"<noembed>" + PIXEL + b"</noembed>",
        b"<noframes>" + PIXEL + b"</noframes>",
        b"<plaintext></plaintext>" + PIXEL,
        b'<a title="x>y ' + PIXEL.replace(b'"', b"") + b'">',
        b'<a b"c ' + PIXEL,
        b"<math><![CDATA[ > " + PIXEL + b" ]]></math>",
        b"<img src=" + FB_PIXEL.encode(),
        b"<img src='" + FB_PIXEL.encode() + b">",
    ],
)
def test_not_a_tag_is_untouched(document: bytes) -> None:
    assert run(document) == document


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"<!-->", b""),
        (b"<!--->", b""),
        (b"<!---->", b""),
        (b"<!-- --!>", b""),
        (b"<!DOCTYPE html>", b""),
        (b"<p><![CDATA[>", b"]]>"),
        (b"<svg><style>", b"</style></svg>"),
        (b"<svg><foreignObject><p>", b"</p></foreignObject></svg>"),
        (b"<svg><path d='>'/></svg>", b""),
        (b"<svg/>", b""),
        (b"</>", b""),
        (b"<a\tb\n=\f'x'\r/>", b""),
        (b"<template>", b"</template>"),
        (b"<textarea></textarea>", b""),
    ],
)
def test_tag_found_after(before: bytes, after: bytes) -> None:
    assert run(before + PIXEL + after) == before + PIXEL_BLOCKED + after


def test_svg_script_is_a_script() -> None:
    document = b'<svg><script href="https://static.hotjar.com/c/h.js"/><rect/></svg>'
    expected = (
        b'<svg><script data-ck-href="https://static.hotjar.com/c/h.js" data-ck-type=""'
        b' type="text/plain" ' + CK.format("performance", "Hotjar").encode() + b"/><rect/></svg>"
    )
    assert run(document) == expected


def test_svg_script_content_is_markup() -> None:
    document = b"<svg><script>" + PIXEL + b"</script></svg>"
    assert run(document) == b"<svg><script>" + PIXEL_BLOCKED + b"</script></svg>"


def test_svg_style_is_not_raw_text() -> None:
    assert (
        run(b"<svg><style>" + PIXEL + b"</style>") == b"<svg><style>" + PIXEL_BLOCKED + b"</style>"
    )


# ------------------------------------------------------------------ injection

HEAD = RewritePlan(head_html="<H>", body_end_html="<B>", granted=ALL)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            b"<html><head lang=en><title>t</title></head><body>x</body></html>",
            b"<html><head lang=en><H><title>t</title></head><body>x<B></body></html>",
        ),
        (
            b"<!DOCTYPE html>\n<!-- c -->\n<title>t</title>",
            b"<!DOCTYPE html>\n<!-- c -->\n<H><title>t</title><B>",
        ),
        (b"  \nhello", b"  \n<H>hello<B>"),
        (b"<html>\n<body>", b"<html>\n<H><body><B>"),
        (b"", b"<H><B>"),
        (b"<!-- only -->", b"<!-- only --><H><B>"),
        (b"\xef\xbb\xbf<p>x", b"\xef\xbb\xbf<H><p>x<B>"),
        (b"<HEAD>", b"<HEAD><H><B>"),
        (b"</head>x", b"<H></head>x<B>"),
        (b"<body>a</body>b</BODY >c", b"<H><body>a</body>b<B></BODY >c"),
        (
            b"<body><script>'</body>'</script><!-- </body> --></body>\n</html>\n",
            b"<H><body><script>'</body>'</script><!-- </body> --><B></body>\n</html>\n",
        ),
        (b"<template></body></template>x</body>", b"<H><template></body></template>x<B></body>"),
        (b"<body><!-- unterminated", b"<H><body><!-- unterminated--><B>"),
        (b"<body><script>var a", b"<H><body><script>var a</script><B>"),
    ],
)
def test_injection(document: bytes, expected: bytes) -> None:
    rewriter = HTMLRewriter(HEAD)
    assert rewriter.feed(document) + rewriter.flush() == expected
    assert rewriter.stats.head_injected
    assert rewriter.stats.body_injected


START = RewritePlan(body_start_html="<S>", body_end_html="<B>", granted=ALL)
START_ONLY = RewritePlan(body_start_html="<S>", granted=ALL)


@pytest.mark.parametrize(
    ("document", "plan", "expected"),
    [
        (
            b"<html><body class=x>a</body></html>",
            START,
            b"<html><body class=x><S>a<B></body></html>",
        ),
        (b"<BODY\n>a", START, b"<BODY\n><S>a<B>"),
        (b"<p>no body tag", START, b"<p>no body tag<S><B>"),
        (b"<p>no body tag</body>", START, b"<p>no body tag<S><B></body>"),
        (b"<!-- <body> --><body>a", START, b"<!-- <body> --><body><S>a<B>"),
        (b"<script>'<body>'</script><body>", START, b"<script>'<body>'</script><body><S><B>"),
        (b"<template><body></template><body>a", START, b"<template><body></template><body><S>a<B>"),
        (b"<body>a<body>b", START, b"<body><S>a<body>b<B>"),
        (b"<body>a</body>b", START_ONLY, b"<body><S>a</body>b"),
        (b"<p>x", START_ONLY, b"<p>x<S>"),
    ],
)
def test_body_start_injection(document: bytes, plan: RewritePlan, expected: bytes) -> None:
    assert run(document, plan) == expected
    for cut in range(len(document) + 1):
        assert split_run(document, plan, [cut]) == expected, cut


def test_inserted_text_encoding() -> None:
    plan = RewritePlan(head_html="<meta name=x content='é'>", granted=ALL)
    assert rewrite(b"<head>", plan) == b"<head><meta name=x content='&#233;'>"
    assert rewrite(b"<head>", plan, encoding="utf-8") == "<head><meta name=x content='é'>".encode()
    assert (
        rewrite(b"<head>", plan, encoding="windows-1252") == b"<head><meta name=x content='\xe9'>"
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_transcoded(codec: str) -> None:
    text = "\ufeff<head><p>h\u00e9\U0001f600</p><script src='" + GA + "'></script>"
    document = text.encode(codec)
    rewriter = HTMLRewriter(RewritePlan(head_html="<é>"))
    out = b"".join(rewriter.feed(document[i : i + 3]) for i in range(0, len(document), 3))
    out += rewriter.flush()
    assert rewriter.transcoded
    assert rewriter.encoding == codec
    expected = (
        "\ufeff<head><é><p>h\u00e9\U0001f600</p><script data-ck-src='" + GA + '\' data-ck-type=""'
        ' type="text/plain" ' + GA_MARK + "></script>"
    )
    assert out.decode(codec) == expected


def test_utf16_odd_trailing_byte_kept() -> None:
    document = "\ufeff<p>x".encode("utf-16-le") + b"\x00"
    assert rewrite(document, ALLOW) == document


def test_replacement_encoding_fails_closed() -> None:
    rewriter = HTMLRewriter(BLOCK, encoding="iso-2022-kr")
    document = b"<script src='" + GA.encode() + b"'></script>"
    assert rewriter.feed(document) + rewriter.flush() == b""
    assert rewriter.refused


@pytest.mark.parametrize(
    ("header", "first", "expected"),
    [
        ("text/html; charset=Shift_JIS", b"", "cp932"),
        ('text/html; charset="utf-8"', b"\xff\xfe<", "utf-16-le"),
        (None, b"\xfe\xff", "utf-16-be"),
        (None, b"\xef\xbb\xbf<p>", "utf-8"),
        (None, b'<meta charset="windows-1251">', "cp1251"),
        (None, b"<meta http-equiv=Content-Type content='text/html; charset=euc-jp'>", "euc_jp"),
        (None, b"<meta charset=utf-16>", "utf-8"),
        (None, b"<!-- <meta charset=koi8-r> --><p>", None),
        ("text/html; charset=bogus", b"", None),
        (None, b"<p>", None),
    ],
)
def test_sniff_charset(header: str | None, first: bytes, expected: str | None) -> None:
    assert sniff_charset(header, first) == expected


# ------------------------------------------------------------------ chunking

SPLIT_DOCUMENTS = [
    b"<script src=" + GA.encode() + b"></script>",
    b'<img\tsrc="' + FB_PIXEL.encode() + b'" alt="a > b">',
    b"<p>caf\xc3\xa9 \xe2\x82\xac</p><iframe src=" + YT.encode() + b"></iframe>",
    b"<script>fbq('init')</script><script>ok()</script>",
    b"<script>if (a<b) x='</scr'+'ipt>'</script>" + PIXEL,
    b"<script><!--<script></script>--></script>" + PIXEL,
    b"<body><p>x</p></body><!-- </body> --></body>\n</html>",
    b"<!--" + PIXEL + b"-->" + PIXEL + b"<!-->" + PIXEL,
    b"<noscript><img src=" + FB_PIXEL.encode() + b"></noscript>" + PIXEL,
    b"<style>p>a{}</style ><textarea></textarea ></textarea>" + PIXEL,
    b"<svg><![CDATA[ ]]> <script href=" + GA.encode() + b"/></svg>" + PIXEL,
    b"<head><title>a</title></head><body></BODY>",
    b"\xef\xbb\xbf<html><body>" + PIXEL,
    b"<a title='</script>' href=x>y</a>" + PIXEL,
    b"<!DOCTYPE html><html lang=de><head><meta charset=utf-8>",
    b"<script type=text/plain data-consent=performance src=" + GA.encode() + b"></script>",
    b"<link rel=preload href=//static.hotjar.com/x.js as=script>",
    b"<template><script src=" + GA.encode() + b"></script></template></body>",
    b"<plaintext>" + PIXEL + b"</plaintext></body>",
    b"<math><mi><img src=" + FB_PIXEL.encode() + b"></mi></math><p>\xe6\x97\xa5\xe6\x9c\xac",
    b"<? x ?><!x><!-x-><p/>" + PIXEL,
    b"<img src=" + FB_PIXEL.encode() + b" srcset='a 1x, " + FB_PIXEL.encode() + b" 2x'>",
]
SPLIT_PLAN = RewritePlan(head_html="<h-i>é</h-i>", body_end_html="<b-i></b-i>")


@pytest.mark.parametrize("document", SPLIT_DOCUMENTS)
def test_split_anywhere(document: bytes) -> None:
    whole = rewrite(document, SPLIT_PLAN)
    for cut in range(len(document) + 1):
        assert split_run(document, SPLIT_PLAN, [cut]) == whole, cut
    assert split_run(document, SPLIT_PLAN, list(range(1, len(document)))) == whole
    rng = random.Random(len(document))
    for _ in range(30):
        cuts = sorted(rng.sample(range(len(document) + 1), min(5, len(document) + 1)))
        assert split_run(document, SPLIT_PLAN, cuts) == whole


def test_benchmark_page_split_and_counted() -> None:
    document = page(20_000)
    rewriter = HTMLRewriter(RewritePlan())
    whole = rewriter.feed(document) + rewriter.flush()
    assert len(rewriter.stats.blocked) == TRACKER_COUNT
    assert rewrite(document, RewritePlan(granted=ALL)) == document
    rng = random.Random(1)
    for _ in range(10):
        cuts = sorted(rng.sample(range(len(document)), 40))
        assert split_run(document, RewritePlan(), cuts) == whole


# ------------------------------------------------------------------ memory


def _stream(document: bytes, plan: RewritePlan, chunk: int) -> tuple[bytes, HTMLRewriter]:
    rewriter = HTMLRewriter(plan)
    parts = [rewriter.feed(document[i : i + chunk]) for i in range(0, len(document), chunk)]
    parts.append(rewriter.flush())
    return b"".join(parts), rewriter


def test_memory_bounded_on_a_large_page() -> None:
    chunk = 64 * 1024
    document = page(10_000_000)
    out, rewriter = _stream(document, RewritePlan(), chunk)
    assert len(rewriter.stats.blocked) == TRACKER_COUNT
    assert rewriter.peak_buffer < 2 * chunk + 4096
    assert len(out) > len(document)


@pytest.mark.parametrize(
    ("document", "bound"),
    [
        (b"<p><!--" + b"x" * 3_000_000 + b"--></p>", 0),
        (b"<style>" + b"p{}" * 1_000_000 + b"</style>", 0),
        (b"<script>" + b"var a=1;" * 400_000 + b"</script>", MAX_PENDING),
        (b'<img alt="' + b"y" * 3_000_000 + b'">', MAX_PENDING),
        (b"<textarea>" + b"<b>" * 1_000_000, 0),
        (b"<!DOCTYPE " + b"z" * 2_000_000 + b">", 0),
    ],
)
def test_memory_bounded_on_long_constructs(document: bytes, bound: int) -> None:
    chunk = 64 * 1024
    out, rewriter = _stream(document, ALLOW, chunk)
    assert out == document
    assert rewriter.peak_buffer <= bound + 2 * chunk + 64


def test_long_inline_tracker_is_judged_by_its_start() -> None:
    document = b"<script>fbq('init');" + b"x=1;" * 200_000 + b"</script>"
    out, rewriter = _stream(document, RewritePlan(), 64 * 1024)
    assert out.startswith(b'<script data-ck-type="" type="text/plain"')
    assert rewriter.peak_buffer <= MAX_PENDING + 2 * 64 * 1024 + 64


def test_scan_start_tags() -> None:
    assert scan_start_tags(b"<A><b c='>'><!-- <i> --><script><u></script><svg><p>") == [
        b"a",
        b"b",
        b"script",
        b"svg",
        b"p",
    ]
