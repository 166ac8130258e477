"""consentkit.testing: a consent state for test clients, without receipts or fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, make_response
from starlette.testclient import TestClient

from consentkit import ConsentCodec, ConsentWSGIMiddleware, Policy
from consentkit.decision import decide
from consentkit.testing import consent_cookie, grant

from ..conftest import SECRET, make_app, site_policy


def test_the_cookie_of_the_middleware_is_accepted_as_a_decision() -> None:
    client = TestClient(make_app())
    assert client.get("/api").json()["decided"] is False
    grant(client, site_policy(), SECRET, granted=["performance"])
    assert client.get("/api").json() == {"decided": True, "granted": ["necessary", "performance"]}


def test_a_middleware_instance_supplies_key_and_cookie_name() -> None:
    middleware = ConsentWSGIMiddleware(
        lambda e, s: [], policy=site_policy(), secret_key=SECRET, cookie_name="ck"
    )
    name, value = consent_cookie(middleware, granted=["analytics"])  # a synonym
    assert name == "ck"
    stored = middleware.codec.loads(value)
    assert stored is not None
    assert stored.granted == {"necessary", "performance"}
    # The fingerprints are the policy's: the decision counts as current, nothing re-asked.
    assert stored.fingerprints == {c: site_policy().fingerprint(c) for c in stored.fingerprints}


def test_a_wrong_key_gives_no_decision() -> None:
    client = TestClient(make_app())
    grant(client, site_policy(), "another-secret-0123456789abcdefgh", granted=["performance"])
    assert client.get("/api").json()["decided"] is False


@pytest.mark.parametrize("bad", ["analytic", "Performanse", "ads!"])
def test_unknown_categories_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown category"):
        consent_cookie(Policy(), SECRET, granted=[bad])


def test_a_policy_needs_the_secret_key() -> None:
    with pytest.raises(ValueError, match="secret_key"):
        consent_cookie(Policy(), granted=["performance"])
    with pytest.raises(TypeError, match="middleware or a Policy"):
        consent_cookie(object(), SECRET)  # type: ignore[arg-type]


def test_grant_works_with_the_flask_test_client() -> None:
    app = Flask(__name__)

    @app.get("/")
    def home() -> Any:
        response = make_response("<html><body>x</body></html>")
        response.set_cookie("_ga", "1")
        return response

    app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, policy=site_policy(), secret_key=SECRET
    )
    client = app.test_client()
    assert client.get("/").headers.getlist("Set-Cookie") == []
    grant(client, site_policy(), SECRET, granted=["performance"])
    assert client.get("/").headers.getlist("Set-Cookie") == ["_ga=1; Path=/"]


def test_the_django_integration_names_its_extra_when_django_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from consentkit import MissingExtraError

    for name in [n for n in sys.modules if n == "consentkit.django" or n.startswith("django")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "django", None)  # makes ``import django...`` fail
    with pytest.raises(MissingExtraError, match=r"consentkit\[django\]"):
        import consentkit.django  # noqa: F401


def test_services_can_be_granted_on_their_own() -> None:
    _, value = consent_cookie(site_policy(), SECRET, services=["youtube"])
    policy = site_policy()
    loaded = ConsentCodec(SECRET, site=policy.site_id).loads(value)
    assert loaded is not None
    decision = decide(loaded, policy, now=datetime.now(UTC))
    assert decision.allows_service("youtube")
    assert not decision.allows_service("meta-pixel")
    with pytest.raises(ValueError, match="youtube"):
        consent_cookie(site_policy(), SECRET, services=["yotube"])
