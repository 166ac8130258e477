"""The consent banner and preferences centre, rendered on the server with Jinja2.

Everything works without JavaScript: every choice is a plain HTML form posting to the
consent endpoint, which answers with a 303 back to the page. ``static/consentkit.js``
only enhances those forms (no reload, blocked items run in place, a modal dialog it
fills on demand with the preferences centre).

Templates are looked up in the site's loader first, then in the package's
``templates`` folder, so a site can override ``banner.html``, ``head.html``,
``preferences.html`` (the centre, shared by the full page and the fragment the script
fetches), ``preferences_fragment.html``, ``preferences_page.html``, ``cookies_page.html``
or ``placeholder.html`` by name. Autoescaping is always on.

Texts and language negotiation live in :mod:`.i18n`, theme validation in :mod:`.theme`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from ..categories import CATEGORIES, OPTIONAL_CATEGORIES, Category
from ..consent_mode import CONSENT_MODE_SIGNALS, consent_mode_state
from ..decision import Decision
from ..errors import ConfigError
from ..policy import Policy
from ..urls import check_prefix
from .declaration import CookieRow, Declaration
from .i18n import BUNDLED_LANGUAGES, RTL_LANGUAGES, Texts, fill
from .paths import safe_path, safe_url
from .templates import environment, static_dir
from .theme import theme_css

__all__ = [
    "BUNDLED_LANGUAGES",
    "CONSENT_MODE_SIGNALS",
    "Banner",
    "BannerContext",
    "consent_mode_state",
    "static_dir",
]

_CACHE_SIZE: Final = 512
# The preferences centre (the full page, and the fragment the banner script fetches on
# "Customize") lists the first cookies of each category (declared ones come first) and
# links to the full declaration. Pages themselves carry none of it.
_LISTED_PER_CATEGORY: Final = 10


@dataclass(frozen=True)
class BannerContext:
    """What one rendering depends on besides the banner's own configuration.

    Args:
        decision: the consent that applies to the request.
        language: a language the banner offers (see :meth:`Banner.negotiate`).
        return_to: path (and query) of the current page; forms send the visitor back there.
        nonce: the CSP nonce of the response, put on every script and style tag.
        gpc_honoured: show that the browser's Global Privacy Control signal was honoured.
    """

    decision: Decision
    language: str
    return_to: str
    nonce: str | None = None
    gpc_honoured: bool = False


@dataclass(frozen=True, slots=True)
class _ServiceView:
    id: str
    name: str
    description: str
    privacy_policy: str
    checked: bool


@dataclass(frozen=True, slots=True)
class _CategoryView:
    key: Category
    label: str
    description: str
    cookies: tuple[CookieRow, ...]
    total: int
    checked: bool
    locked: bool
    services: tuple[_ServiceView, ...] = ()


class Banner:
    """Renders the banner, the preferences centre and the cookie declaration.

    Args:
        policy: the site's cookie policy (categories, declared cookies, texts).
        prefix: where the consent endpoints live; forms and assets point there.
        languages: the languages offered (default: all 24 bundled). A language that is
            not bundled must be given in full through *texts*.
        default_language: used when negotiation finds nothing better.
        loader: a Jinja2 loader searched before the package templates.
        theme: CSS custom properties: ``bg``, ``fg``, ``accent``, ``accent_fg``,
            ``radius``, ``font``. Colour pairs below 4.5:1 contrast are refused.
        position: ``"bar"`` (full width at the bottom) or ``"box"`` (a corner card).
        texts: per-language overrides of strings, e.g. ``{"en": {"title": "Cookies"}}``.

    The first layer does not take focus on page load: moving focus unasked would
    make screen-reader users lose their place. The script instead moves the
    first layer to the start of ``<body>`` so it is the first thing Tab reaches.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        prefix: str = "/_consent",
        languages: Sequence[str] | None = None,
        default_language: str = "en",
        loader: jinja2.BaseLoader | None = None,
        theme: Mapping[str, str] | None = None,
        position: Literal["bar", "box"] = "bar",
        texts: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        src = "Banner(...)"
        check_prefix(prefix, source=src)
        self._options: dict[str, Any] = {
            "languages": languages,
            "default_language": default_language,
            "loader": loader,
            "theme": theme,
            "position": position,
            "texts": texts,
        }
        if position not in ("bar", "box"):
            raise ConfigError(
                f"unknown position {position!r}",
                source=src,
                key="position",
                fix='use "bar" or "box"',
            )
        self.policy = policy
        self.prefix = prefix
        self.position = position
        self._theme_css = theme_css(theme)
        self._texts = Texts(policy, languages, texts or {}, default_language, src)
        self.languages: tuple[str, ...] = self._texts.languages
        self.default_language = self._texts.default_language
        self._env = environment(loader)
        head_code = (static_dir() / "ck-head.js").read_text(encoding="utf-8")
        if "</" in head_code:  # pragma: no cover - guards the inline copy below
            raise ConfigError("ck-head.js must not contain '</'", source="static/ck-head.js")
        self._head_code = Markup(head_code)  # noqa: S704 - our own file, checked above
        self._hash_cached = lru_cache(maxsize=_CACHE_SIZE)(self._shown_hash)
        self._declaration = Declaration(policy)
        self._body_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_body)
        self._head_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_head)
        self._placeholder_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_placeholder)

    def bound_to(self, policy: Policy, prefix: str, declaration: Declaration) -> Banner:
        """A copy for *policy*, posting under *prefix*, listing *declaration*'s cookies.

        The middleware calls it: its ``prefix`` and ``policy`` are the one source of truth.
        """
        bound = type(self)(policy, prefix=prefix, **self._options)
        bound._declaration = declaration
        return bound

    def __repr__(self) -> str:
        return f"Banner(prefix={self.prefix!r}, languages={len(self.languages)})"

    # -- texts -----------------------------------------------------------------------------

    def texts(self, language: str) -> Mapping[str, str]:
        """The strings shown in *language* (the default language for unknown ones)."""
        return self._texts.get(language)

    def _language(self, language: str) -> str:
        return self._texts.language(language)

    def negotiate(self, accept_language: str | None) -> str:
        """Pick the offered language that best matches an ``Accept-Language`` header.

        See :meth:`.i18n.Texts.negotiate`. Never raises.
        """
        return self._texts.negotiate(accept_language)

    def context(
        self,
        decision: Decision,
        *,
        accept_language: str | None,
        return_to: str,
        nonce: str | None = None,
    ) -> BannerContext:
        """The rendering context for a request: its language, page and CSP nonce."""
        return BannerContext(
            decision=decision,
            language=self.negotiate(accept_language),
            return_to=return_to,
            nonce=nonce,
            gpc_honoured=decision.gpc and "targeting" not in decision.granted,
        )

    # -- what the visitor is shown ------------------------------------------------------------

    def shown_hash(self, language: str) -> str:
        """SHA-256 (hex) of the exact texts and cookie list shown in *language*.

        Receipts record it, so a receipt proves what the visitor saw.
        """
        return self._hash_cached(self._language(language), self._declaration.version)

    def _shown_hash(self, lang: str, version: int) -> str:
        rows = self._declaration.rows
        shown = {
            "language": lang,
            "texts": dict(sorted(self.texts(lang).items())),
            "site_name": self.policy.site_name,
            "privacy_url": safe_url(self.policy.privacy_url),
            "cookies": {
                c: [[r.name, r.provider, r.purpose, r.retention] for r in rows(c)]
                for c in CATEGORIES
            },
            "services": [
                [v.id, v.name, v.category, v.description, v.privacy_policy]
                for v in self.policy.service_index.services
            ],
        }
        blob = json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # -- rendering ------------------------------------------------------------------------------

    def _common(self, language: str, nonce: str | None, return_to: str) -> dict[str, Any]:
        lang = self._language(language)
        safe_return = safe_path(return_to)
        return {
            "t": self.texts(lang),
            "lang": lang,
            "dir": "rtl" if lang.split("-", 1)[0] in RTL_LANGUAGES else "ltr",
            "prefix": self.prefix,
            "nonce": nonce,
            "return_to": safe_return,
            "return_query": quote(safe_return, safe="/"),
            "position": self.position,
            "theme_css": Markup(self._theme_css),  # noqa: S704 - validated in theme.theme_css
            "site_name": self.policy.site_name,
            "privacy_url": safe_url(self.policy.privacy_url),
        }

    def body_html(self, ctx: BannerContext) -> str:
        """HTML injected right after ``<body>`` (in the first paint, the first Tab stop).

        The first layer (only while the visitor has something to
        answer), an empty preferences dialog the script fills on demand from
        :meth:`preferences_fragment`, the "Cookie settings" control and the
        enhancement script. The cookie tables never travel with a page.
        """
        return self._body_cached(_render_key(ctx), self._declaration.version)

    def _render_body(self, key: tuple[Any, ...], version: int) -> str:
        (lang, decided, granted, _, pending, model, _, _, _, _,
         nonce, return_to, gpc_honoured, _, pending_services) = key  # fmt: skip
        granted_set = frozenset(granted) | {"necessary"}
        public = _public_decision(key, self.policy.service_index.categories)
        context = self._common(lang, nonce, return_to)
        optional_granted = [c for c in OPTIONAL_CATEGORIES if c in granted_set]
        context.update(
            decision_json=_attr_json(public),
            announce_json=_announcements(context["t"]),
            show_first_layer=bool(pending or pending_services) and model != "notice",
            **_new_services(context["t"], self.policy, () if pending else pending_services),
            model=model,
            decided=decided,
            gpc_honoured=gpc_honoured,
            do_not_sell=[c for c in optional_granted if c != "targeting"],
        )
        return self._env.get_template("banner.html").render(context)

    def head_html(self, ctx: BannerContext) -> str:
        """The stylesheet and Google Consent Mode v2 defaults, placed first in ``<head>``.

        The stylesheet comes first so the banner is styled in the first paint.

        Signals follow ``decision.granted``: before a choice under opt-in that is
        everything denied but ``security_storage``.
        """
        granted = tuple(sorted(ctx.decision.granted))
        return self._head_cached(granted, ctx.nonce)

    def _render_head(self, granted: tuple[str, ...], nonce: str | None) -> str:
        defaults: dict[str, Any] = {**consent_mode_state(granted), "wait_for_update": 500}
        return self._env.get_template("head.html").render(
            prefix=self.prefix,
            nonce=nonce,
            theme_css=Markup(self._theme_css),  # noqa: S704 - validated in theme.theme_css
            defaults_json=_attr_json(defaults),
            code=self._head_code,
        )

    def _page(self, template: str, ctx: BannerContext, limit: int | None) -> str:
        context = self._common(ctx.language, ctx.nonce, ctx.return_to)
        decision = ctx.decision
        context.update(
            announce_json=_announcements(context["t"]),
            decided=decision.decided,
            model=decision.model,
            gpc_honoured=ctx.gpc_honoured,
            categories=_category_views(
                self._declaration, context["t"], decision, limit, self.policy
            ),
            revision=self.policy.revision,
        )
        return self._env.get_template(template).render(context)

    def preferences_page(self, ctx: BannerContext) -> str:
        """The full preferences page served at ``GET {prefix}/preferences`` (no JS needed)."""
        return self._page("preferences_page.html", ctx, _LISTED_PER_CATEGORY)

    def preferences_fragment(self, ctx: BannerContext) -> str:
        """The preferences centre alone, fetched by the banner script into its dialog.

        Served at ``GET {prefix}/preferences?fragment=1``. It is the same centre as the
        full page (``preferences.html``) and holds no script or style, so it needs no
        CSP nonce: the page's stylesheet and script already apply to it.
        """
        return self._page("preferences_fragment.html", ctx, _LISTED_PER_CATEGORY)

    def cookies_page(self, ctx: BannerContext) -> str:
        """The cookie declaration at ``GET {prefix}/cookies``, in the visitor's language.

        Per category: what it is for and every cookie with provider, purpose and retention.
        """
        return self._page("cookies_page.html", ctx, None)

    def placeholder_html(
        self,
        *,
        provider: str | None,
        category: str,
        src: str | None = None,
        language: str,
        granted: Iterable[str] = (),
        return_to: str = "/",
        service: str | None = None,
    ) -> str:
        """An accessible stand-in shown before a blocked iframe.

        Names the provider and the category; "Load" (shown by the script) loads
        this one frame without recording consent; "Always allow <category>" is a form
        posting ``save`` with the category added to *granted* (the categories the
        visitor granted already, so adding one revokes nothing), which works without JS.
        With a known *service* the placeholder names it: "Load content from YouTube" and
        "Always allow YouTube", whose form grants that service only (``keep_choice``).
        """
        cat = _as_category(category, self.policy.unclassified)
        found = self.policy.service_index.get(service) if service else None
        keep = () if found else tuple(c for c in OPTIONAL_CATEGORIES if c in {*granted, cat})
        who, service_id = (found.name, found.id) if found else (str(provider or ""), "")
        src, lang = str(src or ""), self._language(language)
        return self._placeholder_cached(who, cat, src, lang, keep, return_to, service_id)

    def _render_placeholder(
        self,
        provider: str,
        category: Category,
        src: str,
        language: str,
        keep: tuple[str, ...],
        return_to: str,
        service: str,
    ) -> str:
        context = self._common(language, None, return_to)
        texts = context["t"]
        label = texts[f"{category}_label"]
        try:
            host = urlsplit(src).hostname or ""
        except ValueError:
            host = ""
        context.update(
            category=category,
            host=host,
            message=fill(
                texts["placeholder"], provider=provider or host or src[:60] or "?", category=label
            ),
            always_allow=fill(texts["always_allow"], category=provider if service else label),
            load_text=fill(texts["load_from"], provider=provider) if service else texts["load"],
            keep=keep,
            service=service,
        )
        return self._env.get_template("placeholder.html").render(context)


def _new_services(texts: Mapping[str, str], policy: Policy, ids: Sequence[str]) -> dict[str, Any]:
    """The first layer's question about services declared since the choice (only them)."""
    found = [s for s in (policy.service_index.get(i) for i in ids) if s is not None]
    names = ", ".join(s.name for s in found)
    return {
        "new_services": [s.id for s in found],
        "new_services_text": fill(texts["new_services"], services=names),
        "allow_new": fill(texts["always_allow"], category=names),
        "refuse_new": fill(texts["dont_allow"], category=names),
    }


def _public_decision(key: tuple[Any, ...], categories: Mapping[str, str]) -> dict[str, Any]:
    """The page script's view of a decision (``Decision.as_json`` in its shape), from a
    render key."""
    (_, decided, granted, refused, pending, model, region, gpc, reason, revision,
     _, _, _, exceptions, pending_services) = key  # fmt: skip
    granted_set = frozenset(granted) | {"necessary"}
    answers = dict(exceptions)
    allowed = {i: answers.get(i, category in granted_set) for i, category in categories.items()}
    public: dict[str, Any] = {
        "decided": decided,
        "granted": [c for c in CATEGORIES if c in granted_set],
        "refused": [c for c in CATEGORIES if c in refused],
        "pending": [c for c in CATEGORIES if c in pending],
        "model": model,
        "region": region,
        "gpc": gpc,
        "reason": reason,
        "revision": revision,
    }
    # Every page carries this: the services are listed only when the categories alone do
    # not answer for them (some categories granted, or a service answered on its own).
    optional = granted_set & set(OPTIONAL_CATEGORIES)
    uniform = not optional or len(optional) == len(OPTIONAL_CATEGORIES)
    if exceptions or pending_services or not uniform:
        public["services"] = {"granted": [i for i, ok in allowed.items() if ok]}
        if pending_services:
            public["services"]["pending"] = list(pending_services)
    return public


def _attr_json(value: object) -> Markup:
    """*value* as compact JSON for a single-quoted HTML attribute.

    Only ``&``, ``'`` and ``<`` are escaped, so the double quotes JSON is full of stay
    one byte each (escaping them as ``&#34;`` would more than double small objects).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
    return Markup(text)  # noqa: S704 - escaped above for a single-quoted attribute


def _announcements(texts: Mapping[str, str]) -> Markup:
    """What the script's live region says after each action, as attribute JSON."""
    keys = ("announce_accepted", "announce_rejected", "announce_saved", "announce_withdrawn")
    return _attr_json({k: texts[k] for k in keys})


def _render_key(ctx: BannerContext) -> tuple[Any, ...]:
    """Everything the injected banner depends on, hashable: the render cache's key."""
    d = ctx.decision
    return (
        ctx.language,
        d.decided,
        tuple(sorted(d.granted)),
        tuple(sorted(d.refused)),
        tuple(sorted(d.pending)),
        d.model,
        d.region,
        d.gpc,
        d.reason,
        d.revision,
        ctx.nonce,
        ctx.return_to,
        ctx.gpc_honoured,
        d.service_exceptions(),
        tuple(sorted(d.pending_services)),
    )


def _category_views(
    declaration: Declaration,
    texts: Mapping[str, str],
    decision: Decision,
    limit: int | None,
    policy: Policy,
) -> list[_CategoryView]:
    return [
        _CategoryView(
            key=category,
            label=texts[f"{category}_label"],
            description=texts[f"{category}_description"],
            cookies=declaration.rows(category)[:limit],
            total=len(declaration.rows(category)),
            checked=category == "necessary" or category in decision.granted,
            locked=category == "necessary",
            services=_service_views(declaration, decision, policy, category),
        )
        for category in CATEGORIES
    ]


def _service_views(
    declaration: Declaration, decision: Decision, policy: Policy, category: Category
) -> tuple[_ServiceView, ...]:
    """The services listed under *category*: those the policy declares, and built-in ones
    whose cookies the site declares or was seen setting, or whose elements its pages were
    seen embedding (not every service consentkit knows). Each switch shows the current
    answer: nothing is ticked before a choice."""
    listed = {s.id: s for s in policy.services if s.category == category}
    for row in declaration.rows(category):
        found = policy.service_for_cookie(row.name)
        if found is not None and found.category == category:
            listed.setdefault(found.id, found)
    for service_id in sorted(declaration.observed_services):
        found = policy.service_index.get(service_id)
        if found is not None and found.category == category:
            listed.setdefault(found.id, found)
    return tuple(
        _ServiceView(s.id, s.name, s.description, s.privacy_policy, decision.allows_service(s.id))
        for s in listed.values()
    )


def _as_category(value: object, fallback: Category) -> Category:
    """*value* as a category key; anything else (e.g. ``unclassified``) is *fallback*."""
    for category in CATEGORIES:
        if value == category:
            return category
    return fallback
