"""The rewriter's fast paths: linear work on hostile pages, streaming, and plans with
nothing to block, which must never let a refused tracker through."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentkit.rewriter import HTMLRewriter, RewritePlan, rewrite
from consentkit.trackers import Tracker, default_index

try:
    from benchmarks.pages import TRACKER_COUNT, page
except ImportError:  # the project root is not on sys.path when pytest runs from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.pages import TRACKER_COUNT, page

ALL = frozenset({"performance", "functionality", "targeting"})
GA = b"https://www.google-analytics.com/analytics.js"
FB_PIXEL = b"https://www.facebook.com/tr?id=1&ev=PageView"
YT = b"https://www.youtube.com/embed/abc"


def stream(document: bytes, plan: RewritePlan, chunk: int) -> tuple[list[bytes], HTMLRewriter]:
    rewriter = HTMLRewriter(plan)
    parts = [rewriter.feed(document[i : i + chunk]) for i in range(0, len(document), chunk)]
    parts.append(rewriter.flush())
    return parts, rewriter


# ------------------------------------------------------------------ hostile pages stay linear

SVG_BOMB = b"<svg>" * 20_000 + b"</desc>" * 20_000


@pytest.mark.parametrize("chunk", [64, 4096, 64 * 1024])
def test_nested_svg_and_stray_end_tags_cost_linear_work(chunk: int) -> None:
    parts, rewriter = stream(SVG_BOMB, RewritePlan(), chunk)
    assert b"".join(parts) == SVG_BOMB
    # one unit per byte handed to the tag matcher plus a few per chunk; quadratic
    # behaviour (walking a 20,000-deep stack per end tag) would be ~4e8
    assert rewriter.work <= 2 * len(SVG_BOMB)


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param(b'<div a="b" ' * 1 + b'c="d" ' * 41_000, id="many-attributes"),
        pytest.param(b'<p title="' + b"x" * 250_000, id="one-quoted-value"),
        pytest.param(b"<p " + b"a " * 125_000, id="many-bare-names"),
        pytest.param(b"<p" + b"a" * 250_000, id="long-name"),
        pytest.param(b"<script>x</script " + b"a " * 125_000, id="script-end-tag"),
        pytest.param(b"<noscript><img " + b"a " * 125_000, id="pixel-in-noscript"),
        pytest.param(b"<style>p{}</style a='" + b"x" * 250_000, id="raw-text-end-tag"),
    ],
)
def test_unclosed_tag_in_small_chunks_is_scanned_once(tag: bytes) -> None:
    parts, rewriter = stream(tag, RewritePlan(), 64)
    assert b"".join(parts) == tag
    # each chunk is looked at once while the tag is held; re-scanning the held
    # buffer per chunk would count ~len²/128 (about 5e8 here)
    assert rewriter.work <= 3 * len(tag)
    assert rewriter.peak_buffer <= len(tag) + 64


def test_an_unclosed_tag_that_ends_after_many_chunks_is_still_judged_whole() -> None:
    document = b"<script " + b"a " * 10_000 + b"src=" + GA + b"></script>"
    parts, rewriter = stream(document, RewritePlan(), 64)
    out = b"".join(parts)
    assert b"data-ck-src=" + GA in out
    assert len(rewriter.stats.blocked) == 1
    assert rewriter.work <= 3 * len(document)


def test_benchmark_page_work_is_linear() -> None:
    document = page(300_000)
    _, rewriter = stream(document, RewritePlan(), 64 * 1024)
    assert len(rewriter.stats.blocked) == TRACKER_COUNT
    assert rewriter.work <= len(document)


# ------------------------------------------------------------------ streaming


def test_first_chunk_is_not_held_back() -> None:
    document = page(3_000_000)
    chunk = 64 * 1024
    rewriter = HTMLRewriter(RewritePlan(body_start_html="<div id=banner></div>"))
    first = rewriter.feed(document[:chunk])
    # all of it leaves at once but for a construct cut by the chunk's end
    assert len(first) >= chunk - 1024
    assert b"<div id=banner></div>" in first
    second = rewriter.feed(document[chunk : 2 * chunk])
    assert len(first) + len(second) >= 2 * chunk - 1024


@pytest.mark.parametrize("plan", [RewritePlan(), RewritePlan(granted=ALL, body_end_html="<b>")])
def test_peak_buffer_is_chunk_plus_longest_pending_construct(plan: RewritePlan) -> None:
    chunk = 64 * 1024
    script = b"<script>" + b"var a=1;" * 5_000 + b"fbq('init');</script>"
    document = page(1_000_000).replace(b"<main>", b"<main>" + script, 1)
    parts, rewriter = stream(document, plan, chunk)
    assert b"".join(parts) == rewrite(document, plan)
    assert rewriter.peak_buffer <= chunk + len(script) + 1024


# ------------------------------------------------------------------ nothing to block

OTHER_MANAGERS = (
    b'<script type="text/plain" data-category="analytics" src="' + GA + b'"></script>'
    b'<script type="text/plain" data-cookieconsent="marketing">fbq("init","1")</script>'
    b'<script type="text/plain" data-type="text/javascript" data-name="googleAnalytics"'
    b' data-src="' + GA + b'"></script>'
    b'<iframe data-category="targeting" src="' + YT + b'"></iframe>'
    b"<script data-consent=performance src=/stats.js></script>"
)
ODD_PLACES = (
    b"<template><script src=" + GA + b"></script></template>"
    b"<noscript><img src=" + FB_PIXEL + b"></noscript>"
)
PAGE = (
    b"<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p>"
    + OTHER_MANAGERS
    + ODD_PLACES
    + b"<script src="
    + GA
    + b"></script></body></html><img src="
    + FB_PIXEL
    + b"><script>fbq('init','1')</script>"
)


def test_accepted_all_page_with_other_managers_markup_is_left_as_written() -> None:
    plan = RewritePlan(granted=ALL, head_html="<h>", body_start_html="<s>")
    assert plan.blocks_nothing
    expected = PAGE.replace(b"<head>", b"<head><h>").replace(b"<body>", b"<body><s>")
    for chunk in (1, 7, 64, len(PAGE)):
        parts, rewriter = stream(PAGE, plan, chunk)
        assert b"".join(parts) == expected, chunk
        assert rewriter.stats.blocked == []


def test_nothing_to_block_passes_the_rest_through_after_the_insertions() -> None:
    document = page(3_000_000)
    plan = RewritePlan(granted=ALL, head_html="<h>", body_start_html="<s>")
    parts, rewriter = stream(document, plan, 64 * 1024)
    assert b"".join(parts) == document.replace(b"<head>", b"<head><h>", 1).replace(
        b'<body class="home">', b'<body class="home"><s>', 1
    )
    # the page starts the usual way: no tag of its head went through the state machine
    # (rewriter.prologue), and the 3 MB after <body> cost no work at all
    assert rewriter.work == 0
    _, small = stream(page(30_000), plan, 64 * 1024)
    assert rewriter.work == small.work


def test_nothing_to_block_without_insertions_costs_nothing() -> None:
    parts, rewriter = stream(PAGE, RewritePlan(granted=ALL), 16)
    assert b"".join(parts) == PAGE
    assert rewriter.work == 0


def test_end_of_body_insertion_still_finds_the_last_real_body_end() -> None:
    plan = RewritePlan(granted=ALL, body_end_html="<e>")
    document = b"<body><script>'</body>'</script><!-- </body> --><p>x</p></body>\n</html>"
    expected = b"<body><script>'</body>'</script><!-- </body> --><p>x</p><e></body>\n</html>"
    assert rewrite(document, plan) == expected


# Head content where a "<body" (or an end tag) is text, not a tag: inside scripts (with
# and without the "<!--" escape), raw text, RCDATA, comments, attribute values, templates
# and foreign content. Nothing here is a tracker, so a plan refusing everything blocks
# nothing either and must insert at the very same places.
_TRAP_TEXT = st.sampled_from(
    [
        "x", " ", "<body>", "</body>", "<BODY class=b>", "</script>", "</SCRIPT >",
        "</script", "</scriptx>", "</style>", "</title>", "<!--", "-->", "<script>",
        "'", '"', "</", "<", ">", "\n", "</textarea>", "</noscript>", "</xmp>",
        # the script escape states: after "<!--", "<script>" keeps "</script>" as text
        "<!--<script></script><body></script>", "<!--<script>", "<!-- </script> <body>",
    ]
)  # fmt: skip
_TRAP_ELEMENTS = ("script", "style", "title", "textarea", "noscript", "xmp", "noembed",
                  "noframes", "iframe")  # fmt: skip


@st.composite
def _head_part(draw: st.DrawFn) -> str:
    text = "".join(draw(st.lists(_TRAP_TEXT, max_size=6)))
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        name = draw(st.sampled_from(_TRAP_ELEMENTS))
        name = draw(st.sampled_from((name, name.upper(), name.title())))
        attrs = draw(st.sampled_from(("", " async", ' title="</script><body>"', " a='>'")))
        end = draw(st.sampled_from((f"</{name}>", f"</{name.upper()} >", f"</{name}\t/x>", "")))
        return f"<{name}{attrs}>{text}{end}"
    if kind == 3:
        return f"<!--{text}-->"
    if kind == 4:
        return f'<meta content="{text.replace(chr(34), "")}">'
    return draw(st.sampled_from(("<template><body>x</template>", "<svg><style><body></style></svg>",
                                 "<link rel=x href=/a.css>", "<base href=/>")))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(_head_part(), max_size=6),
    body=st.sampled_from(("<body>", "<BODY class=home>", "<p>", "")),
    chunk=st.integers(1, 40),
)
def test_nothing_to_block_finds_insertion_points_where_a_blocking_plan_does(
    parts: list[str], body: str, chunk: int
) -> None:
    document = ("<!doctype html><html><head>" + "".join(parts) + body + "<p>end</p>").encode()
    insertions = {"head_html": "<h>", "body_start_html": "<s>", "body_end_html": "<e>"}
    accepted = RewritePlan(granted=ALL, **insertions)
    refusing = RewritePlan(**insertions)
    assert accepted.blocks_nothing
    assert not refusing.blocks_nothing
    expected = rewrite(document, refusing)
    assert rewrite(document, accepted) == expected
    assert b"".join(stream(document, accepted, chunk)[0]) == expected


def test_nothing_to_block_skips_whole_scripts_and_raw_text_in_few_steps() -> None:
    head = b"".join(
        b"<script>var s = '<p>" + str(i).encode() + b"</p>';</script><style>p{}</style>"
        for i in range(200)
    )
    document = b"<html><head>" + head + b"</head><body><p>x</p>"
    plan = RewritePlan(granted=ALL, head_html="<h>", body_start_html="<s>")
    parts, rewriter = stream(document, plan, len(document))
    assert b"".join(parts) == document.replace(b"<head>", b"<head><h>").replace(
        b"<body>", b"<body><s>"
    )
    # 400 elements passed over in a few pattern calls: no tag is matched one by one
    assert rewriter.work < 100


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (RewritePlan(granted=ALL), True),
        (RewritePlan(granted=ALL, unclassified_category="unclassified"), False),
        (RewritePlan(granted=frozenset({"performance", "functionality"})), False),
        (RewritePlan(granted=ALL, block_unmarked_trackers=False), True),
        (
            RewritePlan(
                granted=ALL,
                trackers=default_index().with_extra(
                    [Tracker("Own", "social", frozenset({"script"}), ("x.example",))]
                ),
            ),
            False,
        ),
    ],
)
def test_blocks_nothing_only_when_every_possible_category_is_allowed(
    plan: RewritePlan, expected: bool
) -> None:
    assert plan.blocks_nothing is expected


# ------------------------------------------------------------------ no leaks


def _blocked_kinds(plan: RewritePlan, document: bytes) -> list[tuple[str, str]]:
    parts, rewriter = stream(document, plan, 13)
    assert b"".join(parts) == rewrite(document, plan)
    return [(b.kind, b.category) for b in rewriter.stats.blocked]


def test_refusing_visitor_gets_every_odd_place_blocked() -> None:
    out = rewrite(PAGE, RewritePlan())
    assert b" src=" + GA not in out
    assert b' src="' + GA not in out
    assert b"<img src=" + FB_PIXEL not in out
    assert b"<script>fbq" not in out
    assert sorted(_blocked_kinds(RewritePlan(), PAGE)) == sorted(
        [
            ("script", "performance"),  # data-category=analytics, inert: marked
            ("script", "targeting"),  # cookiebot marketing, inert
            ("script", "performance"),  # klaro googleAnalytics
            ("iframe", "targeting"),
            ("script", "performance"),  # data-consent=performance
            ("script", "performance"),  # inside <template>
            ("img", "targeting"),  # inside <noscript>
            ("script", "performance"),  # plain tracker
            ("img", "targeting"),  # after </html>
            ("script", "targeting"),  # inline fbq after </html>
        ]
    )


def test_partially_granted_visitor_keeps_only_what_was_granted() -> None:
    plan = RewritePlan(granted=frozenset({"performance"}))
    assert not plan.blocks_nothing
    out = rewrite(PAGE, plan)
    # granted: analytics markup and GA stay exactly as written
    assert b'<script type="text/plain" data-category="analytics" src="' + GA + b'">' in out
    assert b"<template><script src=" + GA + b"></script></template>" in out
    # refused: every targeting element, wherever it sits
    assert b"<img src=" + FB_PIXEL not in out
    assert b"<script>fbq" not in out
    assert b' src="' + YT not in out
    assert sorted(_blocked_kinds(plan, PAGE)) == sorted(
        [
            ("script", "targeting"),
            ("iframe", "targeting"),
            ("img", "targeting"),
            ("img", "targeting"),
            ("script", "targeting"),
        ]
    )


@pytest.mark.parametrize(
    "document",
    [
        b'<img src="/\n/www.facebook.com/tr?id=1">',
        b"<img src='https:\t//www.facebook.com/tr?id=1'>",
        b'<img src="/\r/www.facebook.com/tr?id=1">',
        b'<link rel=preconnect href="/\t/www.google-analytics.com">',
        b'<iframe src="https:\n//www.youtube.com/embed/x"></iframe>',
        b"<img alt=x src=https://www.facebook.com/tr?id=1>",
        b'<img alt="a" data-category="marketing" src="/local.gif">',
    ],
)
def test_urls_a_browser_reads_as_absolute_are_never_skipped(document: bytes) -> None:
    for plan in (RewritePlan(), RewritePlan(body_start_html="<s>")):
        rewriter = HTMLRewriter(plan)
        out = rewriter.feed(b"<p>" + document) + rewriter.flush()
        assert len(rewriter.stats.blocked) == 1, out


def test_remembered_decisions_follow_each_visitors_choice() -> None:
    refuse, accept = RewritePlan(), RewritePlan(granted=ALL)
    targeting_only = RewritePlan(granted=frozenset({"targeting"}))
    for _ in range(2):  # the second round is served from remembered decisions
        assert rewrite(PAGE, accept) == PAGE
        refused = rewrite(PAGE, refuse)
        assert b" src=" + GA not in refused
        assert b'<div class="ck-placeholder"' in refused
        partial = rewrite(PAGE, targeting_only)
        assert b"<img src=" + FB_PIXEL in partial
        assert b"<script src=" + GA not in partial
    site = RewritePlan(site_host="www.google-analytics.com")
    assert b"<script src=" + GA + b"></script></body>" in rewrite(PAGE, site)


# ------------------------------------------------------------------ leaping over text and tags

SCRIPT = b"<script src=" + GA + b"></script>"
PIXEL = b"<img src=" + FB_PIXEL + b">"
LEAP_TRAPS = [
    b'<a title="' + SCRIPT + b'">x</a>' + PIXEL,
    b"<a title='x>y " + SCRIPT + b"'>x</a>" + PIXEL,
    b'<a title="x>y" ' + SCRIPT + b">" + PIXEL,
    b'<a title = "x>y" z=' + SCRIPT + b">" + PIXEL,
    b'<a b="=" >' + SCRIPT + PIXEL,
    b"<a href=x" + SCRIPT + b">" + PIXEL,
    b"<a " + SCRIPT + b">" + PIXEL,
    b"<!-- " + SCRIPT + b" -->" + SCRIPT,
    b"<!-- a > b " + SCRIPT,
    b"<!-->" + SCRIPT + b"<!--->" + PIXEL + b"<!-- --!>" + PIXEL,
    b'<p>Don\'t say "hi" ' + SCRIPT + b" it's <b>x</b> " + PIXEL,
    b"<p a='it\"s' b=\"" + PIXEL + b'">' + PIXEL,
    b'<div data-x="' + PIXEL + b'"></div>' + PIXEL,
    b'<img alt=\'x\' src="/a.png"><img alt="' + PIXEL + b'">' + PIXEL,
    b'<svg><title>t</title><path d="M0"/></svg>' + PIXEL + b"<svg><script>" + PIXEL,
    b"<p>a < b > c " + SCRIPT,
    b"<?php echo '>' ?>" + PIXEL + b"<!x '>" + PIXEL,
    b'<p title="a' + b"x" * 100 + b'">' + b"y" * 5000 + PIXEL,
    b"<svg><title>t</title></svg><title>x" + SCRIPT + b"</title>" + PIXEL,
    b"<svg><title>a</title><desc>" + PIXEL + b"</desc></svg>" + PIXEL,
    b"<svg><title>a</title><path/><script>" + PIXEL + b"</script></svg>",
    b'<a title="<svg><path/></svg>' + SCRIPT + b'">' + PIXEL,
    b"<title>plain</title>" + PIXEL + b"<TITLE>" + PIXEL + b"</TITLE >" + PIXEL,
    b"<svg/><title>x</title>" + PIXEL + b"<svg><g>" + PIXEL,
    # Upper case everywhere: the patterns read a lowered copy, the edits the original.
    b"<SCRIPT SRC=" + FB_PIXEL + b"></SCRIPT><IMG SRC=" + FB_PIXEL + b">" + PIXEL,
    b'<SVG><TITLE>T</TITLE><PATH D="M0"/></SVG>' + PIXEL + b"<SVG><SCRIPT>" + PIXEL,
    b"<IFRAME SRC=" + FB_PIXEL + b"></IFRAME><Img Alt='A' Src=\"/A.PNG\">" + PIXEL,
    b"<NoScript><IMG SRC=" + FB_PIXEL + b"></NoScript><TeXtArea>" + PIXEL + b"</TEXTAREA>",
]


@pytest.mark.parametrize("document", LEAP_TRAPS)
def test_leaping_finds_tags_where_walking_does(
    document: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consentkit.rewriter import tokenizer

    document = b"<body><p>" + document + b"</p></body>"
    plan = RewritePlan(body_end_html="<e>")
    leaped = rewrite(document, plan)
    with monkeypatch.context() as patched:
        patched.setattr(tokenizer, "leap", lambda buf, low, pos, candidates: (pos, 0))
        walked = rewrite(document, plan)
    assert leaped == walked
    for cut in range(0, len(document) + 1, 7):
        rewriter = HTMLRewriter(plan)
        split = rewriter.feed(document[:cut]) + rewriter.feed(document[cut:]) + rewriter.flush()
        assert split == leaped, cut


_BEFORE_HTML = st.sampled_from(
    ["", "<!doctype html>", "<!DOCTYPE html>\n", "<!-- c -->", "<!-->", "<!--->", "x",
     "<!-- <head><body> -->", "<?xml x?>", "<!doctype html><!-- </head> -->", "\ufeff"]
)  # fmt: skip
_HTML_TAG = st.sampled_from(
    ["<html>", '<html lang="de">', "<HTML LANG=fr>", "<html lang='es' data-x='>'>", "",
     "<html\tlang=it/>", "<htmlx>", '<html lang=" pt ">']
)  # fmt: skip
_HEAD_TAG = st.sampled_from(["<head>", "<HEAD>", "<head class=a>", "", "<header>", "<head/>"])
_BETWEEN = st.sampled_from(["", "\n", "<!-- x -->", "<p>", "<!--<body>-->"])


@settings(max_examples=300, deadline=None)
@given(
    before=_BEFORE_HTML,
    html=_HTML_TAG,
    between=_BETWEEN,
    head=_HEAD_TAG,
    parts=st.lists(_head_part(), max_size=4),
    body=st.sampled_from(("<body>", "<BODY class=home>", "<body\n>", "<p>", "")),
    chunk=st.integers(1, 60),
)
def test_page_starts_read_in_one_go_insert_where_the_tokenizer_does(
    before: str, html: str, between: str, head: str, parts: list[str], body: str, chunk: int
) -> None:
    document = (before + html + between + head + "".join(parts) + body + "<p>end</p>").encode()

    def for_lang(lang: str) -> str:
        return f"<s lang='{lang}'>"

    insertions = {
        "head_html": "<h>",
        "body_start_html": "<s>",
        "body_start_html_for_lang": for_lang,
    }
    expected = rewrite(document, RewritePlan(**insertions))  # type: ignore[arg-type]
    accepted = RewritePlan(granted=ALL, **insertions)  # type: ignore[arg-type]
    assert rewrite(document, accepted) == expected
    assert b"".join(stream(document, accepted, chunk)[0]) == expected
