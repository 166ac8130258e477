"""Local stand-ins for third-party providers, served from a second origin.

Real tracker URLs stay in the demo pages but never load offline. These stand-ins do:
when a visitor grants a category, the matching script runs, sets a cookie from
JavaScript, shows a badge on the page, and the provider's own responses set cookies
too. When consent is missing the tags are neutralised and none of this happens.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

__all__ = ["PROVIDER_COOKIES", "create_providers_app"]

_YEAR: Final = 365 * 86400
# A transparent 1x1 GIF.
_PIXEL: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

PROVIDER_COOKIES: Final[dict[str, tuple[str, ...]]] = {
    "analytics.js": ("_demo_analytics", "demo_analytics_uid"),
    "ads.js": ("_demo_ads", "demo_ads_uid"),
    "chat.js": ("_demo_chat", "demo_chat_sid"),
    "embed/video": ("demo_video_uid",),
    "pixel.gif": ("demo_pixel_uid",),
}
"""Cookies each stand-in sets (from JavaScript first, then from its response)."""

# The badge helper is shared by the scripts; it only touches an element the page offers.
_BADGE: Final = """
function ckDemoBadge(kind, text) {
  var list = document.querySelector("[data-demo-status]");
  if (!list || list.querySelector('[data-demo-badge="' + kind + '"]')) return;
  var item = document.createElement("li");
  item.className = "badge badge--" + kind;
  item.setAttribute("data-demo-badge", kind);
  item.textContent = text;
  list.appendChild(item);
  var empty = document.querySelector("[data-demo-empty]");
  if (empty) empty.hidden = true;
}
function ckDemoCookie(name, days) {
  if (document.cookie.split("; ").some(function (c) { return c.indexOf(name + "=") === 0; })) {
    return;
  }
  var id = Math.random().toString(36).slice(2, 12);
  document.cookie = name + "=" + id + "; path=/; max-age=" + days * 86400 + "; samesite=lax";
}
"""

_SCRIPTS: Final[dict[str, str]] = {
    "analytics.js": _BADGE
    + """
ckDemoCookie("_demo_analytics", 365);
ckDemoBadge("analytics", "Analytics running: this page view was counted");
""",
    "ads.js": _BADGE
    + """
ckDemoCookie("_demo_ads", 395);
ckDemoBadge("ads", "Ads running: you now carry an advertising identifier");
""",
    "chat.js": _BADGE
    + """
ckDemoCookie("_demo_chat", 30);
ckDemoBadge("chat", "Chat widget running");
(function () {
  if (document.querySelector("[data-demo-chat]")) return;
  var bubble = document.createElement("div");
  bubble.className = "chat-bubble";
  bubble.setAttribute("data-demo-chat", "");
  bubble.setAttribute("role", "complementary");
  bubble.setAttribute("aria-label", "Chat");
  bubble.textContent = "Chat with us: an agent is online";
  document.body.appendChild(bubble);
})();
""",
}

_VIDEO_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo video player</title>
<style>
body{margin:0;font:14px system-ui,sans-serif;background:#111;color:#eee;display:grid;
place-items:center;height:100vh}
.play{width:64px;height:44px;border-radius:10px;background:#c00;display:grid;place-items:center}
.play::after{content:"";border-left:18px solid #fff;border-top:11px solid transparent;
border-bottom:11px solid transparent}
</style></head>
<body><div><div class="play" aria-hidden="true"></div>
<p data-demo-video>Video player loaded: it set a tracking cookie.</p></div></body></html>
"""


def _cookie(response: Response, name: str, *, max_age: int | None) -> None:
    response.set_cookie(name, secrets.token_hex(8), max_age=max_age, path="/", samesite="lax")


async def script(request: Request) -> Response:
    name = request.path_params["name"]
    code = _SCRIPTS.get(name)
    if code is None:
        return Response("not found", status_code=404, media_type="text/plain")
    response = Response(code, media_type="text/javascript; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    server_cookie = PROVIDER_COOKIES[name][1]
    _cookie(response, server_cookie, max_age=None if server_cookie.endswith("_sid") else _YEAR)
    return response


async def video(request: Request) -> Response:
    response = HTMLResponse(_VIDEO_PAGE, headers={"Cache-Control": "no-store"})
    _cookie(response, "demo_video_uid", max_age=180 * 86400)
    return response


async def pixel(request: Request) -> Response:
    response = Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})
    _cookie(response, "demo_pixel_uid", max_age=_YEAR)
    return response


async def index(request: Request) -> Response:
    items = "".join(f"<li>{name}</li>" for name in PROVIDER_COOKIES)
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Demo providers</title>"
        f"</head><body><h1>Local stand-in providers</h1><ul>{items}</ul></body></html>"
    )


def create_providers_app() -> Starlette:
    """The stand-in providers: ``/analytics.js``, ``/ads.js``, ``/chat.js``,
    ``/embed/video`` and ``/pixel.gif``, each setting its own cookies."""
    return Starlette(
        routes=[
            Route("/", index),
            Route("/embed/video", video),
            Route("/pixel.gif", pixel),
            Route("/{name:str}", script),
        ]
    )
