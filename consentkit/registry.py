"""Cookie classification: the site's rules and the knowledge base compiled into a fast lookup.

The rules themselves (:class:`~consentkit.rules.CookieRule`, validation, loading) live in
:mod:`consentkit.rules`. A :class:`Registry` holds the site's declared rules and the
knowledge base shipped in ``consentkit/data/cookies.toml`` and answers
:meth:`Registry.classify` for every cookie name the middleware sees.

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

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from .categories import CATEGORIES, UNCLASSIFIED, Category, Classified, Source
from .errors import ConfigError
from .rules import (
    CookieRule,
    domain_allows,
    literal_prefix_of,
    name_matcher,
    normalize_domain,
)
from .rules import (
    knowledge_base as builtin_knowledge_base,
)

__all__ = ["Classification", "Registry"]

_CACHE_SIZE: Final = 4096
_NAME_PREFIXES: Final = ("__host-", "__secure-")


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


# --------------------------------------------------------------------------- lookup


_Candidate: TypeAlias = tuple[CookieRule, Callable[[str], bool]]


def _pick(candidates: Sequence[_Candidate], name: str, domain: str | None) -> CookieRule | None:
    """First matching candidate, preferring the best-supported domain evidence."""
    fallback: CookieRule | None = None
    for rule, matcher in candidates:
        if not domain_allows(rule.domain, domain) or not matcher(name):
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
            candidate = (rule, name_matcher(rule))
            if rule.match == "exact":
                exact.setdefault(rule.name, []).append(candidate)
            elif rule.match == "regex":
                regex.append(candidate)
            else:
                by_prefix.setdefault(literal_prefix_of(rule), []).append(candidate)
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
            self._kb = builtin_knowledge_base()
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
        key_domain = normalize_domain(domain) if self._uses_domains else None
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
