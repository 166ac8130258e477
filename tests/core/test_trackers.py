"""Tests of the tracker knowledge base and its index."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit.errors import ConfigError
from consentkit.trackers import Tracker, TrackerIndex, default_index, url_host_path


@pytest.fixture(scope="module")
def index() -> TrackerIndex:
    return default_index()


def test_packaged_file_is_large_and_well_formed() -> None:
    raw = resources.files("consentkit").joinpath("data", "trackers.toml").read_bytes()
    providers = tomllib.loads(raw.decode())["provider"]
    domains = [d for p in providers for d in p["domains"]]
    assert len(domains) >= 500
    assert len(set(domains)) == len(domains), "a domain is listed twice"
    names = {p["name"] for p in providers}
    for needed in ("Google Analytics", "Hotjar", "Microsoft Clarity", "YouTube", "Intercom"):
        assert needed in names


def test_default_index_is_cached(index: TrackerIndex) -> None:
    assert default_index() is index


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://www.google-analytics.com/analytics.js", "Google Analytics"),
        ("//www.googletagmanager.com/gtm.js?id=GTM-1", "Google Tag Manager"),
        ("https://www.googletagmanager.com/gtag/js?id=G-1", "Google Analytics"),
        ("HTTPS://WWW.GOOGLE-ANALYTICS.COM:443/ga.js", "Google Analytics"),
        ("https://user:pw@stats.g.doubleclick.net./x", "Google Ads / DoubleClick"),
        ("https://www.facebook.com/tr?id=1&ev=PageView", "Meta Pixel"),
        ("https://www.facebook.com/tr/", "Meta Pixel"),
        ("https://www.facebook.com/plugins/video.php", "Facebook"),
        ("https://connect.facebook.net/en_US/fbevents.js", "Meta Pixel"),
        ("https://www.youtube-nocookie.com/embed/x", "YouTube"),
        ("https://player.vimeo.com/video/1", "Vimeo"),
        ("https://www.google.com/maps/embed?pb=1", "Google Maps"),
        ("https://static.hotjar.com/c/hotjar-1.js", "Hotjar"),
        ("https://www.clarity.ms/tag/abc", "Microsoft Clarity"),
        ("https://bat.bing.com/bat.js", "Microsoft Advertising (UET)"),
        ("https://snap.licdn.com/li.lms-analytics/insight.min.js", "LinkedIn Insight"),
        ("https://analytics.tiktok.com/i18n/pixel/events.js", "TikTok"),
        ("https://widget.intercom.io/widget/x", "Intercom"),
        ("https:&#x2F;&#x2F;cdn.taboola.com/libtrc/x.js", "Taboola"),
        ("ht\ttps://ib.adnxs.com/x", "Xandr (AppNexus)"),
        ("https:\\\\static.criteo.net\\js", "Criteo"),
        ("  //platform.twitter.com/widgets.js ", "X (Twitter)"),
    ],
)
def test_match_url(index: TrackerIndex, url: str, provider: str) -> None:
    found = index.match_url(url)
    assert found is not None
    assert found.provider == provider


@pytest.mark.parametrize(
    "url",
    [
        "/js/app.js",
        "js/app.js",
        "?q=//google-analytics.com",
        "https://example.com/google-analytics.com/x.js",
        "https://notgoogle-analytics.com/x.js",
        "https://www.facebook.com.evil.example/x",
        "data:text/javascript,1",
        "javascript:void(0)",
        "mailto:a@google-analytics.com",
        "",
        "https://",
        "https://[::1]:8080/x",
    ],
)
def test_no_match(index: TrackerIndex, url: str) -> None:
    assert index.match_url(url) is None


def test_same_site_never_matches() -> None:
    own = Tracker("Own stats", "performance", frozenset({"script"}), ("stats.example.com",))
    index = default_index().with_extra([own])
    assert index.match_url("https://stats.example.com/s.js") is own
    assert index.match_url("https://stats.example.com/s.js", site="www.example.com") is None
    assert index.match_url("https://www.google-analytics.com/a.js", site="example.com") is not None


def test_extra_trackers_take_precedence() -> None:
    mine = Tracker("Tube", "functionality", frozenset({"embed"}), ("youtube.com",))
    index = default_index().with_extra([mine])
    assert index.match_url("https://www.youtube.com/embed/x") is mine
    assert default_index().match_url("https://www.youtube.com/embed/x") is not mine


@pytest.mark.parametrize(
    ("script", "provider"),
    [
        ("window.dataLayer=[];function gtag(){};gtag('js', new Date());", "Google Analytics"),
        ("j.src='https://www.googletagmanager.com/gtm.js?id='+i", "Google Tag Manager"),
        ("fbq('init', '1'); fbq('track', 'PageView');", "Meta Pixel"),
        ("var _paq = window._paq = window._paq || [];", "Matomo Cloud"),
        ("h._hjSettings={hjid:1,hjsv:6};", "Hotjar"),
        ('_linkedin_partner_id = "1";', "LinkedIn Insight"),
        ("ttq.load('C1'); ttq.page();", "TikTok"),
        (
            '(function(c,l,a,r,i,t,y){})(window,document,"clarity","script","x");',
            "Microsoft Clarity",
        ),
        ('t.src="https://bat.bing.com/bat.js"', "Microsoft Advertising (UET)"),
    ],
)
def test_match_inline(index: TrackerIndex, script: str, provider: str) -> None:
    found = index.match_inline(script)
    assert found is not None
    assert found.provider == provider
    found_bytes = index.match_inline_bytes(script.encode())
    assert found_bytes is found


@pytest.mark.parametrize(
    "script", ["", "console.log('hello')", "var attq = 1; myfbq = 2;", "document.title"]
)
def test_inline_no_match(index: TrackerIndex, script: str) -> None:
    assert index.match_inline(script) is None


def test_by_provider(index: TrackerIndex) -> None:
    found = index.by_provider("googleAnalytics")
    assert found is not None
    assert found.category == "performance"
    assert index.by_provider("nobody") is None


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[[provider]]\nname = "Acme"\ncategory = "targeting"\nkind = "pixel"\n'
        'domains = ["acme.test"]\ninline = ["/acme\\\\(\\\\d+\\\\)/"]\n'
    )
    index = TrackerIndex.from_toml(path)
    assert index.match_url("https://px.acme.test/p.gif") is not None
    assert index.match_inline("acme(42)") is not None
    assert index.match_inline("acme(x)") is None


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            '[[provider]]\nname = "A"\ncategory = "evil"\nkind = "script"\ndomains = ["a.test"]',
            "category",
        ),
        (
            '[[provider]]\nname = "A"\ncategory = "targeting"\nkind = "cake"\ndomains = ["a.test"]',
            "kind",
        ),
        (
            '[[provider]]\nname = ""\ncategory = "targeting"\nkind = "script"\ndomains = ["a"]',
            "name",
        ),
        (
            '[[provider]]\nname = "A"\ncategory = "targeting"\nkind = "script"\ndomains = [1]',
            "domains",
        ),
        (
            '[[provider]]\nname = "A"\ncategory = "targeting"\nkind = "script"\n'
            'domains = ["a"]\ninline = ["/(/"]',
            "inline",
        ),
        ("provider = 3", "provider"),
        ("not toml [", ""),
    ],
)
def test_bad_toml_is_a_config_error(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        TrackerIndex.from_toml(path)
    assert key in caught.value.key


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TrackerIndex.from_toml(tmp_path / "absent.toml")


def test_url_host_path() -> None:
    assert url_host_path("https://A.B.example:8443/p?q#f") == ("a.b.example", "/p")
    assert url_host_path("//x.test") == ("x.test", "/")
    assert url_host_path("ftp://x.test/") is None


_MARKERS = sorted({m for t in default_index().trackers for m in t.inline if not m.startswith("/")})


@given(
    st.lists(
        st.one_of(
            st.sampled_from(_MARKERS),
            st.sampled_from(["_paq.push(['trackPageView'])", "var _paq = []", "x", " ", ";"]),
            st.text(alphabet="abc ;()'\"\n", max_size=20),
        ),
        max_size=12,
    )
)
def test_fast_inline_matching_agrees_with_the_single_regex(parts: list[str]) -> None:
    script = "".join(parts)
    index = default_index()
    expected = index.match_inline(script)
    assert index.match_inline_bytes(script.encode("utf-8")) is expected
    # A second look comes from the cache and must agree too.
    assert index.match_inline_bytes(script.encode("utf-8")) is expected


def test_every_provider_cites_its_source_and_lists_no_redundant_subdomain() -> None:
    trackers = default_index().trackers
    assert all(t.source.startswith("https://") for t in trackers)
    for tracker in trackers:
        # A subdomain of a listed domain is only worth listing for another provider.
        own = set(tracker.domains)
        for domain in own:
            labels = domain.split(".")
            parents = {".".join(labels[i:]) for i in range(1, len(labels) - 1)}
            assert not parents & own, f"{tracker.provider}: {domain} is under {parents & own}"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {
                "provider": [
                    {
                        "name": "X",
                        "category": "targeting",
                        "kind": "pixel",
                        "domains": ["x.example"],
                        "source": "http://x.example/docs",
                    }
                ]
            },
            "provider[0].source",
        ),
        (
            {
                "provider": [
                    {
                        "name": "X",
                        "category": "targeting",
                        "kind": "pixel",
                        "domains": ["x.example"],
                        "domain": ["y.example"],
                    }
                ]
            },
            "provider[0].domain",
        ),
        ({"providers": []}, "providers"),
    ],
)
def test_loader_rejects_bad_sources_and_unknown_keys(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrackerIndex.from_mapping(data, source="t.toml")
    assert info.value.key == key
