"""Real headless Chromium (Debian's package, driven by Playwright) against live servers.

Every request a page makes to anything but 127.0.0.1 is aborted and recorded, so
tests can assert that no tracker request left the page.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from starlette.types import ASGIApp

from consentkit.scan.browser import CHROMIUM_FLAGS

CHROMIUM = os.environ.get("CONSENTKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [*CHROMIUM_FLAGS, "--disable-quic"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
AXE_JS = Path(os.environ.get("CONSENTKIT_AXE_JS", REPO / ".deps/node_modules/axe-core/axe.min.js"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], str]]:
    """Start a live server for an app; returns its base URL."""
    servers: list[LiveServer] = []

    def start(app: ASGIApp) -> str:
        server = LiveServer(app).__enter__()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run the tests with ./dev test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Offsite:
    """Requests a page tried to send beyond 127.0.0.1 (all aborted)."""

    urls: list[str] = field(default_factory=list)


def _guard(offsite: Offsite) -> Callable[[Route], None]:
    def handle(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(
            ("data:", "blob:", "about:")
        ):
            route.continue_()
        else:
            offsite.urls.append(route.request.url)
            route.abort()

    return handle


@pytest.fixture
def offsite() -> Offsite:
    return Offsite()


@pytest.fixture
def new_context(browser: Browser, offsite: Offsite) -> Iterator[Callable[..., BrowserContext]]:
    """Contexts that cannot reach anything but 127.0.0.1."""
    contexts: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        context = browser.new_context(**kwargs)
        context.route("**/*", _guard(offsite))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot for human review under tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def run_axe(page: Page, selector: str | None = None) -> list[dict[str, Any]]:
    """Violations reported by axe-core on the page (or within *selector*)."""
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core not found at {AXE_JS}: run the tests with ./dev test")
    page.add_script_tag(path=str(AXE_JS))
    context = selector or "document"
    result: dict[str, Any] = page.evaluate(
        f"async () => await axe.run({context if selector is None else repr(selector)}, "
        "{resultTypes: ['violations']})"
    )
    return list(result["violations"])


__all__ = ["ARTIFACTS", "LiveServer", "Offsite", "run_axe", "screenshot"]
