"""The insertion points of a well-formed page's start, found in a few pattern calls.

A plan that blocks nothing only inserts: its markup after ``<head>`` and after ``<body>``,
then the page passes through. For the usual shape of a page (a doctype and comments,
``<html ...>``, ``<head ...>``, the head's elements, ``<body ...>``, all in the first
chunk), :func:`find_prologue` finds both points with the tokenizer's own patterns instead
of handing every tag of the head to Python. Anything else (text before ``<head>``, a
missing ``<html>`` or ``<head>`` tag, foreign content, a ``<template>``, a script whose
text opens ``<!--``, a construct cut by the chunk's end) answers ``None``, and the
tokenizer reads the page as usual: the result is the same either way
(``tests/rewriter/test_fast_paths.py`` compares them).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, NamedTuple

from consentkit.rewriter.plan import RewritePlan
from consentkit.rewriter.skipping import HEAD_WALK, lowercase
from consentkit.rewriter.tags import ATTRS, Tag

__all__ = ["Prologue", "find_prologue", "insert_at_prologue", "only_inserts_at_prologue"]

_COMMENT = rb"<!--(?>-?>|(?s:.)*?--!?>)"
_PROLOGUE: Final = lowercase(
    re.compile(
        rb"(?:[\t\n\f\r ]++|" + _COMMENT + rb"|<!(?!--)[^>]*+>)*+"
        rb"(<(?i:html)(?=[\t\n\f\r />])" + ATTRS + rb">)"
        rb"(?:[\t\n\f\r ]++|" + _COMMENT + rb")*+"
        rb"<(?i:head)(?=[\t\n\f\r />])" + ATTRS + rb">"
    )
)
"""Doctype, comments and white space, the ``<html>`` tag (group 1), comments and white
space, the ``<head>`` tag; for the lowered bytes."""
_BODY: Final = re.compile(rb"<body(?=[\t\n\f\r />])" + ATTRS + rb">")
_FIRST_LOOK: Final = 4096
_FURTHEST: Final = 256 * 1024
"""How far into the page the head may reach; beyond, the tokenizer reads it."""
_LANG_TAG_LONGEST: Final = 512
"""An ``<html>`` tag longer than this is read each time, not remembered."""
_CUT: Final = re.compile(
    rb"<(?:script|style|title|textarea|noscript|xmp|iframe|noembed|noframes|body|!--)"
    rb"|<[^>]*+\Z"
)
"""What the head's walk may have stopped at only because the bytes looked at end early."""


class Prologue(NamedTuple):
    """The page's language and where its head and body begin (a tuple: made per page)."""

    html_lang: str
    """The ``<html>`` tag's ``lang`` (``""`` without one), read as the tokenizer reads it."""
    head_end: int
    """Right after the ``<head>`` tag: ``head_html`` goes here."""
    body_end: int
    """Right after the ``<body>`` tag: ``body_start_html`` goes here."""


def find_prologue(buf: bytes, start: int) -> Prologue | None:
    """The insertion points of the page starting at *start* in *buf*, when it has the
    usual shape (see the module docstring); ``None`` otherwise."""
    size = _FIRST_LOOK
    while True:
        whole = start + size >= len(buf)
        low = buf[start : start + size].lower()
        prologue = _PROLOGUE.match(low)
        if prologue is None:
            return None  # the <head> tag comes late, or the page starts otherwise
        walked = HEAD_WALK.match(low, prologue.end())
        at = prologue.end() if walked is None else walked.end()
        body = _BODY.match(low, at)
        if body is not None:
            html_start, html_end = start + prologue.start(1), start + prologue.end(1)
            return Prologue(
                _html_lang(buf, html_start, html_end), start + prologue.end(), start + body.end()
            )
        if whole or size >= _FURTHEST or _CUT.match(low, at) is None:
            return None
        size *= 4


def _html_lang(buf: bytes, start: int, end: int) -> str:
    """The ``lang`` of the ``<html>`` tag at ``buf[start:end]``, as the tokenizer reads it."""
    if end - start > _LANG_TAG_LONGEST:
        return _read_lang(buf, start, end)
    return _remembered_lang(buf[start:end])


def _read_lang(buf: bytes, start: int, end: int) -> str:
    return Tag(buf, start, end, b"html", start + len(b"<html")).text(b"lang")


@lru_cache(maxsize=128)
def _remembered_lang(html_tag: bytes) -> str:
    """:func:`_read_lang` of a whole tag, remembered: a site's pages share a few."""
    return _read_lang(html_tag, 0, len(html_tag))


def only_inserts_at_prologue(plan: RewritePlan) -> bool:
    """Whether *plan* blocks nothing and inserts only after ``<head>`` and ``<body>``:
    then a page that starts the usual way needs :func:`insert_at_prologue` alone."""
    return (
        bool(plan.head_html and plan.body_start_html)
        and not plan.body_end_html
        and plan.blocks_nothing
    )


def insert_at_prologue(
    plan: RewritePlan, buf: bytes, start: int, encoding: str | None
) -> list[bytes | memoryview] | None:
    """The pieces of the whole rewritten page for a plan that
    :func:`only_inserts_at_prologue`, when the page at *start* in *buf* has the usual shape
    (``None`` otherwise): the bytes up to each insertion, the markup in *encoding* (as
    character references beyond ASCII without one), then the rest untouched."""
    found = find_prologue(buf, start)
    if found is None:
        return None
    codec = encoding or "ascii"
    for_lang = plan.body_start_html_for_lang
    body = for_lang(found.html_lang) if for_lang is not None else plan.body_start_html
    return [
        buf[: found.head_end],
        plan.head_html.encode(codec, "xmlcharrefreplace"),
        buf[found.head_end : found.body_end],
        body.encode(codec, "xmlcharrefreplace"),
        memoryview(buf)[found.body_end :],
    ]
