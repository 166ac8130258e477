"""Consent model x privacy signal x lifecycle state, end to end over HTTP.

Every case reads its expectation from the small tables below (never from the library),
then checks what ``GET /_consent`` reports, which ``Set-Cookie`` lines of an app that sets
one cookie per category reach the browser, what the page shows, and the receipts that the
page view and the visitor's answer write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware, Policy
from consentkit.consent_mode import consent_mode_defaults
from consentkit.decision import ConsentCodec, StoredConsent
from consentkit.receipts import Receipt
from consentkit.stores import open_store

from ..conftest import RECEIPT_KEY, SECRET
from ..helpers import MATOMO_RULE, SHOP_RULES, set_cookie_names, shop_policy

ORDER = ("necessary", "performance", "functionality", "targeting")
OPTIONAL = ORDER[1:]
REVISION = "2"
CONSENT_DAYS = 182
REFUSAL_DAYS = 30

# -- the site ---------------------------------------------------------------------------

COOKIE_OF = {"necessary": "sessionid", "performance": "_ga", "functionality": "lang"}
COOKIE_OF["targeting"] = "_fbp"
# Declared after the stored choices were made: the "categories_changed" state.
LATE_RULE = MATOMO_RULE
NOTICE_REGIONS = {"APAC": {"countries": ["SG"], "model": "notice"}}

PAGE = """<!doctype html><html lang="en"><head><title>Shop</title></head><body>
<h1>Shop</h1>
<script data-consent="performance" src="/perf.js"></script>
<script data-consent="targeting" src="/ads.js"></script>
</body></html>"""


def make_policy(*, revision: str = REVISION, late_rule: bool = True, **extra: Any) -> Policy:
    return shop_policy(
        *((LATE_RULE,) if late_rule else ()),
        revision=revision,
        consent_lifetime_days=CONSENT_DAYS,
        refusal_lifetime_days=REFUSAL_DAYS,
        regions=NOTICE_REGIONS,
        **extra,
    )


async def page(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    for name in COOKIE_OF.values():
        response.set_cookie(name, "v", max_age=3600)
    return response


def make_client(tmp_path: Path, policy: Policy, **options: Any) -> tuple[TestClient, str]:
    url = f"sqlite:///{tmp_path}/receipts.db"
    options.setdefault("trusted_headers", ["cloudflare"])
    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(
        ConsentMiddleware,
        policy=policy,
        secret_key=SECRET,
        store=url,
        receipt_key=RECEIPT_KEY,
        **options,
    )
    return TestClient(app), url


def receipts(url: str) -> list[Receipt]:
    store = open_store(url, receipt_keys=[RECEIPT_KEY])
    try:
        return list(store.iter_receipts())
    finally:
        store.close()


# -- the expectation tables ---------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    headers: Mapping[str, str]
    model: str
    region: str
    default_grants: frozenset[str]
    asks: bool
    # The answer a visitor gives there, and what it grants.
    action: str
    categories: tuple[str, ...]


ALL = frozenset(ORDER)
PLACES = {
    "opt_in": Place(
        {"CF-IPCountry": "DE"}, "opt_in", "EU", frozenset({"necessary"}), True, "reject_all", ()
    ),
    "opt_out": Place(
        # The "Do Not Sell or Share" button: everything but targeting.
        {"CF-IPCountry": "US", "CF-Region-Code": "CA"},
        "opt_out",
        "US-CA",
        ALL,
        True,
        "save",
        ("performance", "functionality"),
    ),
    "notice": Place(
        {"CF-IPCountry": "SG"}, "notice", "APAC", ALL, False, "save", ("functionality",)
    ),
}


@dataclass(frozen=True)
class Signal:
    headers: Mapping[str, str]
    honor_dnt: bool
    refuses_targeting: bool
    reason: str  # why, when no stored choice counts and none ever existed
    gpc: bool


SIGNALS = {
    "none": Signal({}, False, False, "no_decision", False),
    "gpc": Signal({"Sec-GPC": "1"}, False, True, "gpc", True),
    "dnt_ignored": Signal({"DNT": "1"}, False, False, "no_decision", False),
    "dnt_honoured": Signal({"DNT": "1"}, True, True, "dnt", False),
}


@dataclass(frozen=True)
class Choice:
    granted: frozenset[str]
    refused: frozenset[str]


MIXED = Choice(frozenset({"necessary", "performance", "targeting"}), frozenset({"functionality"}))
REFUSAL = Choice(frozenset({"necessary"}), frozenset(OPTIONAL))


@dataclass(frozen=True)
class State:
    choice: Choice | None
    age_days: int = 10
    revision: str = REVISION
    counts: bool = False  # whether the stored choice still applies
    reason: str | None = None  # when it does not count; None: the signal's reason
    asked_again: frozenset[str] = field(default_factory=frozenset)


STATES = {
    "no_cookie": State(None),
    "fresh": State(MIXED, counts=True),
    "fresh_refusal": State(REFUSAL, counts=True),
    "expired": State(MIXED, age_days=CONSENT_DAYS + 5, reason="expired"),
    # Older than the refusal lifetime, well within the consent lifetime.
    "refusal_expired": State(REFUSAL, age_days=REFUSAL_DAYS + 5, reason="expired"),
    "new_revision": State(MIXED, revision="1", reason="new_revision"),
    "categories_changed": State(MIXED, counts=True, asked_again=frozenset({"performance"})),
}


@dataclass(frozen=True)
class Expected:
    decided: bool
    granted: frozenset[str]
    pending: frozenset[str]
    reason: str

    @property
    def first_layer(self) -> bool:
        return bool(self.pending)


def expected(place: Place, signal: Signal, state: State) -> Expected:
    if state.choice is not None and state.counts:
        # Only a model that asks can ask again; under "notice" the grant stands.
        again = state.asked_again if place.asks else frozenset()
        reason = "categories_changed" if again else "recorded"
        return Expected(True, state.choice.granted - again, again, reason)
    granted = place.default_grants
    if signal.refuses_targeting:
        granted -= {"targeting"}
    pending = frozenset(OPTIONAL) if place.asks else frozenset()
    return Expected(False, granted, pending, state.reason or signal.reason)


def ordered(categories: frozenset[str] | set[str]) -> list[str]:
    return [c for c in ORDER if c in categories]


# -- reading responses ----------------------------------------------------------------------


def first_layer_html(text: str) -> str:
    start = text.find("data-ck-banner")
    return text[start : text.find("</section>", start)] if start >= 0 else ""


class _Defaults(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag == "script" and name == "data-ck-defaults" and value is not None:
                self.found.append(value)


def consent_mode_head(text: str) -> list[dict[str, Any]]:
    parser = _Defaults()
    parser.feed(text)
    return [json.loads(v) for v in parser.found]


SIGNALS_OF = {
    "necessary": ("security_storage",),
    "performance": ("analytics_storage",),
    "functionality": ("functionality_storage", "personalization_storage"),
    "targeting": ("ad_storage", "ad_user_data", "ad_personalization"),
}


def consent_mode_for(granted: frozenset[str]) -> dict[str, str]:
    return {
        signal: "granted" if category in granted | {"necessary"} else "denied"
        for category, signals in SIGNALS_OF.items()
        for signal in signals
    }


def mint(state: State, policy_then: Policy, consent_id: str) -> str | None:
    if state.choice is None:
        return None
    stored = StoredConsent(
        consent_id=consent_id,
        granted=state.choice.granted,  # type: ignore[arg-type]
        refused=state.choice.refused,  # type: ignore[arg-type]
        revision=state.revision,
        decided_at=datetime.now(UTC) - timedelta(days=state.age_days),
        fingerprints={c: policy_then.fingerprint(c) for c in ORDER},  # type: ignore[arg-type]
        action="save",
    )
    return ConsentCodec(SECRET).dumps(stored)


CASES = [
    pytest.param(model, signal, state, id=f"{model}-{signal}-{state}")
    for model in PLACES
    for signal in SIGNALS
    for state in STATES
]


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "signal_key", "state_key"), CASES)
def test_lifecycle_matrix(tmp_path: Path, model: str, signal_key: str, state_key: str) -> None:
    place, signal, state = PLACES[model], SIGNALS[signal_key], STATES[state_key]
    want = expected(place, signal, state)
    policy = make_policy(honor_dnt=signal.honor_dnt)
    # The cookie was minted before LATE_RULE was declared only in the categories_changed state.
    policy_then = make_policy(late_rule=not state.asked_again)
    consent_id = "stored-consent-id-0001"
    token = mint(state, policy_then, consent_id)
    client, url = make_client(tmp_path, policy)
    headers = {**place.headers, **signal.headers}
    if token is not None:
        headers["Cookie"] = f"consentkit={token}"

    # 1. What the site reports.
    status = client.get("/_consent", headers=headers).json()["decision"]
    client.cookies.clear()
    assert status["decided"] is want.decided
    assert status["granted"] == ordered(want.granted)
    assert status["pending"] == ordered(want.pending)
    assert status["reason"] == want.reason
    assert (status["model"], status["region"]) == (place.model, place.region)
    assert status["gpc"] is signal.gpc

    # 2. The page: cookies, first layer, notice, GPC line, Consent Mode defaults.
    response = client.get("/", headers=headers)
    client.cookies.clear()
    assert response.status_code == 200
    app_cookies = set(set_cookie_names(response, deletions=True)) - {"consentkit"}
    assert app_cookies == {COOKIE_OF[c] for c in want.granted | {"necessary"}}
    text = response.text
    layer = first_layer_html(text)
    assert bool(layer) is want.first_layer
    assert ("Your privacy choices" in layer) is (want.first_layer and place.model == "opt_out")
    assert ("Do Not Sell or Share My Personal Information" in layer) is (
        want.first_layer and place.model == "opt_out"
    )
    assert ("We value your privacy" in layer) is (want.first_layer and place.model == "opt_in")
    honoured = signal.gpc and "targeting" not in want.granted
    # The page carries the notice in its first layer only; the preferences centre
    # (fetched on demand) always shows it while it is honoured.
    assert ("Global Privacy Control" in text) is (honoured and want.first_layer)
    assert ("Global Privacy Control" in layer) is (honoured and want.first_layer)
    centre = client.get("/_consent/preferences?fragment=1", headers=headers)
    client.cookies.clear()
    assert centre.status_code == 200
    assert ("Global Privacy Control" in centre.text) is honoured
    heads = consent_mode_head(text)
    assert len(heads) == 1
    assert {k: v for k, v in heads[0].items() if k != "wait_for_update"} == consent_mode_for(
        want.granted
    )

    # 3. The page view records GPC once, when nothing was decided yet.
    rows = receipts(url)
    gpc_recorded = signal.gpc and not want.decided
    assert [r.action for r in rows] == (["gpc"] if gpc_recorded else [])
    for row in rows:
        assert (row.consent_model, row.jurisdiction) == (place.model, place.region)
        assert "targeting" in row.refused
    # The browser keeps the consent cookie the page set, if any.
    page_cookie = response.cookies.get("consentkit")
    if page_cookie is not None:
        headers["Cookie"] = f"consentkit={page_cookie}"

    # 4. Answering writes a receipt with the action, model and jurisdiction.
    answer = client.post(
        "/_consent",
        data={"action": place.action, "categories": list(place.categories)},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    new_cookie = answer.cookies.get("consentkit")
    client.cookies.clear()
    assert new_cookie
    rows = receipts(url)
    assert [r.action for r in rows] == (["gpc"] if gpc_recorded else []) + [place.action]
    last = rows[-1]
    chosen = frozenset({"necessary", *place.categories})
    assert (last.consent_model, last.jurisdiction) == (place.model, place.region)
    assert list(last.granted) == ordered(chosen)
    assert list(last.refused) == ordered(ALL - chosen)
    assert last.policy_revision == REVISION
    assert len({r.consent_id for r in rows}) == 1, "one browser, one consent id"
    if token is not None:
        assert last.consent_id == consent_id

    # 5. The answer now applies, in the same place, whatever the signal.
    headers["Cookie"] = f"consentkit={new_cookie}"
    after = client.get("/_consent", headers=headers).json()["decision"]
    assert after["decided"] is True
    assert after["reason"] == "recorded"
    assert after["granted"] == ordered(chosen)
    assert after["pending"] == []
    assert (after["model"], after["region"]) == (place.model, place.region)


# -- location headers --------------------------------------------------------------------------

FORGED = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


@pytest.mark.parametrize(
    ("regions", "default_region", "model", "region"),
    [
        ({}, "", "opt_in", "default"),
        ({"default": {"model": "notice"}}, "", "notice", "default"),
        ({}, "EU", "opt_in", "EU"),
        ({"site": {"model": "notice"}}, "site", "notice", "site"),
    ],
)
def test_forged_location_headers_are_ignored_without_trusted_headers(
    tmp_path: Path, regions: dict[str, Any], default_region: str, model: str, region: str
) -> None:
    policy = Policy(
        revision=REVISION, cookies=SHOP_RULES, regions=regions, default_region=default_region
    )
    client, _ = make_client(tmp_path, policy, trusted_headers=())
    status = client.get("/_consent", headers=FORGED).json()["decision"]
    assert (status["model"], status["region"]) == (model, region)
    response = client.get("/", headers=FORGED)
    assert "Do Not Sell" not in response.text
    # Before a choice, only the notice model lets a targeting cookie through.
    assert ("_fbp" in set_cookie_names(response, deletions=True)) is (model == "notice")


def test_the_same_headers_count_once_trusted(tmp_path: Path) -> None:
    # The control for the test above: the headers themselves are well formed.
    client, _ = make_client(tmp_path, make_policy())
    status = client.get("/_consent", headers=FORGED).json()["decision"]
    assert (status["model"], status["region"]) == ("opt_out", "US-CA")


COUNTRY = b"CF-IPCountry"


@pytest.mark.parametrize(
    "headers",
    [
        [(COUNTRY, b"XX")],
        [(COUNTRY, b"T1")],
        [(COUNTRY, b"U S")],
        [(COUNTRY, b"US"), (b"CF-Region-Code", b"DE-BY")],
        [(COUNTRY, b"DE" * 200)],
        [(COUNTRY, "\u00e9\u00e9".encode())],
        [(COUNTRY, b"\xff\xfe")],
        # Sent twice with different values: not something the CDN does.
        [(COUNTRY, b"US"), (COUNTRY, b"DE"), (b"CF-Region-Code", b"CA")],
    ],
)
def test_bad_location_values_fall_back_without_error(
    tmp_path: Path, headers: list[tuple[bytes, bytes]]
) -> None:
    client, _ = make_client(tmp_path, make_policy())
    response = client.get("/_consent", headers=headers)
    assert response.status_code == 200
    status = response.json()["decision"]
    # Unknown, or a US country without a usable state: the default region, never US-CA.
    assert status["region"] == "default"
    assert status["model"] == "opt_in"


# -- Google Consent Mode ------------------------------------------------------------------------

DENIED = "denied"
GRANTED = "granted"
# The documented defaults per model (docs/jurisdictions.md), ads first.
CONSENT_MODE_TABLE = {
    ("opt_in", False): (DENIED, DENIED),
    ("opt_in", True): (DENIED, DENIED),
    ("opt_out", False): (GRANTED, GRANTED),
    ("opt_out", True): (DENIED, GRANTED),
    ("notice", False): (GRANTED, GRANTED),
    ("notice", True): (DENIED, GRANTED),
}
AD_TYPES = ("ad_storage", "ad_user_data", "ad_personalization")
OTHER_TYPES = ("analytics_storage", "functionality_storage", "personalization_storage")


@pytest.mark.parametrize(("model", "gpc"), list(CONSENT_MODE_TABLE))
def test_consent_mode_head_defaults_match_the_model(tmp_path: Path, model: str, gpc: bool) -> None:
    client, _ = make_client(tmp_path, make_policy())
    headers = {**PLACES[model].headers, **({"Sec-GPC": "1"} if gpc else {})}
    heads = consent_mode_head(client.get("/", headers=headers).text)
    assert len(heads) == 1
    ads, others = CONSENT_MODE_TABLE[(model, gpc)]
    head = heads[0]
    assert {k: head[k] for k in AD_TYPES} == dict.fromkeys(AD_TYPES, ads)
    assert {k: head[k] for k in OTHER_TYPES} == dict.fromkeys(OTHER_TYPES, others)
    assert head["security_storage"] == GRANTED
    assert isinstance(head["wait_for_update"], int)
    # The page agrees with the region-wide defaults offered for gtag.
    country = PLACES[model].headers["CF-IPCountry"]
    code = country if model != "opt_out" else "US-CA"
    entries = consent_mode_defaults(make_policy().region_table, gpc=gpc)
    entry = next(e for e in entries if code in e.get("region", ()))
    assert {k: v for k, v in entry.items() if k != "region"} == {
        k: v for k, v in head.items() if k != "wait_for_update"
    }


# -- /.well-known/gpc.json ----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"Sec-GPC": "1"}, {"CF-IPCountry": "DE"}])
def test_well_known_gpc_json(tmp_path: Path, extra: dict[str, str]) -> None:
    client, url = make_client(tmp_path, make_policy())
    response = client.get("/.well-known/gpc.json", headers=extra)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert set(body) == {"gpc", "lastUpdate"}
    assert body["gpc"] is True
    assert date.fromisoformat(body["lastUpdate"]) <= datetime.now(UTC).date()
    assert "set-cookie" not in response.headers
    assert receipts(url) == [], "a machine-readable file is not a page view"


# -- crawlers -------------------------------------------------------------------------------------

CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]


def crawler_page(tmp_path: Path, model: str, user_agent: str) -> tuple[Any, str]:
    client, url = make_client(tmp_path, make_policy())
    response = client.get("/", headers={**PLACES[model].headers, "User-Agent": user_agent})
    return response, url


@pytest.mark.parametrize("user_agent", CRAWLERS)
@pytest.mark.parametrize("model", list(PLACES))
def test_crawlers_get_no_banner_and_no_optional_tag(
    tmp_path: Path, model: str, user_agent: str
) -> None:
    response, url = crawler_page(tmp_path, model, user_agent)
    text = response.text
    assert "ck-root" not in text
    assert "data-ck-banner" not in text
    assert consent_mode_head(text) == []
    assert text.count("data-ck-blocked") == 2, "both consent-marked scripts are blocked"
    assert receipts(url) == []


@pytest.mark.parametrize("user_agent", CRAWLERS)
@pytest.mark.parametrize("model", list(PLACES))
def test_crawlers_get_no_optional_cookie(tmp_path: Path, model: str, user_agent: str) -> None:
    # Even where the model grants everything before a choice.
    response, _ = crawler_page(tmp_path, model, user_agent)
    assert set(set_cookie_names(response, deletions=True)) == {"sessionid"}


@pytest.mark.parametrize("model", list(PLACES))
def test_a_browser_with_the_same_headers_gets_the_banner(tmp_path: Path, model: str) -> None:
    # The control for the crawler test: the same request from a browser.
    client, _ = make_client(tmp_path, make_policy())
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    text = client.get("/", headers={**PLACES[model].headers, "User-Agent": agent}).text
    assert "ck-root" in text
    assert len(consent_mode_head(text)) == 1
    assert ("data-ck-banner" in text) is PLACES[model].asks


def test_crawler_mode_off_treats_crawlers_as_visitors(tmp_path: Path) -> None:
    client, _ = make_client(tmp_path, make_policy(), crawler_mode="off")
    response = client.get("/", headers={**PLACES["opt_in"].headers, "User-Agent": CRAWLERS[0]})
    assert "data-ck-banner" in response.text
    assert len(consent_mode_head(response.text)) == 1
