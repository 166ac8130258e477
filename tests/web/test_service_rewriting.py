"""The rewriter blocks and lets through elements per service; placeholders name the service."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import Policy
from consentkit.rewriter import HTMLRewriter
from consentkit.rewriter.plan import RewritePlan
from consentkit.services import Service

from ..conftest import make_app

PAGE = (
    "<html><head>"
    '<script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    "</head><body>"
    '<iframe src="https://www.youtube-nocookie.com/embed/abc" title="video"></iframe>'
    '<iframe src="https://player.vimeo.com/video/1" title="vimeo"></iframe>'
    '<script src="https://widget.acme-chat.example/chat.js"></script>'
    '<iframe data-service="chat" src="https://other.example/frame" title="chat"></iframe>'
    "</body></html>"
)
CHAT = Service("chat", "Acme Chat", "functionality", ("chat_sid",), ("widget.acme-chat.example",))


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


@pytest.fixture
def client() -> TestClient:
    policy = Policy(revision="1", services=(CHAT,))
    return TestClient(make_app(policy, routes=[Route("/", page)]))


def choose(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/_consent", json=body).status_code == 200


def loads(html: str, needle: str) -> bool:
    """Whether an element with *needle* in its URL still loads (its URL attribute intact)."""
    return re.search(r'(?<!data-ck-)src="[^"]*' + re.escape(needle), html) is not None


def test_youtube_only_loads_the_video_and_keeps_the_pixel_blocked(client: TestClient) -> None:
    choose(client, {"action": "save", "categories": [], "services": ["youtube"]})
    html = client.get("/").text
    assert loads(html, "youtube-nocookie.com/embed")
    assert not loads(html, "connect.facebook.net")
    assert 'data-ck-service="meta-pixel"' in html
    assert not loads(html, "player.vimeo.com")


def test_one_refused_service_stays_blocked_in_a_granted_category(client: TestClient) -> None:
    choose(client, {"action": "accept_all"})
    html = client.get("/").text
    assert loads(html, "connect.facebook.net")
    choose(
        client,
        {"action": "save", "categories": ["functionality", "targeting"],
         "refused_services": ["meta-pixel", "chat"]},
    )  # fmt: skip
    html = client.get("/").text
    assert loads(html, "youtube-nocookie.com")
    assert loads(html, "player.vimeo.com")
    assert not loads(html, "connect.facebook.net")
    # A declared service's host and another tool's data-service marking follow the service.
    assert not loads(html, "widget.acme-chat.example")
    assert not loads(html, "other.example/frame")
    assert 'data-ck-service="chat"' in html


def test_declared_service_granted_alone(client: TestClient) -> None:
    choose(client, {"action": "save", "services": ["chat"]})
    html = client.get("/").text
    assert loads(html, "widget.acme-chat.example")
    assert loads(html, "other.example/frame")
    assert not loads(html, "player.vimeo.com")  # functionality itself is refused


def test_placeholder_names_the_service_and_allows_only_it(client: TestClient) -> None:
    html = client.get("/").text
    holder = html[html.index('data-ck-service="youtube"') - 200 :]
    holder = holder[: holder.index("</form>")]
    assert html.count("Load content from YouTube") == 1
    assert "Always allow YouTube" in holder
    assert 'name="keep_choice" value="1"' in holder
    assert 'name="services" value="youtube"' in holder
    assert 'name="categories"' not in holder
    # Posting that form without JavaScript grants YouTube and nothing else.
    response = client.post(
        "/_consent",
        data={"action": "save", "keep_choice": "1", "services": "youtube", "return_to": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    decision = client.get("/_consent").json()["decision"]
    assert decision["services"]["granted"] == ["youtube"]
    assert decision["granted"] == ["necessary"]


def test_rewrite_plan_permits_by_service_first() -> None:
    policy = Policy()
    plan = RewritePlan(
        granted=frozenset({"targeting"}),
        services=policy.service_index,
        service_answers=(("meta-pixel", False),),
    )
    assert not plan.blocks_nothing
    rewriter = HTMLRewriter(plan)
    text = (rewriter.feed(PAGE.encode()) + rewriter.flush()).decode()
    assert loads(text, "youtube-nocookie.com")
    assert not loads(text, "connect.facebook.net")
    # Without service answers the category alone decides, as before.
    plain = RewritePlan(granted=frozenset({"targeting"}), services=policy.service_index)
    rewriter = HTMLRewriter(plain)
    assert loads((rewriter.feed(PAGE.encode()) + rewriter.flush()).decode(), "connect.facebook")


def test_relative_markup_marked_with_data_service_is_judged() -> None:
    # Neither element holds an absolute URL: only the data-service marking makes them
    # candidates (the fast paths that skip plain tags must not skip them).
    markup = (
        b'<html><body><p>x</p><iframe data-service="youtube" src="/embed/v"></iframe>'
        b'<img data-service="meta-pixel" src="/px.gif"><img src="/logo.png"></body></html>'
    )
    policy = Policy()
    for answers, youtube, pixel in (
        ((("youtube", True),), True, False),
        ((("meta-pixel", True),), False, True),
    ):
        plan = RewritePlan(services=policy.service_index, service_answers=answers)
        rewriter = HTMLRewriter(plan)
        text = (rewriter.feed(markup) + rewriter.flush()).decode()
        assert loads(text, "/embed/v") is youtube
        assert loads(text, "/px.gif") is pixel
        assert loads(text, "/logo.png")
