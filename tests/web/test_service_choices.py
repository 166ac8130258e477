"""Per-service choices through the HTTP API and the middleware's header enforcement."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from ..conftest import make_app, site_policy
from ..helpers import deleted_cookie_names, set_cookie_names


async def ads_page(request: Request) -> Response:
    response = HTMLResponse("<html><head></head><body><p>hi</p></body></html>")
    response.set_cookie("_fbp", "fb.1.1.1", max_age=3600)  # Meta Pixel
    response.set_cookie("YSC", "yt", max_age=3600)  # YouTube
    response.set_cookie("_gcl_au", "1.1", max_age=3600)  # Google Ads
    return response


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(site_policy(), routes=[Route("/", ads_page)]))


def post(client: TestClient, body: dict[str, object]) -> dict:
    response = client.post("/_consent", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_json_grant_youtube_only(client: TestClient) -> None:
    result = post(client, {"action": "save", "categories": [], "services": ["youtube"]})
    assert "youtube" in result["decision"]["services"]["granted"]
    assert "meta-pixel" in result["decision"]["services"]["refused"]
    assert "targeting" in result["decision"]["refused"]
    assert set_cookie_names(client.get("/")) == ["YSC"]
    status = client.get("/_consent").json()["decision"]
    assert status["services"]["granted"] == ["youtube"]


def test_form_refuses_one_service_of_a_granted_category(client: TestClient) -> None:
    post(client, {"action": "accept_all"})
    assert sorted(set_cookie_names(client.get("/"))) == ["YSC", "_fbp", "_gcl_au"]
    assert {"_fbp", "YSC", "_gcl_au"} <= set(client.cookies.keys())
    response = client.post(
        "/_consent",
        data={
            "action": "save",
            "categories": ["performance", "functionality", "targeting"],
            "refused_services": "meta-pixel",
            "return_to": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    # The refusal expires the service's cookies the browser sent, on the same response...
    assert "_fbp" in deleted_cookie_names(response)
    assert "YSC" not in deleted_cookie_names(response)
    # ...and its Set-Cookie lines are dropped while the rest of targeting passes.
    assert sorted(set_cookie_names(client.get("/"))) == ["YSC", "_gcl_au"]


def test_json_expire_list_names_the_refused_service_cookies(client: TestClient) -> None:
    post(client, {"action": "accept_all"})
    client.get("/")
    result = post(
        client, {"action": "save", "categories": ["targeting"], "services": {"youtube": False}}
    )
    assert "YSC" in result["expire"]
    assert "_fbp" not in result["expire"]


def test_always_allow_one_service_keeps_the_rest_of_the_choice(client: TestClient) -> None:
    post(client, {"action": "save", "categories": ["performance"], "refused_services": []})
    result = post(client, {"action": "save", "keep_choice": True, "services": ["youtube"]})
    decision = result["decision"]
    assert "performance" in decision["granted"]
    assert sorted(decision["services"]["granted"]) == ["google-analytics", "hotjar", "youtube"]
    assert "meta-pixel" in decision["services"]["refused"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "save", "services": ["nope"]},
        {"action": "save", "services": "youtube", "refused_services": ["youtube"]},
        {"action": "save", "services": [1]},
        {"action": "save", "services": {"youtube": "yes"}},
        {"action": "save", "refused_services": {"a": 1}},
        {"action": "save", "services": ["youtube"] * 300},
    ],
)
def test_bad_service_fields_are_400_and_change_nothing(
    client: TestClient, body: dict[str, object]
) -> None:
    response = client.post("/_consent", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert not response.headers.get_list("set-cookie")


def test_unknown_service_in_a_form_is_400(client: TestClient) -> None:
    response = client.post("/_consent", data={"action": "save", "services": "x" * 5000})
    assert response.status_code == 400
    assert "x" * 41 not in response.text  # the echo is bounded


def test_cross_site_service_posts_are_refused(client: TestClient) -> None:
    response = client.post(
        "/_consent",
        json={"action": "save", "services": ["youtube"]},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403


def test_the_app_sees_allows_service() -> None:
    async def page(request: Request) -> Response:
        consent = request.state.consent
        text = f"{consent.allows_service('youtube')}/{consent.allows('targeting')}"
        return PlainTextResponse(text)

    client = TestClient(make_app(site_policy(), routes=[Route("/", page)]))
    assert client.get("/").text == "False/False"
    post(client, {"action": "save", "services": ["youtube"]})
    assert client.get("/").text == "True/False"


def test_a_new_service_is_asked_about_alone() -> None:
    from consentkit.services import Service

    chat = Service("chat", "Acme Chat", "functionality", (), ("chat.example",))
    maps = Service("maps2", "Acme Maps", "functionality", (), ("maps.example",))
    before = TestClient(make_app(site_policy(services=(chat,)), routes=[Route("/", ads_page)]))
    post(before, {"action": "save", "categories": ["functionality", "targeting"]})
    after = TestClient(make_app(site_policy(services=(chat, maps)), routes=[Route("/", ads_page)]))
    after.cookies = before.cookies  # the same browser, after the site declared a service
    status = after.get("/_consent").json()["decision"]
    assert status["reason"] == "services_changed"
    assert status["services"]["pending"] == ["maps2"]
    assert status["pending"] == []
    page = after.get("/").text
    assert "This site now also uses Acme Maps." in page
    assert "Always allow Acme Maps" in page
    assert "Don&#39;t allow Acme Maps" in page or "Don't allow Acme Maps" in page
    # The no-JS form answers for that service and keeps the rest.
    response = after.post(
        "/_consent",
        data={"action": "save", "keep_choice": "1", "refused_services": "maps2", "return_to": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    status = after.get("/_consent").json()["decision"]
    assert status["reason"] == "recorded"
    assert "maps2" in status["services"]["refused"]
    assert "chat" in status["services"]["granted"]
    assert status["granted"] == ["necessary", "functionality", "targeting"]
    assert "This site now also uses" not in after.get("/").text


@pytest.mark.parametrize(
    ("categories", "ticked", "allowed"),
    [
        # The category switch alone sets all its services.
        (["targeting"], [], {"youtube", "meta-pixel", "tiktok"}),
        # Some services ticked under a ticked category: the others are refused.
        (["targeting"], ["youtube"], {"youtube"}),
        # A service ticked under an unticked category: that service alone.
        ([], ["youtube"], {"youtube"}),
        ([], [], set()),
    ],
)
def test_no_js_preferences_form_switches(
    client: TestClient, categories: list[str], ticked: list[str], allowed: set[str]
) -> None:
    shown = ["youtube", "meta-pixel", "tiktok"]
    response = client.post(
        "/_consent",
        data={
            "action": "save",
            "categories": categories,
            "services": ticked,
            "shown_services": shown,
            "return_to": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    services = client.get("/_consent").json()["decision"]["services"]
    assert {i for i in shown if i in services["granted"]} == allowed


def test_shown_services_must_be_known(client: TestClient) -> None:
    response = client.post("/_consent", data={"action": "save", "shown_services": "nope"})
    assert response.status_code == 400


async def video_page(request: Request) -> Response:
    # Embeds Vimeo, which sets no cookie the site could declare or be seen setting.
    return HTMLResponse(
        '<html><body><iframe src="https://player.vimeo.com/video/1"></iframe></body></html>'
    )


def test_the_centre_lists_a_service_a_page_embeds_without_cookies() -> None:
    client = TestClient(make_app(site_policy(), routes=[Route("/", video_page)]))
    before = client.get("/_consent/preferences?fragment=1").text
    assert 'value="vimeo"' not in before
    page = client.get("/").text
    assert "data-ck-blocked" in page  # the frame was held back, as Vimeo's service
    after = client.get("/_consent/preferences?fragment=1").text
    assert 'value="vimeo"' in after
