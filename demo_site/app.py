"""The demo site: a small company website, five ways, wrapped in ``ConsentMiddleware``.

Each profile is a TOML policy in ``profiles/`` plus a row of :data:`PROFILES` saying which
tags its pages carry. Pages use tags the way real sites do (analytics loader, Meta pixel,
video and map embeds, a chat widget, server-set cookies of every category, and one cookie
the policy forgot to declare) and, next to them, local stand-ins served by
:func:`~demo_site.providers.create_providers_app` that make granting consent visible.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from consentkit import ConsentMiddleware
from consentkit.errors import ConfigError
from consentkit.jurisdiction import JurisdictionResolver
from consentkit.policy import Policy
from consentkit.regions import parse_regions

from .providers import create_providers_app

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "UNDECLARED_COOKIE",
    "Profile",
    "create_app",
    "create_providers_app",
    "load_policy",
]

HERE: Final = Path(__file__).resolve().parent
PROFILE_DIR: Final = HERE / "profiles"
DEFAULT_PROFILE: Final = "hosting"
UNDECLARED_COOKIE: Final = "promo_seen"
"""A cookie the site sets but no profile declares: it shows the "unclassified" path."""

_YEAR: Final = 365 * 86400
_MAX_SESSIONS: Final = 1000
_MAX_FORM: Final = 16 * 1024


@dataclass(frozen=True)
class Profile:
    """How one kind of company uses the demo pages.

    Args:
        key: the profile's name (``--profile``) and its TOML file's stem.
        company: shown in the header.
        tagline: one line under the company name.
        product: the product page's item and price.
        trackers: whether pages carry third-party tags at all.
        extras: further real-world tags: ``adsense``, ``doubleclick``, ``remarketing``,
            ``clickstream``, ``social_login``, ``social_share``, ``beacon``, ``do_not_sell``.
        server_cookies: cookies the home page sets from the server (name, value).
        csrf: whether forms use a ``csrftoken`` cookie.
        lang_cookie: whether the language switch remembers the choice in ``lang``.
        jurisdiction: resolve the visitor's region from CDN headers (``CF-IPCountry``,
            ``CF-Region-Code``), so California visitors get the opt-out model.
        privacy: paragraphs of the privacy page.
    """

    key: str
    company: str
    tagline: str
    product: tuple[str, str]
    trackers: bool = True
    extras: frozenset[str] = frozenset()
    server_cookies: tuple[tuple[str, str], ...] = ()
    csrf: bool = True
    lang_cookie: bool = True
    jurisdiction: bool = False
    privacy: tuple[str, ...] = field(default=())


_COMMON_PRIVACY: Final = (
    "We use cookies as described in our cookie declaration. Strictly necessary cookies are "
    "always on; every other category needs your consent, which you can change or withdraw at "
    "any time with the Cookie settings button.",
)

PROFILES: Final[Mapping[str, Profile]] = {
    "itsupport": Profile(
        key="itsupport",
        company="Helpdesk Heroes",
        tagline="IT support for small offices, same day.",
        product=("Remote support plan", "€49 per seat per month"),
        extras=frozenset({"adsense"}),
        server_cookies=(("_ga", "GA1.1.1000.1"), ("_gid", "GA1.1.2000.1"), ("_fbp", "fb.1.1.1")),
        privacy=(
            *_COMMON_PRIVACY,
            "Our web servers keep log files that record the IP address of every request, the "
            "page requested, the time and the browser's user agent. We keep them for 14 days to "
            "investigate attacks and faults, then delete them.",
            "The support portal uses a session-id cookie. Persistent statistics cookies "
            "(Google Analytics) count returning visitors. Ads on our pages are delivered by "
            "Google, and advertisers' cookies may be set when you consent to targeting.",
        ),
    ),
    "consultancy": Profile(
        key="consultancy",
        company="Lambda & Sons",
        tagline="Software consultancy: we build what you need, and nothing that tracks you.",
        product=("Architecture review", "from €3,200"),
        trackers=False,
        csrf=False,
        lang_cookie=False,
        privacy=(
            "This site sets a single cookie: the login session cookie of the client area, "
            "which is strictly necessary and needs no consent. We use no analytics, "
            "advertising or social-media tools.",
        ),
    ),
    "managed": Profile(
        key="managed",
        company="Northwind Managed Services",
        tagline="Your servers, patched and watched around the clock.",
        product=("Managed server", "$129 per server per month"),
        extras=frozenset({"beacon", "do_not_sell"}),
        server_cookies=(("_ga", "GA1.1.1000.1"), ("_fbp", "fb.1.1.1")),
        jurisdiction=True,
        privacy=(
            *_COMMON_PRIVACY,
            "We send marketing by the communication preference you choose on the contact "
            "form (email, post or none); the comm_pref cookie remembers that choice.",
            "California residents: we share advertising identifiers with ad partners, which "
            'California law counts as selling or sharing. Use "Do Not Sell or Share My '
            'Personal Information" to opt out; a Global Privacy Control signal does the same.',
        ),
    ),
    "cloud": Profile(
        key="cloud",
        company="Stratus Cloud",
        tagline="Cloud servers in 12 regions, billed by the second.",
        product=("Compute instance c2.small", "$0.018 per hour"),
        extras=frozenset({"doubleclick", "remarketing", "beacon", "social_login", "clickstream"}),
        server_cookies=(("_ga", "GA1.1.1000.1"), ("_gcl_au", "1.1.1000.1"), ("_fbp", "fb.1.1.1")),
        privacy=(
            *_COMMON_PRIVACY,
            "We use Google Analytics, DoubleClick and remarketing, web beacons in pages and "
            "emails, social-network logins (Google, Facebook) and clickstream analytics.",
            "If your browser sends Global Privacy Control, we treat it as a refusal of "
            "targeting cookies; nothing you click on our banner can silently override it.",
        ),
    ),
    "hosting": Profile(
        key="hosting",
        company="Bluebird Hosting",
        tagline="Web hosting with free TLS and daily backups.",
        product=("Business hosting", "€9.90 per month"),
        extras=frozenset({"social_share"}),
        server_cookies=(("_ga", "GA1.1.1000.1"), ("_fbp", "fb.1.1.1")),
        privacy=(
            *_COMMON_PRIVACY,
            "We declare cookies in exactly four categories: strictly necessary, performance, "
            "functionality and targeting. Our social sharing buttons and videos come from "
            "Facebook, X (Twitter) and YouTube, which set their own third-party cookies once "
            "you allow targeting.",
        ),
    ),
}
"""The five demo profiles, by name."""

ARTICLES: Final[Mapping[str, tuple[str, str]]] = {
    "backups": (
        "Three backups, two media, one off site",
        "The 3-2-1 rule still holds: keep three copies of your data, on two kinds of media, "
        "with one copy somewhere a fire or a ransomware attack cannot reach.",
    ),
    "passwords": (
        "Passphrases beat password rules",
        "Long passphrases and a password manager protect accounts better than forced rotation "
        "and special-character rules that people work around.",
    ),
    "updates": (
        "Patch Tuesday without the drama",
        "Stage updates on a few machines first, keep a rollback plan, and most update days "
        "pass without anyone noticing.",
    ),
}

LANGUAGES: Final[Mapping[str, str]] = {"en": "English", "fr": "Français", "de": "Deutsch"}
_GREETINGS: Final[Mapping[str, str]] = {"en": "Welcome", "fr": "Bienvenue", "de": "Willkommen"}
_COMM_PREFS: Final = ("email", "post", "none")


def load_policy(profile: str) -> Policy:
    """The policy of a profile, read from ``profiles/<profile>.toml``."""
    if profile not in PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}",
            source="demo_site",
            key="profile",
            fix=f"use one of {', '.join(PROFILES)}",
        )
    return Policy.from_toml(PROFILE_DIR / f"{profile}.toml")


class _Site:
    """Route handlers for one profile; the sessions live here, not in a global."""

    def __init__(self, profile: Profile, policy: Policy, providers_url: str) -> None:
        self.profile = profile
        self.policy = policy
        self.providers_url = providers_url.rstrip("/")
        self.sessions: OrderedDict[str, str] = OrderedDict()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # -- helpers --------------------------------------------------------------------------

    def render(self, request: Request, template: str, **context: Any) -> HTMLResponse:
        lang = self.language_of(request)
        consent = getattr(request.state, "consent", None)
        html = self.env.get_template(template).render(
            profile=self.profile,
            providers=self.providers_url,
            lang=lang,
            languages=LANGUAGES,
            greeting=_GREETINGS[lang],
            user=self.sessions.get(request.cookies.get("sessionid", "")),
            consent=consent,
            path=request.url.path,
            csrf_cookie=request.cookies.get("csrftoken", ""),
            articles=ARTICLES,
            **context,
        )
        return HTMLResponse(html)

    def language_of(self, request: Request) -> str:
        """The cookie's language, else the URL's (``?lang=``), else English."""
        candidates = [request.query_params.get("lang")]
        if self.profile.lang_cookie:
            candidates.insert(0, request.cookies.get("lang"))
        return next((c for c in candidates if c is not None and c in LANGUAGES), "en")

    def csrf_token(self, request: Request) -> str:
        return request.cookies.get("csrftoken") or secrets.token_urlsafe(24)

    def with_csrf(self, request: Request, response: Response, token: str) -> Response:
        if self.profile.csrf and request.cookies.get("csrftoken") != token:
            response.set_cookie("csrftoken", token, max_age=_YEAR, samesite="lax")
        return response

    async def checked_form(self, request: Request) -> Mapping[str, str] | None:
        """The posted form, or ``None`` when the post is cross-site or the token is wrong."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return None
        fields = await _read_form(request)
        if fields is None:
            return None
        if self.profile.csrf:
            expected = request.cookies.get("csrftoken", "")
            offered = fields.get("csrftoken", "")
            if not expected or not hmac.compare_digest(expected, offered):
                return None
        return fields

    @staticmethod
    def forbidden() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>Forbidden</title><p>The form expired: go back, reload "
            "and try again.</p>",
            status_code=403,
        )

    # -- pages ----------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        response = self.render(request, "home.html")
        for name, value in self.profile.server_cookies:
            response.set_cookie(name, value, max_age=_YEAR, samesite="lax")
        # The cookie nobody declared: consentkit drops it and reports it as unclassified.
        response.set_cookie(UNDECLARED_COOKIE, "1", max_age=30 * 86400, samesite="lax")
        return response

    async def article_list(self, request: Request) -> Response:
        return self.render(request, "articles.html")

    async def article(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug not in ARTICLES:
            return self.render(request, "not_found.html", title="Not found")
        title, body = ARTICLES[slug]
        return self.render(request, "article.html", title=title, body=body)

    async def product(self, request: Request) -> Response:
        return self.render(request, "product.html")

    async def privacy(self, request: Request) -> Response:
        return self.render(request, "privacy.html")

    async def contact(self, request: Request) -> Response:
        token = self.csrf_token(request)
        if request.method == "POST":
            fields = await self.checked_form(request)
            if fields is None:
                return self.forbidden()
            name = fields.get("name", "").strip()[:100] or "there"
            response: Response = self.render(request, "thanks.html", name=name)
            pref = fields.get("comm_pref", "")
            if "do_not_sell" in self.profile.extras and pref in _COMM_PREFS:
                response.set_cookie("comm_pref", pref, max_age=_YEAR, samesite="lax")
            return response
        return self.with_csrf(request, self.render(request, "contact.html", csrf=token), token)

    async def login(self, request: Request) -> Response:
        token = self.csrf_token(request)
        if request.method == "POST":
            fields = await self.checked_form(request)
            if fields is None:
                return self.forbidden()
            username = fields.get("username", "").strip()[:60] or "guest"
            session = secrets.token_urlsafe(24)
            self.sessions[session] = username
            while len(self.sessions) > _MAX_SESSIONS:
                self.sessions.popitem(last=False)
            response: Response = RedirectResponse("/", status_code=303)
            response.set_cookie("sessionid", session, httponly=True, samesite="lax")
            return response
        return self.with_csrf(request, self.render(request, "login.html", csrf=token), token)

    async def logout(self, request: Request) -> Response:
        fields = await self.checked_form(request)
        if fields is None:
            return self.forbidden()
        self.sessions.pop(request.cookies.get("sessionid", ""), None)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie("sessionid", httponly=True, samesite="lax")
        return response

    async def language(self, request: Request) -> Response:
        code = request.path_params["code"]
        target = _local_path(request.query_params.get("next", "/"))
        if code not in LANGUAGES:
            code = "en"
        if not self.profile.lang_cookie:
            # Without a cookie the choice travels in the URL.
            return RedirectResponse(f"{urlsplit(target).path}?lang={code}", status_code=303)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie("lang", code, max_age=_YEAR, samesite="lax")
        return response


async def _read_form(request: Request) -> dict[str, str] | None:
    """A small URL-encoded form (the demo's only kind); ``None`` if it is anything else.

    Parsed here rather than with ``request.form()``, which needs python-multipart.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def _local_path(value: str) -> str:
    """A path on this site to go back to; anything else becomes ``/``."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def create_app(
    profile: str = DEFAULT_PROFILE,
    *,
    db_path: str | Path,
    secret: str,
    receipt_key: str,
    admin_token: str,
    providers_url: str = "http://127.0.0.1:8001",
) -> Starlette:
    """Build the demo site of *profile*, wrapped in ``ConsentMiddleware``.

    Receipts go to the SQLite file *db_path* (created on first use). *secret* signs the
    consent cookie, *receipt_key* seals receipts, *admin_token* opens the dashboard at
    ``/_consent/admin``. *providers_url* is where the stand-in providers run.
    """
    policy = load_policy(profile)
    spec = PROFILES[profile]
    site = _Site(spec, policy, providers_url)
    routes = [
        Route("/", site.home),
        Route("/articles", site.article_list),
        Route("/articles/{slug:str}", site.article),
        Route("/product", site.product),
        Route("/privacy", site.privacy),
        Route("/contact", site.contact, methods=["GET", "POST"]),
        Route("/login", site.login, methods=["GET", "POST"]),
        Route("/logout", site.logout, methods=["POST"]),
        Route("/lang/{code:str}", site.language),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    jurisdiction = None
    if spec.jurisdiction:
        table = parse_regions(
            dict(policy.regions), source=policy.source, default_region=policy.default_region
        )
        # The demo trusts Cloudflare's location headers so a visitor from California can be
        # simulated locally. A real site trusts them only behind Cloudflare.
        jurisdiction = JurisdictionResolver(trusted_headers=("cloudflare",), table=table)
    db = Path(db_path)
    db.parent.mkdir(parents=True, exist_ok=True)
    app.add_middleware(
        ConsentMiddleware,  # type: ignore[arg-type]  # Starlette's factory protocol vs **options
        policy=policy,
        secret_key=secret,
        store=f"sqlite:///{db}",
        receipt_key=receipt_key,
        jurisdiction=jurisdiction,
        admin_token=admin_token,
        controller=spec.company,
    )
    return app
