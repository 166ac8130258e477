"""Cookie rules: what a declared or known cookie looks like, validation, and loading.

A :class:`CookieRule` says which category a cookie belongs to, matched by exact name, name
prefix, glob (``*`` and ``?``) or regular expression, optionally limited to a domain. An
invalid rule raises :class:`~consentkit.errors.ConfigError` naming the field and the fix.
:func:`load_rules` builds rules from a policy's ``[[cookies]]`` tables and
:func:`knowledge_base` loads the built-in ``consentkit/data/cookies.toml``.
:mod:`consentkit.registry` compiles rules into a fast lookup.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal, NamedTuple, TypeAlias, cast

from .categories import CATEGORIES, CATEGORY_SYNONYMS, Category, Source
from .errors import ConfigError, did_you_mean

__all__ = [
    "FAMILIES",
    "MATCH_KINDS",
    "CookieRule",
    "MatchKind",
    "is_https_url",
    "knowledge_base",
    "load_knowledge_base",
    "load_rules",
]

MatchKind: TypeAlias = Literal["exact", "prefix", "glob", "regex"]
"""How :attr:`CookieRule.name` is compared with a cookie name."""

MATCH_KINDS: Final[tuple[MatchKind, ...]] = ("exact", "prefix", "glob", "regex")

_RULE_KEYS: Final = (
    "name",
    "match",
    "category",
    "domain",
    "path",
    "provider",
    "purpose",
    "retention",
)
# Keys only knowledge-base entries carry (bundled or site files), not a policy's [[cookies]].
_KB_RULE_KEYS: Final = (*_RULE_KEYS, "source", "necessary_because", "generic")
_PLATFORM_KEYS: Final = ("name", "vendor", "category", "family", "website", "source", "cookies")
FAMILIES: Final[tuple[str, ...]] = (
    "cms",
    "framework",
    "analytics",
    "advertising",
    "marketing",
    "testing",
    "security",
    "infrastructure",
    "payments",
    "media",
    "consent",
    "site",
)
"""Kinds of platform a knowledge-base ``family`` names (what the vendor mainly does)."""
_HTTPS_URL: Final = re.compile(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:[/?#]\S*)?")


def is_https_url(value: object) -> bool:
    """Whether *value* is an absolute ``https://`` URL with a host name (a cited source)."""
    return isinstance(value, str) and _HTTPS_URL.fullmatch(value) is not None


_KB_RESOURCE: Final = "cookies.toml"
# Characters a browser never accepts in a cookie name, so a rule containing one can never match.
_FORBIDDEN_NAME_CHARS: Final = frozenset("=;,") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_CATEGORY_FIX: Final = "use one of " + ", ".join(CATEGORIES)


# --------------------------------------------------------------------------- rules


class _Problem(NamedTuple):
    field: str
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class CookieRule:
    """How to recognise one cookie (or family of cookies) and what it is for.

    ``domain`` is stored normalised (lower case, no leading dot). ``path`` is informative: it is
    used to expire the cookie, never to match it. An invalid rule raises
    :class:`~consentkit.errors.ConfigError` when constructed.
    """

    name: str
    category: Category
    match: MatchKind = "exact"
    domain: str | None = None
    path: str | None = None
    provider: str = ""
    purpose: str = ""
    retention: str = ""
    source: Source = "declared"
    source_url: str = ""
    necessary_because: str = ""
    generic: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.domain, str):
            object.__setattr__(self, "domain", normalize_domain(self.domain) or self.domain)
        problem = _rule_problem(self)
        if problem is not None:
            raise ConfigError(
                problem.message,
                source=f"CookieRule(name={self.name!r})",
                key=problem.field,
                fix=problem.fix,
            )

    @property
    def literal_prefix(self) -> str:
        """The literal start every matching name shares ("" for a regex)."""
        return literal_prefix_of(self)

    def matches(self, name: str, domain: str | None = None) -> bool:
        """Return whether this rule alone matches the cookie *name* set for *domain*.

        With ``domain=None`` (unknown) a domain-limited rule matches by name only.
        """
        if not domain_allows(self.domain, normalize_domain(domain)):
            return False
        return name_matcher(self)(name)


def _rule_problem(rule: CookieRule) -> _Problem | None:
    """Return the first thing wrong with *rule*, or ``None``."""
    for check in (_name_problem, _category_problem, _domain_problem, _text_problem):
        problem = check(rule)
        if problem is not None:
            return problem
    return None


def _name_problem(rule: CookieRule) -> _Problem | None:
    if rule.match not in MATCH_KINDS:
        return _Problem(
            "match",
            f"unknown match kind {rule.match!r} for rule {rule.name!r}",
            "use one of " + ", ".join(MATCH_KINDS),
        )
    if not isinstance(rule.name, str) or not rule.name:
        return _Problem("name", "a cookie rule needs a non-empty name", 'set name = "..."')
    if rule.match == "regex":
        return _regex_problem(rule.name)
    bad = sorted(set(rule.name) & _FORBIDDEN_NAME_CHARS)
    if bad or rule.name != rule.name.strip():
        return _Problem(
            "name",
            f"{rule.name!r} cannot be a cookie name (it contains {bad or 'outer spaces'!r})",
            "remove '=', ';', ',', spaces and control characters from the name",
        )
    if rule.match == "glob" and not ({"*", "?"} & set(rule.name)):
        return _Problem(
            "name",
            f"glob {rule.name!r} has no '*' or '?' wildcard",
            'add a wildcard or use match = "exact"',
        )
    return None


def _regex_problem(pattern: str) -> _Problem | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return _Problem(
            "name",
            f"invalid regular expression {pattern!r}: {exc}",
            "fix the pattern (Python re syntax, matched against the whole name)",
        )
    return None


def _category_problem(rule: CookieRule) -> _Problem | None:
    if rule.category in CATEGORIES:
        return None
    return _Problem(
        "category",
        f"unknown category {rule.category!r} for rule {rule.name!r}",
        did_you_mean(str(rule.category), CATEGORIES, synonyms=CATEGORY_SYNONYMS) or _CATEGORY_FIX,
    )


def _domain_problem(rule: CookieRule) -> _Problem | None:
    if rule.domain is None:
        return None
    domain = rule.domain
    if (
        not isinstance(domain, str)
        or not normalize_domain(domain)
        or any(c in domain for c in " /:@")
    ):
        return _Problem(
            "domain",
            f"{domain!r} is not a domain name (rule {rule.name!r})",
            'write a bare host name such as "example.com", or omit domain',
        )
    return None


def _text_problem(rule: CookieRule) -> _Problem | None:
    if rule.path is not None and (not isinstance(rule.path, str) or not rule.path.startswith("/")):
        return _Problem(
            "path", f"path {rule.path!r} must start with '/'", 'write a path such as "/"'
        )
    for field in ("provider", "purpose", "retention"):
        if not isinstance(getattr(rule, field), str):
            return _Problem(field, f"{field} must be a string", f'write {field} = "..."')
    if rule.source_url and not is_https_url(rule.source_url):
        return _Problem(
            "source",
            f"{rule.source_url!r} is not an https URL",
            'cite the vendor documentation as "https://..."',
        )
    if not isinstance(rule.necessary_because, str) or not isinstance(rule.generic, bool):
        return _Problem("necessary_because", "necessary_because must be a string", 'write "..."')
    if rule.necessary_because and rule.category != "necessary":
        return _Problem(
            "necessary_because",
            f"{rule.name!r} explains why it is necessary but is {rule.category!r}",
            'remove necessary_because or set category = "necessary"',
        )
    if rule.source not in ("declared", "knowledge_base"):
        return _Problem(
            "source", f"unknown rule source {rule.source!r}", 'use "declared" or "knowledge_base"'
        )
    return None


# --------------------------------------------------------------------------- matching helpers


def normalize_domain(domain: str | None) -> str | None:
    """Lower-case *domain* and drop surrounding dots; ``None`` for nothing left."""
    if domain is None:
        return None
    normalized = domain.strip().strip(".").lower()
    return normalized or None


def domain_allows(rule_domain: str | None, cookie_domain: str | None) -> bool:
    """Whether a rule limited to *rule_domain* may match a cookie of *cookie_domain*."""
    if rule_domain is None or cookie_domain is None:
        return True
    return cookie_domain == rule_domain or cookie_domain.endswith("." + rule_domain)


def literal_prefix_of(rule: CookieRule) -> str:
    if rule.match == "glob":
        return re.split(r"[*?]", rule.name, maxsplit=1)[0]
    if rule.match == "regex":
        return ""
    return rule.name


def _glob_to_regex(pattern: str) -> str:
    # Only * and ? are wildcards: brackets are legal (if odd) in cookie names.
    parts = {"*": ".*", "?": "."}
    return "".join(parts.get(char, re.escape(char)) for char in pattern)


@functools.lru_cache(maxsize=1024)
def name_matcher(rule: CookieRule) -> Callable[[str], bool]:
    """Return a predicate testing a cookie name against *rule* (domain aside)."""
    if rule.match == "exact":
        return rule.name.__eq__
    if rule.match == "prefix":
        return lambda name: name.startswith(rule.name)
    source = _glob_to_regex(rule.name) if rule.match == "glob" else rule.name
    compiled = re.compile(source, re.DOTALL if rule.match == "glob" else 0)
    return lambda name: compiled.fullmatch(name) is not None


# --------------------------------------------------------------------------- loading


def load_rules(
    data: object,
    *,
    source_name: str,
    source: Source = "declared",
    key: str = "cookies",
) -> tuple[CookieRule, ...]:
    """Build rules from the ``[[cookies]]`` tables of a TOML policy (a list of mappings).

    Each table has ``name`` and ``category`` and optionally ``match`` (default ``exact``),
    ``domain``, ``path``, ``provider``, ``purpose`` and ``retention``. A bad entry raises
    :class:`~consentkit.errors.ConfigError` naming *source_name*, the key (e.g.
    ``cookies[3].category``, counted from 0) and the fix.
    """
    tables = _as_list(data, source_name=source_name, key=key)
    return tuple(
        _rule_from_table(table, source_name=source_name, key=f"{key}[{i}]", source=source)
        for i, table in enumerate(tables)
    )


def _as_list(data: object, *, source_name: str, key: str) -> list[object]:
    if isinstance(data, list | tuple):
        return list(data)
    raise ConfigError(
        f"expected a list of tables, got {type(data).__name__}",
        source=source_name,
        key=key,
        fix=f"write each entry as a [[{key}]] table",
    )


def _rule_from_table(
    table: object,
    *,
    source_name: str,
    key: str,
    source: Source,
    defaults: Mapping[str, str] | None = None,
    allowed: Sequence[str] = _RULE_KEYS,
) -> CookieRule:
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"expected a table, got {type(table).__name__}",
            source=source_name,
            key=key,
            fix='write the entry as a table: { name = "...", category = "..." }',
        )
    _reject_unknown_keys(table, allowed, source_name=source_name, key=key)
    values: dict[str, object] = {**(defaults or {}), **table}
    generic = values.pop("generic", False)
    if not isinstance(generic, bool):
        raise ConfigError(
            f"generic must be true or false, got {generic!r}",
            source=source_name,
            key=f"{key}.generic",
            fix="write generic = true for a name many sites use for their own cookie",
        )
    for required in ("name", "category"):
        if required not in values:
            raise ConfigError(
                f"missing required key {required!r}",
                source=source_name,
                key=f"{key}.{required}",
                fix=f'add {required} = "..."',
            )
    for field, value in values.items():
        if not isinstance(value, str):
            raise ConfigError(
                f"{field} must be a string, got {type(value).__name__}",
                source=source_name,
                key=f"{key}.{field}",
                fix=f'write {field} = "..."',
            )
    strings = cast(dict[str, str], values)
    try:
        return CookieRule(
            name=strings["name"],
            category=cast(Category, strings["category"]),
            match=cast(MatchKind, strings.get("match", "exact")),
            domain=strings.get("domain"),
            path=strings.get("path"),
            provider=strings.get("provider", ""),
            purpose=strings.get("purpose", ""),
            retention=strings.get("retention", ""),
            source=source,
            source_url=strings.get("source", ""),
            necessary_because=strings.get("necessary_because", ""),
            generic=generic,
        )
    except ConfigError as exc:
        raise ConfigError(
            exc.problem, source=source_name, key=f"{key}.{exc.key}", fix=exc.fix
        ) from None


def _reject_unknown_keys(
    table: Mapping[Any, object], allowed: Sequence[str], *, source_name: str, key: str
) -> None:
    for name in table:
        if name not in allowed:
            hint = did_you_mean(str(name), allowed)
            raise ConfigError(
                f"unknown key {name!r}",
                source=source_name,
                key=f"{key}.{name}",
                fix=hint or "use only " + ", ".join(allowed),
            )


def load_knowledge_base(
    document: Mapping[str, object], *, source_name: str
) -> tuple[CookieRule, ...]:
    """Build knowledge-base rules from a parsed ``cookies.toml`` document.

    The document holds ``[[platform]]`` tables (``name``, ``vendor``, ``category``,
    ``website``) each with a ``cookies`` list; a cookie's ``provider`` defaults to the
    platform name, its ``category`` and ``source`` (documentation URL) to the platform's.
    Entries may also say ``necessary_because`` (why a vendor's cookie is strictly necessary)
    and ``generic = true`` (a name many sites use for a cookie of their own).
    """
    _reject_unknown_keys(document, ("platform",), source_name=source_name, key="(top level)")
    rules: list[CookieRule] = []
    platforms = _as_list(document.get("platform", []), source_name=source_name, key="platform")
    for i, platform in enumerate(platforms):
        where = f"platform[{i}]"
        if not isinstance(platform, Mapping):
            raise ConfigError(
                "expected a table", source=source_name, key=where, fix="use [[platform]]"
            )
        _reject_unknown_keys(platform, _PLATFORM_KEYS, source_name=source_name, key=where)
        defaults = {"provider": str(platform.get("name", ""))}
        for inherited in ("category", "source"):
            if inherited in platform:
                defaults[inherited] = str(platform[inherited])
        family = platform.get("family")
        if family is not None and family not in FAMILIES:
            raise ConfigError(
                f"unknown family {family!r}",
                source=source_name,
                key=f"{where}.family",
                fix=did_you_mean(str(family), FAMILIES, or_list="use one of "),
            )
        cookies = _as_list(
            platform.get("cookies", []), source_name=source_name, key=f"{where}.cookies"
        )
        for j, table in enumerate(cookies):
            rules.append(
                _rule_from_table(
                    table,
                    source_name=source_name,
                    key=f"{where}.cookies[{j}]",
                    source="knowledge_base",
                    defaults=defaults,
                    allowed=_KB_RULE_KEYS,
                )
            )
    return tuple(rules)


@functools.cache
def _builtin_knowledge_base() -> tuple[CookieRule, ...]:
    resource = resources.files("consentkit") / "data" / _KB_RESOURCE
    with resource.open("rb") as stream:
        document = tomllib.load(stream)
    return load_knowledge_base(document, source_name=f"consentkit/data/{_KB_RESOURCE}")


def knowledge_base() -> tuple[CookieRule, ...]:
    """The built-in cookie knowledge base, loaded once on first use."""
    return _builtin_knowledge_base()


def reject_duplicate_rules(rules: Sequence[CookieRule], *, source: str) -> None:
    """Two declarations of one cookie are a mistake even when they agree: one would be dead."""
    seen: dict[tuple[str, str, str], int] = {}
    for index, rule in enumerate(rules):
        key = (rule.match, rule.name, rule.domain or "")
        first = seen.setdefault(key, index)
        if first == index:
            continue
        other = rules[first]
        verb = "conflict" if other.category != rule.category else "repeat each other"
        raise ConfigError(
            f"cookies[{first}] ({other.name!r}, {other.category}) and cookies[{index}] "
            f"({rule.name!r}, {rule.category}) declare the same cookie and {verb}",
            source=source,
            key=f"cookies[{index}]",
            fix=f"keep one of the two entries for {rule.name!r}",
        )
