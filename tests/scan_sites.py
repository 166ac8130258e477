"""Sites for the scanner's browser tests: a careless one, one without a banner, a fake tracker.

The careless site does everything a consent banner must prevent: tracker scripts in the
``<head>`` load before any choice and keep loading after "Reject all", the server sets
advertising cookies on the first response, a tracker script writes a two-year ``_ga`` cookie
and a ``localStorage`` key, and a DoubleClick pixel fires on every page. The tracker hosts
(real tracker names) are served by :func:`create_tracker_app` on 127.0.0.1: Chromium maps
the names with ``--host-resolver-rules`` (:func:`resolver_rules`), so nothing leaves the
machine. The hosts used are not on Chromium's HSTS preload list, so plain http works.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = [
    "CARELESS_POLICY",
    "TRACKER_HOSTS",
    "create_careless_app",
    "create_cmp_app",
    "create_no_banner_app",
    "create_slow_app",
    "create_tracker_app",
    "resolver_rules",
]

TRACKER_HOSTS: Final = ("www.googletagmanager.com", "script.hotjar.com", "ad.doubleclick.net")
CARELESS_POLICY: Final = Path(__file__).with_name("scan_careless.toml")


def resolver_rules() -> str:
    """Chromium flag: tracker names to 127.0.0.1, every other name unresolvable."""
    maps = ", ".join(f"MAP {host} 127.0.0.1" for host in TRACKER_HOSTS)
    return f"--host-resolver-rules={maps}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


_GTAG: Final = """
document.cookie = "_ga=GA1.1.1234.5678; max-age=63072000; path=/";
localStorage.setItem("ajs_anonymous_id", "careless-visitor");
new Image().src = "http://ad.doubleclick.net:%(port)s/activity;src=1;type=careless";
"""
_HOTJAR: Final = "window.hj = function () {};"


def create_tracker_app() -> Starlette:
    """Stand-ins for the tracker hosts: scripts and a pixel, whatever the Host header."""

    async def script(request: Request) -> Response:
        port = request.url.port or 80
        body = _GTAG % {"port": port} if "gtag" in request.url.path else _HOTJAR
        return Response(body, media_type="text/javascript")

    async def pixel(request: Request) -> Response:
        return Response(b"GIF89a", media_type="image/gif")

    return Starlette(
        routes=[
            Route("/gtag/js", script),
            Route("/c/hotjar.js", script),
            Route("/activity{rest:path}", pixel),
        ]
    )


_BANNER_EN: Final = """
<div id="cookie-banner" role="dialog" aria-label="Cookies">
  <p>We use cookies to improve your experience.</p>
  <button type="button" data-choice="all">Accept all</button>
  <button type="button" data-choice="none">Reject all</button>
</div>
"""
_BANNER_DE_ACCEPT_ONLY: Final = """
<div id="cookie-banner" role="dialog" aria-label="Cookies">
  <p>Wir verwenden Cookies.</p>
  <button type="button" data-choice="all">Alle akzeptieren</button>
  <a href="/einstellungen">Einstellungen</a>
</div>
"""
_BANNER_SCRIPT: Final = """
<script>
for (const b of document.querySelectorAll("[data-choice]")) {
  b.addEventListener("click", () => {
    document.cookie = "cookie_choice=" + b.dataset.choice + "; max-age=15552000; path=/";
    document.getElementById("cookie-banner").remove();
  });
}
</script>
"""


def create_careless_app(tracker_port: int, *, reject_button: bool = True) -> Starlette:
    """The careless site; without *reject_button* its German banner offers accept only."""
    head = (
        f'<script src="http://www.googletagmanager.com:{tracker_port}/gtag/js?id=G-CARE"></script>'
        f'<script src="http://script.hotjar.com:{tracker_port}/c/hotjar.js"></script>'
    )
    banner = _BANNER_EN if reject_button else _BANNER_DE_ACCEPT_ONLY

    def page(title: str, links: str) -> str:
        return (
            f"<!doctype html><html lang=en><head><title>{title}</title>{head}</head><body>"
            f"{banner}<h1>{title}</h1><p>{links}</p>{_BANNER_SCRIPT}</body></html>"
        )

    async def home(request: Request) -> Response:
        response = HTMLResponse(page("Careless shop", '<a href="/about">About</a>'))
        response.set_cookie("_fbp", "fb.1.1700000000.42", max_age=7_776_000)
        response.set_cookie("_gcl_au", "1.1.42.1700000000", max_age=7_776_000)
        return response

    async def about(request: Request) -> Response:
        return HTMLResponse(page("About", '<a href="/">Home</a>'))

    async def robots(request: Request) -> Response:
        return PlainTextResponse("User-agent: *\nDisallow: /private\n")

    return Starlette(
        routes=[Route("/", home), Route("/about", about), Route("/robots.txt", robots)]
    )


_CMP_PAGE: Final = """<!doctype html><html lang=en><head><title>Tidy shop</title></head><body>
<div id="onetrust-banner-sdk" role="dialog" aria-label="Cookies">
  <p>Choose which cookies we may use.</p>
  <button id="onetrust-accept-btn-handler">I'm fine with that</button>
  <button id="onetrust-reject-all-handler">Only the necessary ones, please</button>
</div>
<h1>Tidy shop</h1>
<script>
function load() {
  const s = document.createElement("script");
  s.src = "http://www.googletagmanager.com:%(port)s/gtag/js?id=G-TIDY";
  document.head.appendChild(s);
}
if (document.cookie.includes("OptanonConsent=all")) load();
const choose = (value) => {
  document.cookie = "OptanonConsent=" + value + "; max-age=31536000; path=/";
  document.getElementById("onetrust-banner-sdk").remove();
  if (value === "all") load();
};
document.getElementById("onetrust-accept-btn-handler").onclick = () => choose("all");
document.getElementById("onetrust-reject-all-handler").onclick = () => choose("none");
const banner = document.getElementById("onetrust-banner-sdk");
if (document.cookie.includes("OptanonConsent=")) banner.remove();
</script></body></html>"""


def create_cmp_app(tracker_port: int) -> Starlette:
    """A tidy site with consent-manager markup whose buttons no name list would match."""

    async def home(request: Request) -> Response:
        return HTMLResponse(_CMP_PAGE % {"port": tracker_port})

    return Starlette(routes=[Route("/", home)])


def create_slow_app(seconds: float) -> Starlette:
    """A site whose pages answer only after *seconds*."""

    async def home(request: Request) -> Response:
        await asyncio.sleep(seconds)
        return HTMLResponse("<!doctype html><title>Slow</title><p>Finally.</p>")

    return Starlette(routes=[Route("/", home)])


def create_no_banner_app() -> Starlette:
    """A site with no consent banner at all (and nothing to consent to on its page)."""

    async def home(request: Request) -> Response:
        return HTMLResponse(
            "<!doctype html><html lang=en><head><title>Plain</title></head>"
            "<body><h1>A plain page</h1><p>No banner here.</p></body></html>"
        )

    return Starlette(routes=[Route("/", home)])
