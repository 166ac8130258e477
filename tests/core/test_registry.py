"""Cookie classification: precedence, domains, configuration errors and robustness."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentkit.categories import CATEGORIES, Category
from consentkit.errors import ConfigError
from consentkit.registry import Classification, Registry
from consentkit.rules import CookieRule, MatchKind, knowledge_base, load_rules


def rule(
    name: str,
    category: Category = "necessary",
    match: MatchKind = "exact",
    *,
    domain: str | None = None,
    provider: str = "",
) -> CookieRule:
    return CookieRule(name, category, match, domain=domain, provider=provider or name)


def declared_only(*rules: CookieRule) -> Registry:
    return Registry(rules, use_knowledge_base=False)


def provider_of(registry: Registry, name: str, domain: str | None = None) -> str:
    return registry.classify(name, domain).provider


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize("exact_first", [True, False])
@pytest.mark.parametrize(
    ("pattern", "kind"),
    [("_ga", "prefix"), ("_ga*", "glob"), ("_g?", "glob"), ("_g.*", "regex")],
)
def test_exact_name_beats_any_pattern(exact_first: bool, pattern: str, kind: MatchKind) -> None:
    exact = rule("_ga", "performance", provider="exact")
    other = rule(pattern, "targeting", kind, provider="pattern")
    rules = (exact, other) if exact_first else (other, exact)
    result = declared_only(*rules).classify("_ga")
    assert result.rule is exact
    assert result.category == "performance"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("abcdz", "prefix-abcd"), ("abcz", "glob-abc"), ("abz", "prefix-ab"), ("abcd", "prefix-abcd")],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_longest_literal_prefix_wins(name: str, expected: str, reverse: bool) -> None:
    rules = [
        rule("ab", match="prefix", provider="prefix-ab"),
        rule("abc*", match="glob", provider="glob-abc"),
        rule("abcd", match="prefix", provider="prefix-abcd"),
    ]
    registry = declared_only(*(reversed(rules) if reverse else rules))
    assert provider_of(registry, name) == expected


@pytest.mark.parametrize("reverse", [False, True])
def test_equal_literal_prefixes_resolve_in_declaration_order(reverse: bool) -> None:
    rules = [rule("x_", match="prefix", provider="first"), rule("x_*", "targeting", "glob")]
    if reverse:
        rules = [rule("x_*", match="glob", provider="first"), rule("x_", "targeting", "prefix")]
    assert provider_of(declared_only(*rules), "x_1") == "first"


def test_glob_literal_prefix_stops_at_first_wildcard() -> None:
    # "a?cdef*" has literal prefix "a"; "ab*" has "ab", so "ab*" wins for "abcdefg".
    registry = declared_only(
        rule("a?cdef*", match="glob", provider="long-glob"),
        rule("ab*", match="glob", provider="ab"),
    )
    assert provider_of(registry, "abcdefg") == "ab"
    assert provider_of(registry, "axcdefg") == "long-glob"


def test_pattern_that_fails_falls_back_to_shorter_prefix() -> None:
    registry = declared_only(
        rule("_ga_*_x", match="glob", provider="specific"),
        rule("_ga", match="prefix", provider="general"),
    )
    assert provider_of(registry, "_ga_1_x") == "specific"
    assert provider_of(registry, "_ga_1_y") == "general"


@pytest.mark.parametrize(
    ("name", "matched"),
    [
        ("_ga_ABC123", True),
        ("_ga_", True),
        ("_ga", False),
        ("_gax", False),
        ("x_ga_1", False),
        ("_ga_a\nb", True),
    ],
)
def test_glob_star(name: str, matched: bool) -> None:
    registry = declared_only(rule("_ga_*", "performance", "glob"))
    assert registry.classify(name).is_known is matched


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "abbc", False),
        ("a[b]*", "a[b]x", True),  # brackets are literal, not a character class
        ("a[b]*", "abx", False),
        ("a.b*", "a.bc", True),
        ("a.b*", "axbc", False),
    ],
)
def test_glob_wildcards_and_literals(pattern: str, name: str, matched: bool) -> None:
    assert declared_only(rule(pattern, match="glob")).classify(name).is_known is matched
    assert rule(pattern, match="glob").matches(name) is matched


def test_regex_comes_after_prefix_and_glob_rules() -> None:
    registry = declared_only(
        rule("_gcl_.*", "necessary", "regex", provider="regex"),
        rule("_g*", "targeting", "glob", provider="glob"),
    )
    assert provider_of(registry, "_gcl_au") == "glob"


def test_regexes_resolve_in_declaration_order_and_match_whole_name() -> None:
    registry = declared_only(
        rule("ab", match="regex", provider="ab"),
        rule("a.*", match="regex", provider="a-any"),
        rule(".*", match="regex", provider="any"),
    )
    assert provider_of(registry, "ab") == "ab"
    assert provider_of(registry, "abc") == "a-any"  # "ab" must match the whole name
    assert provider_of(registry, "zzz") == "any"


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        (r"(a)\1x", "aax", True),
        (r"(a)\1x", "abx", False),
        (r"(?P<p>q)(?P=p)", "qq", True),
        ("(?i)foo", "FOO", True),
        ("(?i:bar)baz", "BARbaz", True),
        ("(?i:bar)baz", "barBAZ", False),
    ],
)
def test_regexes_that_cannot_be_combined_still_work(pattern: str, name: str, matched: bool) -> None:
    # Another regex sharing the index must not change the meaning of back-references or flags.
    registry = declared_only(rule("(z)\\1", match="regex"), rule(pattern, match="regex"))
    assert registry.classify(name).is_known is matched


def test_declared_rules_beat_the_knowledge_base_whatever_the_match_kind() -> None:
    kb = (CookieRule("_ga", "performance", source="knowledge_base", provider="kb"),)
    declared = (rule("_g.*", "necessary", "regex", provider="site"),)
    result = Registry(declared, knowledge_base=kb).classify("_ga")
    assert (result.category, result.source, result.provider) == ("necessary", "declared", "site")


def test_knowledge_base_answers_what_declared_rules_do_not() -> None:
    kb = (CookieRule("_ga", "performance", source="knowledge_base", provider="kb"),)
    result = Registry([rule("sessionid")], knowledge_base=kb).classify("_ga")
    assert (result.category, result.source, result.provider) == (
        "performance",
        "knowledge_base",
        "kb",
    )


def test_builtin_knowledge_base_can_be_turned_off() -> None:
    assert Registry().classify("_ga").category == "performance"
    assert Registry(use_knowledge_base=False).classify("_ga").category == "unclassified"
    assert Registry(use_knowledge_base=False).rules() == ()


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("domain", "matched"),
    [
        ("example.com", True),
        (".example.com", True),
        ("EXAMPLE.com", True),
        ("shop.sub.example.com", True),
        ("badexample.com", False),
        ("example.com.evil.org", False),
        ("example.org", False),
        (None, True),  # unknown domain (request Cookie header): matched by name
    ],
)
def test_domain_limited_rule(domain: str | None, matched: bool) -> None:
    limited = rule("uid", "targeting", domain=".Example.COM")
    assert limited.domain == "example.com"
    assert limited.matches("uid", domain) is matched
    assert declared_only(limited).classify("uid", domain).is_known is matched


def test_domain_limited_pattern_rules() -> None:
    registry = declared_only(rule("k_*", "targeting", "glob", domain="ads.test"))
    assert registry.classify("k_1", "x.ads.test").is_known
    assert not registry.classify("k_1", "site.test").is_known


@pytest.mark.parametrize("limited_first", [True, False])
def test_matching_domain_rule_beats_generic_rule_only_when_domain_known(
    limited_first: bool,
) -> None:
    limited = rule("JSESSIONID", "performance", domain="nr-data.net", provider="limited")
    generic = rule("JSESSIONID", "necessary", provider="generic")
    registry = declared_only(*((limited, generic) if limited_first else (generic, limited)))
    assert provider_of(registry, "JSESSIONID", "bam.nr-data.net") == "limited"
    assert provider_of(registry, "JSESSIONID", "example.com") == "generic"
    assert provider_of(registry, "JSESSIONID", None) == "generic"


def test_domain_limited_rule_is_used_when_domain_unknown_and_nothing_else_matches() -> None:
    registry = declared_only(rule("fr", "targeting", domain="facebook.com"))
    assert registry.classify("fr").category == "targeting"
    assert registry.classify("fr", "mysite.example").category == "unclassified"


# --------------------------------------------------------------------------- results


def test_unknown_cookie_is_unclassified() -> None:
    result = Registry().classify("totally-unknown-cookie-name")
    assert result == Classification("totally-unknown-cookie-name", "unclassified", "unknown", None)
    assert (result.provider, result.purpose, result.retention) == ("", "", "")
    assert not result.is_known


def test_classification_carries_rule_details() -> None:
    declared = CookieRule(
        "cart",
        "necessary",
        path="/shop",
        provider="This site",
        purpose="Keeps the basket.",
        retention="2 weeks",
    )
    result = declared_only(declared).classify("cart")
    assert (result.name, result.category, result.source) == ("cart", "necessary", "declared")
    assert (result.provider, result.purpose, result.retention) == (
        "This site",
        "Keeps the basket.",
        "2 weeks",
    )
    assert result.rule is not None
    assert result.rule.path == "/shop"


@pytest.mark.parametrize("prefix", ["__Host-", "__Secure-", "__host-", "__SECURE-"])
def test_cookie_name_prefixes_fall_back_to_the_bare_name(prefix: str) -> None:
    registry = declared_only(rule("sid", "functionality"))
    assert registry.classify(prefix + "sid").category == "functionality"
    assert registry.classify(prefix).category == "unclassified"


def test_rule_for_the_full_prefixed_name_wins_over_the_bare_name() -> None:
    registry = declared_only(
        rule("sid", "functionality", provider="bare"),
        rule("__Host-sid", "necessary", provider="full"),
    )
    assert provider_of(registry, "__Host-sid") == "full"


def test_rules_are_listed_declared_first_and_by_category() -> None:
    kb = (
        CookieRule("k1", "targeting", source="knowledge_base"),
        CookieRule("k2", "necessary", source="knowledge_base"),
    )
    declared = (rule("d1", "necessary"), rule("d2", "performance"))
    registry = Registry(declared, knowledge_base=kb)
    assert [r.name for r in registry.rules()] == ["d1", "d2", "k1", "k2"]
    assert [r.name for r in registry.rules_for("necessary")] == ["d1", "k2"]
    assert registry.rules_for("functionality") == ()
    for category in CATEGORIES:
        assert all(r.category == category for r in registry.rules_for(category))


def test_memoisation_does_not_change_results() -> None:
    registry = Registry([rule("a*", "targeting", "glob", domain="x.test")])
    names = [f"a{i}" for i in range(6000)] + [f"z{i}" for i in range(100)]
    first = [registry.classify(name, "x.test") for name in names]
    again = [registry.classify(name, "x.test") for name in names]  # the cache was overrun
    fresh = Registry([rule("a*", "targeting", "glob", domain="x.test")])
    assert first == again == [fresh.classify(name, "x.test") for name in names]
    assert registry.classify("a1", "y.test").category == "unclassified"
    assert registry.classify("a1", "X.TEST.").category == "targeting"


# --------------------------------------------------------------------------- configuration errors

GOOD = {"name": "sessionid", "category": "necessary"}


@pytest.mark.parametrize(
    ("entry", "key", "fix"),
    [
        ({"name": "x", "category": "analytics"}, "category", 'did you mean "performance"'),
        ({"name": "x", "category": "targetting"}, "category", 'did you mean "targeting"'),
        ({"name": "x", "category": "cookies"}, "category", "use one of necessary, performance"),
        ({"name": "x", "category": 3}, "category", "category ="),
        ({"name": "x"}, "category", "add category"),
        ({"category": "necessary"}, "name", "add name"),
        ({"name": "", "category": "necessary"}, "name", "name"),
        ({"name": 5, "category": "necessary"}, "name", "name ="),
        ({"name": "a=b", "category": "necessary"}, "name", "remove '='"),
        ({"name": " a", "category": "necessary"}, "name", "remove"),
        ({"name": "x", "catgory": "necessary"}, "catgory", 'did you mean "category"'),
        ({"name": "x", "category": "necessary", "colour": "red"}, "colour", "use only name"),
        ({"name": "x", "category": "necessary", "match": "wildcard"}, "match", "use one of exact"),
        ({"name": "(", "category": "necessary", "match": "regex"}, "name", "fix the pattern"),
        ({"name": "abc", "category": "necessary", "match": "glob"}, "name", 'match = "exact"'),
        ({"name": "x", "category": "necessary", "domain": "https://a.test"}, "domain", "bare"),
        ({"name": "x", "category": "necessary", "domain": "."}, "domain", "bare"),
        ({"name": "x", "category": "necessary", "path": "shop"}, "path", "path"),
        ({"name": "x", "category": "necessary", "purpose": ["a"]}, "purpose", "purpose ="),
    ],
)
def test_bad_cookie_entries_name_the_key_and_the_fix(
    entry: dict[str, Any], key: str, fix: str
) -> None:
    data = [GOOD, GOOD, GOOD, entry]
    with pytest.raises(ConfigError) as info:
        load_rules(data, source_name="site.toml")
    error = info.value
    assert error.source == "site.toml"
    assert error.key == f"cookies[3].{key}"
    assert fix in error.fix
    assert str(error).startswith(f"site.toml: cookies[3].{key}: ")


@pytest.mark.parametrize("entry", ["sessionid", 3, None, ["name", "x"]])
def test_non_table_entry_is_rejected(entry: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules([GOOD, entry], source_name="site.toml")
    assert info.value.key == "cookies[1]"


@pytest.mark.parametrize("data", [{"name": "x"}, "cookies", 3, None])
def test_cookies_must_be_a_list(data: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(data, source_name="site.toml")
    assert info.value.key == "cookies"
    assert "[[cookies]]" in info.value.fix


def test_load_rules_builds_rules_with_defaults() -> None:
    rules = load_rules(
        [
            GOOD,
            {
                "name": "_x_*",
                "match": "glob",
                "category": "targeting",
                "domain": ".Ads.Test",
                "path": "/",
                "provider": "Ads",
                "purpose": "Ads.",
                "retention": "1 day",
            },
        ],
        source_name="site.toml",
    )
    assert rules[0] == CookieRule("sessionid", "necessary")
    assert rules[1] == CookieRule(
        "_x_*", "targeting", "glob", "ads.test", "/", "Ads", "Ads.", "1 day", "declared"
    )
    assert load_rules([], source_name="site.toml") == ()


def test_invalid_rule_built_in_code_names_the_rule() -> None:
    with pytest.raises(ConfigError) as info:
        CookieRule("[", "necessary", "regex")
    assert "'['" in info.value.source
    assert info.value.key == "name"
    with pytest.raises(ConfigError, match="unknown category 'ads'"):
        CookieRule("x", "ads")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown rule source"):
        CookieRule("x", "necessary", source="unknown")


def test_registry_rejects_things_that_are_not_rules() -> None:
    with pytest.raises(ConfigError, match="expected CookieRule"):
        Registry([{"name": "x", "category": "necessary"}])  # type: ignore[list-item]


# --------------------------------------------------------------------------- robustness


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300), domain=st.one_of(st.none(), st.text(max_size=80)))
def test_classification_never_raises(name: str, domain: str | None) -> None:
    result = BUILTIN.classify(name, domain)
    assert result.name == name
    assert result.category in (*CATEGORIES, "unclassified")
    assert (result.rule is None) == (result.source == "unknown")


def _tier(candidate: CookieRule) -> tuple[int, int]:
    if candidate.match == "exact":
        return (0, 0)
    if candidate.match == "regex":
        return (2, 0)
    return (1, -len(candidate.literal_prefix))


def _naive(
    groups: Sequence[Sequence[CookieRule]], name: str, domain: str | None
) -> CookieRule | None:
    """The documented precedence, written as a slow linear scan."""
    for group in groups:
        matching = [r for r in group if r.matches(name, domain)]
        if matching:
            best = min(_tier(r) for r in matching)
            tied = [r for r in matching if _tier(r) == best]
            preferred = [r for r in tied if (r.domain is not None) == (domain is not None)]
            return (preferred or tied)[0]
    return None


def _oracle(
    groups: Sequence[Sequence[CookieRule]], name: str, domain: str | None
) -> CookieRule | None:
    found = _naive(groups, name, domain)
    lowered = name.lower()
    for prefix in ("__host-", "__secure-"):
        if found is None and lowered.startswith(prefix) and len(name) > len(prefix):
            found = _naive(groups, name[len(prefix) :], domain)
    return found


BUILTIN = Registry()
SITE_RULES = (
    rule("_ga", "necessary", provider="site-ga"),
    rule("_hj", "functionality", "prefix", provider="site-hj"),
    rule("wp-*", "performance", "glob", provider="site-wp"),
    rule("x[0-9]+", "targeting", "regex", provider="site-x"),
)
WITH_SITE = Registry(SITE_RULES)
KB_NAMES = sorted({r.name for r in knowledge_base()})
DOMAINS = [None, "example.com", "doubleclick.net", "www.linkedin.com", "bam.nr-data.net"]


@settings(max_examples=400, deadline=None)
@given(
    stem=st.sampled_from([*KB_NAMES, "_ga", "_hj", "wp-", "x1", "__Host-", "__Secure-_ga"]),
    suffix=st.one_of(st.just(""), st.text(alphabet="_-.0123456789abcXYZ*?", max_size=6)),
    domain=st.sampled_from(DOMAINS),
)
def test_index_agrees_with_a_linear_scan(stem: str, suffix: str, domain: str | None) -> None:
    name = stem + suffix
    expected = _oracle([SITE_RULES, knowledge_base()], name, domain)
    assert WITH_SITE.classify(name, domain).rule == expected
