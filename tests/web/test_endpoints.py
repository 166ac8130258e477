"""The HTTP API under ``/_consent``: validation, cross-site refusal, forms and JSON."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ..conftest import ADMIN_TOKEN, make_app


def test_get_returns_the_current_decision(client: TestClient) -> None:
    response = client.get("/_consent")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    state = response.json()["decision"]
    assert state["decided"] is False
    assert state["granted"] == ["necessary"]
    assert state["pending"] == ["performance", "functionality", "targeting"]


def test_form_post_redirects_back_with_303(client: TestClient) -> None:
    response = client.post(
        "/_consent",
        data={"action": "save", "categories": ["performance", "targeting"], "return_to": "/a?b=1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/a?b=1"
    state = client.get("/_consent").json()["decision"]
    assert state["granted"] == ["necessary", "performance", "targeting"]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "",
        "/a\r\nX: y",
    ],
)
def test_form_post_never_redirects_off_site(client: TestClient, target: str) -> None:
    response = client.post(
        "/_consent", data={"action": "accept_all", "return_to": target}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),
    ],
)
def test_cross_site_posts_are_refused(client: TestClient, headers: dict, status: int) -> None:
    response = client.post("/_consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == status
    decided = client.get("/_consent").json()["decision"]["decided"]
    assert decided is (status == 200)
    if status == 403:
        assert "set-cookie" not in response.headers
        assert "error" in response.json()


def test_allowed_origins_are_configurable() -> None:
    client = TestClient(make_app(allowed_origins=("https://shop.example",)))
    response = client.post(
        "/_consent", json={"action": "accept_all"}, headers={"Origin": "https://shop.example"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"action": "sell_everything"}', "application/json", 400),
        (b'{"action": 3}', "application/json", 400),
        (b'{"action": "save", "categories": ["marketing"]}', "application/json", 400),
        (b'{"action": "save", "categories": "performance,targeting"}', "application/json", 400),
        (b'{"action": "save", "categories": [1]}', "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"action=%ZZ&&==", "application/x-www-form-urlencoded", 400),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400),
        (b"action=accept_all", "text/plain", 415),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415),
        (b"", "application/json", 400),
    ],
)
def test_malformed_bodies_get_a_json_error_and_change_nothing(
    client: TestClient, content: bytes, content_type: str, status: int
) -> None:
    response = client.post("/_consent", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert "error" in response.json()
    assert "set-cookie" not in response.headers
    assert client.get("/_consent").json()["decision"]["decided"] is False


def test_oversized_body_gets_413(client: TestClient) -> None:
    big = b'{"action": "accept_all", "pad": "' + b"x" * 20000 + b'"}'
    response = client.post("/_consent", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert client.get("/_consent").json()["decision"]["decided"] is False


def test_oversized_streamed_body_without_length_gets_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"action": "accept_all", "pad": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/_consent", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(client: TestClient, method: str) -> None:
    response = client.request(method, "/_consent")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


def test_unknown_endpoint_is_404(client: TestClient) -> None:
    assert client.get("/_consent/nope").status_code == 404


@pytest.mark.parametrize("name", ["../pyproject.toml", "..%2Fpyproject.toml", ".hidden", "nope.js"])
def test_static_refuses_traversal(client: TestClient, name: str) -> None:
    assert client.get(f"/_consent/static/{name}").status_code == 404


def test_static_serves_the_banner_assets(client: TestClient) -> None:
    for name, media in (("consentkit.js", "javascript"), ("consentkit.css", "text/css")):
        response = client.get(f"/_consent/static/{name}")
        assert response.status_code == 200, name
        assert media in response.headers["content-type"]
        assert response.content
        again = client.get(
            f"/_consent/static/{name}", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304


def test_preferences_fragment_is_the_centre_alone(client: TestClient) -> None:
    response = client.get("/_consent/preferences?fragment=1&return_to=/shop%3Fa%3D1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # The centre, not a page: no document, and nothing a nonce CSP would have to allow.
    assert "<html" not in html
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert 'id="ck-prefs-title"' in html
    assert html.count('role="switch"') == 4
    assert 'name="return_to" value="/shop?a=1"' in html
    assert response.headers["cache-control"] == "private, no-cache"
    assert "accept-language" in response.headers["vary"].lower()
    again = client.get(
        "/_consent/preferences?fragment=1&return_to=/shop%3Fa%3D1",
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304
    assert not again.content
    german = client.get("/_consent/preferences?fragment=1", headers={"Accept-Language": "de"})
    assert german.headers["etag"] != response.headers["etag"]
    # Any other value is the full page.
    page = client.get("/_consent/preferences?fragment=yes")
    assert page.text.startswith("<!doctype html>")


def test_gpc_well_known_file(client: TestClient) -> None:
    body = client.get("/.well-known/gpc.json").json()
    assert body["gpc"] is True
    assert len(body["lastUpdate"]) == 10


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong-token-0000000000", "Basic !!!", "Bearer ", f"Token {ADMIN_TOKEN}"],
)
def test_admin_is_closed_without_credentials(tmp_path, auth: str | None) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(
        make_app(
            store=f"sqlite:///{tmp_path}/r.db",
            receipt_key="receipt-key-000000000000000",
            admin_token=ADMIN_TOKEN,
        )
    )
    headers = {"Authorization": auth} if auth else {}
    for path in ("/_consent/admin", "/_consent/admin/export"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert "basic" in response.headers["www-authenticate"].lower()


def test_admin_is_closed_when_no_token_is_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(
        make_app(store=f"sqlite:///{tmp_path}/r.db", receipt_key="receipt-key-000000000000000")
    )
    response = client.get("/_consent/admin/export", headers={"Authorization": "Bearer "})
    assert response.status_code == 401
