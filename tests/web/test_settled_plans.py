"""Settled plans: a choice that leaves nothing to block shares one remembered plan.

Each test would fail if the memo were shared too widely (a partial choice, another
language, another page, a newer declaration getting an accepted visitor's plan) or if
the shared plan carried one response's key.
"""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware
from consentkit.web.i18n import LANGUAGE_STATE_KEY

from ..conftest import SECRET, site_policy

TRACKER = '<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PIXEL = '<img src="https://www.facebook.com/tr?id=1&ev=PageView">'


def page(lang: str = "") -> str:
    attr = f' lang="{lang}"' if lang else ""
    return (
        f"<!doctype html><html{attr}><head><title>t</title></head>"
        f"<body><p>x</p>{TRACKER}{PIXEL}</body></html>"
    )


async def plain(request: Request) -> Response:
    return HTMLResponse(page(request.query_params.get("lang", "")))


async def chosen(request: Request) -> Response:
    setattr(request.state, LANGUAGE_STATE_KEY, request.query_params["lang"])
    return HTMLResponse(page())


async def with_nonce(request: Request) -> Response:
    nonce = request.query_params["nonce"]
    response = HTMLResponse(page())
    response.headers["Content-Security-Policy"] = f"script-src 'nonce-{nonce}'"
    return response


async def sets_a_new_cookie(request: Request) -> Response:
    response = HTMLResponse(page())
    response.set_cookie("fresh_pref", "1")
    return response


def site() -> tuple[TestClient, ConsentMiddleware]:
    app = Starlette(
        routes=[
            Route("/", plain),
            Route("/chosen", chosen),
            Route("/new", sets_a_new_cookie),
            Route("/csp", with_nonce),
        ]
    )
    middleware = ConsentMiddleware(app, policy=site_policy(), secret_key=SECRET)
    return TestClient(middleware), middleware


def choose(client: TestClient, **choice: object) -> None:
    assert client.post("/_consent", json=choice).status_code == 200


def keys(body: str) -> list[str]:
    return re.findall(r'<meta data-ck-key="([^"]*)">', body)


def test_an_accepted_visitor_shares_one_plan_with_an_empty_key() -> None:
    client, middleware = site()
    choose(client, action="accept_all")
    first, second = client.get("/").text, client.get("/").text
    assert first == second
    assert TRACKER in first
    assert PIXEL in first
    assert "data-ck-blocked" not in first
    # The key element stays right after the banner script, with nothing to activate.
    assert keys(first) == [""]
    assert 'consentkit.js" defer></script><meta data-ck-key="">' in first
    assert len(middleware.rules.settled) == 1


def test_each_page_address_has_its_own_plan() -> None:
    client, middleware = site()
    choose(client, action="accept_all")
    one = client.get("/?lang=").text
    other = client.get("/?a=1").text
    # The no-JavaScript forms return the visitor to the page they came from.
    assert "%3Flang%3D" in one or "?lang=" in one
    assert "?a=1" in other or "%3Fa%3D1" in other
    assert "?a=1" not in one
    assert "%3Fa%3D1" not in one
    assert len(middleware.rules.settled) == 2


def test_a_partial_choice_never_gets_the_accepted_plan() -> None:
    client, middleware = site()
    choose(client, action="accept_all")
    client.get("/")
    choose(client, action="save", categories=["performance", "functionality"])
    body = client.get("/").text
    # Targeting is refused: the pixel is blocked under this response's own fresh key.
    assert PIXEL not in body
    [key] = keys(body)
    assert len(key) >= 16
    assert body.count(f'data-ck-blocked="{key}"') == 1
    assert len(middleware.rules.settled) == 1  # the accepted plan only


def test_a_refused_service_in_granted_categories_is_blocked() -> None:
    client, middleware = site()
    choose(
        client,
        action="save",
        categories=["performance", "functionality", "targeting"],
        services={"google-analytics": False},
    )
    body = client.get("/").text
    assert TRACKER not in body
    assert len(keys(body)[0]) >= 16
    assert len(middleware.rules.settled) == 0


def test_the_plan_follows_the_visitors_and_the_pages_language() -> None:
    client, _ = site()
    choose(client, action="accept_all")

    def banner_lang(path: str, accept: str) -> str:
        body = client.get(path, headers={"Accept-Language": accept}).text
        [lang] = re.findall(r'<aside id="ck-root"[^>]* lang="([^"]+)"', body)
        return lang

    assert banner_lang("/", "de") == "de"
    assert banner_lang("/", "fr") == "fr"
    assert banner_lang("/", "de") == "de"
    # The page's <html lang> comes before the visitor's languages, per page.
    assert banner_lang("/?lang=fr", "de") == "fr"
    assert banner_lang("/?lang=de", "fr") == "de"
    # The app's choice for one response wins over both.
    assert banner_lang("/chosen?lang=fr", "de") == "fr"
    assert banner_lang("/chosen?lang=de", "fr") == "de"


def test_a_newer_declaration_gets_a_new_plan() -> None:
    client, middleware = site()
    choose(client, action="accept_all")
    client.get("/")
    declaration = middleware.rules.declaration
    assert declaration is not None
    before = declaration.version
    client.get("/new")  # a cookie no one declared: the declaration learns of it
    assert declaration.version > before
    client.get("/")
    assert len(middleware.rules.settled) == 3


def test_a_plan_with_a_csp_nonce_serves_its_response_only() -> None:
    client, middleware = site()
    choose(client, action="accept_all")
    for nonce in ("n0nceOne", "n0nceTwo"):
        body = client.get(f"/csp?nonce={nonce}").text
        assert f'nonce="{nonce}"' in body
        assert keys(body) == [""]
    assert len(middleware.rules.settled) == 0
