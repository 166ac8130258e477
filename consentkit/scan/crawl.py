"""Which pages a scan visits: URL checks, robots.txt, sitemap.xml and same-site links.

Pure: the browser driver fetches the texts and hands them in. The crawl stays on the start
URL's origin (scheme, host and port; ``www.`` and the bare host count as one), skips files
that are not pages and consentkit's own ``/_consent`` endpoints, and honours robots.txt
unless told otherwise.
"""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, TypeAlias
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from consentkit.domains import registrable_domain

__all__ = [
    "USER_AGENT_TOKEN",
    "BadURLError",
    "Fetch",
    "Frontier",
    "Robots",
    "check_start_url",
    "discover",
    "is_third_party",
    "normalise",
    "sitemap_urls",
]

USER_AGENT_TOKEN: Final = "consentkit-scan"  # noqa: S105 -- a robots.txt product token
"""The product token robots.txt rules are matched against."""

_MAX_SITEMAP_URLS: Final = 10_000
_MAX_SITEMAPS: Final = 3
_MAX_URL_LENGTH: Final = 2048
_LOC: Final = re.compile(r"<loc>\s*([^<\s][^<]*?)\s*</loc>", re.IGNORECASE)
_NOT_PAGES: Final = frozenset(
    {
        ".7z", ".avi", ".css", ".csv", ".dmg", ".doc", ".docx", ".exe", ".gif", ".gz", ".ico",
        ".jpeg", ".jpg", ".js", ".json", ".mov", ".mp3", ".mp4", ".pdf", ".png", ".ppt",
        ".pptx", ".rss", ".svg", ".tar", ".tgz", ".txt", ".webm", ".webp", ".woff", ".woff2",
        ".xls", ".xlsx", ".xml", ".zip",
    }
)  # fmt: skip


class BadURLError(ValueError):
    """The start URL cannot be scanned; the message says why."""


def check_start_url(url: str) -> str:
    """Return the normalised start URL, or raise :class:`BadURLError` saying what is wrong."""
    text = url.strip()
    if "://" not in text and text and not text.startswith("/"):
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise BadURLError(f"{url!r} is not an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise BadURLError(f"{url!r} has an invalid port") from None
    if not parts.hostname or port == 0:
        raise BadURLError(f"{url!r} names no host")
    if len(text) > _MAX_URL_LENGTH:
        raise BadURLError(f"{url!r} is longer than {_MAX_URL_LENGTH} characters")
    normalised = normalise(text, text)
    if normalised is None:
        raise BadURLError(f"{url!r} is not a URL a browser can open")
    return normalised


def normalise(href: str, base: str) -> str | None:
    """Resolve *href* against *base*; drop the fragment. ``None`` for non-http(s) links."""
    try:
        joined = urljoin(base, href.strip())
        parts = urlsplit(joined)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if len(joined) > _MAX_URL_LENGTH:
        return None
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, host, parts.port or default


def same_origin(url: str, start: str) -> bool:
    """Whether *url* is on the start page's origin (``www.`` ignored)."""
    return _origin(url) == _origin(start)


def is_third_party(host: str, start_url: str) -> bool:
    """Whether *host* (a request's or a cookie's domain) belongs to another site.

    Sites are registrable domains (``shop.example.com`` and ``example.com`` are one site);
    an IP address is a site of its own.
    """
    own = urlsplit(start_url).hostname or ""
    host = host.strip().lstrip(".").lower()
    return registrable_domain(host) != registrable_domain(own)


def _is_page(url: str) -> bool:
    path = urlsplit(url).path.lower()
    if path == "/_consent" or path.startswith("/_consent/"):
        return False
    last = path.rsplit("/", 1)[-1]
    dot = last.rfind(".")
    return dot == -1 or last[dot:] not in _NOT_PAGES


class Robots:
    """robots.txt rules for the scanner's user agent (everything allowed when absent)."""

    def __init__(self, text: str | None) -> None:
        self._parser: RobotFileParser | None = None
        if text is not None:
            parser = RobotFileParser()
            parser.parse(text.splitlines())
            self._parser = parser

    def allows(self, url: str) -> bool:
        """Whether robots.txt lets the scanner fetch *url*."""
        return self._parser is None or self._parser.can_fetch(USER_AGENT_TOKEN, url)

    @property
    def crawl_delay(self) -> float | None:
        """The ``Crawl-delay`` robots.txt asks of the scanner, in seconds."""
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(USER_AGENT_TOKEN)
        return None if delay is None else float(delay)

    @property
    def sitemaps(self) -> list[str]:
        """Sitemap URLs robots.txt announces."""
        if self._parser is None:
            return []
        return list(self._parser.site_maps() or [])


def sitemap_urls(text: str) -> list[str]:
    """The ``<loc>`` URLs of a sitemap or sitemap index, in document order.

    Read with a regular expression, not an XML parser: a hostile sitemap gets no entity
    expansion, and the list is capped.
    """
    found: list[str] = []
    for match in _LOC.finditer(text):
        found.append(html.unescape(match.group(1)))
        if len(found) >= _MAX_SITEMAP_URLS:
            break
    return found


class Frontier:
    """The queue of pages to visit: the start page, then sitemap entries and links, in order.

    Each URL is offered once; the ones a scan may not visit are remembered with the reason.
    """

    def __init__(self, start: str, robots: Robots, *, ignore_robots: bool = False) -> None:
        self.start = start
        self._robots = robots
        self._ignore_robots = ignore_robots
        self._queue: deque[str] = deque()
        self._seen: set[str] = set()
        self.skipped: list[tuple[str, str]] = []
        self.add([start], base=start)

    def add(self, hrefs: Iterable[str], *, base: str) -> None:
        """Queue the same-site pages among *hrefs* (resolved against *base*)."""
        for href in hrefs:
            url = normalise(href, base)
            if url is None or url in self._seen:
                continue
            self._seen.add(url)
            if not same_origin(url, self.start) or not _is_page(url):
                continue
            if not self._ignore_robots and not self._robots.allows(url):
                self.skipped.append((url, "disallowed by robots.txt"))
                continue
            self._queue.append(url)

    def next(self) -> str | None:
        """The next page to visit, or ``None`` when the queue is empty."""
        return self._queue.popleft() if self._queue else None


Fetch: TypeAlias = Callable[[str], tuple[int, str] | None]
"""GET a URL: ``(status, text)``, or ``None`` when the host cannot be reached."""


def discover(start: str, fetch: Fetch) -> tuple[Robots, list[str], list[str]]:
    """Read robots.txt and the sitemaps of the start page's origin.

    Returns the robots rules, the page URLs the sitemaps list (nested sitemap indexes are
    followed, at most three files, same origin only) and problems worth reporting. A
    robots.txt answering 5xx means "disallow everything" (RFC 9309); 4xx or none, "allow".
    """
    parts = urlsplit(start)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    robots, problems = Robots(None), list[str]()
    got = fetch(origin + "/robots.txt")
    if got is not None and 200 <= got[0] < 300:
        robots = Robots(got[1])
    elif got is not None and got[0] >= 500:
        robots = Robots("User-agent: *\nDisallow: /\n")
        problems.append(
            f"robots.txt answered HTTP {got[0]}: treated as disallowing everything "
            "(use --ignore-robots to scan anyway)"
        )
    queue, pages, fetched = [origin + "/sitemap.xml", *robots.sitemaps], list[str](), 0
    while queue and fetched < _MAX_SITEMAPS:
        url = normalise(queue.pop(0), origin)
        if url is None or not same_origin(url, start):
            continue
        fetched += 1
        got = fetch(url)
        if got is None or not 200 <= got[0] < 300:
            continue
        for loc in sitemap_urls(got[1]):
            (queue if urlsplit(loc).path.lower().endswith(".xml") else pages).append(loc)
    return robots, pages, problems
