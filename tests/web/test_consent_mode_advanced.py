"""consent_mode = "advanced": Google's tags load before a choice, every signal denied."""

from __future__ import annotations

import html
import json
import re

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit.consent_mode import ADVANCED_MODE_PROVIDERS
from consentkit.trackers import default_index

from ..conftest import make_app, site_policy

PAGE = (
    "<html><head>"
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST1"></script>'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    "gtag('js',new Date());gtag('config','G-TEST1');</script>"
    '<script src="https://www.googleadservices.com/pagead/conversion.js"></script>'
    '<script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    "</head><body><p>hi</p></body></html>"
)


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def client(mode: str) -> TestClient:
    return TestClient(make_app(site_policy(consent_mode=mode), routes=[Route("/", page)]))


def loads(text: str, needle: str) -> bool:
    return re.search(r'(?<!data-ck-)src="[^"]*' + re.escape(needle), text) is not None


def inline_runs(text: str) -> bool:
    start = text.index("gtag('config'")
    tag = text[text.rindex("<script", 0, start) : start]
    return "text/plain" not in tag


def test_every_provider_named_exists_in_the_tracker_index() -> None:
    for name in ADVANCED_MODE_PROVIDERS:
        assert default_index().by_provider(name) is not None, name


def test_basic_blocks_google_tags_before_a_choice() -> None:
    text = client("basic").get("/").text
    assert not loads(text, "googletagmanager.com/gtag")
    assert not inline_runs(text)


def test_advanced_loads_google_tags_denied_before_a_choice_only() -> None:
    browser = client("advanced")
    text = browser.get("/").text
    assert loads(text, "googletagmanager.com/gtag")
    assert loads(text, "googleadservices.com")
    assert inline_runs(text)
    assert not loads(text, "connect.facebook.net")  # not a Google tag
    found = re.search(r"data-ck-defaults=([\"'])(.*?)\1", text)
    assert found is not None
    defaults = json.loads(html.unescape(found[2]))
    assert {
        v for k, v in defaults.items() if k.endswith("storage") and k != "security_storage"
    } == {"denied"}
    assert defaults["ad_user_data"] == defaults["ad_personalization"] == "denied"
    # Set-Cookie lines stay category-level: nothing optional is set before a choice.
    assert browser.post("/_consent", json={"action": "reject_all"}).is_success
    text = browser.get("/").text
    assert not loads(text, "googletagmanager.com/gtag")
    assert not inline_runs(text)


@pytest.mark.parametrize("header", [{"Sec-GPC": "1"}])
def test_advanced_keeps_google_ads_blocked_under_gpc(header: dict[str, str]) -> None:
    text = client("advanced").get("/", headers=header).text
    assert loads(text, "googletagmanager.com/gtag")
    assert not loads(text, "googleadservices.com")
