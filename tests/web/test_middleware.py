"""Server-side Set-Cookie enforcement, end to end through the middleware."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConfigError, ConsentCodec, ConsentMiddleware, Policy
from consentkit.cookies import parse_set_cookie

from ..conftest import SECRET, make_app, site_policy
from ..helpers import deleted_cookie_names, set_cookie_names

JSON = {"Accept": "application/json"}


def choose(client: TestClient, action: str, categories: list[str] | None = None) -> dict:
    body: dict[str, object] = {"action": action}
    if categories is not None:
        body["categories"] = categories
    response = client.post("/_consent", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_first_visit_only_necessary_cookie_reaches_the_browser(client: TestClient) -> None:
    response = client.get("/")
    assert set_cookie_names(response) == ["sessionid"]
    assert "cookie" in response.headers["vary"].lower()


def test_accept_all_lets_every_cookie_through(client: TestClient) -> None:
    choose(client, "accept_all")
    response = client.get("/")
    assert sorted(set_cookie_names(response)) == ["_fbp", "_ga", "lang", "sessionid"]


def test_reject_all_keeps_only_necessary_and_expires_refused_ones(client: TestClient) -> None:
    choose(client, "accept_all")
    client.get("/")
    assert {"_ga", "_fbp", "lang", "sessionid"} <= set(client.cookies.keys())
    choose(client, "reject_all")
    client.cookies.set("_ga", "GA1.1.1.1")
    client.cookies.set("_fbp", "fb.1")
    client.cookies.set("lang", "fr")
    response = client.get("/")
    assert set_cookie_names(response) == ["sessionid"]
    assert {"_ga", "_fbp", "lang"} <= deleted_cookie_names(response)
    assert "sessionid" not in deleted_cookie_names(response)


def test_save_grants_exactly_the_chosen_categories(client: TestClient) -> None:
    result = choose(client, "save", ["functionality"])
    assert result["decision"]["granted"] == ["necessary", "functionality"]
    response = client.get("/")
    assert sorted(set_cookie_names(response)) == ["lang", "sessionid"]


def test_withdraw_expires_what_was_granted(client: TestClient) -> None:
    choose(client, "accept_all")
    client.get("/")
    withdrawal = client.post("/_consent", json={"action": "withdraw"})
    assert withdrawal.json()["decision"]["granted"] == ["necessary"]
    assert {"_ga", "_fbp", "lang"} <= deleted_cookie_names(withdrawal)
    assert not {"_ga", "_fbp", "lang"} & set(client.cookies.keys())
    assert set_cookie_names(client.get("/")) == ["sessionid"]


def test_decision_response_expires_refused_cookies_at_once(client: TestClient) -> None:
    choose(client, "accept_all")
    client.get("/")
    response = client.post("/_consent", json={"action": "reject_all"})
    assert {"_ga", "_fbp", "lang"} <= deleted_cookie_names(response)
    assert {"_ga", "_fbp", "lang"} <= set(response.json()["expire"])


def forge(token_payload: dict, key: str) -> str:
    serializer = URLSafeTimedSerializer(key, salt="consentkit.consent.v1")
    return serializer.dumps(token_payload)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1], id="tampered-sig"),
        pytest.param(lambda t: "x" + t, id="tampered-payload"),
        pytest.param(lambda t: t.split(".")[0], id="truncated"),
        pytest.param(lambda t: "garbage", id="garbage"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "a" * 5000, id="huge"),
        pytest.param(lambda t: '"' + t, id="quote"),
    ],
)
def test_tampered_consent_cookie_is_no_decision(
    client: TestClient, mangle: Callable[[str], str]
) -> None:
    choose(client, "accept_all")
    token = client.cookies["consentkit"]
    client.cookies.clear()
    client.cookies.set("consentkit", mangle(token))
    response = client.get("/")
    assert response.status_code == 200
    assert set_cookie_names(response) == ["sessionid"]
    assert client.get("/_consent").json()["decision"]["decided"] is False


def test_cookie_signed_with_another_key_is_no_decision(client: TestClient) -> None:
    choose(client, "accept_all")
    payload = URLSafeTimedSerializer(SECRET, salt="consentkit.consent.v1").loads(
        client.cookies["consentkit"]
    )
    client.cookies.clear()
    client.cookies.set("consentkit", forge(payload, "another-key-entirely-0000000000"))
    assert set_cookie_names(client.get("/")) == ["sessionid"]
    # The same payload under the right key is accepted: the test can tell the difference.
    client.cookies.set("consentkit", forge(payload, SECRET))
    assert len(set_cookie_names(client.get("/"))) == 4


def test_key_rotation_newest_signs_all_verify() -> None:
    old = TestClient(make_app(secret_key="old-key-0000000000000000000000000000"))
    choose(old, "accept_all")
    rotated = TestClient(
        make_app(
            secret_key=[
                "new-key-1111111111111111111111111111",
                "old-key-0000000000000000000000000000",
            ]
        )
    )
    rotated.cookies.set("consentkit", old.cookies["consentkit"])
    assert len(set_cookie_names(rotated.get("/"))) == 4
    rotated.cookies.clear()
    response = rotated.post("/_consent", json={"action": "accept_all"})
    token = response.cookies["consentkit"]
    assert ConsentCodec("new-key-1111111111111111111111111111").loads(token) is not None
    assert ConsentCodec("old-key-0000000000000000000000000000").loads(token) is None


def test_old_revision_is_no_decision() -> None:
    first = TestClient(make_app(policy=site_policy(revision="1")))
    choose(first, "accept_all")
    second = TestClient(make_app(policy=site_policy(revision="2")))
    second.cookies.set("consentkit", first.cookies["consentkit"])
    state = second.get("/_consent").json()["decision"]
    assert state["decided"] is False
    assert state["reason"] == "new_revision"
    assert set_cookie_names(second.get("/")) == ["sessionid"]


@pytest.mark.parametrize(
    "cookie_header",
    [
        "a=b; c",
        '=; ; ;=;"; x="unterminated',
        "name with space=1; _ga=1",
        "x=" + "y" * 8192,
        "\x00\x01=\x02; ok=1",
        ";;;;;;;;",
        "consentkit=" + "z" * 9000,
        "é=ü; ☃=1",
        "consentkit=a.b.c; consentkit=d.e.f",
    ],
)
async def test_malformed_cookie_header_never_breaks_a_request(cookie_header: str) -> None:
    app = make_app()
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie_header.encode("utf-8"))],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = messages[0]
    assert start["status"] == 200
    names = [
        parse_set_cookie(v).name  # type: ignore[union-attr]
        for k, v in start["headers"]
        if k == b"set-cookie" and b"Max-Age=0" not in v
    ]
    assert names == ["sessionid"]


def test_gpc_without_decision_refuses_and_says_so(client: TestClient) -> None:
    state = client.get("/_consent", headers={"Sec-GPC": "1"}).json()["decision"]
    assert state["reason"] == "gpc"
    assert state["source"] == "signal"
    assert state["granted"] == ["necessary"]
    assert "targeting" in state["refused"]
    assert set_cookie_names(client.get("/", headers={"Sec-GPC": "1"})) == ["sessionid"]


def test_recorded_choice_beats_gpc(client: TestClient) -> None:
    choose(client, "accept_all")
    state = client.get("/_consent", headers={"Sec-GPC": "1"}).json()["decision"]
    assert state["decided"] is True
    assert "targeting" in state["granted"]


def test_request_state_exposes_the_decision(client: TestClient) -> None:
    assert client.get("/api").json() == {"decided": False, "granted": ["necessary"]}
    choose(client, "save", ["performance"])
    assert client.get("/api").json() == {"decided": True, "granted": ["necessary", "performance"]}


def test_unclassified_cookie_is_treated_as_targeting_and_reported() -> None:
    async def handler(request: Request) -> Response:
        response = PlainTextResponse("x")
        response.set_cookie("mystery_cookie", "1")
        return response

    app = make_app(routes=[Route("/", handler)])
    client = TestClient(app)
    assert set_cookie_names(client.get("/")) == []
    choose(client, "save", ["performance", "functionality"])
    assert set_cookie_names(client.get("/")) == []
    choose(client, "accept_all")
    assert set_cookie_names(client.get("/")) == ["mystery_cookie"]
    middleware = _find_middleware(app)
    assert [row[0] for row in middleware.unclassified.snapshot()] == ["mystery_cookie"]
    assert middleware.unclassified.snapshot()[0][1] == 3


def test_unclassified_category_is_configurable() -> None:
    async def handler(request: Request) -> Response:
        response = PlainTextResponse("x")
        response.set_cookie("mystery_cookie", "1")
        return response

    client = TestClient(
        make_app(policy=site_policy(unclassified="performance"), routes=[Route("/", handler)])
    )
    choose(client, "save", ["performance"])
    assert set_cookie_names(client.get("/")) == ["mystery_cookie"]


def _find_middleware(app: Starlette) -> ConsentMiddleware:
    node = app.middleware_stack  # built on the first request
    assert node is not None
    while not isinstance(node, ConsentMiddleware):
        node = node.app  # type: ignore[attr-defined]
    return node


@pytest.mark.parametrize(
    ("attributes", "kept_after_reject"),
    [
        ({"path": "/shop"}, False),
        ({"domain": "testserver.local"}, False),
        ({"secure": True}, False),
        ({"samesite": "none", "secure": True}, False),
        ({"max_age": 0}, True),  # deleting a cookie never needs consent
        ({"expires": 3600}, False),
    ],
)
def test_enforcement_ignores_cookie_attributes(attributes: dict, kept_after_reject: bool) -> None:
    async def handler(request: Request) -> Response:
        response = PlainTextResponse("x")
        response.set_cookie("_ga", "1", **attributes)
        response.set_cookie("sessionid", "s", **attributes)
        return response

    client = TestClient(make_app(routes=[Route("/", handler)]), base_url="https://testserver")
    choose(client, "reject_all")
    lines = client.get("/").headers.get_list("set-cookie")
    names = [parse_set_cookie(line).name for line in lines]  # type: ignore[union-attr]
    assert ("_ga" in names) is kept_after_reject
    assert "sessionid" in names


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})

    middleware = ConsentMiddleware(app, policy=site_policy(), secret_key=SECRET)
    with TestClient(middleware):
        pass
    assert seen == ["lifespan"]


@pytest.mark.parametrize("secret", [None, "", []])
def test_secret_key_is_mandatory(secret: object) -> None:
    with pytest.raises(ConfigError, match="secret_key"):
        ConsentMiddleware(lambda *a: None, policy=Policy(), secret_key=secret)  # type: ignore[arg-type]


def test_receipt_key_must_differ_from_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="receipt_key"):
        ConsentMiddleware(
            lambda *a: None,  # type: ignore[arg-type]
            policy=Policy(),
            secret_key=SECRET,
            store=f"sqlite:///{tmp_path}/r.db",
            receipt_key=SECRET,
        )


def test_consent_cookie_attributes(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(base_url="https://example.test", cookie_domain="example.test")
    response = client.post("/_consent", json={"action": "accept_all"})
    line = next(v for v in response.headers.get_list("set-cookie") if v.startswith("consentkit="))
    parsed = parse_set_cookie(line)
    assert parsed is not None
    assert parsed.path == "/"
    assert parsed.http_only
    assert parsed.secure
    assert (parsed.same_site or "").lower() == "lax"
    assert parsed.domain == "example.test"
    assert parsed.max_age == 182 * 86400
    plain = client_factory().post("/_consent", json={"action": "accept_all"})
    assert "secure" not in plain.headers["set-cookie"].lower()


def test_a_remembered_decision_lapses_when_its_lifetime_ends(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Decisions from a recorded choice are memoised per token; the memo must not outlive
    # the choice. Accept, serve a page (memoised), then move the clock past the lifetime.
    from datetime import UTC, datetime, timedelta

    import consentkit.web.core as core

    choose(client, "accept_all")
    assert sorted(set_cookie_names(client.get("/"))) == ["_fbp", "_ga", "lang", "sessionid"]
    later = datetime.now(UTC) + timedelta(days=400)

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(core, "time", lambda: later.timestamp())
    monkeypatch.setattr(core, "datetime", Later)
    assert set_cookie_names(client.get("/")) == ["sessionid"]
    monkeypatch.undo()
    assert sorted(set_cookie_names(client.get("/"))) == ["_fbp", "_ga", "lang", "sessionid"]
