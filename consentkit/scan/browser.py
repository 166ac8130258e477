"""The browser side of a scan: Playwright driving Chromium, one fresh profile per visit.

Only this module imports Playwright. It fills in :mod:`consentkit.scan.model` values and
leaves every judgement to :mod:`consentkit.scan.rules`.

Per page it makes (each in a new browser context, so no state leaks between visits):

* ``before_choice``: load the page, record everything, find the first-layer controls;
* ``accept_all`` / ``reject_all``: load, click the control, load the page again; requests
  count from the click on, cookies and storage are read at the end;
* ``withdraw`` (optional): accept, then withdraw (known for consentkit sites only).

Cookie origins: ``Set-Cookie`` headers of every response (read from the raw headers) and
``document.cookie`` writes (an init script reports each write with the calling script's URL)
are matched to the jar by name; the last writer wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

from consentkit.cookies import SetCookie, parse_set_cookie
from consentkit.errors import ConsentKitError, MissingExtraError

from . import page_scripts
from .controls import CMP_SELECTORS, CONSENTKIT, match_button_name
from .crawl import Frontier, discover
from .model import (
    Control,
    FirstLayer,
    ObservedCookie,
    ObservedRequest,
    ObservedStorage,
    PageScan,
    ScanOptions,
    ScanRun,
    SetBy,
    Visit,
    VisitKind,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Frame, Locator, Page, Request

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "ScanError", "run_scan"]

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_MAX_LINKS: Final = 500
_MAX_BODY: Final = 5_000_000
_CLICK_TIMEOUT_MS: Final = 5000

Progress = Callable[[str], None]


class ScanError(ConsentKitError):
    """The scan could not run at all (browser missing or crashed at launch)."""


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.removeprefix("Error: ").strip()[:300]


@dataclass(slots=True)
class _Writer:
    kind: SetBy
    url: str
    cookie: SetCookie
    at: datetime
    host: str
    """The host of the response, or of the document whose script wrote the cookie."""

    @property
    def domain(self) -> str:
        return self.cookie.domain or self.host


@dataclass  # no slots: Playwright tags the bound methods it is given as handlers
class _Recorder:
    """Everything one browser context saw; requests only while ``counting``."""

    counting: bool = True
    requests: list[Request] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    inflight: set[Request] = field(default_factory=set)
    writers: list[_Writer] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.inflight.add(request)
        if self.counting and request.url.startswith(("http:", "https:")):
            self.requests.append(request)

    def on_done(self, request: Request) -> None:
        self.inflight.discard(request)

    def on_response(self, response: Any) -> None:
        self.responses.append(response)

    def on_script_cookie(self, source: Any, value: str, script: str) -> None:
        parsed = parse_set_cookie(value)
        if parsed is not None:
            frame = source.get("frame") if isinstance(source, dict) else None
            host = (urlsplit(frame.url).hostname or "") if frame is not None else ""
            self.writers.append(_Writer("script", script, parsed, datetime.now(UTC), host))

    def read_response_cookies(self) -> None:
        for response in self.responses:
            try:
                headers = response.headers_array()
            except Exception:  # noqa: S112 -- a response gone with its page has none
                continue
            for header in headers:
                if header["name"].lower() != "set-cookie":
                    continue
                for line in header["value"].split("\n"):
                    parsed = parse_set_cookie(line)
                    if parsed is not None:
                        host = urlsplit(response.url).hostname or ""
                        self.writers.append(
                            _Writer("response", response.url, parsed, datetime.now(UTC), host)
                        )
        self.responses.clear()

    def writer_of(self, name: str, domain: str) -> _Writer | None:
        """The last writer of cookie *name*: one for the same domain if any, else by name."""
        candidates = [
            w
            for w in reversed(self.writers)
            if w.cookie.name == name and not w.cookie.is_deletion(w.at)
        ]
        same = [w for w in candidates if w.domain == domain]
        chosen = same or candidates
        return chosen[0] if chosen else None


class _Scanner:
    """One scan in one browser: the visit steps (open, wait, record, choose, reload) and the
    state they share (context, frontier, recorded cookies, requests and storage). Long
    because a visit is one sequence whose steps all read and extend that record."""

    def __init__(self, browser: Browser, run: ScanRun, progress: Progress, delay: float) -> None:
        self.browser = browser
        self.run = run
        self.options = run.options
        self.progress = progress
        self.delay = delay
        self._visits = 0
        self._current = _Recorder()

    # -- contexts -------------------------------------------------------------------------

    @contextmanager
    def context(self) -> Iterator[tuple[BrowserContext, Page, _Recorder]]:
        if self._visits and self.delay > 0:
            time.sleep(self.delay)
        self._visits += 1
        headers = {"Sec-GPC": "1"} if self.options.gpc else None
        context = self.browser.new_context(extra_http_headers=headers, service_workers="block")
        try:
            context.set_default_timeout(self.options.timeout_ms)
            context.set_default_navigation_timeout(self.options.timeout_ms)
            recorder = _Recorder()
            context.expose_binding("__consentkitScanCookie", recorder.on_script_cookie)
            context.add_init_script(page_scripts.COOKIE_HOOK)
            if self.options.gpc:
                context.add_init_script(page_scripts.GPC_HOOK)
            context.on("request", recorder.on_request)
            context.on("response", recorder.on_response)
            context.on("requestfinished", recorder.on_done)
            context.on("requestfailed", recorder.on_done)
            self._current = recorder
            page = context.new_page()
            yield context, page, recorder
        finally:
            with suppress(Exception):  # a crashed context may not close cleanly
                context.close()

    def load(self, page: Page, url: str) -> int | None:
        response = page.goto(url, wait_until="load")
        self.settle(page)
        return None if response is None else response.status

    def settle(self, page: Page) -> None:
        """Wait until no request has been in flight for the settle time (capped)."""
        quiet = max(100, self.options.settle_ms) / 1000
        now = time.monotonic()
        give_up, quiet_since = now + max(2.0, 5 * quiet), now
        while now < give_up:
            page.wait_for_timeout(50)
            now = time.monotonic()
            if self._current.inflight:
                quiet_since = now
            elif now - quiet_since >= quiet:
                return

    # -- controls -------------------------------------------------------------------------

    def first_layer(self, page: Page) -> tuple[FirstLayer, dict[str, Locator]]:
        """The first-layer controls; looked for twice, since many banners appear late."""
        layer, found = self._first_layer(page)
        if not found and not layer.consentkit:
            page.wait_for_timeout(max(500, 2 * self.options.settle_ms))
            layer, found = self._first_layer(page)
        return layer, found

    def _first_layer(self, page: Page) -> tuple[FirstLayer, dict[str, Locator]]:
        root = page.locator(CONSENTKIT.root)
        if root.count():
            banner = page.locator(CONSENTKIT.banner)
            if banner.count() and banner.first.is_visible():
                found = {
                    action: page.locator(selector).first
                    for action, selector in (
                        ("accept", CONSENTKIT.accept),
                        ("reject", CONSENTKIT.reject),
                    )
                    if page.locator(selector).count()
                }
                return (
                    FirstLayer(
                        _control("accept", "consentkit", found),
                        _control("reject", "consentkit", found),
                        consentkit=True,
                        cmp="consentkit",
                        banner_shown=True,
                    ),
                    found,
                )
            # No first layer: the site needs no consent; its preferences page still works.
            return (
                FirstLayer(
                    Control("accept", "consentkit-preferences", "Accept all"),
                    Control("reject", "consentkit-preferences", "Reject all"),
                    consentkit=True,
                    cmp="consentkit",
                ),
                {},
            )
        for frame in page.frames:
            for cmp in CMP_SELECTORS:
                found = {}
                for action, selectors in (("accept", cmp.accept), ("reject", cmp.reject)):
                    for selector in selectors:
                        locator = frame.locator(selector).first
                        if _visible(locator):
                            found[action] = locator
                            break
                if found:
                    return self._with_cmp(page, cmp.name, found)
        return self._by_name(page)

    def _with_cmp(
        self, page: Page, name: str, found: dict[str, Locator]
    ) -> tuple[FirstLayer, dict[str, Locator]]:
        how = f"cmp:{name}"
        accept, reject = _control("accept", how, found), _control("reject", how, found)
        if accept is None or reject is None:
            # A consent manager styled its other button its own way: find it by name.
            by_name, named = self._by_name(page)
            if accept is None and by_name.accept is not None:
                accept, found["accept"] = by_name.accept, named["accept"]
            if reject is None and by_name.reject is not None:
                reject, found["reject"] = by_name.reject, named["reject"]
        return FirstLayer(accept, reject, cmp=name, banner_shown=True), found

    def _by_name(self, page: Page) -> tuple[FirstLayer, dict[str, Locator]]:
        found: dict[str, Locator] = {}
        labels: dict[str, str] = {}
        for frame in page.frames:
            for ident, name in _candidates(frame):
                action = match_button_name(name)
                if action is not None and action not in found:
                    found[action] = frame.locator(f'[data-consentkit-scan="{ident}"]').first
                    labels[action] = " ".join(name.split())
            if len(found) == 2:
                break
        accept = Control("accept", "name", labels["accept"]) if "accept" in found else None
        reject = Control("reject", "name", labels["reject"]) if "reject" in found else None
        return FirstLayer(accept, reject, banner_shown=bool(found)), found

    def choose(self, page: Page, context: BrowserContext, url: str, action: str) -> Control | None:
        """Find and use the control for *action* (accept, reject); ``None`` when not found."""
        layer, locators = self.first_layer(page)
        control = layer.accept if action == "accept" else layer.reject
        if control is None:
            return None
        if control.how == "consentkit-preferences":
            self.preferences_action(page, url, f"{action}_all")
            return control
        locators[action].click(timeout=_CLICK_TIMEOUT_MS)
        if layer.consentkit:
            _wait_for_cookie(context, page, CONSENTKIT.consent_cookie, self.options.timeout_ms)
        self.settle(page)
        return control

    def preferences_action(self, page: Page, url: str, value: str) -> None:
        prefix = "/_consent"
        root = page.locator(CONSENTKIT.root)
        if root.count():
            prefix = root.first.get_attribute(CONSENTKIT.prefix_attribute) or prefix
        parts = urlsplit(url)
        back = quote(urlunsplit(("", "", parts.path or "/", parts.query, "")), safe="")
        target = urlunsplit(
            (
                parts.scheme,
                parts.netloc,
                prefix + CONSENTKIT.preferences_path,
                f"return_to={back}",
                "",
            )
        )
        page.goto(target, wait_until="load")
        with page.expect_navigation():
            page.locator(CONSENTKIT.page_button.format(action=value)).first.click(
                timeout=_CLICK_TIMEOUT_MS
            )
        self.settle(page)

    # -- visits ---------------------------------------------------------------------------

    def collect(self, visit: Visit, context: BrowserContext, page: Page, rec: _Recorder) -> None:
        visit.observed_at = time.time()
        rec.read_response_cookies()
        for cookie in context.cookies():
            name, domain = cookie.get("name", ""), cookie.get("domain", "")
            expires = cookie.get("expires", -1)
            writer = rec.writer_of(name, domain.lstrip("."))
            lifetime = None
            if writer is not None:
                expiry = writer.cookie.expiry(writer.at)
                if expiry is not None:
                    lifetime = max(0.0, (expiry - writer.at).total_seconds() / 86400)
            visit.cookies.append(
                ObservedCookie(
                    name=name,
                    domain=domain.lstrip("."),
                    path=cookie.get("path", "/"),
                    expires=None if expires is None or expires < 0 else float(expires),
                    set_by=writer.kind if writer else "unknown",
                    set_by_url=writer.url if writer else "",
                    requested_lifetime_days=lifetime,
                    host_only=not domain.startswith("."),
                )
            )
        try:
            found = page.evaluate(page_scripts.STORAGE)
        except Exception as exc:
            visit.error = visit.error or f"storage not read: {_short(exc)}"
            found = {"origin": "", "local": [], "session": [], "gpc": None}
        for area in ("local", "session"):
            for key in found.get(area) or []:
                visit.storage.append(ObservedStorage(area, str(key), str(found.get("origin", ""))))
        visit.navigator_gpc = found.get("gpc")
        visit.requests = [
            ObservedRequest(r.url, r.resource_type, r.failure is not None) for r in rec.requests
        ]

    def before_choice(self, scan: PageScan, frontier: Frontier, is_start: bool) -> bool:
        visit = Visit("before_choice")
        scan.visits.append(visit)
        with self.context() as (context, page, rec):
            status = self.load(page, scan.url)
            if status is not None and status >= 400:
                if not is_start:
                    scan.visits.clear()
                    self.run.skipped.append((scan.url, f"HTTP {status}"))
                    return False
                scan.error = f"the page answered HTTP {status}"
            scan.first_layer, _ = self.first_layer(page)
            try:
                hrefs = page.eval_on_selector_all(
                    "a[href]", f"els => els.slice(0, {_MAX_LINKS}).map(e => e.href)"
                )
                frontier.add([str(h) for h in hrefs], base=page.url)
            except Exception:  # noqa: S110 -- links are a bonus; the visit still counts
                pass
            self.collect(visit, context, page, rec)
        return True

    def after_choice(self, scan: PageScan, kind: VisitKind) -> None:
        visit = Visit(kind)
        scan.visits.append(visit)
        with self.context() as (context, page, rec):
            rec.counting = False
            self.load(page, scan.url)
            action = "reject" if kind == "reject_all" else "accept"
            rec.counting = kind != "withdraw"
            control = self.choose(page, context, scan.url, action)
            if control is None:
                visit.status = "not_verified"
                visit.error = f'no "{action} all" control found on the first layer'
                return
            visit.control = control
            if kind == "withdraw":
                if not page.locator(CONSENTKIT.root).count():
                    visit.status = "not_verified"
                    visit.error = "withdrawal controls are known for consentkit sites only"
                    return
                rec.counting = True
                self.preferences_action(page, scan.url, "withdraw")
                visit.control = Control("withdraw", "consentkit-preferences", "Withdraw consent")
            self.load(page, scan.url)
            self.collect(visit, context, page, rec)

    def visit_safely(
        self, scan: PageScan, kind: VisitKind, work: Callable[..., object], *args: Any
    ) -> object:
        number = len(self.run.pages) + (0 if scan in self.run.pages else 1)
        of = self.options.pages
        self.progress(f"[page {number}/{of}] {scan.url}: {kind.replace('_', ' ')}")
        try:
            return work(*args)
        except Exception as exc:
            visit = scan.visit(kind)
            if visit is None:
                visit = Visit(kind)
                scan.visits.append(visit)
            visit.status = "error"
            visit.error = _short(exc)
            return None

    def scan(self, frontier: Frontier) -> None:
        kinds: list[VisitKind] = ["accept_all", "reject_all"]
        if self.options.withdraw:
            kinds.append("withdraw")
        while len(self.run.pages) < self.options.pages:
            url = frontier.next()
            if url is None:
                break
            scan = PageScan(url)
            is_start = not self.run.pages and url == frontier.start
            ok = self.visit_safely(
                scan, "before_choice", self.before_choice, scan, frontier, is_start
            )
            if ok is False:
                continue
            self.run.pages.append(scan)
            before = scan.visit("before_choice")
            if before is not None and before.status == "error":
                scan.error = scan.error or before.error
                continue
            for kind in kinds:
                self.visit_safely(scan, kind, self.after_choice, scan, kind)


def _control(action: str, how: str, found: dict[str, Locator]) -> Control | None:
    if action not in found:
        return None
    try:
        label = found[action].inner_text(timeout=1000).strip()
    except Exception:
        label = ""
    return Control(action, how, " ".join(label.split()))  # type: ignore[arg-type]


def _visible(locator: Locator) -> bool:
    try:
        return locator.count() > 0 and locator.is_visible()
    except Exception:
        return False


def _candidates(frame: Frame) -> list[tuple[str, str]]:
    try:
        rows = frame.evaluate(page_scripts.CANDIDATES, 400)
    except Exception:
        return []
    return [(str(ident), str(name)) for ident, name in rows]


def _wait_for_cookie(context: BrowserContext, page: Page, name: str, timeout_ms: int) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if any(c.get("name") == name for c in context.cookies()):
            return
        page.wait_for_timeout(50)


def run_scan(
    start_url: str,
    options: ScanOptions,
    *,
    chromium: str = CHROMIUM,
    browser_args: Sequence[str] = (),
    progress: Progress | None = None,
) -> ScanRun:
    """Crawl and visit *start_url* (already checked) in Chromium; return what was seen.

    Failures of single pages land in the run; :class:`ScanError` means the browser could not
    start at all; a missing Playwright raises :class:`~consentkit.errors.MissingExtraError`.
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise MissingExtraError("consentkit scan", "scan", "playwright") from None
    report = progress or (lambda _message: None)
    run = ScanRun(start_url, options, started_at=time.time())
    try:
        with sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(
                    executable_path=chromium,
                    headless=True,
                    args=[*CHROMIUM_FLAGS, *browser_args],
                )
            except PlaywrightError as exc:
                raise ScanError(f"cannot start Chromium at {chromium}: {_short(exc)}") from None
            api = playwright.request.new_context(timeout=options.timeout_ms)

            def fetch(url: str) -> tuple[int, str] | None:
                try:
                    response = api.get(url, max_redirects=3)
                    size = response.headers.get("content-length", "0")
                    if not size.isdigit() or int(size) > _MAX_BODY:
                        return response.status, ""
                    return response.status, response.body()[:_MAX_BODY].decode("utf-8", "replace")
                except Exception:
                    return None

            try:
                robots, sitemap_pages, problems = discover(start_url, fetch)
                run.errors.extend(problems)
                frontier = Frontier(start_url, robots, ignore_robots=options.ignore_robots)
                if frontier.skipped:
                    run.errors.append(
                        "robots.txt disallows the start page (use --ignore-robots to scan it)"
                    )
                frontier.add(sitemap_pages, base=start_url)
                delay = max(options.delay, robots.crawl_delay or 0.0)
                scanner = _Scanner(browser, run, report, delay)
                scanner.scan(frontier)
                run.skipped.extend(frontier.skipped)
            finally:
                api.dispose()
                browser.close()
    except PlaywrightError as exc:
        run.errors.append(f"the browser failed: {_short(exc)}")
    run.finished_at = time.time()
    return run
