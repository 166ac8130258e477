"""Take the README's screenshots of the demo: ``python -m demo_site.screenshots [OUT_DIR]``.

Starts the demo site and its stand-in providers on free ports, drives Debian's
Chromium through the banner, the preferences centre and the dashboard, and saves
PNGs (default: ``docs/images``).
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from consentkit.scan.browser import CHROMIUM_FLAGS

from .app import create_app, create_providers_app

CHROMIUM_ARGS = list(CHROMIUM_FLAGS)
ADMIN = "screenshot-admin-token-000000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(app: object, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    site_port, providers_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        providers = _start(create_providers_app(), providers_port)
        site = _start(
            create_app(
                "hosting",
                db_path=Path(tmp) / "consent.db",
                secret="screenshot-secret-0000000000000000000000",
                receipt_key="screenshot-receipt-key-00000000",
                admin_token=ADMIN,
                providers_url=f"http://127.0.0.1:{providers_port}",
            ),
            site_port,
        )
        base = f"http://127.0.0.1:{site_port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.route(
                    "**/*",
                    lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort(),
                )
                page.goto(base + "/")
                page.screenshot(path=str(out / "banner.png"))
                page.get_by_role("button", name="Customize").click()
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / "preferences.png"))
                page.get_by_role("button", name="Accept all").last.click()
                page.wait_for_timeout(1000)
                page.screenshot(path=str(out / "accepted.png"))
                admin = browser.new_page(
                    viewport={"width": 1280, "height": 1000},
                    extra_http_headers={"Authorization": f"Bearer {ADMIN}"},
                )
                admin.goto(base + "/_consent/admin")
                admin.screenshot(path=str(out / "dashboard.png"))
                browser.close()
        finally:
            site.should_exit = True
            providers.should_exit = True


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
