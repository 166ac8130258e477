"""Which site a host belongs to: public suffixes and registrable domains.

A built-in list of the multi-label public suffixes a site is likely to sit under (country
second levels such as ``co.uk``, hosting platforms that publish themselves as suffixes),
not the whole Public Suffix List: enough to never name a suffix as a cookie's ``Domain``
when expiring cookies, and to tell first-party from third-party hosts in the scanner.
Single-label names are suffixes too. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["MULTI_LABEL_SUFFIXES", "is_public_suffix", "registrable_domain"]

MULTI_LABEL_SUFFIXES: Final = frozenset(
    {
        # United Kingdom, Ireland
        "co.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "ac.uk", "gov.uk", "sch.uk",
        "nhs.uk", "police.uk", "gov.ie",
        # Oceania
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
        "co.nz", "net.nz", "org.nz", "ac.nz", "govt.nz", "geek.nz",
        # Asia
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "gr.jp", "ed.jp", "lg.jp",
        "co.kr", "or.kr", "ne.kr", "go.kr", "ac.kr",
        "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn",
        "com.hk", "org.hk", "net.hk", "edu.hk", "gov.hk",
        "com.tw", "org.tw", "net.tw", "edu.tw", "gov.tw",
        "com.sg", "org.sg", "net.sg", "edu.sg", "gov.sg",
        "com.my", "org.my", "net.my", "edu.my", "gov.my",
        "co.in", "net.in", "org.in", "firm.in", "gen.in", "ind.in", "ac.in", "gov.in",
        "co.id", "or.id", "ac.id", "go.id", "web.id",
        "co.th", "in.th", "ac.th", "go.th", "or.th",
        "com.ph", "com.vn", "com.pk", "com.bd", "com.np", "com.lk",
        "co.il", "org.il", "ac.il", "gov.il",
        "com.tr", "org.tr", "net.tr", "gov.tr",
        "com.sa", "com.qa", "com.kw", "com.bh", "com.om", "co.ae",
        # Americas
        "com.br", "net.br", "org.br", "gov.br", "edu.br",
        "com.mx", "org.mx", "gob.mx", "com.ar", "gob.ar", "com.co", "com.pe", "com.uy",
        "com.ve", "com.ec", "cl.cl", "gob.cl", "qc.ca", "on.ca", "bc.ca",
        # Africa
        "co.za", "org.za", "gov.za", "ac.za", "net.za",
        "com.eg", "com.ng", "co.ke", "or.ke", "co.tz", "co.ug", "com.gh", "co.ma",
        # Europe
        "com.ua", "org.ua", "co.at", "or.at", "com.pl", "net.pl", "org.pl", "com.gr",
        "com.cy", "com.mt", "com.pt", "com.es", "com.ru", "co.hu", "com.ro",
        # Hosting platforms that publish themselves as public suffixes
        "github.io", "gitlab.io", "herokuapp.com", "appspot.com", "blogspot.com",
        "netlify.app", "vercel.app", "pages.dev", "workers.dev", "web.app", "firebaseapp.com",
        "azurewebsites.net", "cloudfront.net", "fly.dev", "onrender.com", "glitch.me",
    }
)  # fmt: skip


def is_public_suffix(domain: str) -> bool:
    return "." not in domain or domain in MULTI_LABEL_SUFFIXES


def registrable_domain(host: str) -> str:
    """The site a host belongs to: its public suffix plus one label (``shop.example.co.uk``
    gives ``example.co.uk``).

    IP addresses, single-label names and bare suffixes are their own site.
    """
    host = host.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return host
    labels = host.split(".")
    for start in range(len(labels) - 1, 0, -1):
        if not is_public_suffix(".".join(labels[start:])):
            return ".".join(labels[start:])
    return host
