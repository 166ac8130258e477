"""What a visitor's browser pays for a consent banner, against three client-side tools.

The same 20 kB article page with a dozen trackers is served on 127.0.0.1 four ways:

* ``consentkit``: the page through :class:`~consentkit.ConsentMiddleware` (trackers neutralised
  and the banner injected on the server);
* ``vanilla-cookieconsent`` 3: its dist JS and CSS, ``CookieConsent.run({...})`` with the same
  four categories, tracker scripts marked ``type="text/plain" data-category=...``;
* ``klaro`` 0.7: ``klaro.js`` (CSS bundled) with a ``klaroConfig`` listing one service per
  tracker provider, scripts marked ``type="text/plain" data-type=... data-name=...`` and
  iframes and images moved to ``data-src``;
* ``osano-cookieconsent`` 3: its build JS and CSS, ``initialise({type: "opt-in"})``; the
  trackers are left as they are, because the tool blocks nothing itself.

Each load runs in a fresh context of headless Chromium (Debian's build, driven by Playwright),
contenders alternating load by load. Every request to anything but 127.0.0.1 is aborted and
counted as a tracker request that left before the visitor chose. Before timing, each contender
must show its banner once. Reported per contender: JS+CSS bytes (raw and gzip -9, from the files
on disk), median time from navigation start to the banner being visible (box in the viewport,
no ancestor hidden or fully transparent), whether it was visible in the first contentful paint,
cumulative layout shift one second after the banner showed, and tracker requests.

Targets for consentkit: banner visible at FCP, CLS 0, zero tracker requests.
Run ``python -m benchmarks.bench_banner [--quick]`` from the project root.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.pages import page
from benchmarks.report import ratio, run_alone
from consentkit.scan.browser import CHROMIUM_FLAGS
from consentkit.trackers import Tracker, default_index

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = Path(os.environ.get("CONSENTKIT_NODE_MODULES", ROOT / ".deps" / "node_modules"))
CHROMIUM = os.environ.get("CONSENTKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)
PAGE_SIZE = 20_000
SETTLE_MS = 1000
TIMEOUT_MS = 10_000
SECRET = "benchmark-only-secret-key-0123456789abcdef"
JS_TYPES = {"", "text/javascript", "application/javascript", "module"}
LABELS = {"performance": "Performance", "functionality": "Functionality", "targeting": "Targeting"}
TEXT = "We use cookies to measure visits, remember choices and show relevant ads."

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# Requests leaving 127.0.0.1; matched by Playwright's driver, so local ones skip Python.
OFFSITE = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:|about:)")

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
_EMBED = re.compile(r"<(iframe|img)\b([^>]*?)(/?)>", re.S | re.I)
_ATTR = re.compile(r"""([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")

# Installed into the page before any of its scripts: records when the banner is first visible
# (checked every animation frame, whose timestamp can be compared with the paint timing of
# FCP) and sums layout shifts.
_PROBE = """
(() => {
  const selector = %s;
  const probe = window.__bench = {visible: null, frame: null, cls: 0, shifts: 0};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (!e.hadRecentInput) { probe.cls += e.value; probe.shifts += 1; }
    }
  }).observe({type: "layout-shift", buffered: true});
  const shown = (el) => {
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    if (r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth) return false;
    for (let n = el; n; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.display === "none" || s.visibility === "hidden" || parseFloat(s.opacity) === 0) {
        return false;
      }
    }
    return true;
  };
  const tick = (frame) => {
    if (shown(document.querySelector(selector))) {
      probe.visible = performance.now();
      probe.frame = frame;
    } else {
      requestAnimationFrame(tick);
    }
  };
  requestAnimationFrame(tick);
})();
"""

_COLLECT = """
() => {
  const fcp = performance.getEntriesByType("paint")
    .find((e) => e.name === "first-contentful-paint");
  const probe = window.__bench;
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    ttfb: nav ? nav.responseStart : null,
    visible: probe.visible, frame: probe.frame, cls: probe.cls, shifts: probe.shifts,
    fcp: fcp ? fcp.startTime : null,
    fcp_paint: fcp ? (fcp.paintTime ?? fcp.startTime) : null,
  };
}
"""


@dataclass(frozen=True)
class Contender:
    """One way of showing the banner on the benchmark page."""

    name: str
    package: str | None  # npm package under NODE_MODULES, None for consentkit
    assets: tuple[str, ...]  # files whose bytes the visitor downloads
    selector: str
    build: Callable[[str], str]  # the page's HTML -> the page this contender serves

    def missing(self) -> str | None:
        """Why this contender cannot run, or ``None``."""
        if self.package is None:
            return None
        if not (NODE_MODULES / self.package / "package.json").is_file():
            return f"npm package {self.package} not installed (run ./dev bench)"
        lost = [a for a in self.assets if not (NODE_MODULES / self.package / a).is_file()]
        return f"{self.package} lacks {', '.join(lost)}" if lost else None

    def files(self) -> list[Path]:
        if self.package is None:
            from consentkit.web.templates import static_dir

            return [static_dir() / a for a in self.assets]
        return [NODE_MODULES / self.package / a for a in self.assets]

    def version(self) -> str:
        if self.package is None:
            import consentkit

            return consentkit.__version__
        meta = json.loads((NODE_MODULES / self.package / "package.json").read_text("utf-8"))
        return str(meta.get("version", "?"))


# -- the page as each tool's documentation asks for it ----------------------------------------


def _attrs(tag: str) -> dict[str, str]:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR.finditer(tag)}


def _render(name: str, attrs: dict[str, str]) -> str:
    parts = [name] + [f'{k}="{v}"' if v else k for k, v in attrs.items()]
    return "<" + " ".join(parts) + ">"


def _slug(provider: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", provider.lower()).strip("-")


def _tracker_of_script(attrs: dict[str, str], body: str) -> Tracker | None:
    if attrs.get("type", "").strip().lower() not in JS_TYPES:
        return None
    index = default_index()
    src = attrs.get("src")
    return index.match_url(src) if src else index.match_inline(body)


def page_trackers(html: str) -> list[Tracker]:
    """Every tracker element of the page (scripts, iframes, images), in order."""
    found = []
    for m in _SCRIPT.finditer(html):
        tracker = _tracker_of_script(_attrs(m[1]), m[2])
        if tracker is not None:
            found.append(tracker)
    for m in _EMBED.finditer(html):
        tracker = default_index().match_url(_attrs(m[2]).get("src", ""))
        if tracker is not None:
            found.append(tracker)
    return found


def _mark_scripts(html: str, mark: Callable[[dict[str, str], Tracker], dict[str, str]]) -> str:
    def edit(m: re.Match[str]) -> str:
        attrs = _attrs(m[1])
        tracker = _tracker_of_script(attrs, m[2])
        if tracker is None:
            return m[0]
        return _render("script", mark(attrs, tracker)) + m[2] + "</script>"

    return _SCRIPT.sub(edit, html)


def _insert(html: str, head: str, body: str) -> str:
    html = html.replace("</head>", head + "</head>", 1)
    at = html.rindex("</body>")
    return html[:at] + body + html[at:]


def _vanilla_page(html: str) -> str:
    def mark(attrs: dict[str, str], tracker: Tracker) -> dict[str, str]:
        attrs.pop("type", None)
        return {"type": "text/plain", "data-category": tracker.category, **attrs}

    sections = [
        {"title": label, "description": label, "linkedCategory": key}
        for key, label in LABELS.items()
    ]
    config = {
        # The default hides the banner from automated browsers, which includes this benchmark.
        "hideFromBots": False,
        "categories": {
            "necessary": {"enabled": True, "readOnly": True},
            **{key: {} for key in LABELS},
        },
        "language": {
            "default": "en",
            "translations": {
                "en": {
                    "consentModal": {
                        "title": "Cookies",
                        "description": TEXT,
                        "acceptAllBtn": "Accept all",
                        "acceptNecessaryBtn": "Reject all",
                        "showPreferencesBtn": "Customize",
                    },
                    "preferencesModal": {
                        "title": "Cookie settings",
                        "acceptAllBtn": "Accept all",
                        "acceptNecessaryBtn": "Reject all",
                        "savePreferencesBtn": "Save choices",
                        "sections": sections,
                    },
                }
            },
        },
    }
    base = "/vendor/vanilla-cookieconsent/dist/"
    head = f'<link rel="stylesheet" href="{base}cookieconsent.css">\n'
    body = (
        f'<script src="{base}cookieconsent.umd.js"></script>\n'
        f"<script>CookieConsent.run({json.dumps(config)});</script>\n"
    )
    return _insert(_mark_scripts(html, mark), head, body)


def _klaro_page(html: str) -> str:
    def mark(attrs: dict[str, str], tracker: Tracker) -> dict[str, str]:
        attrs.pop("type", None)
        if "src" in attrs:
            attrs["data-src"] = attrs.pop("src")
        return {
            "type": "text/plain",
            "data-type": "application/javascript",
            "data-name": _slug(tracker.provider),
            **attrs,
        }

    def embed(m: re.Match[str]) -> str:
        attrs = _attrs(m[2])
        tracker = default_index().match_url(attrs.get("src", ""))
        if tracker is None:
            return m[0]
        attrs["data-src"] = attrs.pop("src")
        return _render(m[1], {"data-name": _slug(tracker.provider), **attrs})

    services: dict[str, dict[str, Any]] = {}
    for tracker in page_trackers(html):
        services.setdefault(
            _slug(tracker.provider),
            {
                "name": _slug(tracker.provider),
                "title": tracker.provider,
                "purposes": [tracker.category],
            },
        )
    config = {
        "version": 1,
        "elementID": "klaro",
        "storageMethod": "cookie",
        "cookieName": "klaro",
        "default": False,
        "mustConsent": False,
        "acceptAll": True,
        "hideDeclineAll": False,
        "lang": "en",
        "translations": {
            "en": {
                "consentNotice": {"description": TEXT},
                "purposes": {key: {"title": label} for key, label in LABELS.items()},
            }
        },
        "services": list(services.values()),
    }
    head = (
        f"<script>var klaroConfig = {json.dumps(config)};</script>\n"
        '<script defer src="/vendor/klaro/dist/klaro.js"></script>\n'
    )
    return _insert(_EMBED.sub(embed, _mark_scripts(html, mark)), head, "")


def _osano_page(html: str) -> str:
    config = {
        "type": "opt-in",
        "content": {"message": TEXT, "allow": "Accept all", "deny": "Reject all"},
    }
    base = "/vendor/cookieconsent/build/"
    head = f'<link rel="stylesheet" href="{base}cookieconsent.min.css">\n'
    body = (
        f'<script src="{base}cookieconsent.min.js"></script>\n'
        f"<script>window.cookieconsent.initialise({json.dumps(config)});</script>\n"
    )
    return _insert(html, head, body)


CONTENDERS = (
    Contender(
        "consentkit",
        None,
        ("consentkit.js", "consentkit.css", "ck-head.js"),
        "#ck-root .ck-banner",
        lambda html: html,
    ),
    Contender(
        "vanilla-cookieconsent",
        "vanilla-cookieconsent",
        ("dist/cookieconsent.umd.js", "dist/cookieconsent.css"),
        "#cc-main .cm",
        _vanilla_page,
    ),
    Contender(
        "klaro",
        "klaro",
        ("dist/klaro.js",),
        ".klaro .cookie-notice:not(.cookie-notice-hidden)",
        _klaro_page,
    ),
    Contender(
        "osano-cookieconsent",
        "cookieconsent",
        ("build/cookieconsent.min.js", "build/cookieconsent.min.css"),
        ".cc-window",
        _osano_page,
    ),
)


# -- the local site ---------------------------------------------------------------------------


def build_app(contenders: tuple[Contender, ...]) -> Any:
    """One ASGI app: ``/page/<name>`` for each contender, vendor files, page assets."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from consentkit import ConsentMiddleware, Policy

    html = page(PAGE_SIZE).decode("utf-8")
    pages = {c.name: c.build(html) for c in contenders}

    async def show(request: Request) -> Response:
        body = pages.get(request.path_params["name"])
        return HTMLResponse(body) if body is not None else Response(status_code=404)

    async def app_js(request: Request) -> Response:
        return Response("", media_type="text/javascript")

    async def image(request: Request) -> Response:
        # A real image: a broken one would collapse its box and shift the page by itself.
        return Response(GIF, media_type="image/gif")

    routes: list[Any] = [
        Route("/page/{name}", show),
        Route("/static/app.js", app_js),
        Route("/img/{name}", image),
    ]
    if NODE_MODULES.is_dir():
        routes.append(Mount("/vendor", StaticFiles(directory=NODE_MODULES)))
    plain = Starlette(routes=routes)
    guarded = ConsentMiddleware(plain, policy=Policy(site_name="Daily Bench"), secret_key=SECRET)

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path.startswith(("/page/consentkit", "/_consent")):
            await guarded(scope, receive, send)
        else:
            await plain(scope, receive, send)

    return dispatch


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve *app* with uvicorn on 127.0.0.1 in a thread; yield the base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Samples:
    """Per-load figures of one contender."""

    visible_ms: list[float] = field(default_factory=list)
    fcp_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    at_fcp: list[bool] = field(default_factory=list)
    cls: list[float] = field(default_factory=list)
    trackers: list[int] = field(default_factory=list)
    offsite: set[str] = field(default_factory=set)


def load_once(browser: Any, url: str, selector: str) -> dict[str, Any]:
    """Load *url* in a fresh context; return the probe's figures and offsite requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    offsite: list[str] = []

    def guard(route: Any) -> None:
        offsite.append(route.request.url)
        route.abort()

    try:
        context.route(OFFSITE, guard)
        context.add_init_script(_PROBE % json.dumps(selector))
        tab = context.new_page()
        tab.goto(url, wait_until="load", timeout=TIMEOUT_MS * 3)
        tab.wait_for_function("window.__bench.visible !== null", timeout=TIMEOUT_MS)
        tab.wait_for_timeout(SETTLE_MS)
        figures: dict[str, Any] = tab.evaluate(_COLLECT)
        figures["offsite"] = list(offsite)
        return figures
    finally:
        context.close()


def verify(browser: Any, base: str, contender: Contender) -> str | None:
    """Load the page once and wait for the banner; the failure reason, or ``None``."""
    context = browser.new_context()
    context.route(OFFSITE, lambda route: route.abort())
    try:
        tab = context.new_page()
        tab.goto(f"{base}/page/{contender.name}", wait_until="load", timeout=TIMEOUT_MS * 3)
        tab.wait_for_selector(contender.selector, state="visible", timeout=TIMEOUT_MS)
        return None
    except Exception as exc:  # any Playwright failure means "no banner shown"
        return f"banner not shown ({contender.selector}): {type(exc).__name__}"
    finally:
        context.close()


def asset_bytes(contender: Contender) -> tuple[int, int]:
    """Raw and gzip -9 bytes of the contender's JS and CSS files, each compressed alone."""
    raw = gz = 0
    for path in contender.files():
        data = path.read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, compresslevel=9, mtime=0))
    return raw, gz


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _row(contender: Contender, samples: Samples) -> dict[str, Any]:
    raw, gz = asset_bytes(contender)
    loads = len(samples.visible_ms)
    return {
        "contender": contender.name,
        "version": contender.version(),
        "status": "ok",
        "loads": loads,
        "js_css_bytes": raw,
        "gzip_bytes": gz,
        "ttfb_ms": _median(samples.ttfb_ms),
        "visible_ms": statistics.median(samples.visible_ms),
        "fcp_ms": _median(samples.fcp_ms),
        "visible_at_fcp": f"{sum(samples.at_fcp)}/{loads}",
        "cls_median": statistics.median(samples.cls),
        "cls_max": max(samples.cls),
        "tracker_requests": statistics.median(samples.trackers),
        "tracker_requests_max": max(samples.trackers),
        "tracker_hosts": sorted({urlsplit(u).hostname or "?" for u in samples.offsite}),
    }


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["contender"] == "consentkit" and r["status"] == "ok"), None)
    for row in rows:
        if base is None or row["status"] != "ok":
            continue
        row["gzip_vs_consentkit"] = ratio(row["gzip_bytes"], base["gzip_bytes"])
        row["visible_vs_consentkit"] = ratio(row["visible_ms"], base["visible_ms"])


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every contender; one row per contender (``status`` says if it did not run)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM} (set CONSENTKIT_CHROMIUM)")
    loads = 5 if quick else 20
    rows: dict[str, dict[str, Any]] = {}
    ready = []
    for contender in CONTENDERS:
        reason = contender.missing()
        if reason:
            rows[contender.name] = {"contender": contender.name, "status": f"not run: {reason}"}
        else:
            ready.append(contender)
    samples = {c.name: Samples() for c in ready}
    with serving(build_app(tuple(ready))) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for contender in list(ready):
                reason = verify(browser, base, contender)
                if reason:
                    rows[contender.name] = {"contender": contender.name, "status": reason}
                    ready.remove(contender)
            for _ in range(loads):
                for contender in ready:  # alternate so machine noise hits everyone alike
                    got = load_once(browser, f"{base}/page/{contender.name}", contender.selector)
                    s = samples[contender.name]
                    s.visible_ms.append(got["visible"])
                    if got["fcp"] is not None:
                        s.fcp_ms.append(got["fcp"])
                    if got["ttfb"] is not None:
                        s.ttfb_ms.append(got["ttfb"])
                    s.at_fcp.append(
                        got["fcp_paint"] is not None and got["frame"] <= got["fcp_paint"]
                    )
                    s.cls.append(got["cls"])
                    s.trackers.append(len(got["offsite"]))
                    s.offsite.update(got["offsite"])
        finally:
            browser.close()
    for contender in ready:
        rows[contender.name] = _row(contender, samples[contender.name])
    ordered = [rows[c.name] for c in CONTENDERS]
    _add_ratios(ordered)
    return ordered


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("banner", __doc__, run, "5 loads per contender, not 20", argv)


if __name__ == "__main__":
    main()
