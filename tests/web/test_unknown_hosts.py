"""Third-party script and frame hosts that nothing knows: reported once, blocked on request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, make_app, site_policy

PAGE = (
    "<html><head><script src='https://cdn.unknown-tracker.io/t.js'></script>"
    "<script src='https://static.trusted-cdn.net/lib.js'></script>"
    "<script src='https://example.org/own.js'></script>"
    "<script src='/relative.js'></script></head>"
    "<body><iframe src='https://widgets.stranger.example/w'></iframe>"
    "<img src='https://pixels.unknown-img.io/p.gif'></body></html>"
)


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def client(tmp_path: Path, **policy: object) -> TestClient:
    app = make_app(
        site_policy(known_hosts=("trusted-cdn.net",), **policy),
        routes=[Route("/", page)],
        admin_token=ADMIN_TOKEN,
        store=f"sqlite:///{tmp_path / 'receipts.db'}",
        receipt_key=RECEIPT_KEY,
    )
    return TestClient(app, base_url="http://example.org")


def test_unknown_script_and_frame_hosts_are_logged_once_and_listed(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    site = client(tmp_path)
    with caplog.at_level(logging.WARNING, logger="consentkit"):
        first = site.get("/").text
        site.get("/")
    # Default: allowed (left as written) and reported.
    assert " src='https://cdn.unknown-tracker.io/t.js'" in first
    logged = [r.getMessage() for r in caplog.records if "third-party" in r.getMessage()]
    assert len(logged) == 2
    assert any("cdn.unknown-tracker.io" in m for m in logged)
    assert any("widgets.stranger.example" in m for m in logged)
    dashboard = site.get("/_consent/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert 'data-host="cdn.unknown-tracker.io" data-count="2"' in dashboard.text
    assert 'data-host="widgets.stranger.example"' in dashboard.text
    for known in ("trusted-cdn.net", "example.org", "unknown-img.io"):
        assert f'data-host="{known}' not in dashboard.text
        assert f'data-host="static.{known}' not in dashboard.text


def test_policy_can_block_unknown_hosts_until_consent(tmp_path: Path) -> None:
    site = client(tmp_path, block_unknown_hosts=True)
    blocked = site.get("/").text
    assert " src='https://cdn.unknown-tracker.io/t.js'" not in blocked
    assert "https://cdn.unknown-tracker.io/t.js" in blocked  # kept inert for later
    assert " src='https://static.trusted-cdn.net/lib.js'" in blocked
    assert " src='https://example.org/own.js'" in blocked
    assert " src='https://widgets.stranger.example/w'" not in blocked
    site.post("/_consent", json={"action": "accept_all"})
    assert " src='https://cdn.unknown-tracker.io/t.js'" in site.get("/").text


def test_the_rewriter_asks_the_hook_for_every_unmatched_script_and_frame() -> None:
    from consentkit.rewriter import RewritePlan, rewrite
    from consentkit.trackers import Tracker

    asked: list[tuple[str, str]] = []

    def hook(kind: str, url: str) -> Tracker | None:
        asked.append((kind, url))
        return Tracker("x.example", "targeting", frozenset({"script"}), ("x.example",))

    doc = (
        b"<script src='https://x.example/a.js'></script><iframe src='https://x.example/f'>"
        b"</iframe><script src='https://www.googletagmanager.com/gtag/js'></script>"
    )
    plan = RewritePlan(unknown_source=hook)
    for _ in range(2):  # the second page's identical tags are not answered from a cache
        out = rewrite(doc, plan)
        assert out.count(b"data-ck-blocked") == 3
    assert asked == [("script", "https://x.example/a.js"), ("iframe", "https://x.example/f")] * 2


def test_a_remembered_decision_follows_a_changed_hook_answer_and_asks_once() -> None:
    from consentkit.rewriter import RewritePlan, rewrite
    from consentkit.trackers import Tracker

    asked: list[str] = []
    block = [True]

    def hook(kind: str, url: str) -> Tracker | None:
        asked.append(url)
        if not block[0]:
            return None
        return Tracker("y.example", "targeting", frozenset({"script"}), ("y.example",))

    doc = b"<script src='https://y.example/a.js'></script>"
    plan = RewritePlan(unknown_source=hook)
    assert b"data-ck-blocked" in rewrite(doc, plan)
    assert b"data-ck-blocked" in rewrite(doc, plan)  # the same answer: the decision holds
    block[0] = False  # e.g. another site served by the same process vouches for the host
    assert b"data-ck-blocked" not in rewrite(doc, plan)
    # One question per sighting, also when the remembered decision had to be redone.
    assert asked == ["https://y.example/a.js"] * 3
