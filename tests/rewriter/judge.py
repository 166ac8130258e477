"""html5lib as the judge: which elements a browser would let load a tracker URL."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import html5lib

from consentkit.trackers import TrackerIndex, default_index
from consentkit.url_host import HostPath, host_path

HTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
JS_TYPES = {"", "module", "text/javascript", "application/javascript"}
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
    root = html5lib.parse(
        document, treebuilder="etree", namespaceHTMLElements=True, transport_encoding="utf-8"
    )
    base: HostPath | None = None
    for element in root.iter(f"{HTML}base"):
        if element.get("href") is not None:
            base = host_path(element.get("href", ""), None)
            break
    found: list[tuple[str, str]] = []

    def refused(url: str) -> bool:
        where = host_path(url, base)
        if where is None:
            return False
        tracker = index.match_host_path(where.host, where.path)
        return tracker is not None and tracker.category not in granted

    def walk(element: Element) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in (f"{HTML}template", f"{HTML}noscript"):
            return
        attrs: tuple[str, ...] = LOADERS.get(tag, ())
        if tag == f"{HTML}script":
            if element.get("type", "").strip().lower() in JS_TYPES:
                attrs = ("src",)
        elif tag == f"{HTML}link":
            rels = set(element.get("rel", "").lower().split())
            attrs = ("href",) if rels & HINTS else ()
        for attr in attrs:
            value = element.get(attr)
            if value is not None and any(refused(u) for u in _urls(attr, value)):
                found.append((tag.rpartition("}")[2], value))
        for child in element:
            walk(child)

    walk(root)
    return found
