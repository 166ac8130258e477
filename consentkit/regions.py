"""Regions: which countries and subdivisions share a consent model, and how a policy says so.

Pure: the standard library only. The built-in table covers the EU/EEA and UK (``opt_in``),
the US states with a privacy law (``opt_out``) and everywhere else (``default``, the strictest
model); a policy's ``[regions.KEY]`` tables adjust it (:func:`parse_regions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .categories import MODELS, Model
from .errors import ConfigError, did_you_mean, reject_unknown_keys

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_TABLE",
    "Region",
    "RegionTable",
    "normalize_country",
    "normalize_subdivision",
    "parse_regions",
]

DEFAULT_KEY: Final = "default"

# ISO 3166-1 alpha-2, plus XK (Kosovo), which CDNs and MaxMind report.
_ISO_3166_1: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW XK
"""
_COUNTRIES: Final = frozenset(_ISO_3166_1.split())
# Codes people write that ISO does not use, with the code they meant.
_COUNTRY_MISTAKES: Final[Mapping[str, str]] = {"UK": "GB", "EL": "GR"}
_SUBDIVISION_PART: Final = re.compile(r"[A-Z0-9]{1,3}")
_REGION_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_MAX_VALUE: Final = 16

# -- the region table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Region:
    """A named set of countries and subdivisions that share a consent model.

    Args:
        key: the region's name (``EU``, ``US-CA``, ``default``...).
        model: how a visitor who has not chosen yet is treated there.
        countries: ISO 3166-1 alpha-2 codes.
        subdivisions: ISO 3166-2 codes (``US-CA``); they win over a country match.
        law: a short note of the law behind the model.
    """

    key: str
    model: Model
    countries: frozenset[str] = frozenset()
    subdivisions: frozenset[str] = frozenset()
    law: str = ""


class RegionTable:
    """Country (+ subdivision) -> region key -> consent model.

    Args:
        regions: the regions; a ``default`` region (``opt_in``) is added if absent.
        fallback: the region used when the visitor's country is unknown.
        source: where the regions came from, for error messages.

    Raises:
        ConfigError: a country or subdivision listed by two regions, or an unknown
            ``fallback``.
    """

    __slots__ = ("_by_country", "_by_key", "_by_subdivision", "_fallback")

    def __init__(
        self,
        regions: Iterable[Region],
        *,
        fallback: str = DEFAULT_KEY,
        source: str = "RegionTable(...)",
    ) -> None:
        by_key: dict[str, Region] = {}
        by_country: dict[str, str] = {}
        by_subdivision: dict[str, str] = {}
        for region in regions:
            by_key[region.key] = region
            for index, codes in (
                (by_country, region.countries),
                (by_subdivision, region.subdivisions),
            ):
                for code in sorted(codes):
                    other = index.setdefault(code, region.key)
                    if other != region.key:
                        raise ConfigError(
                            f"{code} is listed by both '{other}' and '{region.key}'",
                            source=source,
                            key=f"regions.{region.key}",
                            fix=f"list {code} in one region only",
                        )
        by_key.setdefault(DEFAULT_KEY, Region(DEFAULT_KEY, "opt_in"))
        if fallback not in by_key:
            raise ConfigError(
                f"unknown region {fallback!r}",
                source=source,
                key="default_region",
                fix=did_you_mean(fallback, by_key, or_list="known: "),
            )
        self._by_key = by_key
        self._by_country = by_country
        self._by_subdivision = by_subdivision
        self._fallback = fallback

    def __repr__(self) -> str:
        return f"RegionTable(keys={sorted(self._by_key)!r}, fallback={self._fallback!r})"

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_key.values())

    @property
    def regions(self) -> tuple[Region, ...]:
        """Every region, in definition order."""
        return tuple(self._by_key.values())

    @property
    def fallback(self) -> str:
        """The region key used when the visitor's country is unknown."""
        return self._fallback

    def get(self, key: str) -> Region | None:
        """The region named *key*, if any."""
        return self._by_key.get(key)

    def model_for(self, region: str) -> Model:
        """The model of *region*; an unknown key gets the ``default`` region's model."""
        found = self._by_key.get(region) or self._by_key[DEFAULT_KEY]
        return found.model

    def region_for(self, country: str | None, subdivision: str | None = None) -> str:
        """The region key for a location.

        *subdivision* may be ``CA`` or ``US-CA``. An unknown or invalid country gives
        :attr:`fallback`; a known country no region lists gives ``default``.
        """
        code = normalize_country(country)
        if code is None:
            return self._fallback
        sub = normalize_subdivision(code, subdivision)
        if sub is not None and sub in self._by_subdivision:
            return self._by_subdivision[sub]
        return self._by_country.get(code, DEFAULT_KEY)


def normalize_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code from untrusted text, or ``None``.

    ``XX`` (unknown), ``T1`` (Tor) and anything that is not a country read as ``None``.
    """
    if not isinstance(value, str) or len(value) > _MAX_VALUE:
        return None
    code = value.strip().upper()
    return code if code in _COUNTRIES else None


def normalize_subdivision(country: str, value: str | None) -> str | None:
    """An ISO 3166-2 code (``US-CA``) from ``CA`` or ``US-CA``, or ``None``.

    A prefix naming another country is rejected rather than trusted.
    """
    if not isinstance(value, str) or len(value) > _MAX_VALUE:
        return None
    code = value.strip().upper()
    prefix, dash, part = code.partition("-")
    if not dash:
        part = code
    elif prefix != country:
        return None
    if _SUBDIVISION_PART.fullmatch(part) is None:
        return None
    return f"{country}-{part}"


# fmt: off
_EU: Final = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
# Parts of member states that carry their own ISO country code but are inside the EU:
# Åland (FI) and France's outermost regions.
_EU_OUTERMOST: Final = frozenset({"AX", "GF", "GP", "MQ", "RE", "YT", "MF"})

_US_STATES: Final[Mapping[str, str]] = {
    "US-CA": "CCPA as amended by CPRA (Cal. Civ. Code 1798.100 ff.)",
    "US-VA": "Virginia Consumer Data Protection Act",
    "US-CO": "Colorado Privacy Act",
    "US-CT": "Connecticut Data Privacy Act",
    "US-UT": "Utah Consumer Privacy Act",
    "US-TX": "Texas Data Privacy and Security Act",
    "US-OR": "Oregon Consumer Privacy Act",
    "US-MT": "Montana Consumer Data Privacy Act",
    "US-IA": "Iowa Consumer Data Protection Act",
    "US-DE": "Delaware Personal Data Privacy Act",
    "US-NE": "Nebraska Data Privacy Act",
    "US-NH": "New Hampshire privacy law (RSA 507-H)",
    "US-NJ": "New Jersey Data Privacy Act",
    "US-TN": "Tennessee Information Protection Act",
    "US-MN": "Minnesota Consumer Data Privacy Act",
    "US-MD": "Maryland Online Data Privacy Act",
    "US-IN": "Indiana Consumer Data Protection Act",
    "US-KY": "Kentucky Consumer Data Protection Act",
    "US-RI": "Rhode Island Data Transparency and Privacy Protection Act",
}
# fmt: on

_BUILTIN_REGIONS: Final[tuple[Region, ...]] = (
    Region("EU", "opt_in", _EU | _EU_OUTERMOST, law="GDPR + ePrivacy Directive art. 5(3)"),
    Region("EEA", "opt_in", frozenset({"IS", "LI", "NO"}), law="GDPR (EEA) + national ePrivacy"),
    Region("UK", "opt_in", frozenset({"GB"}), law="UK GDPR + PECR reg. 6"),
    Region("CH", "opt_out", frozenset({"CH"}), law="revFADP + Telecommunications Act art. 45c"),
    *(
        Region(key, "opt_out", subdivisions=frozenset({key}), law=law)
        for key, law in _US_STATES.items()
    ),
    Region("BR", "opt_in", frozenset({"BR"}), law="LGPD + ANPD cookie guidance (2022)"),
    Region("CA", "opt_in", frozenset({"CA"}), law="PIPEDA meaningful-consent guidelines"),
    Region("CA-QC", "opt_in", subdivisions=frozenset({"CA-QC"}), law="Quebec Law 25, s. 8.1"),
    Region(DEFAULT_KEY, "opt_in", law="unknown law: the strictest model"),
)

DEFAULT_TABLE: Final = RegionTable(_BUILTIN_REGIONS, source="consentkit built-in regions")
"""The built-in regions; see docs/jurisdictions.md for the reasoning behind each model."""


# -- policy layout ---------------------------------------------------------------------

_REGION_FIELDS: Final = frozenset({"model", "countries", "subdivisions"})


def parse_regions(
    data: Mapping[str, Any] | None,
    *,
    source: str,
    default_region: str = "",
) -> RegionTable:
    """Build a table from the policy's ``[regions.*]`` tables over the built-in ones.

    Each ``[regions.KEY]`` may set ``model``, ``countries`` (ISO 3166-1) and
    ``subdivisions`` (ISO 3166-2). For a built-in key the given fields replace the
    built-in ones; a new key must list countries or subdivisions unless it is the
    ``default_region``. Codes a site region lists are taken from the built-in
    regions that had them.

    Raises:
        ConfigError: naming the key and the fix.
    """
    fallback = default_region or DEFAULT_KEY
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            "must be a table",
            source=source,
            key="regions",
            fix='write [regions.KEY] tables with model = "opt_in" | "opt_out" | "notice"',
        )
    if not isinstance(default_region, str):
        raise ConfigError(
            f"must be a region key, got {default_region!r}",
            source=source,
            key="default_region",
            fix='e.g. default_region = "EU"',
        )
    builtin = {r.key: r for r in _BUILTIN_REGIONS}
    site = [_parse_region(key, value, builtin, source, fallback) for key, value in data.items()]
    claimed = {code for r in site for code in r.countries | r.subdivisions}
    site_keys = {r.key for r in site}
    merged = [
        Region(r.key, r.model, r.countries - claimed, r.subdivisions - claimed, r.law)
        for r in _BUILTIN_REGIONS
        if r.key not in site_keys
    ]
    return RegionTable([*merged, *site], fallback=fallback, source=source)


def _parse_region(
    key: object, value: object, builtin: Mapping[str, Region], source: str, fallback: str
) -> Region:
    where = f"regions.{key}"
    if not isinstance(key, str) or _REGION_KEY.fullmatch(key) is None:
        raise ConfigError(
            "invalid region key",
            source=source,
            key=where,
            fix="use letters, digits, '-' or '_' (at most 32), e.g. [regions.US-CA]",
        )
    if not isinstance(value, Mapping):
        raise ConfigError(
            "must be a table", source=source, key=where, fix=f'write [{where}] model = "opt_in"'
        )
    reject_unknown_keys(value, _REGION_FIELDS, source=source, where=where, or_list="known: ")
    base = builtin.get(key)
    model = value.get("model", base.model if base else None)
    if model not in MODELS:
        raise ConfigError(
            f"unknown model {model!r}" if model is not None else "a model is required",
            source=source,
            key=f"{where}.model",
            fix='use "opt_in", "opt_out" or "notice"',
        )
    countries = _codes(value, "countries", where, source, _country_code)
    subdivisions = _codes(value, "subdivisions", where, source, _subdivision_code)
    if key == DEFAULT_KEY and (countries or subdivisions):
        raise ConfigError(
            "the default region covers every country no other region lists",
            source=source,
            key=where,
            fix="set only model here; list codes in a region of their own",
        )
    if base is not None:
        countries = base.countries if countries is None else countries
        subdivisions = base.subdivisions if subdivisions is None else subdivisions
        return Region(key, model, countries, subdivisions, base.law)
    if not countries and not subdivisions and key != fallback:
        hint = did_you_mean(key, builtin, or_list="known: ")
        raise ConfigError(
            "a new region needs countries or subdivisions",
            source=source,
            key=where,
            fix=f'add countries = ["SG"] or subdivisions = ["US-WA"] ({hint})',
        )
    return Region(key, model, countries or frozenset(), subdivisions or frozenset())


def _codes(
    value: Mapping[str, Any],
    field_name: str,
    where: str,
    source: str,
    check: Callable[[object, str, str], str],
) -> frozenset[str] | None:
    if field_name not in value:
        return None
    raw = value[field_name]
    key = f"{where}.{field_name}"
    if not isinstance(raw, list | tuple):
        raise ConfigError(
            "must be an array of strings", source=source, key=key, fix=f'{field_name} = ["..."]'
        )
    result: set[str] = set()
    for item in raw:
        result.add(check(item, key, source))
    return frozenset(result)


def _country_code(item: object, key: str, source: str) -> str:
    code = item.strip().upper() if isinstance(item, str) else None
    if code is None or code not in _COUNTRIES:
        meant = _COUNTRY_MISTAKES.get(code or "")
        raise ConfigError(
            f"{item!r} is not an ISO 3166-1 alpha-2 country code",
            source=source,
            key=key,
            fix=f"use {meant!r}" if meant else 'use two letters such as "DE" or "SG"',
        )
    return code


def _subdivision_code(item: object, key: str, source: str) -> str:
    code = None
    if isinstance(item, str):
        country, dash, _ = item.strip().upper().partition("-")
        if dash and country in _COUNTRIES:
            code = normalize_subdivision(country, item)
    if code is None:
        raise ConfigError(
            f"{item!r} is not an ISO 3166-2 subdivision code",
            source=source,
            key=key,
            fix='write the country and the subdivision, e.g. "US-CA" or "CA-QC"',
        )
    return code
