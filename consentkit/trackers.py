"""Knowledge of third-party tracker domains, pixel endpoints and inline loader scripts.

The data lives in ``consentkit/data/trackers.toml``; :func:`default_index` loads it once.
A :class:`TrackerIndex` answers two questions fast: which tracker a URL belongs to
(:meth:`TrackerIndex.match_url`, a suffix lookup on the host) and which tracker an inline
script loads (:meth:`TrackerIndex.match_inline`, one compiled alternation).
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Final

from consentkit.errors import ConfigError
from consentkit.rules import is_https_url
from consentkit.url_host import HostPath, host_path

__all__ = [
    "KINDS",
    "TRACKER_CATEGORIES",
    "Tracker",
    "TrackerIndex",
    "default_index",
    "host_in",
    "third_party_host",
]

TRACKER_CATEGORIES: Final = frozenset({"performance", "functionality", "targeting"})
"""Categories a tracker may need (``necessary`` trackers do not exist by definition)."""

KINDS: Final = frozenset({"script", "embed", "pixel", "widget"})
"""What a provider puts in pages."""


@dataclass(frozen=True, slots=True)
class Tracker:
    """One provider of tracking scripts, embeds, pixels or widgets."""

    provider: str
    category: str
    kinds: frozenset[str]
    domains: tuple[str, ...]
    paths: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    source: str = ""
    """The vendor documentation the entry is based on (an https URL), or ""."""


def url_host_path(url: str, base: HostPath | None = None) -> tuple[str, str] | None:
    """Return ``(host, path)`` of an http(s) URL as a browser reads it, else ``None``.

    Relative URLs resolve against *base* when given (else give ``None``); see
    :func:`consentkit.url_host.host_path` for how the host is read.
    """
    if "&" in url:
        url = html.unescape(url)
    found = host_path(url, base)
    return None if found is None else (found.host, found.path)


def _host_suffixes(host: str) -> Iterable[str]:
    """Yield ``a.b.c``, ``b.c``, ``c`` for ``a.b.c``: most specific first."""
    yield host
    start = host.find(".")
    while start != -1:
        yield host[start + 1 :]
        start = host.find(".", start + 1)


def _path_matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _same_site(host: str, site: str) -> bool:
    site = site.lower().rstrip(".")
    if site.startswith("www."):
        site = site[4:]
    return host == site or host.endswith("." + site)


def third_party_host(url: str, site: str | None) -> str | None:
    """The host of an absolute http(s) URL not on *site* (or its subdomains), else ``None``."""
    parsed = url_host_path(url)
    if parsed is None or (site and _same_site(parsed[0], site)):
        return None
    return parsed[0]


def host_in(host: str, domains: Iterable[str]) -> bool:
    """Whether *host* is one of *domains* or a subdomain of one."""
    wanted = set(domains)
    return any(suffix in wanted for suffix in _host_suffixes(host))


def _is_regex(marker: str) -> bool:
    return len(marker) > 2 and marker.startswith("/") and marker.endswith("/")


def _inline_pattern(marker: str) -> str:
    return marker[1:-1] if _is_regex(marker) else re.escape(marker)


# An absolute or scheme-relative URL opening a string literal ("\/" escapes included) or a
# CSS url(): what fetch(), navigator.sendBeacon(), new Image().src, an import map or a
# style sheet would request. URLs in comments or plain text do not count.
_URL_LITERAL: Final = re.compile(
    rb"(?:[\"'`]|(?i:url)\([\t\n\f\r ]*+)[\t\n\f\r ]*+(?i:https?:)?(?:\\?/){2}"
    rb"([A-Za-z0-9%\-]++(?:\.[A-Za-z0-9%\-]++)++)((?:\\?/[^\s\"'`<>()\\]*+)*+)"
)
_PROVIDER_KEYS: Final = ("name", "category", "source", "kind", "domains", "paths", "inline")
_MISS: Final = object()
_CACHE_ITEMS: Final = 256
_CACHE_SCRIPT_BYTES: Final = 8192


class TrackerIndex:
    """Fast lookups over a set of trackers; immutable once built.

    Earlier trackers win when two declare the same domain, path or inline marker, which is
    how :meth:`with_extra` lets a site's own declarations override the knowledge base.
    """

    def __init__(self, trackers: Iterable[Tracker]) -> None:
        self._trackers: tuple[Tracker, ...] = tuple(trackers)
        self._domains: dict[str, Tracker] = {}
        self._paths: dict[str, list[tuple[str, Tracker]]] = {}
        self._by_name: dict[str, Tracker] = {}
        alternatives: list[str] = []
        regex_alternatives: list[str] = []
        self._groups: dict[str, Tracker] = {}
        # Plain markers are found with bytes.find (C speed); only real patterns go
        # through the regex engine, which tries every alternative at every offset.
        self._literals: list[tuple[bytes, int]] = []
        for number, tracker in enumerate(self._trackers):
            self._by_name.setdefault(_name_key(tracker.provider), tracker)
            for domain in tracker.domains:
                self._domains.setdefault(domain.lower().strip(".").removeprefix("www."), tracker)
            for entry in tracker.paths:
                host, _, path = entry.partition("/")
                key = host.lower().removeprefix("www.")
                self._paths.setdefault(key, []).append(("/" + path, tracker))
            if tracker.inline:
                group = f"t{number}"
                self._groups[group] = tracker
                body = "|".join(_inline_pattern(marker) for marker in tracker.inline)
                alternatives.append(f"(?P<{group}>{body})")
                patterns = [m[1:-1] for m in tracker.inline if _is_regex(m)]
                if patterns:
                    regex_alternatives.append(f"(?P<{group}>{'|'.join(patterns)})")
                self._literals.extend(
                    (m.encode("utf-8"), number) for m in tracker.inline if not _is_regex(m)
                )
        self._inline_text = re.compile("|".join(alternatives)) if alternatives else None
        self._inline_regex = (
            re.compile("|".join(regex_alternatives).encode("utf-8")) if regex_alternatives else None
        )
        self._inline_cache: dict[bytes, object] = {}
        self._categories = frozenset(t.category for t in self._trackers)

    @property
    def trackers(self) -> tuple[Tracker, ...]:
        """All trackers, in priority order."""
        return self._trackers

    @property
    def categories(self) -> frozenset[str]:
        """Every category some tracker of the index belongs to (asked on every response)."""
        return self._categories

    def with_extra(self, extra: Iterable[Tracker]) -> TrackerIndex:
        """Return a new index where *extra* (e.g. a site's declared trackers) take precedence."""
        return TrackerIndex((*extra, *self._trackers))

    def by_provider(self, name: str) -> Tracker | None:
        """Find a tracker by provider name, ignoring case, spaces and punctuation."""
        return self._by_name.get(_name_key(name))

    def match_url(
        self, url: str, *, site: str | None = None, base: HostPath | None = None
    ) -> Tracker | None:
        """Return the tracker a URL belongs to, or ``None``.

        Relative URLs match only through *base* (a document's ``<base href>``); URLs on
        *site* (the page's own host) or its subdomains never match. A pixel path
        (``facebook.com/tr``) is checked before plain domains.
        """
        parsed = url_host_path(url, base)
        if parsed is None:
            return None
        return self.match_host_path(*parsed, site=site)

    def match_host_path(self, host: str, path: str, *, site: str | None = None) -> Tracker | None:
        """:meth:`match_url` for a URL already read into host and path."""
        if site and _same_site(host, site):
            return None
        if self._paths:
            for suffix in _host_suffixes(host):
                for prefix, tracker in self._paths.get(suffix, ()):
                    if _path_matches(path, prefix):
                        return tracker
        for suffix in _host_suffixes(host):
            found = self._domains.get(suffix)
            if found is not None:
                return found
        return None

    def match_base(self, url: str, *, site: str | None = None) -> Tracker | None:
        """The tracker whose host a ``<base href>`` points at (any path on it), or ``None``.

        Relative URLs resolve against a document's base, so on a pixel's host
        (``facebook.com``) a relative ``tr?id=1`` is the pixel.
        """
        parsed = url_host_path(url)
        if parsed is None or (site and _same_site(parsed[0], site)):
            return None
        for suffix in _host_suffixes(parsed[0]):
            found = self._domains.get(suffix)
            if found is not None:
                return found
            paths = self._paths.get(suffix)
            if paths:
                return paths[0][1]
        return None

    def match_url_literal(self, script: bytes, *, site: str | None = None) -> Tracker | None:
        """The first tracker whose URL a script or style sheet names as a URL, or ``None``.

        That is a string literal starting with the URL, or CSS ``url(...)``.
        """
        if b"/" not in script:
            return None
        for found in _URL_LITERAL.finditer(script):
            host = found.group(1).decode("ascii")
            path = found.group(2).replace(b"\\/", b"/").decode("ascii", "replace")
            tracker = self.match_url(f"https://{host}{path or '/'}", site=site)
            if tracker is not None:
                return tracker
        return None

    def match_inline(self, script_text: str) -> Tracker | None:
        """Return the tracker whose loader snippet appears in *script_text*, or ``None``."""
        if self._inline_text is None:
            return None
        found = self._inline_text.search(script_text)
        return None if found is None else self._groups[str(found.lastgroup)]

    def match_inline_bytes(self, script: bytes) -> Tracker | None:
        """Like :meth:`match_inline` for the raw bytes of an ASCII-compatible document."""
        cached = self._inline_cache.get(script, _MISS)
        if cached is not _MISS:
            return cached  # type: ignore[return-value]
        # The leftmost marker wins; at the same offset, the earlier tracker.
        best: tuple[int, int] | None = None
        for marker, number in self._literals:
            at = script.find(marker)
            if at >= 0 and (best is None or (at, number) < best):
                best = (at, number)
        if self._inline_regex is not None:
            found = self._inline_regex.search(script)
            if found is not None:
                number = int(str(found.lastgroup)[1:])
                if best is None or (found.start(), number) < best:
                    best = (found.start(), number)
        result = None if best is None else self._trackers[best[1]]
        if len(script) <= _CACHE_SCRIPT_BYTES:
            if len(self._inline_cache) >= _CACHE_ITEMS:
                self._inline_cache.clear()
            self._inline_cache[script] = result
        return result

    @classmethod
    def from_toml(cls, path: str | Path) -> TrackerIndex:
        """Load an index from a TOML file in the format of the packaged ``trackers.toml``."""
        source = str(path)
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read tracker data: {exc}", source=source) from exc
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str = "trackers") -> TrackerIndex:
        """Build an index from parsed TOML data: ``{"provider": [{...}, ...]}``."""
        for key in data:
            if key != "provider":
                raise ConfigError(
                    f"unknown top-level key {key!r}",
                    source=source,
                    key=str(key),
                    fix="write each provider as a [[provider]] table",
                )
        providers = data.get("provider", [])
        if not isinstance(providers, list):
            raise ConfigError("must be an array of tables", source=source, key="provider")
        return cls(_tracker_from(entry, source, i) for i, entry in enumerate(providers))


def _name_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _strings(entry: Mapping[str, object], key: str, where: str, source: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(
            "must be a list of non-empty strings", source=source, key=f"{where}.{key}"
        )
    return tuple(str(v) for v in value)


def _tracker_from(entry: object, source: str, index: int) -> Tracker:
    where = f"provider[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError("must be a table", source=source, key=where)
    for key in entry:
        if key not in _PROVIDER_KEYS:
            raise ConfigError(
                f"unknown key {key!r}",
                source=source,
                key=f"{where}.{key}",
                fix="use only " + ", ".join(_PROVIDER_KEYS),
            )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("needs a non-empty name", source=source, key=f"{where}.name")
    category = entry.get("category")
    if category not in TRACKER_CATEGORIES:
        raise ConfigError(
            f"unknown category {category!r}",
            source=source,
            key=f"{where}.category",
            fix="use performance, functionality or targeting",
        )
    kinds = frozenset(_strings(entry, "kind", where, source))
    if not kinds or not kinds <= KINDS:
        raise ConfigError(
            f"bad kind {sorted(kinds)!r}",
            source=source,
            key=f"{where}.kind",
            fix="use script, embed, pixel and/or widget",
        )
    domains = _strings(entry, "domains", where, source)
    paths = _strings(entry, "paths", where, source)
    if not domains and not paths:
        raise ConfigError("needs domains or paths", source=source, key=where)
    inline = _strings(entry, "inline", where, source)
    for marker in inline:
        try:
            re.compile(_inline_pattern(marker))
        except re.error as exc:
            raise ConfigError(
                f"bad inline pattern {marker!r}: {exc}", source=source, key=f"{where}.inline"
            ) from exc
    source_url = entry.get("source", "")
    if not isinstance(source_url, str) or (source_url and not is_https_url(source_url)):
        raise ConfigError(
            f"{source_url!r} is not an https URL",
            source=source,
            key=f"{where}.source",
            fix='cite the vendor documentation as "https://..."',
        )
    return Tracker(str(name), str(category), kinds, domains, paths, inline, source_url)


@lru_cache(maxsize=1)
def default_index() -> TrackerIndex:
    """The packaged knowledge base, loaded on first use and cached."""
    data = resources.files("consentkit").joinpath("data", "trackers.toml").read_bytes()
    return TrackerIndex.from_mapping(tomllib.loads(data.decode("utf-8")), source="trackers.toml")
