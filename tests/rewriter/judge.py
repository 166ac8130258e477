"""html5lib as the judge: which elements a browser would let load a tracker URL."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

import html5lib

from consentkit.trackers import Tracker, TrackerIndex, default_index
from consentkit.url_host import HostPath, host_path

HTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
JS_TYPES = {"", "module", "text/javascript", "application/javascript"}
CSS_TYPES = {"", "text/css"}
GTM_SPELLINGS = [
    "https://www.googletagmanager%2ecom/gtm.js",
    "https://www.googletagmanager\u3002com/gtm.js",
    "https://www.googletagmanager\uff0ecom/gtm.js",
    "https://www.googletagmanager\uff61com/gtm.js",
    "https:www.googletagmanager.com/gtm.js",
    "https:\\\\www.googletagmanager.com\\gtm.js",
    "https://www.googletagmanager.com./gtm.js",
    "https://WWW.GOOGLETAGMANAGER.COM/gtm.js",
    "https://www.google&#x9;tagmanager.com/gtm.js",
    "https:&#10;//www.googletagmanager.com/gtm.js",
]
"""Spellings of one tracker URL that Chromium loads (as attribute values)."""
HINTS = {"preload", "prefetch", "modulepreload", "stylesheet", "preconnect", "dns-prefetch"}
# loading attributes by element, as the browser fetches them
LOADERS = {
    f"{HTML}img": ("src", "srcset"),
    f"{HTML}iframe": ("src",),
    f"{HTML}object": ("data",),
    f"{HTML}embed": ("src",),
    f"{HTML}source": ("src", "srcset"),
    f"{HTML}video": ("src", "poster"),
    f"{HTML}audio": ("src",),
    f"{HTML}track": ("src",),
    f"{HTML}input": ("src",),
    f"{SVG}image": ("href", f"{XLINK}href"),
    f"{SVG}script": ("href", f"{XLINK}href"),
}


def _urls(attr: str, value: str) -> list[str]:
    if attr == "srcset":
        return [c.split()[0] for c in value.split(",") if c.split()]
    return [value]


def loadable_trackers(
    document: bytes, granted: frozenset[str] = frozenset(), index: TrackerIndex | None = None
) -> list[tuple[str, str]]:
    """``(element, url)`` of every refused tracker URL a browser would still fetch."""
    index = index or default_index()
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"))
    # a browser with scripting on: <noscript> content is text
    root = parser.parse(document, scripting=True, transport_encoding="utf-8")
    base: HostPath | None = None
    for element in _live(root):
        if element.tag == f"{HTML}base" and element.get("href") is not None:
            base = host_path(element.get("href", ""), None)
            break
    found: list[tuple[str, str]] = []

    def refused_tracker(tracker: Tracker | None) -> bool:
        return tracker is not None and tracker.category not in granted

    def refused(url: str) -> bool:
        where = host_path(url, base)
        if where is None:
            return False
        tracker = index.match_host_path(where.host, where.path)
        return tracker is not None and tracker.category not in granted

    for element in _live(root):
        tag = str(element.tag)
        attrs: tuple[str, ...] = LOADERS.get(tag, ())
        kind = element.get("type", "").strip().lower()
        text = (element.text or "").encode("utf-8", "surrogatepass")
        if tag == f"{HTML}script":
            if kind in JS_TYPES and element.get("src") is not None:
                attrs = ("src",)
            elif kind in JS_TYPES and (
                refused_tracker(index.match_inline_bytes(text))
                or refused_tracker(index.match_url_literal(text))
            ):
                found.append(("script", text.decode()))
            elif kind == "importmap" and refused_tracker(index.match_url_literal(text)):
                found.append(("importmap", text.decode()))
        elif tag == f"{HTML}style":
            if kind in CSS_TYPES and refused_tracker(index.match_url_literal(text)):
                found.append(("style", text.decode()))
        elif tag == f"{HTML}iframe" and element.get("srcdoc") is not None:  # wins over src
            attrs = ()
            inner = element.get("srcdoc", "").encode("utf-8", "surrogatepass")
            found += loadable_trackers(inner, granted, index)
        elif tag == f"{HTML}link":
            rels = set(element.get("rel", "").lower().split())
            attrs = ("href",) if rels & HINTS else ()
        for attr in attrs:
            value = element.get(attr)
            if value is not None and any(refused(u) for u in _urls(attr, value)):
                found.append((tag.rpartition("}")[2], value))
    return found


def _live(element: Element) -> Iterator[Element]:
    """Elements a browser acts on: all but what ``<template>`` holds, in document order."""
    for child in element:
        if isinstance(child.tag, str) and child.tag != f"{HTML}template":
            yield child
            yield from _live(child)
