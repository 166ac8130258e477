"""Shared fixtures: tiny apps wrapped in the middleware, and a fixed secret."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware, CookieRule, Policy

from .pg_server import PgServer, PostgresUnavailable, shared_server, skip_requested

SECRET = "test-secret-key-0123456789abcdef"
RECEIPT_KEY = "test-receipt-key-fedcba9876543210"
ADMIN_TOKEN = "test-admin-token-0123456789"


def site_policy(**overrides: Any) -> Policy:
    """The policy of the acceptance scenario: sessionid necessary, lang functionality."""
    base: dict[str, Any] = {
        "revision": "2026-11",
        "cookies": (
            CookieRule("sessionid", "necessary", provider="This site", purpose="Login session"),
            CookieRule("lang", "functionality", provider="This site", purpose="Language"),
        ),
    }
    base.update(overrides)
    return Policy(**base)


async def set_four(request: Request) -> Response:
    response = HTMLResponse("<html><head><title>t</title></head><body><p>hi</p></body></html>")
    response.set_cookie("_ga", "GA1.1.1.1", max_age=3600)
    response.set_cookie("_fbp", "fb.1.1.1", max_age=3600)
    response.set_cookie("sessionid", "abc", httponly=True)
    response.set_cookie("lang", "fr")
    return response


async def json_route(request: Request) -> Response:
    consent = request.state.consent
    return JSONResponse({"decided": consent.decided, "granted": sorted(consent.granted)})


def make_app(
    policy: Policy | None = None,
    routes: list[Route] | None = None,
    **options: Any,
) -> Starlette:
    app = Starlette(routes=routes or [Route("/", set_four), Route("/api", json_route)])
    options.setdefault("secret_key", SECRET)
    app.add_middleware(ConsentMiddleware, policy=policy or site_policy(), **options)
    return app


@pytest.fixture
def client_factory() -> Callable[..., TestClient]:
    def factory(**kwargs: Any) -> TestClient:
        base_url = kwargs.pop("base_url", "http://testserver")
        return TestClient(make_app(**kwargs), base_url=base_url)

    return factory


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The shared throwaway PostgreSQL cluster (fails, not skips, when it cannot start)."""
    if skip_requested():
        pytest.skip("CONSENTKIT_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        server = shared_server()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def own_cluster() -> Iterator[PgServer]:
    """A PostgreSQL cluster of the test's own, for tests that stop and start it."""
    if skip_requested():
        pytest.skip("CONSENTKIT_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        cluster = PgServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a fresh, empty receipt store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'receipts.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last, marked ``browser``.

    Playwright's sync API keeps an event loop running in the main thread while its
    session-wide browser is open; async tests after it would find that loop.
    """
    browser = [item for item in items if "tests/browser/" in item.nodeid]
    for item in browser:
        item.add_marker(pytest.mark.browser)
    others = [item for item in items if "tests/browser/" not in item.nodeid]
    items[:] = others + browser
