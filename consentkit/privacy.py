"""Data minimisation for receipts: IP truncation and user-agent reduction.

Pure: standard library only. A receipt keeps the network prefix of an address (IPv4 /24,
IPv6 /48) and the browser family with its major version, never the full strings.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final, Literal, TypeAlias

__all__ = ["IP_MODES", "IPMode", "reduce_user_agent", "truncate_ip"]

IPMode: TypeAlias = Literal["truncate", "omit", "full"]
"""How much of a visitor's IP address a receipt keeps."""

IP_MODES: Final[tuple[IPMode, ...]] = ("truncate", "omit", "full")

_MAX_UA: Final = 1024

_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|mediapartners|headless|lighthouse|facebookexternalhit"
    r"|preview|scrap|python-requests|curl/|wget/|httpclient|okhttp",
    re.IGNORECASE,
)
# Order matters: Chromium-based browsers also say "Chrome" and "Safari".
_BROWSERS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("Samsung Internet", re.compile(r"SamsungBrowser/(\d{1,5})(?!\d)")),
    ("Edge", re.compile(r"(?:Edg|EdgA|EdgiOS|Edge)/(\d{1,5})(?!\d)")),
    ("Opera", re.compile(r"(?:OPR|OPT|OPX)/(\d{1,5})(?!\d)")),
    ("Opera", re.compile(r"Opera[/ ].*?Version/(\d{1,5})(?!\d)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d{1,5})(?!\d)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d{1,5})(?!\d)")),
    ("Safari", re.compile(r"Version/(\d{1,5})(?!\d)[.\d]* (?:Mobile/\S+ )?Safari/")),
)


def reduce_user_agent(ua: str) -> str:
    """Reduce a User-Agent to browser family and major version (``"Firefox 128"``).

    Crawlers and HTTP libraries give ``"bot"``; anything unrecognised gives ``"other"``.
    """
    if not isinstance(ua, str) or not ua.strip():
        return "other"
    text = ua[:_MAX_UA]
    if _BOT.search(text):
        return "bot"
    for family, pattern in _BROWSERS:
        match = pattern.search(text)
        if match:
            return f"{family} {int(match.group(1))}"
    return "other"


def truncate_ip(ip: str, mode: IPMode) -> str | None:
    """Minimise an IP address: IPv4 to its /24, IPv6 to its /48, or omit it.

    ``mode="full"`` keeps the (normalised) address. Invalid input gives ``None``.
    """
    if mode not in IP_MODES:
        raise ValueError(f"unknown IP mode {mode!r}: use 'truncate', 'omit' or 'full'")
    if mode == "omit" or not isinstance(ip, str):
        return None
    text = ip.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if mode == "full":
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
