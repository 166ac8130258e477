"""Knowledge-base files: retention parsing, site-local files, Open Cookie Database import, stats.

The bundled knowledge base (``consentkit/data/cookies.toml``) and a site's own knowledge-base
files share one format (see ``docs/knowledge-base.md``). This module reads site files, converts
a cookie database in the Open Cookie Database CSV layout into that format, and counts what a
knowledge base holds.

Open Cookie Database categories map to consentkit's four as follows (:data:`OCD_CATEGORIES`):

========================  ===============  ==================================================
Open Cookie Database      consentkit       why
========================  ===============  ==================================================
Security                  necessary        bot protection, CSRF and fraud checks must run
                                           before any choice
Functional                functionality    the category mixes strictly necessary cookies
                                           with preferences; the stricter reading is safe
                                           (a site promotes what it needs by declaring it)
Personalization           functionality    remembers the visitor's choices
Analytics                 performance      measurement
Marketing                 targeting        advertising and cross-site profiling
========================  ===============  ==================================================
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

from .categories import CATEGORIES, Category
from .errors import ConfigError
from .rules import CookieRule, is_https_url, load_knowledge_base

__all__ = [
    "OCD_CATEGORIES",
    "OCD_COLUMNS",
    "ImportResult",
    "KnowledgeBaseStats",
    "Retention",
    "import_open_cookie_database",
    "knowledge_base_stats",
    "load_knowledge_base_file",
    "parse_retention",
]

OCD_COLUMNS: Final[tuple[str, ...]] = (
    "ID",
    "Platform",
    "Category",
    "Cookie / Data Key name",
    "Domain",
    "Description",
    "Retention period",
    "Data Controller",
    "User Privacy & GDPR Rights Portals",
    "Wildcard match",
)
"""The columns of the Open Cookie Database CSV file, in order."""

OCD_CATEGORIES: Final[Mapping[str, Category]] = {
    "security": "necessary",
    "functional": "functionality",
    "personalization": "functionality",
    "personalisation": "functionality",
    "analytics": "performance",
    "marketing": "targeting",
}
"""Open Cookie Database category (lower case) to consentkit category; see the module doc."""

# ------------------------------------------------------------------------- retention

_UNITS: Final[Mapping[str, timedelta]] = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30.4375),
    "year": timedelta(days=365.25),
}
# Words a retention may use besides numbers, units and "session": qualifiers such as
# "up to 1 year", "30 minutes by default, configurable" or "persistent (until cleared)".
_FILLER: Final = frozenset(
    (
        *("up", "to", "about", "by", "default", "configurable", "commonly", "or", "at"),
        *("most", "of", "inactivity", "renewed", "while", "active", "set", "the", "site"),
        *("short-lived", "persistent", "lifetime", "not", "published", "deleted", "right"),
        *("after", "being", "immunity", "time", "until", "cleared", "sign-out", "end"),
        *("browser", "closes", "last"),
    )
)
_TOKEN: Final = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Retention:
    """A retention text understood: whether it can be a session cookie and its longest life.

    ``longest`` is ``None`` when the text states no duration ("session", "configurable",
    "persistent (lifetime not published)").
    """

    text: str
    session: bool
    longest: timedelta | None


def parse_retention(text: str) -> Retention:
    """Understand a retention such as "2 years", "session", "up to 13 months".

    Raises :class:`ValueError` naming the first word it does not understand, so a knowledge
    base can be checked for retentions a scanner could not compare with real lifetimes.
    """
    lowered = text.strip().lower()
    if not lowered:
        raise ValueError("empty retention")
    tokens = _TOKEN.findall(lowered)
    leftovers = _TOKEN.sub(" ", lowered).replace(",", " ").replace("(", " ").replace(")", " ")
    if leftovers.strip():
        raise ValueError(f"unexpected characters {leftovers.strip()!r} in retention {text!r}")
    longest: timedelta | None = None
    session = False
    number: float | None = None
    for word in tokens:
        if word[0].isdigit():
            number = float(word)
            continue
        unit = word[:-1] if word.endswith("s") and word[:-1] in _UNITS else word
        if unit in _UNITS:
            if number is None:
                raise ValueError(f"{word!r} without a number in retention {text!r}")
            span = number * _UNITS[unit]
            longest = span if longest is None else max(longest, span)
            number = None
        elif word == "session":
            session = True
        elif word not in _FILLER:
            raise ValueError(f"unknown word {word!r} in retention {text!r}")
    if number is not None:
        raise ValueError(f"number without a unit in retention {text!r}")
    return Retention(text, session, longest)


# ------------------------------------------------------------------------- site files


def load_knowledge_base_file(path: str | Path) -> tuple[CookieRule, ...]:
    """Read a site-local knowledge-base TOML file (the bundled ``cookies.toml`` format).

    Errors name the file, the entry (``platform[2].cookies[5].category``) and the fix.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "knowledge-base file not found",
            source=str(path),
            fix="check knowledge_base_files (relative paths start at the policy file)",
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read the knowledge-base file: {exc}", source=str(path), fix="fix the file"
        ) from None
    return load_knowledge_base(document, source_name=str(path))


# ------------------------------------------------------------------------- OCD import


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of :func:`import_open_cookie_database`."""

    toml: str
    """The knowledge-base file, ready to write."""
    rules: tuple[CookieRule, ...]
    """The rules the file holds, in file order."""
    errors: tuple[str, ...] = ()
    """One message per bad row, naming its line ("line 7: ..."); empty when all rows are good."""
    skipped: tuple[str, ...] = ()
    """One message per row left out on purpose (duplicates, names already known)."""


@dataclass
class _Platform:
    name: str
    vendor: str = ""
    source: str = ""
    cookies: list[dict[str, str]] = field(default_factory=list)
    rules: list[CookieRule] = field(default_factory=list)


_DOMAIN: Final = re.compile(r"^\.?([a-z0-9-]+(?:\.[a-z0-9-]+)+)$")
_THIRD_PARTY: Final = re.compile(r"^\s*\.?([a-z0-9-]+(?:\.[a-z0-9-]+)+)\s*\(3rd party\)\s*$")
_COUNT_SUFFIX: Final = re.compile(r"\s*\[x\d+\]\s*$", re.IGNORECASE)
_PLACEHOLDER: Final = re.compile(r"<[^<>]*>|\{[^{}]*\}|\[[^\[\]]*\]")


def import_open_cookie_database(
    text: str,
    *,
    source_name: str = "cookies.csv",
    known: Iterable[CookieRule] = (),
) -> ImportResult:
    """Convert Open Cookie Database CSV *text* into a site-local knowledge-base file.

    Each row becomes one cookie rule: the category mapped by :data:`OCD_CATEGORIES`, the name
    cleaned of annotations ("CookieConsent [x4]"), ``<placeholders>`` turned into ``*``
    wildcards, "Wildcard match" 1 turned into a prefix rule, and the domain kept only when the
    row names a single third-party domain (a first-party cookie can be set on any site).
    Rows whose (name, match) a rule in *known* already has are skipped (pass the bundled
    knowledge base to import only what it lacks). Bad rows are reported in ``errors`` by
    line; the caller decides whether to write the file anyway.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    errors: list[str] = []
    skipped: list[str] = []
    try:
        header = next(reader)
    except StopIteration:
        return ImportResult("", (), (f"{source_name}: the file is empty",))
    except csv.Error as exc:
        return ImportResult("", (), (f"{source_name}: line 1: {exc}",))
    columns = [column.strip() for column in header]
    missing = [name for name in OCD_COLUMNS if name not in columns]
    if missing:
        return ImportResult(
            "",
            (),
            (
                f"{source_name}: line 1: missing column(s) {', '.join(missing)}; "
                f"expected the header {','.join(OCD_COLUMNS)}",
            ),
        )
    index = {name: columns.index(name) for name in OCD_COLUMNS}
    known_keys = {(rule.name, rule.match) for rule in known}
    seen: dict[tuple[str, str, str | None], int] = {}
    platforms: dict[str, _Platform] = {}
    line = reader.line_num + 1
    while True:
        start = line
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"{source_name}: line {start}: {exc}")
            break
        line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(columns):
            errors.append(
                f"{source_name}: line {start}: {len(row)} fields, expected {len(columns)}"
            )
            continue
        cells = {name: row[position].strip() for name, position in index.items()}
        try:
            entry = _entry_from_row(cells)
            rule = CookieRule(
                name=entry["name"],
                category=entry["category"],  # type: ignore[arg-type]
                match=entry.get("match", "exact"),  # type: ignore[arg-type]
                domain=entry.get("domain"),
                provider=cells["Platform"],
                purpose=entry.get("purpose", ""),
                retention=entry.get("retention", ""),
                source="knowledge_base",
                source_url=entry.get("source", ""),
            )
        except (ValueError, ConfigError) as exc:
            message = exc.args[0] if isinstance(exc, ConfigError) else str(exc)
            errors.append(f"{source_name}: line {start}: {message}")
            continue
        key = (rule.name, rule.match, rule.domain)
        if key in seen:
            skipped.append(f"line {start}: {rule.name!r} repeats line {seen[key]}")
            continue
        seen[key] = start
        if (rule.name, rule.match) in known_keys:
            skipped.append(f"line {start}: {rule.name!r} is already in the knowledge base")
            continue
        platform = platforms.setdefault(
            cells["Platform"], _Platform(cells["Platform"], vendor=cells["Data Controller"])
        )
        if not platform.source and entry.get("source"):
            platform.source = entry["source"]
        platform.cookies.append(entry)
        platform.rules.append(rule)
    # The file groups cookies by platform; list the rules in the same order.
    rules = tuple(rule for platform in platforms.values() for rule in platform.rules)
    return ImportResult(
        _render(platforms.values(), source_name), rules, tuple(errors), tuple(skipped)
    )


def _entry_from_row(cells: Mapping[str, str]) -> dict[str, str]:
    """One cookie table (TOML keys) from a CSV row; ValueError says what is wrong."""
    platform = cells["Platform"]
    if not platform:
        raise ValueError("the Platform column is empty")
    raw_category = cells["Category"]
    category = OCD_CATEGORIES.get(raw_category.lower())
    if category is None:
        raise ValueError(
            f"unknown category {raw_category!r} "
            "(expected Functional, Personalization, Analytics, Marketing or Security)"
        )
    wildcard = cells["Wildcard match"]
    if wildcard not in ("0", "1", ""):
        raise ValueError(f"Wildcard match must be 0 or 1, got {wildcard!r}")
    name, match = _clean_name(cells["Cookie / Data Key name"], prefix=wildcard == "1")
    entry = {"name": name, "category": category}
    if match != "exact":
        entry["match"] = match
    domain = _third_party_domain(cells["Domain"])
    if domain is not None:
        entry["domain"] = domain
    description = " ".join(cells["Description"].split())
    if description:
        entry["purpose"] = description
    retention = " ".join(cells["Retention period"].split())
    if retention:
        entry["retention"] = retention
    portal = cells["User Privacy & GDPR Rights Portals"]
    if is_https_url(portal):
        entry["source"] = portal
    return entry


def _clean_name(raw: str, *, prefix: bool) -> tuple[str, str]:
    """The cookie name and match kind for a database name like ``SR<RotatorID>``."""
    name = _COUNT_SUFFIX.sub("", raw).strip()
    if not name:
        raise ValueError("the cookie name is empty")
    if " " in name:
        # "name Cookie" or "name (legacy)": the first word is the name itself.
        name = name.split()[0]
    if _PLACEHOLDER.search(name):
        name = _PLACEHOLDER.sub("*", name)
        if prefix and not name.endswith("*"):
            name += "*"
        return name, "glob"
    return name, "prefix" if prefix else "exact"


def _third_party_domain(text: str) -> str | None:
    """The domain of a row that names exactly one third-party domain, else ``None``."""
    lowered = text.strip().lower()
    found = _THIRD_PARTY.match(lowered) or _DOMAIN.match(lowered)
    return found.group(1) if found else None


def _toml_string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _render(platforms: Iterable[_Platform], source_name: str) -> str:
    lines = [
        f"# Site knowledge base imported from {source_name} (Open Cookie Database format).",
        "# Categories: Security -> necessary, Functional and Personalization -> functionality,",
        "# Analytics -> performance, Marketing -> targeting. Review before relying on it.",
    ]
    for platform in platforms:
        categories = Counter(cookie["category"] for cookie in platform.cookies)
        default = categories.most_common(1)[0][0]
        lines += ["", "[[platform]]", f"name = {_toml_string(platform.name)}"]
        lines.append(f"vendor = {_toml_string(platform.vendor or platform.name)}")
        lines.append(f"category = {_toml_string(default)}")
        if platform.source:
            lines.append(f"source = {_toml_string(platform.source)}")
        lines.append("cookies = [")
        for cookie in platform.cookies:
            fields = {k: v for k, v in cookie.items() if k not in ("category", "source")}
            if cookie["category"] != default:
                fields["category"] = cookie["category"]
            if cookie.get("source") and cookie["source"] != platform.source:
                fields["source"] = cookie["source"]
            body = ", ".join(f"{key} = {_toml_string(value)}" for key, value in fields.items())
            lines.append(f"  {{ {body} }},")
        lines.append("]")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class KnowledgeBaseStats:
    """What a knowledge base and a tracker index hold."""

    rules: int
    exact: int
    patterns: int
    names: int
    platforms: int
    by_category: Mapping[str, int]
    tracker_providers: int
    tracker_domains: int
    trackers_by_category: Mapping[str, int]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (the ``kb stats --json`` schema)."""
        return {
            "cookie_rules": self.rules,
            "exact_names": self.exact,
            "patterns": self.patterns,
            "distinct_names": self.names,
            "platforms": self.platforms,
            "by_category": dict(self.by_category),
            "tracker_providers": self.tracker_providers,
            "tracker_domains": self.tracker_domains,
            "trackers_by_category": dict(self.trackers_by_category),
        }

    def summary(self) -> str:
        """The one-line count recorded next to the benchmarks."""
        return (
            f"{self.rules:,} cookie names and patterns ({self.exact:,} exact, "
            f"{self.patterns:,} patterns) from {self.platforms:,} platforms; "
            f"{self.tracker_domains:,} tracker domains from {self.tracker_providers:,} providers"
        )


def knowledge_base_stats(
    rules: Sequence[CookieRule], trackers: Iterable[tuple[str, int]]
) -> KnowledgeBaseStats:
    """Count *rules* and *trackers* (``(category, number of domains)`` per provider).

    Platforms are counted by distinct provider name.
    """
    by_category = Counter(rule.category for rule in rules)
    tracker_list = list(trackers)
    tracker_categories: Counter[str] = Counter()
    for category, domains in tracker_list:
        tracker_categories[category] += domains
    exact = sum(1 for rule in rules if rule.match == "exact")
    return KnowledgeBaseStats(
        rules=len(rules),
        exact=exact,
        patterns=len(rules) - exact,
        names=len({(rule.name, rule.match) for rule in rules}),
        platforms=len({rule.provider for rule in rules}),
        by_category={category: by_category.get(category, 0) for category in CATEGORIES},
        tracker_providers=len(tracker_list),
        tracker_domains=sum(domains for _, domains in tracker_list),
        trackers_by_category=dict(sorted(tracker_categories.items())),
    )
