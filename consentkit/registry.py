"""Cookie classification: declarative rules, the built-in knowledge base and a fast lookup.

A :class:`CookieRule` says which category a cookie belongs to, matched by exact name, name
prefix, glob (``*`` and ``?``) or regular expression, optionally limited to a domain.
A :class:`Registry` holds the site's declared rules and the knowledge base shipped in
``consentkit/data/cookies.toml`` and answers :meth:`Registry.classify` for every cookie name the
middleware sees.

Precedence, first match wins:

1. declared rules, then the site's own knowledge-base files in order, then the bundled
   knowledge base (a declared rule always beats any knowledge base);
2. within each group: an exact name, then prefix and glob rules by the length of their literal
   prefix (the part of a glob before its first wildcard; longest first, ties in declaration
   order), then regular expressions in declaration order;
3. among rules tied by the above, one limited to the cookie's domain beats one without a domain.
   When the cookie's domain is unknown (``None``, e.g. a name from a request ``Cookie`` header),
   domain-limited rules still match by name, after rules without a domain.

If nothing matches a name carrying a ``__Host-`` or ``__Secure-`` prefix, the name is looked up
again without it: the prefix is a browser-enforced attribute, not part of the cookie's identity.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal, NamedTuple, TypeAlias, cast

from consentkit.categories import CATEGORIES, UNCLASSIFIED, Category, Classified, Source
from consentkit.errors import ConfigError

__all__ = [
    "FAMILIES",
    "MATCH_KINDS",
    "Classification",
    "CookieRule",
    "MatchKind",
    "Registry",
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
_KB_RESOURCE: Final = "cookies.toml"
_CACHE_SIZE: Final = 4096
_NAME_PREFIXES: Final = ("__host-", "__secure-")
# Characters a browser never accepts in a cookie name, so a rule containing one can never match.
_FORBIDDEN_NAME_CHARS: Final = frozenset("=;,") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_CATEGORY_SYNONYMS: Final[Mapping[str, Category]] = {
    "essential": "necessary",
    "required": "necessary",
    "strictly_necessary": "necessary",
    "analytics": "performance",
    "statistics": "performance",
    "marketing": "targeting",
    "advertising": "targeting",
    "ads": "targeting",
    "preferences": "functionality",
    "functional": "functionality",
}
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
            object.__setattr__(self, "domain", _normalize_domain(self.domain) or self.domain)
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
        return _literal_prefix(self)

    def matches(self, name: str, domain: str | None = None) -> bool:
        """Return whether this rule alone matches the cookie *name* set for *domain*.

        With ``domain=None`` (unknown) a domain-limited rule matches by name only.
        """
        if not _domain_allows(self.domain, _normalize_domain(domain)):
            return False
        return _name_matcher(self)(name)


@dataclass(frozen=True, slots=True)
class Classification:
    """The result of classifying one cookie name."""

    name: str
    category: Classified
    source: Source
    rule: CookieRule | None

    @property
    def provider(self) -> str:
        """Who sets the cookie, or "" when unknown."""
        return self.rule.provider if self.rule else ""

    @property
    def purpose(self) -> str:
        """What the cookie is for, or "" when unknown."""
        return self.rule.purpose if self.rule else ""

    @property
    def retention(self) -> str:
        """How long the cookie lives, in words, or "" when unknown."""
        return self.rule.retention if self.rule else ""

    @property
    def is_known(self) -> bool:
        """Whether some rule matched."""
        return self.rule is not None


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
        _suggest(str(rule.category), CATEGORIES, _CATEGORY_SYNONYMS) or _CATEGORY_FIX,
    )


def _domain_problem(rule: CookieRule) -> _Problem | None:
    if rule.domain is None:
        return None
    domain = rule.domain
    if (
        not isinstance(domain, str)
        or not _normalize_domain(domain)
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
    if rule.source_url and not _is_https_url(rule.source_url):
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


def _is_https_url(value: object) -> bool:
    return (
        isinstance(value, str)
        and re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:[/?#]\S*)?", value)
        is not None
    )


def _suggest(value: str, choices: Sequence[str], synonyms: Mapping[str, str] | None = None) -> str:
    """Return a "did you mean" fix for *value*, or "" when nothing is close."""
    folded = value.strip().lower().replace("-", "_").replace(" ", "_")
    if synonyms and folded in synonyms:
        return f'did you mean "{synonyms[folded]}"?'
    close = difflib.get_close_matches(folded, choices, n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else ""


# --------------------------------------------------------------------------- matching helpers


def _normalize_domain(domain: str | None) -> str | None:
    """Lower-case *domain* and drop surrounding dots; ``None`` for nothing left."""
    if domain is None:
        return None
    normalized = domain.strip().strip(".").lower()
    return normalized or None


def _domain_allows(rule_domain: str | None, cookie_domain: str | None) -> bool:
    """Whether a rule limited to *rule_domain* may match a cookie of *cookie_domain*."""
    if rule_domain is None or cookie_domain is None:
        return True
    return cookie_domain == rule_domain or cookie_domain.endswith("." + rule_domain)


def _literal_prefix(rule: CookieRule) -> str:
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
def _name_matcher(rule: CookieRule) -> Callable[[str], bool]:
    """Return a predicate testing a cookie name against *rule* (domain aside)."""
    if rule.match == "exact":
        return rule.name.__eq__
    if rule.match == "prefix":
        return lambda name: name.startswith(rule.name)
    source = _glob_to_regex(rule.name) if rule.match == "glob" else rule.name
    compiled = re.compile(source, re.DOTALL if rule.match == "glob" else 0)
    return lambda name: compiled.fullmatch(name) is not None


_Candidate: TypeAlias = tuple[CookieRule, Callable[[str], bool]]


def _pick(candidates: Sequence[_Candidate], name: str, domain: str | None) -> CookieRule | None:
    """First matching candidate, preferring the best-supported domain evidence."""
    fallback: CookieRule | None = None
    for rule, matcher in candidates:
        if not _domain_allows(rule.domain, domain) or not matcher(name):
            continue
        # A known domain makes a domain-limited rule the more specific one; an unknown domain
        # makes it the weaker one, so it only serves as a fallback.
        preferred = (rule.domain is not None) == (domain is not None)
        if preferred:
            return rule
        if fallback is None:
            fallback = rule
    return fallback


class _Index:
    """One precedence group (declared or knowledge base) compiled for fast lookup."""

    __slots__ = ("_by_prefix", "_exact", "_prefix_lengths", "_regex", "_regex_filter")

    def __init__(self, rules: Sequence[CookieRule]) -> None:
        exact: dict[str, list[_Candidate]] = {}
        by_prefix: dict[str, list[_Candidate]] = {}
        regex: list[_Candidate] = []
        for rule in rules:
            candidate = (rule, _name_matcher(rule))
            if rule.match == "exact":
                exact.setdefault(rule.name, []).append(candidate)
            elif rule.match == "regex":
                regex.append(candidate)
            else:
                by_prefix.setdefault(_literal_prefix(rule), []).append(candidate)
        self._exact = {key: tuple(value) for key, value in exact.items()}
        self._by_prefix = {key: tuple(value) for key, value in by_prefix.items()}
        self._prefix_lengths = tuple(sorted({len(key) for key in by_prefix}, reverse=True))
        self._regex = tuple(regex)
        self._regex_filter = _combined_regex([rule.name for rule, _ in regex])

    def lookup(self, name: str, domain: str | None) -> CookieRule | None:
        """Return the rule of this group that wins for *name*, if any."""
        candidates = self._exact.get(name)
        if candidates:
            found = _pick(candidates, name, domain)
            if found is not None:
                return found
        size = len(name)
        for length in self._prefix_lengths:
            if length > size:
                continue
            candidates = self._by_prefix.get(name[:length])
            if candidates:
                found = _pick(candidates, name, domain)
                if found is not None:
                    return found
        if not self._regex:
            return None
        if self._regex_filter is not None and self._regex_filter.fullmatch(name) is None:
            return None
        return _pick(self._regex, name, domain)


def _combined_regex(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One alternation of all *patterns*, used to reject non-matching names in a single pass.

    Returns ``None`` (check each pattern instead) when combining could change a pattern's
    meaning: numbered or named back-references, or inline flags, which only work alone.
    """
    if not patterns or any(re.search(r"\\\d|\(\?P[=<]|\(\?[aiLmsux]+\)", p) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
    except re.error:
        return None


# --------------------------------------------------------------------------- registry


class Registry:
    """Classifies cookie names with declared rules first, then the knowledge base.

    Instances are immutable after construction and safe to share between requests and
    threads; results are memoised in a bounded LRU cache.
    """

    def __init__(
        self,
        declared: Sequence[CookieRule] = (),
        *,
        use_knowledge_base: bool = True,
        knowledge_base: Sequence[CookieRule] | None = None,
        site_knowledge_bases: Sequence[Sequence[CookieRule]] = (),
    ) -> None:
        self._declared = tuple(declared)
        # Site-local knowledge-base files: each one a precedence group between the declared
        # rules and the bundled base, in the order given.
        self._site = tuple(tuple(group) for group in site_knowledge_bases)
        if not use_knowledge_base:
            self._kb: tuple[CookieRule, ...] = ()
        elif knowledge_base is None:
            self._kb = _builtin_knowledge_base()
        else:
            self._kb = tuple(knowledge_base)
        for rule in (*self._declared, *(r for group in self._site for r in group), *self._kb):
            if not isinstance(rule, CookieRule):
                raise ConfigError(
                    f"expected CookieRule, got {type(rule).__name__}",
                    source="Registry(...)",
                    key="declared",
                    fix="build rules with CookieRule(...) or load_rules(...)",
                )
        self._groups: tuple[tuple[_Index, Source], ...] = (
            (_Index(self._declared), "declared"),
            *((_Index(group), "knowledge_base") for group in self._site),
            (_Index(self._kb), "knowledge_base"),
        )
        self._by_category: dict[str, tuple[CookieRule, ...]] = {
            category: tuple(rule for rule in self.rules() if rule.category == category)
            for category in CATEGORIES
        }
        self._uses_domains = any(rule.domain is not None for rule in self.rules())
        self._cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._classify)

    def classify(self, name: str, domain: str | None = None) -> Classification:
        """Classify the cookie *name*, set for *domain* (``None`` when unknown).

        Never raises for any string: an unmatched name is ``unclassified`` from source
        ``unknown``.
        """
        # Without domain-limited rules the domain cannot change the answer: keep it out of
        # the cache key so one name is cached once.
        key_domain = _normalize_domain(domain) if self._uses_domains else None
        return self._cached(name, key_domain)

    def rules(self) -> tuple[CookieRule, ...]:
        """All rules in precedence-group order: declared, site knowledge bases, bundled base."""
        return self._declared + tuple(r for group in self._site for r in group) + self._kb

    def rules_for(self, category: Category) -> tuple[CookieRule, ...]:
        """The rules (declared first) that put cookies in *category*."""
        return self._by_category.get(category, ())

    def _classify(self, name: str, domain: str | None) -> Classification:
        found = self._lookup(name, domain)
        if found is None:
            stripped = _strip_name_prefix(name)
            if stripped is not None:
                found = self._lookup(stripped, domain)
        if found is None:
            return Classification(name, UNCLASSIFIED, "unknown", None)
        rule, source = found
        return Classification(name, rule.category, source, rule)

    def _lookup(self, name: str, domain: str | None) -> tuple[CookieRule, Source] | None:
        for index, source in self._groups:
            rule = index.lookup(name, domain)
            if rule is not None:
                return rule, source
        return None


def _strip_name_prefix(name: str) -> str | None:
    lowered = name[:9].lower()
    for prefix in _NAME_PREFIXES:
        if lowered.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return None


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
            _bare_message(exc), source=source_name, key=f"{key}.{exc.key}", fix=exc.fix
        ) from None


def _bare_message(exc: ConfigError) -> str:
    """The message of *exc* without the source, key and fix decorations."""
    text = str(exc)
    head = f"{exc.source}: " + (f"{exc.key}: " if exc.key else "")
    tail = f" (fix: {exc.fix})" if exc.fix else ""
    text = text.removeprefix(head)
    return text[: -len(tail)] if tail and text.endswith(tail) else text


def _reject_unknown_keys(
    table: Mapping[Any, object], allowed: Sequence[str], *, source_name: str, key: str
) -> None:
    for name in table:
        if name not in allowed:
            hint = _suggest(str(name), allowed)
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
                fix=_suggest(str(family), FAMILIES) or "use one of " + ", ".join(FAMILIES),
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
