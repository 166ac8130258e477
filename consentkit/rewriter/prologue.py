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
from dataclasses import dataclass
from typing import Final

from consentkit.rewriter.skipping import html_patterns, lowercase
from consentkit.rewriter.tags import ATTRS, Tag

__all__ = ["Prologue", "find_prologue"]

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
_HEAD_CONTENT: Final = html_patterns(blocking=False, before_body=True)[0]
_FIRST_LOOK: Final = 4096
_FURTHEST: Final = 256 * 1024
"""How far into the page the head may reach; beyond, the tokenizer reads it."""
_CUT: Final = re.compile(
    rb"<(?:script|style|title|textarea|noscript|xmp|iframe|noembed|noframes|body|!--)"
    rb"|<[^>]*+\Z"
)
"""What the head's walk may have stopped at only because the bytes looked at end early."""


@dataclass(frozen=True, slots=True)
class Prologue:
    """The page's language and where its head and body begin."""

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
        walked = _HEAD_CONTENT.match(low, prologue.end())
        at = prologue.end() if walked is None else walked.end()
        body = _BODY.match(low, at)
        if body is not None:
            html_start, html_end = start + prologue.start(1), start + prologue.end(1)
            html = Tag(buf, html_start, html_end, b"html", html_start + len(b"<html"))
            return Prologue(html.text(b"lang"), start + prologue.end(), start + body.end())
        if whole or size >= _FURTHEST or _CUT.match(low, at) is None:
            return None
        size *= 4
