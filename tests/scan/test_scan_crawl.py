"""The scanner's crawl and button recognition: pure, no browser."""

from __future__ import annotations

import pytest

from consentkit.domains import registrable_domain
from consentkit.scan.controls import MAX_NAME_LENGTH, match_button_name, normalise_name
from consentkit.scan.crawl import (
    BadURLError,
    Fetch,
    Frontier,
    Robots,
    check_start_url,
    discover,
    is_third_party,
    normalise,
    sitemap_urls,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Accept all", "accept"),
        ("Accept All Cookies", "accept"),
        ("  I agree ", "accept"),
        ("Alle akzeptieren", "accept"),
        ("Zustimmen", "accept"),
        ("Tout accepter", "accept"),
        ("J’accepte", "accept"),
        ("Aceptar todas", "accept"),
        ("Accetta tutti", "accept"),
        ("Alles accepteren", "accept"),
        ("Akkoord", "accept"),
        ("Reject all", "reject"),
        ("Decline", "reject"),
        ("Necessary cookies only", "reject"),
        ("Continue without accepting", "reject"),
        ("Alle ablehnen", "reject"),
        ("Nur notwendige Cookies akzeptieren", "reject"),
        ("Tout refuser", "reject"),
        ("Continuer sans accepter", "reject"),
        ("Rechazar todo", "reject"),
        ("Rifiuta tutti", "reject"),
        ("Alles weigeren", "reject"),
        ("Alleen noodzakelijke cookies", "reject"),
        ("Cookie settings", None),
        ("Customize", None),
        ("Acceptable use policy", None),
        ("Read our privacy policy", None),
        ("", None),
        ("accept " * 20, None),
    ],
)
def test_button_names_in_six_languages(name: str, expected: str | None) -> None:
    assert match_button_name(name) == expected


def test_long_texts_are_not_buttons() -> None:
    text = "By clicking accept all you agree to everything we ever want to do with your data"
    assert len(text) > MAX_NAME_LENGTH
    assert match_button_name(text) is None


def test_normalise_name_folds_case_accents_and_quotes() -> None:
    assert normalise_name("  J’ACCEPTE\n tout  ") == "j'accepte tout"
    assert normalise_name("Ablehnen ÄÖÜ") == "ablehnen aou"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "javascript:alert(1)", "http://", "http://example.com:99999/", ""],
)
def test_bad_start_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(BadURLError, match=r"URL|host|port"):
        check_start_url(url)


def test_start_url_gets_a_scheme_and_loses_its_fragment() -> None:
    assert check_start_url("example.com") == "https://example.com/"
    assert check_start_url("http://Example.com/a?b=1#top") == "http://example.com/a?b=1"


def test_normalise_resolves_links_and_drops_non_http() -> None:
    base = "https://example.com/blog/post"
    assert normalise("../about#team", base) == "https://example.com/about"
    assert normalise("mailto:a@example.com", base) is None
    assert normalise("http://[::1", base) is None


def test_frontier_stays_on_the_site_skips_files_and_honours_robots() -> None:
    robots = Robots("User-agent: *\nDisallow: /private\n")
    frontier = Frontier("https://example.com/", robots)
    frontier.add(
        [
            "/about",
            "/about#team",
            "https://www.example.com/contact",
            "https://other.example.org/",
            "http://example.com/insecure",
            "https://example.com:8443/other-port",
            "/brochure.pdf",
            "/_consent/preferences",
            "/private/page",
        ],
        base="https://example.com/",
    )
    order = []
    while (url := frontier.next()) is not None:
        order.append(url)
    assert order == [
        "https://example.com/",
        "https://example.com/about",
        "https://www.example.com/contact",
    ]
    assert frontier.skipped == [("https://example.com/private/page", "disallowed by robots.txt")]


def test_frontier_ignores_robots_when_told() -> None:
    frontier = Frontier("https://example.com/", Robots("User-agent: *\nDisallow: /\n"))
    assert frontier.next() is None
    assert frontier.skipped == [("https://example.com/", "disallowed by robots.txt")]
    told = Frontier(
        "https://example.com/", Robots("User-agent: *\nDisallow: /\n"), ignore_robots=True
    )
    assert told.next() == "https://example.com/"


def test_robots_rules_for_the_scanner_and_crawl_delay() -> None:
    robots = Robots(
        "User-agent: consentkit-scan\nDisallow: /slow\nCrawl-delay: 3\n\n"
        "User-agent: *\nDisallow: /\n\nSitemap: https://example.com/map.xml\n"
    )
    assert robots.allows("https://example.com/page")
    assert not robots.allows("https://example.com/slow/x")
    assert robots.crawl_delay == 3.0
    assert robots.sitemaps == ["https://example.com/map.xml"]
    assert Robots(None).allows("https://example.com/anything")
    assert Robots(None).crawl_delay is None


def test_sitemap_urls_are_read_without_an_xml_parser() -> None:
    text = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        "<urlset><url><loc> https://example.com/a?x=1&amp;y=2 </loc></url>"
        "<url><LOC>https://example.com/b</LOC></url><url><loc>&a;</loc></url></urlset>"
    )
    assert sitemap_urls(text) == [
        "https://example.com/a?x=1&y=2",
        "https://example.com/b",
        "&a;",
    ]


def test_sitemap_urls_are_capped() -> None:
    text = "<loc>https://example.com/p</loc>" * 20_000
    assert len(sitemap_urls(text)) == 10_000


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop.example.co.uk", "example.co.uk"),
        ("a.b.example.com", "example.com"),
        ("example.com.", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("me.github.io", "me.github.io"),
        ("co.uk", "co.uk"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


def test_third_party_is_another_registrable_domain() -> None:
    start = "https://www.example.co.uk/"
    assert not is_third_party("static.example.co.uk", start)
    assert not is_third_party(".example.co.uk", start)
    assert is_third_party("connect.facebook.net", start)
    assert is_third_party("other.co.uk", start)
    assert not is_third_party("127.0.0.1", "http://127.0.0.1:8000/")
    assert is_third_party("www.googletagmanager.com", "http://127.0.0.1:8000/")


def fake_fetch(site: dict[str, tuple[int, str]], asked: list[str]) -> Fetch:
    def fetch(url: str) -> tuple[int, str] | None:
        asked.append(url)
        return site.get(url)

    return fetch


def test_discover_reads_robots_and_nested_sitemaps_on_the_origin_only() -> None:
    site = {
        "https://example.com/robots.txt": (
            200,
            "User-agent: *\nDisallow: /x\nSitemap: https://example.com/extra.xml\n"
            "Sitemap: https://elsewhere.example/map.xml\n",
        ),
        "https://example.com/sitemap.xml": (
            200,
            "<sitemapindex><sitemap><loc>https://example.com/posts.xml</loc></sitemap>"
            "</sitemapindex>",
        ),
        "https://example.com/extra.xml": (200, "<loc>https://example.com/extra</loc>"),
        "https://example.com/posts.xml": (200, "<loc>https://example.com/post/1</loc>"),
    }
    asked: list[str] = []
    robots, pages, problems = discover("https://example.com/start", fake_fetch(site, asked))
    assert not robots.allows("https://example.com/x/1")
    assert pages == ["https://example.com/extra", "https://example.com/post/1"]
    assert problems == []
    assert "https://elsewhere.example/map.xml" not in asked


def test_discover_treats_a_failing_robots_txt_as_disallow_all() -> None:
    site = {"https://example.com/robots.txt": (503, "busy")}
    robots, pages, problems = discover("https://example.com/", fake_fetch(site, []))
    assert not robots.allows("https://example.com/")
    assert pages == []
    assert "HTTP 503" in problems[0]
    assert "--ignore-robots" in problems[0]


def test_discover_without_robots_or_sitemap_allows_everything() -> None:
    robots, pages, problems = discover("https://example.com/", fake_fetch({}, []))
    assert robots.allows("https://example.com/anything")
    assert (pages, problems) == ([], [])


def test_discover_reads_at_most_three_sitemaps() -> None:
    index = "".join(f"<loc>https://example.com/s{i}.xml</loc>" for i in range(10))
    site = {"https://example.com/sitemap.xml": (200, index)}
    site.update({f"https://example.com/s{i}.xml": (200, "") for i in range(10)})
    asked: list[str] = []
    discover("https://example.com/", fake_fetch(site, asked))
    assert len([url for url in asked if url.endswith(".xml")]) == 3
