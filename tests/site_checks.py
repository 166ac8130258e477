"""What every framework recipe must do when served: the shared checks of the integration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx2 as httpx

from .snippets import snippet

SECRET = "integration-secret-0123456789abcdef"
RECEIPT_KEY = "integration-receipt-key-fedcba9876543210"
ENV = {"CONSENTKIT_SECRET": SECRET, "CONSENTKIT_RECEIPT_KEY": RECEIPT_KEY}
GTAG = '<script async src="https://www.googletagmanager.com/gtag/js'


def write_site(root: Path, files: dict[str, str]) -> Path:
    """The recipe's files under *root*, with the shared ``consent.toml``."""
    (root / "consent.toml").write_text(snippet("consent.toml"), encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def set_cookie_names(response: httpx.Response) -> list[str]:
    return [line.split("=", 1)[0] for line in response.headers.get_list("set-cookie")]


def check_first_visit(url: str, path: str = "/", *, gtag: bool = True) -> httpx.Response:
    """No analytics cookie, the tracker neutralised, the banner and its assets served."""
    page = httpx.get(url + path)
    assert page.status_code == 200, page.text
    assert "_ga" not in set_cookie_names(page)
    assert 'class="ck-banner' in page.text, page.text[:1500]
    assert 'id="stats"' not in page.text
    if gtag:
        assert GTAG not in page.text
        assert "data-ck-blocked" in page.text
    assert httpx.get(url + "/_consent/static/consentkit.js").status_code == 200
    return page


def check_consent_round_trip(url: str, db: Path | None, path: str = "/") -> None:
    """Accept all through the no-JS form; then analytics runs and a receipt is on disk."""
    with httpx.Client(base_url=url) as client:
        posted = client.post(
            "/_consent",
            data={"action": "accept_all", "return_to": path},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"] == path
        assert "consentkit" in set_cookie_names(posted)
        page = client.get(path)
        assert "_ga" in set_cookie_names(page)
        assert 'id="stats"' in page.text
        assert client.get("/_consent").json()["decision"]["decided"] is True
        if db is not None:
            receipt = client.get("/_consent/receipt")
            assert receipt.status_code == 200, receipt.text
    if db is not None:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("select action from consentkit_receipts").fetchall()
        assert rows == [("accept_all",)]
