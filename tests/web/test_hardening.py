"""Regression tests for attacks on the server-side enforcement (one section per finding).

Each test reproduces an attack that worked before the fix; sizes and counts are asserted,
never time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConfigError, ConsentMiddleware, Decision, Policy
from consentkit.cookies import parse_cookie_date, parse_set_cookie
from consentkit.enforcement import enforce_set_cookies

from ..conftest import SECRET, make_app, site_policy
from ..core.test_cookie_vectors import DATES


def _refusal() -> Decision:
    return Decision(decided=True, granted=frozenset({"necessary"}), reason="recorded")


# --------------------------------------------------------------------------- expiry amplification

LONG_HOST = ".".join(f"l{i}" for i in range(500)) + ".example.com"
JUNK = "; ".join(f"junk{i}=x" for i in range(300))


def _set_cookie_lines(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined, no-any-return]


def _amplify(client: TestClient, path: str = "/api") -> object:
    refused = "; ".join(["_ga=GA1.1.1.1", "_fbp=fb.1", "lang=fr", JUNK])
    return client.get(path, headers={"Host": LONG_HOST, "Cookie": refused})


def test_long_host_and_junk_cookies_give_a_small_response() -> None:
    client = TestClient(make_app())
    response = _amplify(client)
    lines = _set_cookie_lines(response)
    # Only the three classified names are expired, host-only on "/" and the request path:
    # no Domain= built from the 500 labels of the Host header, nothing for junk names.
    names = {parse_set_cookie(line).name for line in lines}  # type: ignore[union-attr]
    assert names == {"_ga", "_fbp", "lang"}
    assert all("domain=" not in line.lower() for line in lines)
    assert len(lines) <= 6
    assert sum(len(line) for line in lines) < 1000


def test_html_and_404_responses_are_bounded_too() -> None:
    client = TestClient(make_app())
    for path in ("/", "/missing/a/b/c/d"):
        response = _amplify(client, path)
        assert len(_set_cookie_lines(response)) <= 12
        assert sum(len(v) for v in response.headers.values()) < 4000


def test_unclassified_names_expire_only_when_the_policy_says_so_and_within_the_cap() -> None:
    policy = site_policy(expire_unclassified=True, max_expiry_lines=20)
    client = TestClient(make_app(policy))
    response = _amplify(client)
    lines = _set_cookie_lines(response)
    assert 0 < len(lines) <= 20
    assert any(parse_set_cookie(line).name.startswith("junk") for line in lines)  # type: ignore[union-attr]


def test_domain_candidates_come_from_configuration() -> None:
    policy = site_policy(site_hosts=("www.example.com",))
    client = TestClient(make_app(policy, cookie_domain="example.com"))
    response = client.get(
        "/api", headers={"Host": "a.b.www.example.com", "Cookie": "_ga=GA1.1.1.1"}
    )
    domains = {parse_set_cookie(v).domain for v in _set_cookie_lines(response)}  # type: ignore[union-attr]
    assert domains == {None, "www.example.com", "example.com"}
    # A host outside the configuration gets host-only lines only.
    response = client.get("/api", headers={"Host": "evil.test", "Cookie": "_ga=GA1.1.1.1"})
    domains = {parse_set_cookie(v).domain for v in _set_cookie_lines(response)}  # type: ignore[union-attr]
    assert domains == {None}


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_expiry_lines", -1), ("max_expiry_lines", "64"), ("site_hosts", "example.com"),
     ("site_hosts", ("https://example.com/",))],
)  # fmt: skip
def test_hardening_options_are_validated(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        Policy(**{field: value})


def test_hardening_options_load_from_toml_data() -> None:
    policy = Policy.from_dict(
        {"site_hosts": ["Example.COM."], "max_expiry_lines": 8, "expire_unclassified": True}
    )
    assert policy.site_hosts == ("example.com",)
    assert policy.max_expiry_lines == 8
    assert policy.expire_unclassified


# --------------------------------------------------------------------------- fake deletions

LOOKALIKE_DATES = [
    "Thu, 01 Jan 1970:00:00 00:00:00 GMT",
    "01 Jan 70x 00:00:00",
    "Jan 1 00:00:00 1970abc",
    "1 Jan 1970 00:00:00:00",
]


@pytest.mark.parametrize("date", LOOKALIKE_DATES)
def test_lookalike_deletion_dates_are_not_deletions(date: str) -> None:
    # RFC 6265bis reads each as 1970 (a production may carry trailing octets); a browser
    # may not, and then stores the cookie for the session.
    assert parse_cookie_date(date) is not None
    assert parse_cookie_date(date, strict=True) is None
    cookie = parse_set_cookie(f"_fbp=X; Expires={date}; Path=/")
    assert cookie is not None
    assert not cookie.is_deletion(datetime.now(UTC))


@pytest.mark.parametrize("date", LOOKALIKE_DATES)
def test_refused_cookie_with_lookalike_deletion_is_dropped(date: str) -> None:
    headers = [
        (b"set-cookie", f"_fbp=X; Expires={date}; Path=/".encode()),
        (b"set-cookie", b"_gid=GA1.1; Path=/"),
    ]
    result = enforce_set_cookies(
        headers, decision=_refusal(), policy=site_policy(), own_cookies=frozenset()
    )
    assert result.headers == []
    assert {name for name, _ in result.dropped} == {"_fbp", "_gid"}


@pytest.mark.parametrize(
    "line",
    [
        "_fbp=X; Max-Age=0; Path=/shop; Domain=.Example.com",
        "_fbp=tracking-id; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=-5; Path=/shop; "
        "Domain=example.com; SameSite=None; Secure; HttpOnly",
        "_fbp=X; Expires=Wed, 01 Jan 2000 00:00:00 GMT; Path=/shop; Domain=example.com",
    ],
)
def test_passing_deletions_are_rewritten_to_the_canonical_form(line: str) -> None:
    result = enforce_set_cookies(
        [(b"set-cookie", line.encode())],
        decision=_refusal(),
        policy=site_policy(),
        own_cookies=frozenset(),
    )
    [(_key, value)] = result.headers
    secure = "; Secure" if "Secure" in line else ""
    assert value.decode() == (
        "_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.com; "
        f"Path=/shop{secure}"
    )


def _date_vectors() -> list[dict[str, str | None]]:
    vectors: list[dict[str, str | None]] = []
    for name in ("examples.json", "bsd-examples.json"):
        path = DATES / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            vectors += json.loads(text[text.index("[") :])
    return vectors


def test_strict_dates_agree_with_the_http_state_vectors_or_refuse() -> None:
    vectors = _date_vectors()
    if not vectors:
        pytest.fail(f"date vectors missing under {DATES}")
    read = 0
    for vector in vectors:
        text = str(vector["test"])
        lenient = parse_cookie_date(text)
        strict = parse_cookie_date(text, strict=True)
        expected = vector["expected"]
        assert (lenient is None) == (expected is None), text
        # Strict never reads another date than the RFC; it only refuses ambiguous ones.
        assert strict is None or strict == lenient, text
        read += strict is not None
    assert read >= 10  # the ordinary dates of the suite are still read


# --------------------------------------------------------------------------- cookie tossing

GRANTED_ALL = ["functionality", "necessary", "performance", "targeting"]


def _token(client: TestClient, action: str) -> tuple[str, str]:
    response = client.post("/_consent", json={"action": action})
    assert response.status_code == 200, response.text
    [line] = [v for v in response.headers.get_list("set-cookie") if "Max-Age=0" not in v]
    cookie = parse_set_cookie(line)
    assert cookie is not None
    return cookie.name, cookie.value


def test_duplicate_consent_cookies_read_as_no_decision() -> None:
    client = TestClient(make_app())
    name, accept = _token(client, "accept_all")
    _, reject = _token(TestClient(make_app()), "reject_all")
    fresh = TestClient(make_app())
    alone = fresh.get("/api", headers={"Cookie": f"{name}={accept}"}).json()
    assert alone == {"decided": True, "granted": GRANTED_ALL}
    # A sibling subdomain plants an "accept all" next to the visitor's own refusal.
    tossed = fresh.get("/api", headers={"Cookie": f"{name}={accept}; {name}={reject}"}).json()
    assert tossed == {"decided": False, "granted": ["necessary"]}


def test_https_consent_cookie_is_host_prefixed() -> None:
    client = TestClient(make_app(), base_url="https://shop.example.com")
    response = client.post("/_consent", json={"action": "accept_all"})
    [line] = response.headers.get_list("set-cookie")
    cookie = parse_set_cookie(line)
    assert cookie is not None
    assert cookie.name == "__Host-consentkit"
    assert (cookie.secure, cookie.path, cookie.domain) == (True, "/", None)
    assert client.get("/api").json()["decided"] is True
    # An unprefixed cookie (all a sibling subdomain can plant) means nothing on HTTPS.
    planted = TestClient(make_app(), base_url="https://shop.example.com")
    result = planted.get("/api", headers={"Cookie": f"consentkit={cookie.value}"}).json()
    assert result["decided"] is False


@pytest.mark.parametrize(
    ("base_url", "options", "expected"),
    [
        ("http://shop.example.com", {}, "consentkit"),
        ("https://shop.example.com", {"cookie_domain": "example.com"}, "consentkit"),
        ("https://shop.example.com", {"cookie_name": "site_consent"}, "site_consent"),
        ("http://shop.example.com", {"cookie_name": "__Host-site"}, "site"),
        ("https://shop.example.com", {"cookie_name": "__Host-site"}, "__Host-site"),
    ],
)
def test_consent_cookie_name_depends_on_scheme_and_domain(
    base_url: str, options: dict[str, str], expected: str
) -> None:
    client = TestClient(make_app(**options), base_url=base_url)
    response = client.post("/_consent", json={"action": "reject_all"})
    assert response.status_code == 200
    names = [parse_set_cookie(v).name for v in response.headers.get_list("set-cookie")]  # type: ignore[union-attr]
    assert names == [expected]
    # The browser sends it back and the decision holds.
    assert client.get("/api").json()["decided"] is True


def test_host_prefix_over_plain_http_form_post_does_not_fail() -> None:
    client = TestClient(make_app(cookie_name="__Host-consentkit"))
    response = client.post(
        "/_consent", data={"action": "accept_all"}, headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert client.get("/api").json()["granted"] == GRANTED_ALL


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"cookie_name": "__Host-x", "cookie_domain": "example.com"}, "cookie_name"),
        ({"cookie_name": "__Secure-x", "cookie_secure": False}, "cookie_secure"),
    ],
)
def test_prefixed_names_browsers_would_reject_are_config_errors(
    options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        make_app(**options).build_middleware_stack()


def test_tokens_are_bound_to_the_site() -> None:
    site_a = site_policy(site_hosts=("a.example",))
    site_b = site_policy(site_hosts=("b.example",))
    name, token = _token(TestClient(make_app(site_a)), "accept_all")
    same = TestClient(make_app(site_a)).get("/api", headers={"Cookie": f"{name}={token}"})
    assert same.json()["decided"] is True
    other = TestClient(make_app(site_b)).get("/api", headers={"Cookie": f"{name}={token}"})
    assert other.json() == {"decided": False, "granted": ["necessary"]}


# --------------------------------------------------------------------------- activation keys


def test_each_html_response_marks_what_it_blocks_with_a_fresh_key() -> None:
    html = (
        '<html><body><script data-consent="performance">x()</script>'
        '<script type="text/plain" data-ck-blocked data-ck-category="targeting">y()</script>'
        "</body></html>"
    )

    async def handler(request: object) -> HTMLResponse:
        return HTMLResponse(html)

    app = Starlette(routes=[Route("/", handler)])
    app.add_middleware(ConsentMiddleware, policy=site_policy(), secret_key=SECRET)
    client = TestClient(app)
    keys = []
    for _ in range(2):
        body = client.get("/").text
        [key] = re.findall(r'<meta data-ck-key="([^"]+)">', body)
        # Right after the banner script, where the script looks for it.
        assert f'consentkit.js" defer></script><meta data-ck-key="{key}">' in body
        # The element the server blocked carries the key; the pre-marked one does not.
        assert body.count(f'data-ck-blocked="{key}"') == 1
        assert 'data-ck-blocked data-ck-category="targeting">y()' in body
        keys.append(key)
    assert keys[0] != keys[1]
    assert len(keys[0]) >= 16
