"""Regression tests for attacks on the server-side enforcement (one section per finding).

Each test reproduces an attack that worked before the fix; sizes and counts are asserted,
never time.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from consentkit import ConfigError, Policy
from consentkit.cookies import parse_set_cookie

from .conftest import make_app, site_policy

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
