"""Host extraction the way a browser's URL parser does it (WHATWG URL Standard)."""

from __future__ import annotations

import pytest

from consentkit.url_host import HostPath, host_path, map_host

GTM = ("www.googletagmanager.com", "/gtm.js")
HTTP_PAGE = HostPath("http", "shop.example", "/products/list")
HTTPS_PAGE = HostPath("https", "shop.example", "/products/list")


def _hp(url: str, base: HostPath | None = None) -> tuple[str, str] | None:
    found = host_path(url, base)
    return None if found is None else (found.host, found.path)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.googletagmanager.com/gtm.js",
        "https://www.googletagmanager%2ecom/gtm.js",
        "https://www.googletagmanager%2Ecom/gtm.js",
        "https://www%2Egoogletagmanager%2Ecom/gtm.js",
        "https://www.googletagmanager\u3002com/gtm.js",
        "https://www.googletagmanager\uff0ecom/gtm.js",
        "https://www.googletagmanager\uff61com/gtm.js",
        "https://www.googletagmanager%E3%80%82com/gtm.js",
        "https://WWW.GoogleTagManager.COM/gtm.js",
        "https://www.googletagmanager.com./gtm.js",
        "https://\uff57\uff57\uff57.googletagmanager.com/gtm.js",  # full-width "www"
        "https://www.google\u00adtagmanager.com/gtm.js",  # soft hyphen: mapped to nothing
        "https://www.googletag\u200bmanager.com/gtm.js",  # zero-width space: likewise
        "https:\\\\www.googletagmanager.com\\gtm.js",
        "https:/\\www.googletagmanager.com/gtm.js",
        "https:www.googletagmanager.com/gtm.js",
        "https:///www.googletagmanager.com/gtm.js",
        "HTTPS://www.googletagmanager.com/gtm.js",
        "  \x01https://www.googletagmanager.com/gtm.js\x1f ",
        "ht\ttps://www.google\ntagmanager.com/gtm.js",
        "https://user:pw@www.googletagmanager.com:443/gtm.js?id=1#x",
        "//www.googletagmanager.com/gtm.js",
        "\\\\www.googletagmanager.com/gtm.js",
        "/\\www.googletagmanager.com/gtm.js",
        "https://www.googletagmanager.com/x/../gtm.js",
        "https://www.googletagmanager.com/./gtm%2Ejs",
    ],
)
def test_every_spelling_of_one_host_reads_the_same(url: str) -> None:
    assert _hp(url) == GTM


def test_special_scheme_without_slashes_depends_on_the_base_scheme() -> None:
    url = "https:www.googletagmanager.com/gtm.js"
    # on an http page (or with no base known) it is the tracker's URL...
    assert _hp(url, HTTP_PAGE) == GTM
    assert _hp(url) == GTM
    # ...on an https page it is a path on the page's own host
    assert _hp(url, HTTPS_PAGE) == ("shop.example", "/products/www.googletagmanager.com/gtm.js")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("gtm.js", ("shop.example", "/products/gtm.js")),
        ("/gtm.js", ("shop.example", "/gtm.js")),
        ("\\gtm.js", ("shop.example", "/gtm.js")),
        ("../tr?id=1", ("shop.example", "/tr")),
        ("?q", ("shop.example", "/products/list")),
        ("//cdn.test/x", ("cdn.test", "/x")),
    ],
)
def test_relative_urls_resolve_against_the_base(url: str, expected: tuple[str, str]) -> None:
    assert _hp(url, HTTPS_PAGE) == expected


@pytest.mark.parametrize(
    "url",
    ["gtm.js", "/gtm.js", "ftp://x.test/", "data:text/html,hi", "javascript:x", "blob:x", ""],
)
def test_what_does_not_load_over_http_without_a_base(url: str) -> None:
    assert host_path(url) is None


def test_ipv6_literal_keeps_its_brackets_and_ports_go() -> None:
    assert _hp("http://[::1]:8080/a") == ("[::1]", "/a")


def test_map_host_is_idempotent_on_plain_names() -> None:
    assert map_host("example.com") == "example.com"
    assert map_host("EXAMPLE.com..") == "example.com"
    assert map_host("b\u00fccher.example") == "b\u00fccher.example"
