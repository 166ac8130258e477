"""The cookie declaration lists the site's cookies: declared ones plus those its responses set."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from consentkit import CookieRule, Policy
from consentkit.web.declaration import Declaration

from ..conftest import make_app, site_policy


def table_names(html: str) -> list[str]:
    """Cookie names in the declaration's tables (the first cell of each body row)."""
    return re.findall(r"<tr><th scope=\"row\"><code>([^<]+)</code>", html)


def test_declaration_starts_with_the_declared_cookies_only() -> None:
    client = TestClient(make_app())
    page = client.get("/_consent/cookies")
    assert page.status_code == 200
    names = table_names(page.text)
    assert sorted(names) == ["lang", "sessionid"]
    assert len(page.content) < 20_000


def test_observed_cookies_join_once_with_knowledge_base_descriptions() -> None:
    client = TestClient(make_app())
    client.get("/")  # sets _ga, _fbp, sessionid and lang
    client.get("/")
    page = client.get("/_consent/cookies").text
    names = table_names(page)
    assert sorted(names) == ["_fbp", "_ga", "lang", "sessionid"]
    assert "Google" in page  # the knowledge base describes _ga
    preferences = client.get("/_consent/preferences").text
    counts = [int(n) for n in re.findall(r"Cookies used \((\d+)\)", preferences)]
    assert counts
    assert max(counts) <= 2


def test_refusal_answer_lists_only_cookies_the_site_uses() -> None:
    client = TestClient(make_app())
    assert client.post("/_consent", json={"action": "reject_all"}).json()["expire"] == ["lang"]
    client.get("/")
    expire = client.post("/_consent", json={"action": "reject_all"}).json()["expire"]
    assert sorted(expire) == ["_fbp", "_ga", "lang"]


def test_declared_rule_and_knowledge_base_do_not_list_a_cookie_twice() -> None:
    policy = site_policy(
        cookies=(
            CookieRule("_ga", "performance", provider="Us", purpose="Stats"),
            CookieRule("_ga_", "performance", match="prefix", provider="Us", purpose="Stats"),
        )
    )
    declaration = Declaration(policy)
    declaration.observe(["_ga", "_ga_ABC", "_gid", "_ga"])
    rows = declaration.rows("performance")
    assert [r.name for r in rows] == ["_ga", "_ga_*", "_gid"]
    observed = {c.name: c for c in declaration.observed()}
    assert set(observed) == {"_ga", "_ga_ABC", "_gid"}
    assert observed["_ga"].first_seen <= observed["_ga"].last_seen
    assert observed["_gid"].category == "performance"


def test_unknown_observed_cookie_is_listed_under_the_unclassified_category() -> None:
    declaration = Declaration(Policy(unclassified="functionality"))
    declaration.observe(["mystery"])
    assert [r.name for r in declaration.rows("functionality")] == ["mystery"]
    assert declaration.names("functionality") == ["mystery"]
