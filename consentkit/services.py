"""Services: named providers (YouTube, Meta Pixel...) inside the four consent categories.

A :class:`Service` belongs to exactly one optional category and names the cookies and
hosts it uses. Built-in services are derived from the tracker index (hosts) and the cookie
knowledge base (cookies); a site declares its own with ``[[services]]`` in its policy. A
:class:`ServiceIndex` answers which service a cookie or a URL host belongs to.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final, Literal

from .categories import OPTIONAL_CATEGORIES, Category, is_category
from .errors import ConfigError, did_you_mean, reject_unknown_keys
from .registry import Registry
from .rules import CookieRule, is_https_url, knowledge_base
from .trackers import Tracker, TrackerIndex, default_index

__all__ = [
    "BUILTIN_SERVICES",
    "MAX_DECLARED_SERVICES",
    "SERVICE_ENTRY_PREFIX",
    "Service",
    "ServiceIndex",
    "builtin_services",
    "load_services",
    "receipt_entries",
    "service_trackers",
    "split_entries",
]

SERVICE_ENTRY_PREFIX: Final = "service:"
"""Receipts list services in their ``granted`` / ``refused`` lists after the categories, as
``service:<id>``: the record keeps its shape, so stored receipts and their hashes stay valid."""


def receipt_entries(ids: Iterable[str]) -> tuple[str, ...]:
    """``service:<id>`` entries for a receipt's list, sorted."""
    return tuple(SERVICE_ENTRY_PREFIX + i for i in sorted(ids))


def split_entries(values: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A receipt list split into its categories and its service ids."""
    categories: list[str] = []
    services: list[str] = []
    for value in values:
        if value.startswith(SERVICE_ENTRY_PREFIX):
            services.append(value[len(SERVICE_ENTRY_PREFIX) :])
        else:
            categories.append(value)
    return tuple(categories), tuple(services)


MAX_DECLARED_SERVICES: Final = 64
"""Most ``[[services]]`` one policy may declare: each may take a few bytes of the consent
cookie, which travels with every request."""

_ID: Final = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?")
_HOST: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)+")
_KEYS: Final = (
    "id",
    "name",
    "category",
    "cookies",
    "domains",
    "description",
    "privacy_policy",
)

# id, display name, tracker-index providers (hosts), cookie knowledge-base platforms (cookies),
# privacy policy. Names are those of consentkit/data/trackers.toml and cookies.toml.
BUILTIN_SERVICES: Final[tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], str], ...]] = (
    (
        "google-analytics",
        "Google Analytics",
        ("Google Analytics",),
        ("Google Analytics",),
        "https://policies.google.com/privacy",
    ),
    (
        "google-ads",
        "Google Ads / DoubleClick",
        ("Google Ads / DoubleClick",),
        ("Google Ads and DoubleClick",),
        "https://policies.google.com/privacy",
    ),
    (
        "google-maps",
        "Google Maps",
        ("Google Maps",),
        (),
        "https://policies.google.com/privacy",
    ),
    ("youtube", "YouTube", ("YouTube",), ("YouTube",), "https://policies.google.com/privacy"),
    (
        "meta-pixel",
        "Meta Pixel",
        ("Meta Pixel", "Facebook"),
        ("Meta Pixel and Facebook",),
        "https://www.facebook.com/privacy/policy/",
    ),
    (
        "linkedin-insight",
        "LinkedIn Insight",
        ("LinkedIn Insight",),
        ("LinkedIn",),
        "https://www.linkedin.com/legal/privacy-policy",
    ),
    (
        "hotjar",
        "Hotjar",
        ("Hotjar",),
        ("Hotjar",),
        "https://www.hotjar.com/legal/policies/privacy/",
    ),
    ("vimeo", "Vimeo", ("Vimeo",), ("Vimeo",), "https://vimeo.com/privacy"),
    (
        "tiktok",
        "TikTok",
        ("TikTok",),
        ("TikTok Pixel",),
        "https://www.tiktok.com/legal/page/global/privacy-policy/en",
    ),
)
"""The built-in services: id, name, tracker providers, cookie platforms, privacy policy."""


@dataclass(frozen=True, slots=True)
class Service:
    """One provider a visitor can allow or refuse on its own, within its category.

    ``cookies`` are names or globs (``_ga_*``); ``domains`` are hosts whose subdomains
    belong to the service too. ``source`` is ``declared`` for a policy's ``[[services]]``.
    """

    id: str
    name: str
    category: Category
    cookies: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    description: str = ""
    privacy_policy: str = ""
    source: Literal["declared", "builtin"] = "declared"
    providers: tuple[str, ...] = ()
    """Tracker-index and knowledge-base provider names whose hosts and cookies are this
    service's (built-in services)."""

    def as_json(self) -> dict[str, object]:
        """A JSON-ready view (status answer, preferences centre)."""
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "privacy_policy": self.privacy_policy,
        }


class ServiceIndex:
    """Immutable lookups over services: by id, by cookie name, by URL host.

    Earlier services win a cookie or host both claim, so declared services (listed
    first) override built-in ones.
    """

    def __init__(self, services: Iterable[Service]) -> None:
        self._services: tuple[Service, ...] = tuple(services)
        self._by_id: dict[str, Service] = {}
        self._exact: dict[str, Service] = {}
        self._hosts: dict[str, Service] = {}
        self._providers: dict[str, Service] = {}
        patterns: list[tuple[re.Pattern[str], Service]] = []
        for service in self._services:
            self._by_id.setdefault(service.id, service)
            for cookie in service.cookies:
                if "*" in cookie or "?" in cookie:
                    patterns.append((re.compile(fnmatch.translate(cookie)), service))
                else:
                    self._exact.setdefault(cookie, service)
            for domain in service.domains:
                self._hosts.setdefault(domain, service)
            for provider in service.providers or (service.name,):
                self._providers.setdefault(provider, service)
        self._patterns = tuple(patterns)
        self._services = tuple(self._by_id.values())
        self._categories: Mapping[str, Category] = MappingProxyType(
            {s.id: s.category for s in self._services}
        )

    @property
    def services(self) -> tuple[Service, ...]:
        """Every service, declared ones first."""
        return self._services

    @property
    def ids(self) -> tuple[str, ...]:
        """Every service id, in index order."""
        return tuple(self._by_id)

    @property
    def categories(self) -> Mapping[str, Category]:
        """Each service id's category (read-only)."""
        return self._categories

    def get(self, service_id: str) -> Service | None:
        """The service with this id, or ``None``."""
        return self._by_id.get(service_id)

    def category_of(self, service_id: str) -> Category | None:
        """The category of the service with this id, or ``None``."""
        service = self._by_id.get(service_id)
        return None if service is None else service.category

    def in_category(self, category: str) -> tuple[Service, ...]:
        """The services of *category*, in index order."""
        return tuple(s for s in self._services if s.category == category)

    def for_cookie(self, name: str) -> Service | None:
        """The service a cookie name belongs to, or ``None``."""
        found = self._exact.get(name)
        if found is not None:
            return found
        for pattern, service in self._patterns:
            if pattern.match(name):
                return service
        return None

    def for_provider(self, provider: str) -> Service | None:
        """The service of a tracker or knowledge-base provider name, or ``None``."""
        return self._providers.get(provider) if provider else None

    def for_host(self, host: str) -> Service | None:
        """The service a URL host (or a parent domain of it) belongs to, or ``None``."""
        if not self._hosts:
            return None
        host = host.lower().rstrip(".")
        while True:
            found = self._hosts.get(host)
            if found is not None:
                return found
            dot = host.find(".")
            if dot < 0:
                return None
            host = host[dot + 1 :]

    def unknown_id_hint(self, service_id: str) -> str:
        """A "did you mean" for an unknown id, or the list of known ones."""
        return did_you_mean(service_id, self._by_id, or_list="known services: ")


def service_trackers(services: Iterable[Service]) -> tuple[Tracker, ...]:
    """Tracker entries for declared services with hosts, so their scripts, frames and
    pixels are blocked like known trackers' (a site adds them to its tracker index)."""
    return tuple(
        Tracker(s.name, s.category, frozenset({"script", "embed", "pixel"}), s.domains)
        for s in services
        if s.domains and s.source == "declared"
    )


def _rule_pattern(rule: CookieRule) -> str | None:
    if rule.match == "exact":
        return rule.name
    if rule.match == "glob":
        return rule.name
    if rule.match == "prefix":
        return rule.name + "*"
    return None  # a regex cannot be written as a glob; its cookies stay category-only


def builtin_services(
    trackers: TrackerIndex | None = None, rules: Sequence[CookieRule] | None = None
) -> tuple[Service, ...]:
    """The built-in services, derived from the tracker index and the cookie knowledge base.

    A service's category is its first tracker's; only knowledge-base cookies of that
    category belong to it (a provider's strictly necessary cookies stay necessary).
    """
    if trackers is None and rules is None:
        return _default_builtins()
    return _derive(trackers or default_index(), knowledge_base() if rules is None else rules)


@cache
def _default_builtins() -> tuple[Service, ...]:
    return _derive(default_index(), knowledge_base())


def _derive(trackers: TrackerIndex, rules: Sequence[CookieRule]) -> tuple[Service, ...]:
    by_provider: dict[str, list[CookieRule]] = {}
    for rule in rules:
        by_provider.setdefault(rule.provider, []).append(rule)
    services: list[Service] = []
    for service_id, name, providers, platforms, privacy in BUILTIN_SERVICES:
        found = [t for t in (trackers.by_provider(p) for p in providers) if t is not None]
        if not found or found[0].category not in OPTIONAL_CATEGORIES:
            continue
        category: Category = found[0].category
        # Pixel paths (google.com/maps) are left out: their hosts carry other services too;
        # such URLs reach the service through the tracker that matched them.
        domains = tuple(
            dict.fromkeys(
                d.lower().strip(".").removeprefix("www.") for t in found for d in t.domains
            )
        )
        cookies = tuple(
            dict.fromkeys(
                pattern
                for platform in platforms
                for rule in by_provider.get(platform, ())
                # Generic or domain-bound names (sessionid) belong to the service only when
                # classification says so (through the provider), never by name alone.
                if rule.category == category
                and rule.domain is None
                and not rule.generic
                and (pattern := _rule_pattern(rule)) is not None
            )
        )
        services.append(
            Service(
                service_id,
                name,
                category,
                cookies,
                domains,
                "",
                privacy,
                "builtin",
                (*providers, *platforms),
            )
        )
    return tuple(services)


def load_services(raw: object, *, source: str) -> tuple[Service, ...]:
    """Services from ``[[services]]`` tables; errors name the source, the key and the fix."""
    if not isinstance(raw, list | tuple):
        raise ConfigError(
            "must be an array of tables",
            source=source,
            key="services",
            fix="write each service as [[services]] with id, name and category",
        )
    if len(raw) > MAX_DECLARED_SERVICES:
        raise ConfigError(
            f"{len(raw)} services declared",
            source=source,
            key="services",
            fix=f"declare at most {MAX_DECLARED_SERVICES}; group small providers under one",
        )
    services: list[Service] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        service = entry if isinstance(entry, Service) else _service_from(entry, source, index)
        if service.id in seen:
            raise ConfigError(
                f"services[{seen[service.id]}] and services[{index}] share the id {service.id!r}",
                source=source,
                key=f"services[{index}].id",
                fix="give every service its own id",
            )
        seen[service.id] = index
        services.append(service)
    return tuple(services)


def _strings(entry: Mapping[str, object], key: str, where: str, source: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            "must be a list of non-empty strings",
            source=source,
            key=f"{where}.{key}",
            fix=f'write {key} = ["..."]',
        )
    return tuple(v.strip() for v in value)


def _text(entry: Mapping[str, object], key: str, where: str, source: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(
            f"must be a string, got {type(value).__name__}",
            source=source,
            key=f"{where}.{key}",
            fix=f'write {key} = "..."',
        )
    return value.strip()


def _service_from(entry: object, source: str, index: int) -> Service:
    where = f"services[{index}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(
            "must be a table",
            source=source,
            key=where,
            fix='write [[services]] with id = "...", name = "..." and category = "..."',
        )
    reject_unknown_keys(entry, _KEYS, source=source, where=where)
    service_id = entry.get("id")
    if not isinstance(service_id, str) or not _ID.fullmatch(service_id):
        raise ConfigError(
            f"{service_id!r} is not a service id",
            source=source,
            key=f"{where}.id",
            fix="use 1-40 lower-case letters, digits, '-' or '_', e.g. \"youtube\"",
        )
    name = _text(entry, "name", where, source)
    if not name:
        raise ConfigError(
            "needs a name", source=source, key=f"{where}.name", fix='write name = "YouTube"'
        )
    category = entry.get("category")
    if not is_category(category) or category == "necessary":
        raise ConfigError(
            f"unknown or unsuitable category {category!r}",
            source=source,
            key=f"{where}.category",
            fix="use one of performance, functionality or targeting (one per service)",
        )
    cookies = _strings(entry, "cookies", where, source)
    domains = tuple(
        d.lower().lstrip(".").rstrip(".") for d in _strings(entry, "domains", where, source)
    )
    for domain in domains:
        if not _HOST.fullmatch(domain):
            raise ConfigError(
                f"{domain!r} is not a host name",
                source=source,
                key=f"{where}.domains",
                fix="list bare host names such as youtube.com (subdomains are included)",
            )
    privacy = _text(entry, "privacy_policy", where, source)
    if privacy and not is_https_url(privacy):
        raise ConfigError(
            f"{privacy!r} is not an https URL",
            source=source,
            key=f"{where}.privacy_policy",
            fix='write privacy_policy = "https://..."',
        )
    return Service(
        service_id,
        name,
        category,  # type: ignore[arg-type]
        cookies,
        domains,
        _text(entry, "description", where, source),
        privacy,
        "declared",
    )


def service_rules(
    services: Sequence[Service], cookies: Sequence[CookieRule], *, source: str
) -> tuple[CookieRule, ...]:
    """Rules classifying the cookies services name, after checking them against declared rules.

    A service's cookie must not be declared in another category by a ``[[cookies]]`` rule:
    one of the two would be wrong. Names no rule declares get the service's category.
    """
    declared = Registry(cookies, use_knowledge_base=False)
    extra: list[CookieRule] = []
    for index, service in enumerate(services):
        for cookie in service.cookies:
            glob = "*" in cookie or "?" in cookie
            clashes = [
                rule
                for rule in cookies
                if rule.category != service.category
                and (
                    (glob and rule.match == "exact" and fnmatch.fnmatchcase(rule.name, cookie))
                    or (not glob and declared.classify(cookie).rule is rule)
                )
            ]
            if clashes:
                rule = clashes[0]
                raise ConfigError(
                    f"cookie {cookie!r} of service {service.id!r} ({service.category}) is "
                    f"declared as {rule.category} by the [[cookies]] rule {rule.name!r}",
                    source=source,
                    key=f"services[{index}].cookies",
                    fix=f"put the service in {rule.category} or the cookie rule in "
                    f"{service.category}",
                )
            if declared.classify(cookie).rule is None:
                try:
                    extra.append(
                        CookieRule(
                            name=cookie,
                            category=service.category,
                            match="glob" if glob else "exact",
                            provider=service.name,
                            purpose=service.description,
                        )
                    )
                except ConfigError as exc:
                    raise ConfigError(
                        exc.problem,
                        source=source,
                        key=f"services[{index}].cookies",
                        fix=exc.fix or "write the cookie name or a glob such as _ga_*",
                    ) from None
    return tuple(extra)
