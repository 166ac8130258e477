"""The receipt store the middleware opens is closed on ASGI lifespan shutdown (or close())."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import ConsentMiddleware, StoreError
from consentkit.stores import SpooledStore
from consentkit.stores.sqlite import SQLiteReceiptStore

from ..conftest import RECEIPT_KEY, SECRET, site_policy


def page(_: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def wrap(app: Any, store: object) -> ConsentMiddleware:
    return ConsentMiddleware(
        app, policy=site_policy(), secret_key=SECRET, store=store, receipt_key=RECEIPT_KEY
    )


def accept(client: TestClient) -> str:
    response = client.post("/_consent", json={"action": "accept_all"})
    assert response.status_code == 200, response.text
    receipt_id = response.json()["receipt_id"]
    assert receipt_id
    return str(receipt_id)


def inner_store(middleware: ConsentMiddleware) -> SQLiteReceiptStore:
    store = middleware.store
    assert isinstance(store, SpooledStore)
    inner = store.inner
    assert isinstance(inner, SQLiteReceiptStore)
    return inner


def test_a_store_opened_from_a_url_is_closed_on_shutdown(tmp_path: Path) -> None:
    middleware = wrap(Starlette(routes=[Route("/", page)]), f"sqlite:///{tmp_path / 'r.db'}")
    with TestClient(middleware) as client:
        inner = inner_store(middleware)
        accept(client)
        assert inner.head() is not None
    with pytest.raises(StoreError, match="closed"):
        inner.head()


def test_the_store_closes_only_after_the_app_has_shut_down(tmp_path: Path) -> None:
    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        # The app's own shutdown may still read the store.
        seen.append(inner_store(middleware).count())
        await send({"type": "lifespan.shutdown.complete"})

    middleware = wrap(app, f"sqlite:///{tmp_path / 'r.db'}")
    inner = inner_store(middleware)
    with TestClient(middleware):
        pass
    assert seen == [0]
    with pytest.raises(StoreError, match="closed"):
        inner.head()


def test_a_passed_in_store_is_left_open_for_its_owner(tmp_path: Path) -> None:
    store = SQLiteReceiptStore(str(tmp_path / "r.db"), receipt_keys=[RECEIPT_KEY])
    middleware = wrap(Starlette(routes=[Route("/", page)]), store)
    with TestClient(middleware) as client:
        accept(client)
    assert store.count() == 1
    store.close()


def test_close_then_a_request_opens_the_store_again(tmp_path: Path) -> None:
    middleware = wrap(Starlette(routes=[Route("/", page)]), f"sqlite:///{tmp_path / 'r.db'}")
    client = TestClient(middleware)  # no lifespan: the server never says it shuts down
    accept(client)
    first = inner_store(middleware)
    middleware.close()
    with pytest.raises(StoreError, match="closed"):
        first.head()
    accept(client)
    second = inner_store(middleware)
    assert second is not first
    assert second.count() == 2  # nothing was lost or left in the spool
    middleware.close()
