"""Litestar's standard middleware wiring: ``DefineMiddleware(ConsentMiddleware, **options)``."""

from __future__ import annotations

from litestar import Litestar, MediaType, Request, Response, get
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from consentkit import ConsentMiddleware

from ...conftest import SECRET, site_policy


@get("/", media_type=MediaType.HTML)
async def home() -> Response[str]:
    response = Response(
        "<html><head><title>L</title></head><body><p>Litestar</p></body></html>",
        media_type=MediaType.HTML,
    )
    response.set_cookie("sessionid", "abc")
    response.set_cookie("_ga", "GA1.1.1")
    return response


@get("/consent")
async def consent(request: Request[object, object, object]) -> dict[str, object]:
    decision = request.scope["state"]["consent"]
    return {"performance": decision.allows("performance")}


def test_define_middleware_passes_app_by_keyword() -> None:
    app = Litestar(
        route_handlers=[home, consent],
        middleware=[DefineMiddleware(ConsentMiddleware, policy=site_policy(), secret_key=SECRET)],
    )
    with TestClient(app=app) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "Accept all" in page.text
        assert "sessionid" in page.cookies
        assert "_ga" not in page.cookies
        assert client.get("/consent").json() == {"performance": False}


def test_wrapped_litestar_app_serves_the_consent_endpoints() -> None:
    # Litestar runs middleware only for paths a handler matches: the endpoints under
    # the prefix need consentkit around the whole app.
    app = ConsentMiddleware(
        Litestar(route_handlers=[home, consent]), policy=site_policy(), secret_key=SECRET
    )
    with TestClient(app=app) as client:  # type: ignore[arg-type]
        assert client.get("/consent").json() == {"performance": False}
        accepted = client.post("/_consent", data={"action": "accept_all", "return_to": "/"})
        assert accepted.status_code in (200, 303)
        assert client.get("/consent").json() == {"performance": True}
