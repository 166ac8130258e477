"""The site's cookie policy: categories, declared cookies, revision and consent lifetime.

A :class:`Policy` is a frozen value built once (in Python or from TOML) and passed
to the middleware. It validates itself on construction and raises one
:class:`~consentkit.errors.ConfigError` naming the source, the key and the fix.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .categories import CATEGORIES, Category, is_category
from .controller import Controller
from .errors import ConfigError, reject_unknown_keys
from .knowledge import load_knowledge_base_file
from .regions import RegionTable, parse_regions
from .registry import Classification, Registry
from .rules import CookieRule, load_rules, reject_duplicate_rules
from .services import Service, ServiceIndex, builtin_services, load_services, service_rules

__all__ = ["CONSENT_MODES", "MAX_LIFETIME_DAYS", "CategoryText", "Controller", "Policy"]

MAX_LIFETIME_DAYS: Final = 395
"""Thirteen months: the longest consent lifetime regulators accept."""

_HOST_NAME: Final = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)

DEFAULT_TEXTS: Final[Mapping[Category, tuple[str, str]]] = {
    "necessary": (
        "Strictly necessary",
        "Needed for the site to work: keeping you signed in, security and load balancing. "
        "They cannot be switched off.",
    ),
    "performance": (
        "Performance",
        "Count visits and measure how the site is used so we can improve it.",
    ),
    "functionality": (
        "Functionality",
        "Remember your choices, such as language, and enable embedded features.",
    ),
    "targeting": (
        "Targeting",
        "Set by advertising and social networks to build a profile of your interests "
        "and show you relevant ads on other sites.",
    ),
}

_TOP_LEVEL_KEYS: Final = frozenset(
    {
        "revision",
        "consent_lifetime_days",
        "refusal_lifetime_days",
        "unclassified",
        "knowledge_base",
        "knowledge_base_files",
        "categories",
        "cookies",
        "regions",
        "default_region",
        "honor_dnt",
        "site_name",
        "privacy_url",
        "controller",
        "known_hosts",
        "block_unknown_hosts",
        "expire_unclassified",
        "max_expiry_lines",
        "site_hosts",
        "services",
        "consent_mode",
    }
)

CONSENT_MODES: Final = ("basic", "advanced")
"""Google Consent Mode variants: ``basic`` blocks Google tags until their category is
granted; ``advanced`` lets them load before a choice with every signal denied."""


@dataclass(frozen=True, slots=True)
class CategoryText:
    """A category's label and description (English defaults; the banner translates)."""

    label: str
    description: str


@dataclass(frozen=True)
class Policy:
    """What the site promises its visitors.

    Longer than most classes because every layer asks it something: its methods are small
    lookups (classify a cookie, a category's fingerprint and lifetime, region rules) over
    indexes built once at construction, where the declarations are also validated; split
    apart, each piece would rebuild or carry those indexes.

    Args:
        revision: a label for this version of the policy; a new revision asks
            every visitor again.
        cookies: declared cookie rules; they take precedence over the built-in
            knowledge base.
        consent_lifetime_days: how long a decision lasts (at most 395 days).
        refusal_lifetime_days: how long a refusal lasts, if shorter; ``None`` means
            the same as ``consent_lifetime_days``.
        unclassified: the category whose consent an unknown cookie needs.
        knowledge_base: whether well-known cookies classify themselves.
        knowledge_base_files: site-local knowledge-base TOML files (the bundled format, e.g.
            from ``consentkit kb import``); they rank after declared cookies and before the
            bundled knowledge base, earlier files first. Relative paths in a TOML policy start
            at the policy file's folder.
        texts: overrides of category labels and descriptions.
        site_name: shown in the banner.
        privacy_url: link to the site's privacy policy, shown in the banner and
            written into receipts (``policyUrl``).
        controller: the data controller (a :class:`Controller`, a mapping of its
            fields, or the name), written into the visitor's receipt copy.
        known_hosts: third-party hosts (and their subdomains) the site vouches for:
            scripts and frames from them are neither reported nor blocked.
        block_unknown_hosts: block scripts and frames from third-party hosts that
            neither ``known_hosts`` nor the tracker knowledge base knows, until the
            ``unclassified`` category is granted. By default they load and are reported.
        privacy_url: link to the site's privacy policy, shown in the banner.
        expire_unclassified: whether cookies the visitor sends that no rule and no
            knowledge-base entry classifies are expired too (off: anyone can send any
            cookie name, and expiring each one costs response bytes).
        max_expiry_lines: the most ``Set-Cookie`` lines one response may carry to expire
            refused cookies; the rest wait for later responses.
        site_hosts: the host names the site is served on (``www.example.com``). They and
            their parent domains are the ``Domain=`` candidates when expiring refused
            cookies (never the request's ``Host`` header), and they bind consent tokens to
            this site.
        source: where the values came from, used in error messages.
    """

    revision: str = "1"
    cookies: tuple[CookieRule, ...] = ()
    consent_lifetime_days: int = 182
    refusal_lifetime_days: int | None = None
    unclassified: Category = "targeting"
    knowledge_base: bool = True
    knowledge_base_files: Sequence[str | Path] = ()
    texts: Mapping[Category, CategoryText] = field(default_factory=dict)
    site_name: str = ""
    privacy_url: str = ""
    controller: Controller = field(default_factory=Controller)
    known_hosts: tuple[str, ...] = ()
    block_unknown_hosts: bool = False
    honor_dnt: bool = False
    regions: Mapping[str, Any] = field(default_factory=dict)
    default_region: str = ""
    expire_unclassified: bool = False
    max_expiry_lines: int = 64
    site_hosts: tuple[str, ...] = ()
    services: tuple[Service, ...] = ()
    consent_mode: str = "basic"
    source: str = "Policy(...)"
    _registry: Registry = field(init=False, repr=False, compare=False)
    _services: ServiceIndex = field(init=False, repr=False, compare=False)
    _fingerprints: Mapping[Category, str] = field(init=False, repr=False, compare=False)
    _regions: RegionTable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.revision, str) or not self.revision.strip():
            raise ConfigError(
                "must be a non-empty string", source=src, key="revision", fix='e.g. "2026-11-01"'
            )
        for key in ("consent_lifetime_days", "refusal_lifetime_days"):
            value = getattr(self, key)
            if value is None and key == "refusal_lifetime_days":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"must be a whole number of days, got {value!r}",
                    source=src,
                    key=key,
                    fix="use a number between 1 and 395",
                )
            if value > MAX_LIFETIME_DAYS:
                raise ConfigError(
                    f"{value} days is longer than 13 months",
                    source=src,
                    key=key,
                    fix=f"use at most {MAX_LIFETIME_DAYS} days (182 is the usual choice)",
                )
        if not is_category(self.unclassified) or self.unclassified == "necessary":
            raise ConfigError(
                f"unknown or unsafe category {self.unclassified!r}",
                source=src,
                key="unclassified",
                fix="use performance, functionality or targeting",
            )
        for key in self.texts:
            if not is_category(key):
                raise ConfigError(
                    f"unknown category {key!r}",
                    source=src,
                    key=f"categories.{key}",
                    fix=f"use one of {', '.join(CATEGORIES)}",
                )
        object.__setattr__(self, "controller", Controller.coerce(self.controller, source=src))
        hosts = self.known_hosts
        if isinstance(hosts, str) or not all(isinstance(h, str) and h.strip() for h in hosts):
            raise ConfigError(
                "must be a list of host names",
                source=src,
                key="known_hosts",
                fix='write known_hosts = ["cdn.example.net"]',
            )
        normalized = tuple(h.strip().lower().rstrip(".").lstrip(".") for h in hosts)
        object.__setattr__(self, "known_hosts", normalized)
        self._check_hardening(src)
        cookies = tuple(self.cookies)
        for index, rule in enumerate(cookies):
            if not isinstance(rule, CookieRule):
                raise ConfigError(
                    f"expected a CookieRule, got {type(rule).__name__}",
                    source=src,
                    key=f"cookies[{index}]",
                    fix="build rules with CookieRule(name=..., category=...)",
                )
        reject_duplicate_rules(cookies, source=src)
        object.__setattr__(self, "cookies", cookies)
        if self.consent_mode not in CONSENT_MODES:
            raise ConfigError(
                f"unknown Google Consent Mode variant {self.consent_mode!r}",
                source=src,
                key="consent_mode",
                fix='use "basic" (the default) or "advanced"',
            )
        declared = load_services(list(self.services), source=src)
        object.__setattr__(self, "services", declared)
        named_by_services = service_rules(declared, cookies, source=src)
        object.__setattr__(
            self,
            "_registry",
            Registry(
                (*cookies, *named_by_services),
                use_knowledge_base=self.knowledge_base,
                site_knowledge_bases=self._site_knowledge_bases(),
            ),
        )
        object.__setattr__(self, "_fingerprints", self._compute_fingerprints())
        builtins = builtin_services() if self.knowledge_base else ()
        object.__setattr__(self, "_services", ServiceIndex((*declared, *builtins)))
        object.__setattr__(
            self,
            "_regions",
            parse_regions(self.regions, source=src, default_region=self.default_region),
        )

    def _check_hardening(self, src: str) -> None:
        limit = self.max_expiry_lines
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 1000:
            raise ConfigError(
                f"must be a whole number between 0 and 1000, got {limit!r}",
                source=src,
                key="max_expiry_lines",
                fix="use the default 64, or about 4 lines per cookie you expect to expire",
            )
        if isinstance(self.site_hosts, str) or not all(isinstance(h, str) for h in self.site_hosts):
            raise ConfigError(
                f"must be a list of host names, got {self.site_hosts!r}",
                source=src,
                key="site_hosts",
                fix='write site_hosts = ["www.example.com", "example.com"]',
            )
        hosts = tuple(h.strip().lower().rstrip(".") for h in self.site_hosts)
        for host in hosts:
            if not _HOST_NAME.fullmatch(host):
                raise ConfigError(
                    f"{host!r} is not a host name",
                    source=src,
                    key="site_hosts",
                    fix="list bare host names without scheme, port or path, e.g. example.com",
                )
        object.__setattr__(self, "site_hosts", hosts)

    @property
    def site_id(self) -> str:
        """What identifies this site in signed tokens: its hosts, else its name, else ``""``."""
        if self.site_hosts:
            return ",".join(sorted(set(self.site_hosts)))
        return self.site_name

    def _site_knowledge_bases(self) -> tuple[tuple[CookieRule, ...], ...]:
        files = self.knowledge_base_files
        if not isinstance(files, list | tuple) or not all(isinstance(f, str | Path) for f in files):
            raise ConfigError(
                f"must be a list of file paths, got {files!r}",
                source=self.source,
                key="knowledge_base_files",
                fix='write knowledge_base_files = ["site-cookies.toml"]',
            )
        object.__setattr__(self, "knowledge_base_files", tuple(files))
        return tuple(load_knowledge_base_file(path) for path in files)

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Read a policy from a TOML file; errors name the file, key and fix."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                "file not found", source=str(path), fix="check the path to the policy file"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"not valid TOML: {exc}", source=str(path), fix="fix the TOML syntax"
            ) from None
        files = data.get("knowledge_base_files")
        if isinstance(files, list):
            # Relative to the policy file, so the policy works from any working directory.
            data["knowledge_base_files"] = [
                str(path.parent / f) if isinstance(f, str) and not Path(f).is_absolute() else f
                for f in files
            ]
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "Policy.from_dict") -> Policy:
        """Build a policy from plain data (the TOML layout)."""
        reject_unknown_keys(data, _TOP_LEVEL_KEYS, source=source)
        raw_cookies = data.get("cookies", [])
        if not isinstance(raw_cookies, list):
            raise ConfigError(
                "must be an array of tables",
                source=source,
                key="cookies",
                fix='write each cookie as [[cookies]] with name = "..." and category = "..."',
            )
        rules = load_rules(raw_cookies, source_name=source)
        services = load_services(data.get("services", []), source=source)
        texts: dict[Category, CategoryText] = {}
        raw_cats = data.get("categories", {})
        if not isinstance(raw_cats, dict):
            raise ConfigError(
                "must be a table",
                source=source,
                key="categories",
                fix="write [categories.performance] with label and description",
            )
        for key, value in raw_cats.items():
            if not is_category(key):
                raise ConfigError(
                    f"unknown category {key!r}",
                    source=source,
                    key=f"categories.{key}",
                    fix=f"use one of {', '.join(CATEGORIES)}",
                )
            if isinstance(value, dict):
                reject_unknown_keys(
                    sorted(value),
                    ("label", "description"),
                    source=source,
                    where=f"categories.{key}",
                )
            if not isinstance(value, dict):
                raise ConfigError(
                    "must be a table with label and/or description",
                    source=source,
                    key=f"categories.{key}",
                    fix='write label = "..." and description = "..."',
                )
            default_label, default_desc = DEFAULT_TEXTS[key]
            texts[key] = CategoryText(
                str(value.get("label", default_label)),
                str(value.get("description", default_desc)),
            )
        kwargs: dict[str, Any] = {
            "cookies": rules,
            "services": services,
            "texts": texts,
            "source": source,
        }
        simple = {
            "revision": "revision",
            "consent_lifetime_days": "consent_lifetime_days",
            "refusal_lifetime_days": "refusal_lifetime_days",
            "unclassified": "unclassified",
            "knowledge_base": "knowledge_base",
            "knowledge_base_files": "knowledge_base_files",
            "site_name": "site_name",
            "privacy_url": "privacy_url",
            "controller": "controller",
            "known_hosts": "known_hosts",
            "block_unknown_hosts": "block_unknown_hosts",
            "honor_dnt": "honor_dnt",
            "regions": "regions",
            "default_region": "default_region",
            "expire_unclassified": "expire_unclassified",
            "max_expiry_lines": "max_expiry_lines",
            "site_hosts": "site_hosts",
            "consent_mode": "consent_mode",
        }
        for toml_key, attr in simple.items():
            if toml_key in data:
                kwargs[attr] = data[toml_key]
        if "revision" in kwargs and not isinstance(kwargs["revision"], str):
            kwargs["revision"] = str(kwargs["revision"])
        for key in ("known_hosts", "site_hosts"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        for key in ("knowledge_base", "honor_dnt", "block_unknown_hosts", "expire_unclassified"):
            if key in kwargs and not isinstance(kwargs[key], bool):
                raise ConfigError(
                    f"must be true or false, got {kwargs[key]!r}",
                    source=source,
                    key=key,
                    fix=f"write {key} = true or {key} = false",
                )
        return cls(**kwargs)

    # -- questions the rest of the library asks --------------------------------------------

    def classify(self, name: str, domain: str | None = None) -> Classification:
        """Classify a cookie: declared rules, then the knowledge base, else unclassified."""
        return self._registry.classify(name, domain)

    def required_category(self, name: str, domain: str | None = None) -> Category:
        """The category whose consent a cookie needs (unclassified maps to ``unclassified``)."""
        category = self._registry.classify(name, domain).category
        if category == "unclassified":
            return self.unclassified
        return category

    @property
    def service_index(self) -> ServiceIndex:
        """Declared services, then built-in ones (with the knowledge base on)."""
        return self._services

    def service_for_cookie(self, name: str, domain: str | None = None) -> Service | None:
        """The service a cookie belongs to: a service naming it, else its classification's
        provider; ``None`` when the cookie follows its category only."""
        found = self._services.for_cookie(name)
        if found is not None:
            return found
        rule = self._registry.classify(name, domain).rule
        return None if rule is None else self._services.for_provider(rule.provider)

    def service_for_host(self, host: str) -> Service | None:
        """The service a URL host (or a parent domain) belongs to, or ``None``."""
        return self._services.for_host(host)

    def declared_service_ids(self, category: str) -> tuple[str, ...]:
        """Ids of the services the policy declares in *category*, for re-consent."""
        return tuple(s.id for s in self.services if s.category == category)

    @property
    def region_table(self) -> RegionTable:
        """Regions and their consent models: built-in defaults with this policy's overrides."""
        return self._regions

    @property
    def registry(self) -> Registry:
        """The classification index built from this policy."""
        return self._registry

    def lifetime_days(self, granted: Iterable[str]) -> int:
        """How long a decision granting *granted* lasts: refusals may be shorter."""
        if self.refusal_lifetime_days is not None and not set(granted) - {"necessary"}:
            return self.refusal_lifetime_days
        return self.consent_lifetime_days

    def text(self, category: Category) -> CategoryText:
        """The label and description of *category* (site override or English default)."""
        if category in self.texts:
            return self.texts[category]
        label, description = DEFAULT_TEXTS[category]
        return CategoryText(label, description)

    def cookies_for(self, category: Category) -> Sequence[CookieRule]:
        """Declared and well-known cookies of a category, for the declaration page."""
        return self._registry.rules_for(category)

    def fingerprint(self, category: Category) -> str:
        """A short hash of the cookies declared in *category*.

        Stored with each grant so that declaring a new cookie in a category the
        visitor had granted asks them again about that category only.
        """
        return self._fingerprints[category]

    def _compute_fingerprints(self) -> dict[Category, str]:
        result: dict[Category, str] = {}
        for category in CATEGORIES:
            names = sorted(
                f"{r.match}:{r.name}:{r.domain or ''}"
                for r in self.cookies
                if r.category == category
            )
            digest = hashlib.sha256("\n".join(names).encode()).hexdigest()
            result[category] = digest[:8]
        return result

    @property
    def declares_only_necessary(self) -> bool:
        """True when the site declares cookies and all are strictly necessary.

        Such a site needs no banner (nothing to consent to), only its cookie
        declaration. A site that declares nothing relies on the knowledge base and
        gets the banner.
        """
        return bool(self.cookies) and all(r.category == "necessary" for r in self.cookies)
