"""Where a visitor is, which consent model applies there, and the privacy signals they send.

Pure: the standard library only, plus ``maxminddb`` when a GeoIP database is used
(``pip install 'consentkit[geoip]'``).

Resolution order for one request:

1. the *trusted* location headers the site configured (a CDN sets them; without
   configuration no header is read, so a forged ``CF-IPCountry`` changes nothing);
2. a MaxMind database looked up by client IP, if one is configured;
3. the table's fallback region (``default_region`` in the policy).

A known country that no region lists gets the ``default`` region.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, Protocol, TypeAlias

from .categories import Model
from .errors import ConfigError, MissingExtraError, did_you_mean
from .regions import DEFAULT_TABLE, RegionTable, normalize_country, normalize_subdivision

__all__ = [
    "HEADER_PRESETS",
    "GeoReader",
    "JurisdictionResolver",
    "Resolved",
    "Signals",
    "gpc_json",
    "read_signals",
]

ResolvedSource: TypeAlias = Literal["header", "geoip", "default"]
Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[bytes, bytes]]

_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_MAX_VALUE: Final = 16

HEADER_PRESETS: Final[Mapping[str, tuple[str, str | None]]] = {
    "cloudflare": ("CF-IPCountry", "CF-Region-Code"),
    "cloudfront": ("CloudFront-Viewer-Country", "CloudFront-Viewer-Country-Region"),
    "vercel": ("X-Vercel-IP-Country", "X-Vercel-IP-Country-Region"),
    # Fastly sends no geo headers by itself: the service's VCL sets these two from
    # client.geo.country_code and client.geo.region (see docs/jurisdictions.md).
    "fastly": ("Fastly-Geo-Country", "Fastly-Geo-Region"),
}
"""Known CDN location headers: preset name -> (country header, subdivision header)."""


# -- per-request resolution ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a request comes from and the consent model that applies."""

    region: str
    country: str | None
    subdivision: str | None
    model: Model
    source: ResolvedSource


class GeoReader(Protocol):
    """What the resolver needs from a GeoIP reader (``maxminddb.Reader`` fits)."""

    def get(self, ip_address: str, /) -> object: ...


class JurisdictionResolver:
    """Resolves a request's region from trusted headers, GeoIP, or the fallback.

    Args:
        trusted_headers: preset names (``cloudflare``, ``cloudfront``, ``vercel``,
            ``fastly``) or ``(country_header, subdivision_header_or_None)`` pairs,
            tried in order. Only list headers your CDN sets and overwrites: a client
            can send any header to an origin it reaches directly.
        geoip_path: a MaxMind ``.mmdb`` file (GeoLite2/GeoIP2 Country or City).
        default: the region when nothing is known; ``None`` uses ``table.fallback``.
        table: the region table (from :func:`parse_regions` for a policy).
        reader: an already opened GeoIP reader, used instead of ``geoip_path``.

    Raises:
        ConfigError: unknown preset, bad header name, unknown default region or an
            unreadable database.
        MissingExtraError: ``geoip_path`` is set but ``maxminddb`` is not installed.
    """

    def __init__(
        self,
        trusted_headers: Sequence[str | tuple[str, str | None]] | str = (),
        geoip_path: str | None = None,
        default: str | None = None,
        table: RegionTable = DEFAULT_TABLE,
        *,
        reader: GeoReader | None = None,
    ) -> None:
        source = "JurisdictionResolver"
        if isinstance(trusted_headers, str):
            trusted_headers = (trusted_headers,)
        self._pairs = tuple(_header_pair(item, source) for item in trusted_headers)
        self._wanted = frozenset(
            name.lower() for pair in self._pairs for name in pair if name is not None
        )
        self._table = table
        self._default = table.fallback if default is None else default
        if self._default not in table:
            raise ConfigError(
                f"unknown region {self._default!r}",
                source=source,
                key="default",
                fix=did_you_mean(self._default, (r.key for r in table.regions), or_list="known: "),
            )
        self._owns_reader = reader is None and geoip_path is not None
        self._reader = reader if reader is not None else _open_reader(geoip_path, source)

    def __repr__(self) -> str:
        headers = [country for country, _ in self._pairs]
        return (
            f"JurisdictionResolver(trusted_headers={headers!r}, geoip={self._reader is not None})"
        )

    @property
    def is_static(self) -> bool:
        """True when every request resolves alike (no trusted header, no GeoIP database)."""
        return not self._pairs and self._reader is None

    @property
    def table(self) -> RegionTable:
        """The region table in use."""
        return self._table

    def close(self) -> None:
        """Close the GeoIP database if this resolver opened it."""
        close = getattr(self._reader, "close", None)
        if self._owns_reader and callable(close):
            close()

    def resolve(self, headers: Headers, client_ip: str | None = None) -> Resolved:
        """The region of one request. Never raises on bad input."""
        values = _collect(headers, self._wanted) if self._wanted else {}
        for country_header, region_header in self._pairs:
            country = normalize_country(_single(values, country_header))
            if country is None:
                continue
            subdivision = None
            if region_header is not None:
                subdivision = normalize_subdivision(country, _single(values, region_header))
            if subdivision is None:
                # A country-only header can borrow the subdivision from a City
                # database, but only when both agree on the country.
                geo_country, geo_sub = self._lookup(client_ip)
                subdivision = geo_sub if geo_country == country else None
            return self._result(country, subdivision, "header")
        country, subdivision = self._lookup(client_ip)
        if country is not None:
            return self._result(country, subdivision, "geoip")
        return Resolved(self._default, None, None, self._table.model_for(self._default), "default")

    def _result(self, country: str, subdivision: str | None, source: ResolvedSource) -> Resolved:
        region = self._table.region_for(country, subdivision)
        return Resolved(region, country, subdivision, self._table.model_for(region), source)

    def _lookup(self, client_ip: str | None) -> tuple[str | None, str | None]:
        if self._reader is None or not isinstance(client_ip, str) or len(client_ip) > 64:
            return None, None
        try:
            ip = ipaddress.ip_address(client_ip.strip())
        except ValueError:
            return None, None
        if not ip.is_global:
            return None, None
        try:
            record = self._reader.get(str(ip))
        except (ValueError, RuntimeError, OSError):
            # maxminddb raises ValueError for an IPv6 address in an IPv4 database and
            # InvalidDatabaseError (a RuntimeError) for a corrupt file.
            return None, None
        return _location_from_record(record)


def _header_pair(item: object, source: str) -> tuple[str, str | None]:
    if isinstance(item, str):
        if item.lower() in HEADER_PRESETS:
            return HEADER_PRESETS[item.lower()]
        raise ConfigError(
            f"unknown header preset {item!r}",
            source=source,
            key="trusted_headers",
            fix=f"{did_you_mean(item.lower(), HEADER_PRESETS, or_list='known: ')}; or pass a "
            '("Country-Header", "Region-Header" or None) pair',
        )
    if isinstance(item, tuple) and len(item) == 2:
        country, region = item
        names = [country] if region is None else [country, region]
        if all(isinstance(n, str) and _HEADER_NAME.fullmatch(n) for n in names):
            return country, region
    raise ConfigError(
        f"invalid trusted header {item!r}",
        source=source,
        key="trusted_headers",
        fix='use a preset name or a ("Country-Header", "Region-Header" or None) pair',
    )


def _open_reader(path: str | None, source: str) -> GeoReader | None:
    if path is None:
        return None
    try:
        import maxminddb
    except ImportError:
        raise MissingExtraError("GeoIP lookup", "geoip", "maxminddb") from None
    try:
        reader: GeoReader = maxminddb.open_database(path)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot open the GeoIP database: {exc}",
            source=source,
            key="geoip_path",
            fix="point it at a MaxMind .mmdb file (GeoLite2-Country or GeoLite2-City)",
        ) from None
    return reader


def _location_from_record(record: object) -> tuple[str | None, str | None]:
    if not isinstance(record, Mapping):
        return None, None
    country_block = record.get("country")
    iso = country_block.get("iso_code") if isinstance(country_block, Mapping) else None
    country = normalize_country(iso if isinstance(iso, str) else None)
    if country is None:
        return None, None
    subdivision = None
    subs = record.get("subdivisions")
    if isinstance(subs, list) and subs and isinstance(subs[0], Mapping):
        sub_iso = subs[0].get("iso_code")
        subdivision = normalize_subdivision(country, sub_iso if isinstance(sub_iso, str) else None)
    return country, subdivision


def _collect(headers: Headers, wanted: frozenset[str]) -> dict[str, list[str]]:
    """The values of the *wanted* (lower-case) headers, from a mapping or raw ASGI pairs."""
    found: dict[str, list[str]] = {}
    try:
        items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                continue
            name, value = (
                part.decode("latin-1") if isinstance(part, bytes | bytearray) else part
                for part in item
            )
            if isinstance(name, str) and isinstance(value, str) and name.lower() in wanted:
                found.setdefault(name.lower(), []).append(value)
    except (TypeError, AttributeError):
        return {}
    return found


def _single(values: Mapping[str, list[str]], name: str) -> str | None:
    # A header sent twice with different values is not something a CDN does: ignore it.
    found = values.get(name.lower(), [])
    distinct = {v.strip() for v in found}
    return found[0] if len(distinct) == 1 else None


# -- privacy signals -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signals:
    """Privacy preference signals sent by the browser."""

    gpc: bool
    dnt: bool


def read_signals(headers: Headers) -> Signals:
    """Read ``Sec-GPC`` and ``DNT``: each is on only when its value is exactly ``1``."""
    values = _collect(headers, frozenset({"sec-gpc", "dnt"}))
    return Signals(
        gpc=any(v.strip() == "1" for v in values.get("sec-gpc", [])),
        dnt=any(v.strip() == "1" for v in values.get("dnt", [])),
    )


def gpc_json(last_update: date, *, gpc: bool = True) -> bytes:
    """The body of ``/.well-known/gpc.json`` (serve it as ``application/json``)."""
    day = date(last_update.year, last_update.month, last_update.day)
    return json.dumps({"gpc": gpc, "lastUpdate": day.isoformat()}).encode("ascii")
