"""The demo site: every profile starts and enforces its policy; the real command runs and stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from consentkit.categories import OPTIONAL_CATEGORIES
from consentkit.stores.sqlite import SQLiteReceiptStore
from demo_site.app import (
    DEFAULT_PROFILE,
    PROFILES,
    UNDECLARED_COOKIE,
    create_app,
    create_providers_app,
    load_policy,
)
from demo_site.providers import PROVIDER_COOKIES

from ..conftest import ADMIN_TOKEN, RECEIPT_KEY, SECRET
from ..helpers import set_cookie_names

REPO = Path(__file__).resolve().parents[2]
PAGES = [
    "/",
    "/articles",
    "/articles/backups",
    "/articles/passwords",
    "/product",
    "/contact",
    "/login",
    "/privacy",
    "/_consent/cookies",
    "/_consent/preferences",
]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def build(profile: str, tmp_path: Path) -> Any:
    return create_app(
        profile,
        db_path=tmp_path / f"{profile}.db",
        secret=SECRET,
        receipt_key=RECEIPT_KEY,
        admin_token=ADMIN_TOKEN,
        providers_url="http://127.0.0.1:8001",
    )


@pytest.fixture(params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(profile: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build(profile, tmp_path)) as client:
        yield client


def test_every_page_renders(client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path


def test_unknown_article_is_a_page_not_an_error(client: TestClient) -> None:
    assert client.get("/articles/nope").status_code == 200


def test_first_visit_sets_only_necessary_cookies(profile: str, client: TestClient) -> None:
    policy = load_policy(profile)
    for path in PAGES:
        names = set_cookie_names(client.get(path))
        assert {n for n in names if policy.required_category(n) != "necessary"} == set(), path


def test_undeclared_cookie_is_dropped_and_reported(profile: str, client: TestClient) -> None:
    assert UNDECLARED_COOKIE not in set_cookie_names(client.get("/"))
    assert load_policy(profile).classify(UNDECLARED_COOKIE).category == "unclassified"
    page = client.get("/_consent/admin", headers=ADMIN)
    assert page.status_code == 200
    assert f'data-cookie="{UNDECLARED_COOKIE}"' in page.text


def test_accepting_lets_the_server_cookies_through(profile: str, client: TestClient) -> None:
    spec = PROFILES[profile]
    response = client.post("/_consent", data={"action": "accept_all"}, follow_redirects=False)
    assert response.status_code == 303
    names = set(set_cookie_names(client.get("/")))
    assert {name for name, _ in spec.server_cookies} <= names
    # An undeclared cookie needs the policy's "unclassified" category (targeting), granted here.
    assert UNDECLARED_COOKIE in names


def test_rejecting_keeps_and_expires(profile: str, client: TestClient) -> None:
    client.post("/_consent", data={"action": "accept_all"})
    client.get("/")
    response = client.post("/_consent", data={"action": "reject_all"}, follow_redirects=False)
    assert response.status_code == 303
    policy = load_policy(profile)
    names = set(set_cookie_names(client.get("/")))
    assert all(policy.required_category(n) == "necessary" for n in names - {"consentkit"})


def test_login_logout_and_language(profile: str, client: TestClient) -> None:
    spec = PROFILES[profile]
    client.get("/login")
    form = {"username": "ada", "password": "x", "csrftoken": client.cookies.get("csrftoken", "")}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert "sessionid" in set_cookie_names(response)
    assert "Sign out ada" in client.get("/").text
    response = client.post("/logout", data={"csrftoken": form["csrftoken"]}, follow_redirects=False)
    assert response.status_code == 303
    assert "Sign out ada" not in client.get("/").text
    client.post("/_consent", data={"action": "accept_all"})
    response = client.get("/lang/fr?next=/product", follow_redirects=False)
    assert response.status_code == 303
    assert ("lang" in set_cookie_names(response)) is spec.lang_cookie
    assert response.headers["location"].startswith("/product")


def test_contact_form_thanks(client: TestClient) -> None:
    client.get("/contact")
    token = client.cookies.get("csrftoken", "")
    response = client.post(
        "/contact",
        data={"name": "<Ada>", "email": "a@example.org", "message": "hi", "csrftoken": token},
    )
    assert response.status_code == 200
    assert "Thank you, &lt;Ada&gt;!" in response.text


@pytest.mark.parametrize("profile_name", [p for p in sorted(PROFILES) if PROFILES[p].csrf])
def test_forms_refuse_a_wrong_csrf_token(profile_name: str, tmp_path: Path) -> None:
    with TestClient(build(profile_name, tmp_path)) as client:
        client.get("/contact")
        response = client.post("/contact", data={"name": "x", "csrftoken": "forged"})
        assert response.status_code == 403
        response = client.post("/login", data={"username": "x"})
        assert response.status_code == 403


def test_cross_site_form_posts_are_refused(tmp_path: Path) -> None:
    with TestClient(build("consultancy", tmp_path)) as client:
        response = client.post(
            "/login", data={"username": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
    assert response.status_code == 403


def test_trackers_are_neutralised_before_consent(tmp_path: Path) -> None:
    with TestClient(build("hosting", tmp_path)) as client:
        html = client.get("/").text
    for url in ("googletagmanager.com/gtag/js", "127.0.0.1:8001/analytics.js", "/embed/video"):
        tag = _tag_containing(html, url)
        assert re.search(r'\ssrc="', tag) is None, tag
        assert "data-ck-blocked" in tag
    assert 'data-ck-src="http://127.0.0.1:8001/pixel.gif"' in html


def _tag_containing(html: str, needle: str) -> str:
    index = html.index(needle)
    return html[html.rindex("<", 0, index) : html.index(">", index) + 1]


def test_consultancy_has_no_banner_but_declares_its_cookie(tmp_path: Path) -> None:
    with TestClient(build("consultancy", tmp_path)) as client:
        home = client.get("/").text
        declaration = client.get("/_consent/cookies").text
    assert "data-ck-banner" not in home
    assert "<code>sessionid</code>" in declaration
    assert "googletagmanager" not in home


def test_california_visitor_is_offered_do_not_sell(tmp_path: Path) -> None:
    california = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
    with TestClient(build("managed", tmp_path)) as client:
        elsewhere = client.get("/").text
        there = client.get("/", headers=california).text
        status = client.get("/_consent", headers=california).json()["decision"]
    assert "Do Not Sell or Share" not in elsewhere
    assert "Do Not Sell or Share" in there
    assert status["region"] == "US-CA"
    assert status["model"] == "opt_out"


def test_gpc_refuses_targeting_on_the_cloud_profile(tmp_path: Path) -> None:
    with TestClient(build("cloud", tmp_path)) as client:
        response = client.get("/", headers={"Sec-GPC": "1"})
        status = client.get("/_consent", headers={"Sec-GPC": "1"}).json()["decision"]
    assert "data-demo-gpc" in response.text
    assert "_fbp" not in set_cookie_names(response)
    assert status["gpc"] is True
    assert "targeting" in status["refused"]


def test_policies_declare_every_demo_cookie(profile: str) -> None:
    """What the site and the stand-ins set is declared, except the deliberate omission."""
    policy = load_policy(profile)
    spec = PROFILES[profile]
    names = {n for n, _ in spec.server_cookies}
    if spec.trackers:
        names |= {n for cookies in PROVIDER_COOKIES.values() for n in cookies}
        names |= {"csrftoken"} if spec.csrf else set()
    names |= {"lang"} if spec.lang_cookie else set()
    names.add("sessionid")
    undeclared = {n for n in names if policy.classify(n).source != "declared"}
    assert undeclared == set()
    assert policy.classify(UNDECLARED_COOKIE).source == "unknown"


def test_only_the_consultancy_declares_only_necessary_cookies() -> None:
    only = {p for p in PROFILES if load_policy(p).declares_only_necessary}
    assert only == {"consultancy"}
    hosting = load_policy("hosting")
    assert {r.category for r in hosting.cookies} == {"necessary", *OPTIONAL_CATEGORIES}


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        ("/analytics.js", "demo_analytics_uid"),
        ("/ads.js", "demo_ads_uid"),
        ("/chat.js", "demo_chat_sid"),
        ("/embed/video", "demo_video_uid"),
        ("/pixel.gif", "demo_pixel_uid"),
    ],
)
def test_providers_set_their_cookies(path: str, cookie: str) -> None:
    with TestClient(create_providers_app()) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert cookie in set_cookie_names(response)


def test_providers_unknown_script_is_404() -> None:
    with TestClient(create_providers_app()) as client:
        assert client.get("/nothing.js").status_code == 404


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo_site", "--help"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    for option in ("--profile", "--port", "--providers-port", "--host", "--db"):
        assert option in result.stdout
    for name in PROFILES:
        assert name in result.stdout


def test_unknown_profile_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo_site", "--profile", "bakery"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_real_command_serves_records_and_stops_on_sigint(tmp_path: Path) -> None:
    port, providers_port = _free_port(), _free_port()
    db = tmp_path / "var" / "consent.db"
    env = _env(
        CONSENTKIT_SECRET=SECRET,
        CONSENTKIT_RECEIPT_KEY=RECEIPT_KEY,
        CONSENTKIT_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    command = [
        sys.executable, "-m", "demo_site", "--profile", "managed", "--port", str(port),
        "--providers-port", str(providers_port), "--db", str(db),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        site = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{site}/_consent", process)
        _wait_until_up(f"http://127.0.0.1:{providers_port}/pixel.gif", process)
        with httpx.Client(base_url=site) as client:
            assert client.get("/").status_code == 200
            response = client.post("/_consent", data={"action": "accept_all", "return_to": "/"})
            assert response.status_code == 303
            assert client.get("/_consent/admin", headers=ADMIN).status_code == 200
        assert db.is_file()
        store = SQLiteReceiptStore(str(db), receipt_keys=[RECEIPT_KEY])
        try:
            assert store.count() == 1
        finally:
            store.close()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"http://127.0.0.1:{port}/_consent/cookies" in stdout
    assert f"password: {ADMIN_TOKEN}" in stdout
    assert str(db) in stdout


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"the demo exited early with {process.returncode}: {stderr}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within 30 s")


def test_readme_tour_states_the_cookies_of_the_first_visit(tmp_path: Path) -> None:
    """The README's claim about the default demo's first visit matches what it really sets."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    claim = re.search(r"Cookies after the\s+first visit: (none|[`\w, and]+)", readme)
    assert claim is not None, "the README tour no longer states the first visit's cookies"
    claimed = set(re.findall(r"`(\w+)`", claim.group(1)))
    with TestClient(build(DEFAULT_PROFILE, tmp_path)) as client:
        first = set(set_cookie_names(client.get("/"))) - {"consentkit"}
        assert first == claimed
        forms = set(set_cookie_names(client.get("/contact")))
    # What the README says arrives later, does, where it says.
    tour = readme[claim.start() : claim.start() + 300]
    if "`csrftoken` comes with the contact" in tour:
        assert "csrftoken" in forms


def test_french_demo_page_gets_a_french_banner(tmp_path: Path) -> None:
    with TestClient(build(DEFAULT_PROFILE, tmp_path)) as client:
        page = client.get("/?lang=fr", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert '<html lang="fr">' in page
    assert "Tout accepter" in page
    assert "Accept all" not in page


def test_the_demo_asks_per_service(tmp_path: Path) -> None:
    # The video is YouTube's: its placeholder offers that service alone, and once the page
    # has been seen the preferences centre lists it with its own switch.
    with TestClient(build("hosting", tmp_path)) as client:
        html = client.get("/").text
        assert "Always allow YouTube" in html
        centre = client.get("/_consent/preferences?fragment=1").text
    assert 'value="youtube"' in centre
    assert 'value="google-analytics"' in centre
