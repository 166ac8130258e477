"""Jurisdiction: trusted headers, GeoIP, the region table, policy layout, signals, Consent Mode."""

from __future__ import annotations

import ipaddress
import json
import struct
import sys
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit.categories import MODELS, Model
from consentkit.consent_mode import consent_mode_defaults
from consentkit.errors import ConfigError, MissingExtraError
from consentkit.jurisdiction import HEADER_PRESETS, JurisdictionResolver, gpc_json, read_signals
from consentkit.regions import DEFAULT_TABLE, Region, RegionTable, parse_regions

EU_MEMBERS = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
]  # fmt: skip
US_STATES = [
    "CA", "VA", "CO", "CT", "UT", "TX", "OR", "MT", "IA", "DE",
    "NE", "NH", "NJ", "TN", "MN", "MD", "IN", "KY", "RI",
]  # fmt: skip


def raw(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


# -- trusted headers -------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(HEADER_PRESETS))
@pytest.mark.parametrize(
    ("country", "region", "expected_country", "expected_sub", "expected_region"),
    [
        ("DE", None, "DE", None, "EU"),
        ("de", None, "DE", None, "EU"),
        (" FR ", None, "FR", None, "EU"),
        ("US", "CA", "US", "US-CA", "US-CA"),
        ("US", "us-tx", "US", "US-TX", "US-TX"),
        ("US", "NY", "US", "US-NY", "default"),
        ("US", None, "US", None, "default"),
        ("US", "DE-BE", "US", None, "default"),
        ("US", "NO REGION", "US", None, "default"),
        ("US", "?", "US", None, "default"),
        ("CA", "QC", "CA", "CA-QC", "CA-QC"),
        ("GB", "ENG", "GB", "GB-ENG", "UK"),
        ("SG", None, "SG", None, "default"),
    ],
)
def test_preset_valid_values(
    preset: str,
    country: str,
    region: str | None,
    expected_country: str,
    expected_sub: str | None,
    expected_region: str,
) -> None:
    country_header, region_header = HEADER_PRESETS[preset]
    headers = {country_header: country}
    if region is not None and region_header is not None:
        headers[region_header] = region
    resolved = JurisdictionResolver([preset]).resolve(headers, None)
    assert resolved.source == "header"
    assert resolved.country == expected_country
    assert resolved.subdivision == expected_sub
    assert resolved.region == expected_region
    assert resolved.model == DEFAULT_TABLE.model_for(expected_region)


@pytest.mark.parametrize("preset", sorted(HEADER_PRESETS))
@pytest.mark.parametrize(
    "value",
    ["XX", "T1", "", "  ", "**", "ZZ", "UK", "EU", "USA", "D", "1", "DE,FR", "D\u00c9", "\x00\x01"],
)
def test_preset_invalid_values_are_unknown(preset: str, value: str) -> None:
    country_header, region_header = HEADER_PRESETS[preset]
    headers = {country_header: value}
    if region_header:
        headers[region_header] = "CA"
    resolved = JurisdictionResolver([preset], default="EU").resolve(headers, "203.0.113.9")
    assert resolved.source == "default"
    assert (resolved.region, resolved.country, resolved.subdivision) == ("EU", None, None)
    assert resolved.model == "opt_in"


@pytest.mark.parametrize("as_raw", [False, True])
@pytest.mark.parametrize(
    "forged",
    [
        {"CF-IPCountry": "US"},
        {"CloudFront-Viewer-Country": "US", "CloudFront-Viewer-Country-Region": "CA"},
        {"X-Vercel-IP-Country": "US", "X-Vercel-IP-Country-Region": "CA"},
        {"Fastly-Geo-Country": "US"},
    ],
)
def test_forged_headers_are_ignored_when_untrusted(forged: dict[str, str], as_raw: bool) -> None:
    headers: Any = raw(forged) if as_raw else forged
    resolved = JurisdictionResolver(default="EU").resolve(headers, None)
    assert (resolved.region, resolved.country, resolved.source) == ("EU", None, "default")


def test_only_the_configured_preset_is_read() -> None:
    headers = {"CF-IPCountry": "US", "X-Vercel-IP-Country": "DE"}
    assert JurisdictionResolver(["vercel"]).resolve(headers, None).country == "DE"
    assert JurisdictionResolver(["cloudflare"]).resolve(headers, None).country == "US"


def test_presets_are_tried_in_order_until_one_has_a_valid_country() -> None:
    resolver = JurisdictionResolver(["cloudflare", "vercel"])
    assert resolver.resolve({"CF-IPCountry": "XX", "X-Vercel-IP-Country": "BR"}).country == "BR"
    assert resolver.resolve({"CF-IPCountry": "IT", "X-Vercel-IP-Country": "BR"}).country == "IT"


def test_explicit_header_pairs_and_case_insensitive_names() -> None:
    resolver = JurisdictionResolver([("X-Geo-Country", "X-Geo-Sub"), ("X-Other", None)])
    assert resolver.resolve(raw({"x-geo-country": "us", "X-GEO-SUB": "co"}), None).region == "US-CO"
    assert resolver.resolve({"x-other": "NO"}, None).region == "EEA"


def test_a_lone_preset_string_is_accepted() -> None:
    assert JurisdictionResolver("cloudflare").resolve({"cf-ipcountry": "CH"}).region == "CH"


def test_conflicting_duplicate_headers_are_ignored() -> None:
    resolver = JurisdictionResolver(["cloudflare"], default="EU")
    headers = [(b"cf-ipcountry", b"US"), (b"cf-ipcountry", b"DE")]
    assert resolver.resolve(headers, None).source == "default"
    same = [(b"cf-ipcountry", b"DE"), (b"cf-ipcountry", b" DE")]
    assert resolver.resolve(same, None).country == "DE"


@pytest.mark.parametrize(
    "headers",
    [
        [(b"cf-ipcountry",)],
        [("cf-ipcountry", "DE", "x")],
        [(1, 2)],
        [(b"cf-ipcountry", b"\xff\xfe")],
        [(b"cf-ipcountry", b"D" * 10_000)],
        [None],
        {"cf-ipcountry": None},
        {"cf-ipcountry": 49},
        42,
        None,
    ],
)
def test_garbage_headers_never_raise(headers: Any) -> None:
    resolved = JurisdictionResolver(["cloudflare"]).resolve(headers, None)
    assert resolved.source == "default"


@given(
    country=st.text(max_size=20),
    region=st.text(max_size=20),
    ip=st.one_of(st.none(), st.text(max_size=50)),
)
def test_any_header_text_resolves_to_a_known_region(
    country: str, region: str, ip: str | None
) -> None:
    resolver = JurisdictionResolver(["cloudfront"])
    headers = {"CloudFront-Viewer-Country": country, "CloudFront-Viewer-Country-Region": region}
    resolved = resolver.resolve(headers, ip)
    assert resolved.region in DEFAULT_TABLE
    assert resolved.model in MODELS


@pytest.mark.parametrize(
    ("trusted", "fix_word"),
    [
        (["cloudflair"], "cloudflare"),
        (["CF-IPCountry"], "pair"),
        ([("Bad Header", None)], "pair"),
        ([("X-Country",)], "pair"),
        ([42], "pair"),
    ],
)
def test_bad_trusted_header_configuration(trusted: Any, fix_word: str) -> None:
    with pytest.raises(ConfigError) as info:
        JurisdictionResolver(trusted)
    assert info.value.key == "trusted_headers"
    assert fix_word in info.value.fix


def test_unknown_default_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        JurisdictionResolver(default="Europe")
    assert info.value.key == "default"


def test_default_comes_from_the_table_fallback() -> None:
    table = parse_regions({}, source="t.toml", default_region="UK")
    resolved = JurisdictionResolver(table=table).resolve({}, None)
    assert (resolved.region, resolved.model, resolved.source) == ("UK", "opt_in", "default")


# -- GeoIP -----------------------------------------------------------------------------


def _ctrl(kind: int, size: int) -> bytes:
    first = kind << 5 if kind <= 7 else 0
    extended = b"" if kind <= 7 else bytes([kind - 7])
    if size < 29:
        return bytes([first | size]) + extended
    assert size < 285
    return bytes([first | 29]) + extended + bytes([size - 29])


def _uint(kind: int, value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _ctrl(kind, len(data)) + data


def _encode(value: Any) -> bytes:
    """MaxMind DB data section encoding for the few types a test database needs."""
    if isinstance(value, tuple):  # (type number, int) for the typed metadata integers
        return _uint(*value)
    if isinstance(value, str):
        data = value.encode()
        return _ctrl(2, len(data)) + data
    if isinstance(value, dict):
        return _ctrl(7, len(value)) + b"".join(_encode(k) + _encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _ctrl(11, len(value)) + b"".join(_encode(v) for v in value)
    raise TypeError(value)


def write_mmdb(path: Path, networks: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write a minimal IPv4 MaxMind DB (24-bit records) mapping networks to records."""
    nodes: list[list[Any]] = [[None, None]]
    data = b""
    for cidr, record in networks.items():
        net = ipaddress.ip_network(cidr)
        offset, data = len(data), data + _encode(record)
        bits = int(net.network_address)
        node = 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", offset)
            else:
                if nodes[node][bit] is None:
                    nodes.append([None, None])
                    nodes[node][bit] = ("node", len(nodes) - 1)
                node = nodes[node][bit][1]
    count = len(nodes)

    def record_value(rec: tuple[str, int] | None) -> int:
        # An empty branch points at node_count; data lives 16 bytes past the tree.
        if rec is None:
            return count
        kind, target = rec
        return target if kind == "node" else count + 16 + target

    tree = b"".join(
        struct.pack(">I", record_value(side))[1:] for left_right in nodes for side in left_right
    )
    metadata = {
        "binary_format_major_version": (5, 2),
        "binary_format_minor_version": (5, 0),
        "build_epoch": (9, 1_700_000_000),
        "database_type": "Test-City",
        "description": {"en": "test"},
        "ip_version": (5, 4),
        "languages": ["en"],
        "node_count": (6, count),
        "record_size": (5, 24),
    }
    path.write_bytes(tree + b"\x00" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _encode(metadata))
    return path


@pytest.fixture
def mmdb(tmp_path: Path) -> Path:
    pytest.importorskip("maxminddb")
    return write_mmdb(
        tmp_path / "geo.mmdb",
        {
            "81.2.69.0/24": {"country": {"iso_code": "GB"}, "subdivisions": [{"iso_code": "ENG"}]},
            "8.8.8.0/24": {
                "country": {"iso_code": "US"},
                "subdivisions": [{"iso_code": "CA"}, {"iso_code": "XYZ"}],
            },
            "1.1.1.0/24": {"country": {"iso_code": "US"}},
            "2.2.2.0/24": {"registered_country": {"iso_code": "FR"}},
            "5.5.5.0/24": {"country": {"iso_code": "XX"}, "subdivisions": "junk"},
        },
    )


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", ("US-CA", "US", "US-CA", "geoip")),
        ("81.2.69.160", ("UK", "GB", "GB-ENG", "geoip")),
        ("1.1.1.1", ("default", "US", None, "geoip")),
        ("2.2.2.2", ("EU", None, None, "default")),
        ("5.5.5.5", ("EU", None, None, "default")),
        ("9.9.9.9", ("EU", None, None, "default")),
        ("127.0.0.1", ("EU", None, None, "default")),
        ("10.1.2.3", ("EU", None, None, "default")),
        ("2001:4860:4860::8888", ("EU", None, None, "default")),
        ("not an ip", ("EU", None, None, "default")),
        ("", ("EU", None, None, "default")),
        (None, ("EU", None, None, "default")),
    ],
)
def test_geoip_lookup_with_a_real_database(
    mmdb: Path, ip: str | None, expected: tuple[str, str | None, str | None, str]
) -> None:
    resolver = JurisdictionResolver(geoip_path=str(mmdb), default="EU")
    try:
        r = resolver.resolve({}, ip)
    finally:
        resolver.close()
    assert (r.region, r.country, r.subdivision, r.source) == expected


def test_header_wins_over_geoip_and_borrows_a_matching_subdivision(mmdb: Path) -> None:
    resolver = JurisdictionResolver(["cloudflare"], geoip_path=str(mmdb))
    try:
        same = resolver.resolve({"CF-IPCountry": "US"}, "8.8.8.8")
        other = resolver.resolve({"CF-IPCountry": "DE"}, "8.8.8.8")
    finally:
        resolver.close()
    assert (same.region, same.subdivision, same.source) == ("US-CA", "US-CA", "header")
    assert (other.region, other.subdivision, other.source) == ("EU", None, "header")


def test_unreadable_database_is_a_config_error(tmp_path: Path) -> None:
    pytest.importorskip("maxminddb")
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    for path in (bad, tmp_path / "missing.mmdb"):
        with pytest.raises(ConfigError) as info:
            JurisdictionResolver(geoip_path=str(path))
        assert info.value.key == "geoip_path"


def test_missing_maxminddb_raises_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "maxminddb", None)
    with pytest.raises(MissingExtraError) as info:
        JurisdictionResolver(geoip_path="GeoLite2-City.mmdb")
    assert info.value.extra == "geoip"
    assert "consentkit[geoip]" in str(info.value)


class FakeReader:
    def __init__(self, records: Mapping[str, object], error: Exception | None = None):
        self.records = records
        self.error = error
        self.asked: list[str] = []

    def get(self, ip_address: str, /) -> object:
        self.asked.append(ip_address)
        if self.error is not None:
            raise self.error
        return self.records.get(ip_address)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"country": {"iso_code": "BR"}}, ("BR", None)),
        ({"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "MD"}]}, ("US", "US-MD")),
        ({"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": None}]}, ("US", None)),
        ({"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "toolong"}]}, ("US", None)),
        ({"country": {"iso_code": "US"}, "subdivisions": ["CA"]}, ("US", None)),
        ({"country": {"iso_code": "US"}, "subdivisions": []}, ("US", None)),
        ({"country": {"iso_code": 7}}, (None, None)),
        ({"country": "US"}, (None, None)),
        ({"country": {"iso_code": "T1"}}, (None, None)),
        ("US", (None, None)),
        ([1, 2], (None, None)),
        (None, (None, None)),
    ],
)
def test_geoip_record_shapes(record: object, expected: tuple[str | None, str | None]) -> None:
    reader = FakeReader({"81.2.69.7": record})
    resolver = JurisdictionResolver(reader=reader)
    resolved = resolver.resolve({}, "81.2.69.7")
    assert (resolved.country, resolved.subdivision) == expected
    assert resolved.source == ("geoip" if expected[0] else "default")


@pytest.mark.parametrize(
    "error", [ValueError("IPv6 in an IPv4 database"), RuntimeError("corrupt"), OSError("gone")]
)
def test_geoip_reader_errors_fall_back(error: Exception) -> None:
    reader = FakeReader({}, error=error)
    resolved = JurisdictionResolver(reader=reader, default="UK").resolve({}, "8.8.4.4")
    assert reader.asked == ["8.8.4.4"]
    assert (resolved.region, resolved.source) == ("UK", "default")


@pytest.mark.parametrize("ip", ["127.0.0.1", "192.168.1.5", "::1", "fe80::1%eth0", "x" * 100])
def test_non_public_addresses_are_not_looked_up(ip: str) -> None:
    reader = FakeReader({})
    JurisdictionResolver(reader=reader).resolve({}, ip)
    assert reader.asked == []


def test_injected_reader_is_not_closed_by_the_resolver() -> None:
    class Closable(FakeReader):
        closed = False

        def close(self) -> None:
            self.closed = True

    reader = Closable({})
    JurisdictionResolver(reader=reader).close()
    assert not reader.closed


# -- the region table ------------------------------------------------------------------


@pytest.mark.parametrize("country", EU_MEMBERS)
def test_every_eu_member_state_is_eu_opt_in(country: str) -> None:
    assert DEFAULT_TABLE.region_for(country) == "EU"
    assert DEFAULT_TABLE.region_for(country.lower(), "XX") == "EU"
    assert DEFAULT_TABLE.model_for("EU") == "opt_in"


def test_eu_region_has_the_27_members_and_outermost_regions() -> None:
    eu = DEFAULT_TABLE.get("EU")
    assert eu is not None
    assert set(EU_MEMBERS) <= eu.countries
    assert len(EU_MEMBERS) == len(set(EU_MEMBERS)) == 27
    for code in ("AX", "GF", "GP", "MQ", "RE", "YT", "MF"):
        assert DEFAULT_TABLE.region_for(code) == "EU"


@pytest.mark.parametrize(
    ("country", "subdivision", "region", "model"),
    [
        ("IS", None, "EEA", "opt_in"),
        ("LI", None, "EEA", "opt_in"),
        ("NO", None, "EEA", "opt_in"),
        ("GB", None, "UK", "opt_in"),
        ("GB", "SCT", "UK", "opt_in"),
        ("CH", None, "CH", "opt_out"),
        ("BR", "SP", "BR", "opt_in"),
        ("CA", None, "CA", "opt_in"),
        ("CA", "ON", "CA", "opt_in"),
        ("CA", "QC", "CA-QC", "opt_in"),
        ("CA", "CA-QC", "CA-QC", "opt_in"),
        ("ES", "CN", "EU", "opt_in"),
        ("US", None, "default", "opt_in"),
        ("US", "NY", "default", "opt_in"),
        ("US", "WA", "default", "opt_in"),
        ("SG", None, "default", "opt_in"),
        ("JP", "13", "default", "opt_in"),
        ("XK", None, "default", "opt_in"),
    ],
)
def test_region_mapping(country: str, subdivision: str | None, region: str, model: str) -> None:
    assert DEFAULT_TABLE.region_for(country, subdivision) == region
    assert DEFAULT_TABLE.model_for(region) == model


@pytest.mark.parametrize("state", US_STATES)
def test_each_us_privacy_state_is_opt_out(state: str) -> None:
    for subdivision in (state, f"US-{state}", f" us-{state.lower()} "):
        assert DEFAULT_TABLE.region_for("US", subdivision) == f"US-{state}"
    assert DEFAULT_TABLE.model_for(f"US-{state}") == "opt_out"
    # A state code under another country's prefix is not trusted.
    assert DEFAULT_TABLE.region_for("US", f"MX-{state}") == "default"


def test_only_listed_us_states_are_opt_out() -> None:
    opt_out_states = {
        code for r in DEFAULT_TABLE.regions if r.model == "opt_out" for code in r.subdivisions
    }
    assert opt_out_states == {f"US-{s}" for s in US_STATES}


@pytest.mark.parametrize("country", [None, "", "XX", "T1", "ZZ", "UK", "A1", "EU", 5, "DEU"])
def test_unknown_country_gets_the_fallback(country: Any) -> None:
    assert DEFAULT_TABLE.region_for(country) == "default"
    table = parse_regions({}, source="t", default_region="EU")
    assert table.region_for(country, "CA") == "EU"


def test_unknown_region_key_gets_the_default_model() -> None:
    table = parse_regions({"default": {"model": "notice"}}, source="t")
    assert table.model_for("nowhere") == "notice"
    assert DEFAULT_TABLE.model_for("nowhere") == "opt_in"


def test_models_tuple_matches_the_model_type() -> None:
    assert set(MODELS) == set(get_args(Model))


def test_region_table_rejects_a_code_in_two_regions() -> None:
    regions = [Region("a", "opt_in", frozenset({"DE"})), Region("b", "notice", frozenset({"DE"}))]
    with pytest.raises(ConfigError, match="DE is listed by both"):
        RegionTable(regions)


# -- policy layout ---------------------------------------------------------------------


def load(text: str) -> RegionTable:
    data = tomllib.loads(text)
    return parse_regions(
        data.get("regions", {}), source="policy.toml", default_region=data.get("default_region", "")
    )


def test_policy_layout_overrides_and_custom_regions() -> None:
    table = load(
        """
        default_region = "EU"
        [regions.US-CA]
        model = "opt_out"
        [regions.CH]
        model = "opt_in"
        [regions.custom]
        countries = ["SG", "jp"]
        subdivisions = ["US-WA"]
        model = "notice"
        [regions.default]
        model = "opt_out"
        """
    )
    assert table.fallback == "EU"
    assert table.region_for(None) == "EU"
    assert table.model_for("CH") == "opt_in"
    assert table.region_for("JP") == table.region_for("SG") == "custom"
    assert table.region_for("US", "WA") == "custom"
    assert table.model_for("custom") == "notice"
    assert table.region_for("AR") == "default"
    assert table.model_for("default") == "opt_out"
    assert table.region_for("US", "CA") == "US-CA"


def test_site_region_takes_codes_from_built_in_regions() -> None:
    table = load('[regions.DACH]\ncountries = ["DE", "AT", "CH"]\nmodel = "opt_in"')
    assert {table.region_for(c) for c in ("DE", "AT", "CH")} == {"DACH"}
    assert table.region_for("FR") == "EU"
    eu = table.get("EU")
    assert eu is not None
    assert "DE" not in eu.countries


def test_built_in_region_countries_can_be_replaced() -> None:
    table = load('[regions.EEA]\ncountries = ["NO"]')
    assert table.region_for("NO") == "EEA"
    assert table.model_for("EEA") == "opt_in"
    assert table.region_for("IS") == "default"


def test_a_model_only_region_can_be_the_default_region() -> None:
    table = load('default_region = "strict"\n[regions.strict]\nmodel = "opt_in"')
    assert table.region_for(None) == "strict"


def test_empty_regions_give_the_built_in_table() -> None:
    table = parse_regions(None, source="t")
    assert [r.key for r in table.regions] == [r.key for r in DEFAULT_TABLE.regions]


@pytest.mark.parametrize(
    ("text", "key", "fix_word"),
    [
        ('[regions.EU]\nmodel = "opt-in"', "regions.EU.model", "opt_in"),
        ("[regions.EU]\nmodel = true", "regions.EU.model", "notice"),
        ('[regions.custom]\ncountries = ["SG"]', "regions.custom.model", "opt_in"),
        ('[regions.EU]\nmodle = "opt_in"', "regions.EU.modle", "model"),
        ('[regions.EU]\ncountry = ["DE"]', "regions.EU.country", "countries"),
        ('[regions.x]\ncountries = ["UK"]\nmodel = "notice"', "regions.x.countries", "GB"),
        ('[regions.x]\ncountries = ["EL"]\nmodel = "notice"', "regions.x.countries", "GR"),
        ('[regions.x]\ncountries = ["DEU"]\nmodel = "notice"', "regions.x.countries", "two"),
        ('[regions.x]\ncountries = [1]\nmodel = "notice"', "regions.x.countries", "two"),
        ('[regions.x]\ncountries = "SG"\nmodel = "notice"', "regions.x.countries", "["),
        ('[regions.x]\nsubdivisions = ["CA"]\nmodel = "notice"', "regions.x.subdivisions", "US-CA"),
        ('[regions.x]\nsubdivisions = ["QQ-CA"]\nmodel = "notice"', "regions.x.subdivisions", "US"),
        ('[regions.x]\nsubdivisions = ["US-ABCD"]\nmodel = "opt_in"', "regions.x.subdivisions", ""),
        ('[regions.Eu]\nmodel = "notice"', "regions.Eu", "EU"),
        ('[regions.default]\ncountries = ["SG"]', "regions.default", "own"),
        ('regions = "EU"', "regions", "[regions"),
        ('regions.EU = "opt_in"', "regions.EU", "model"),
        ('[regions."E U"]\nmodel = "notice"', "regions.E U", "letters"),
        ('default_region = "Europe"', "default_region", "EU"),
        ("default_region = 3", "default_region", "EU"),
        (
            '[regions.a]\ncountries = ["SG"]\nmodel = "notice"\n'
            '[regions.b]\ncountries = ["SG"]\nmodel = "opt_in"',
            "regions.b",
            "one region",
        ),
    ],
)
def test_policy_layout_errors_name_the_key_and_fix(text: str, key: str, fix_word: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(text)
    assert info.value.key == key
    assert info.value.source == "policy.toml"
    assert fix_word in info.value.fix
    assert key in str(info.value)


# -- signals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        (" 1 ", True),
        ("\t1", True),
        ("0", False),
        ("", False),
        ("true", False),
        ("11", False),
        ("1.0", False),
        ("yes", False),
        ("\x00", False),
        (None, False),
    ],
)
@pytest.mark.parametrize("as_raw", [False, True])
def test_gpc_and_dnt_are_on_only_for_one(value: str | None, expected: bool, as_raw: bool) -> None:
    for name, attr in (("Sec-GPC", "gpc"), ("DNT", "dnt")):
        headers = {} if value is None else {name: value}
        signals = read_signals(raw(headers) if as_raw else headers)
        assert getattr(signals, attr) is expected
        other = "dnt" if attr == "gpc" else "gpc"
        assert getattr(signals, other) is False


def test_both_signals_and_lowercase_names() -> None:
    signals = read_signals({"sec-gpc": "1", "dnt": "1"})
    assert (signals.gpc, signals.dnt) == (True, True)


@pytest.mark.parametrize("headers", [None, 17, [(b"sec-gpc",)], [(b"sec-gpc", b"\xff1")]])
def test_signals_garbage_never_raises(headers: Any) -> None:
    assert read_signals(headers).gpc is False


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 5), b'{"gpc": true, "lastUpdate": "2026-01-05"}'),
        (datetime(2025, 12, 31, 23, 59), b'{"gpc": true, "lastUpdate": "2025-12-31"}'),
    ],
)
def test_gpc_json(day: date, expected: bytes) -> None:
    body = gpc_json(day)
    assert body == expected
    assert json.loads(body) == {"gpc": True, "lastUpdate": day.strftime("%Y-%m-%d")}
    assert json.loads(gpc_json(day, gpc=False))["gpc"] is False


# -- Google Consent Mode ---------------------------------------------------------------

CONSENT_TYPES = {
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
}


def _entry_for(entries: list[dict[str, Any]], code: str) -> dict[str, Any]:
    matches = [e for e in entries if code in e.get("region", [])]
    assert len(matches) == 1, code
    return matches[0]


@pytest.mark.parametrize("gpc", [False, True])
def test_consent_mode_defaults_per_model(gpc: bool) -> None:
    entries = consent_mode_defaults(DEFAULT_TABLE, gpc=gpc)
    general = entries[0]
    assert "region" not in general
    assert all("region" in e for e in entries[1:])
    ads = "denied" if gpc else "granted"
    for entry in entries:
        assert set(entry) - {"region"} == CONSENT_TYPES
        assert entry["security_storage"] == "granted"

    opt_in = _entry_for(entries, "DE")
    assert {k: v for k, v in opt_in.items() if k != "region"} == {
        **dict.fromkeys(CONSENT_TYPES - {"security_storage"}, "denied"),
        "security_storage": "granted",
    }
    assert general == {k: v for k, v in opt_in.items() if k != "region"}
    opt_out = _entry_for(entries, "US-CA")
    assert opt_out["analytics_storage"] == opt_out["functionality_storage"] == "granted"
    assert opt_out["ad_storage"] == opt_out["ad_user_data"] == opt_out["ad_personalization"] == ads
    assert _entry_for(entries, "CH") is opt_out


def test_consent_mode_region_codes_cover_the_table() -> None:
    entries = consent_mode_defaults(DEFAULT_TABLE)
    codes = [c for e in entries[1:] for c in e["region"]]
    assert len(codes) == len(set(codes))
    expected = {
        c for r in DEFAULT_TABLE.regions if r.key != "default" for c in r.countries | r.subdivisions
    }
    assert set(codes) == expected
    assert {f"US-{s}" for s in US_STATES} <= set(codes)
    assert all(len(c) == 2 or (c[2] == "-" and c[:2].isalpha()) for c in codes)


def test_consent_mode_notice_region_and_default() -> None:
    table = load(
        '[regions.default]\nmodel = "notice"\n[regions.SG]\ncountries = ["SG"]\nmodel = "notice"'
    )
    entries = consent_mode_defaults(table)
    assert entries[0]["ad_storage"] == entries[0]["analytics_storage"] == "granted"
    notice = _entry_for(entries, "SG")
    assert notice["ad_storage"] == notice["analytics_storage"] == "granted"
    assert consent_mode_defaults(table, gpc=True)[0]["ad_storage"] == "denied"
    assert consent_mode_defaults(table, gpc=True)[0]["analytics_storage"] == "granted"
