"""The consent banner and preferences centre, rendered on the server with Jinja2.

Everything works without JavaScript: every choice is a plain HTML form posting to the
consent endpoint, which answers with a 303 back to the page. ``static/consentkit.js``
only enhances those forms (no reload, blocked items run in place, a modal dialog).

Templates are looked up in the site's loader first, then in the package's
``templates`` folder, so a site can override ``banner.html``, ``head.html``,
``preferences.html``, ``preferences_page.html``, ``cookies_page.html`` or
``placeholder.html`` by name. Autoescaping is always on.

Texts come from ``data/i18n/<language>.json`` (English is the reference), then the
site's per-language overrides, then category labels the site set in its policy.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from .categories import CATEGORIES, OPTIONAL_CATEGORIES, Category
from .decision import Decision
from .errors import ConfigError
from .policy import Policy
from .rules import CookieRule
from .urls import check_prefix

__all__ = [
    "BUNDLED_LANGUAGES",
    "CONSENT_MODE_SIGNALS",
    "Banner",
    "BannerContext",
    "consent_mode_state",
    "static_dir",
]

BUNDLED_LANGUAGES: Final[tuple[str, ...]] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
"""The 24 official EU languages shipped with the package."""

CONSENT_MODE_SIGNALS: Final[Mapping[Category, tuple[str, ...]]] = MappingProxyType(
    {
        "necessary": ("security_storage",),
        "performance": ("analytics_storage",),
        "functionality": ("functionality_storage", "personalization_storage"),
        "targeting": ("ad_storage", "ad_user_data", "ad_personalization"),
    }
)
"""Google Consent Mode v2 signals driven by each category."""

_RTL_LANGUAGES: Final = frozenset({"ar", "dv", "fa", "he", "ku", "ps", "ur", "yi"})
_PLACEHOLDER_RE: Final = re.compile(r"\{([a-z_]+)\}")
_LANGUAGE_TAG_RE: Final = re.compile(r"\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*")
_QVALUE_RE: Final = re.compile(r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?")
_MAX_ACCEPT_LANGUAGE: Final = 1024
_THEME_KEYS: Final = {
    "bg": "--ck-bg",
    "fg": "--ck-fg",
    "accent": "--ck-accent",
    "accent_fg": "--ck-accent-fg",
    "radius": "--ck-radius",
    "font": "--ck-font",
}
# Values go into a <style> block: no characters that could end a declaration or rule.
_THEME_VALUE_RE: Final = re.compile(r"[#(),.%\w\s'\"-]{1,100}")
_HEX_RE: Final = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DEFAULT_COLOURS: Final = {
    "bg": "#ffffff",
    "fg": "#1a1a1a",
    "accent": "#1d4ed8",
    "accent_fg": "#ffffff",
}
_CACHE_SIZE: Final = 512
# The preferences centre travels with every HTML page: it lists the first cookies of
# each category (declared ones come first) and links to the full declaration.
_LISTED_PER_CATEGORY: Final = 10


def static_dir() -> Path:
    """The folder holding ``consentkit.js``, ``consentkit.css`` and ``ck-head.js``.

    Installed wheels carry it inside the package (``consentkit/static``); a source
    checkout keeps it at the repository root (``static/``).
    """
    packaged = Path(__file__).resolve().parent / "static"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "static"


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
class _CookieRow:
    name: str
    provider: str
    purpose: str
    retention: str


@dataclass(frozen=True, slots=True)
class _CategoryView:
    key: Category
    label: str
    description: str
    cookies: tuple[_CookieRow, ...]
    total: int
    checked: bool
    locked: bool


def consent_mode_state(granted: Iterable[str]) -> dict[str, str]:
    """Google Consent Mode v2 signals for a set of granted categories."""
    allowed = set(granted) | {"necessary"}
    state: dict[str, str] = {}
    for category in CATEGORIES:
        for signal in CONSENT_MODE_SIGNALS[category]:
            state[signal] = "granted" if category in allowed else "denied"
    return dict(sorted(state.items()))


def _fill(template: str, **values: str) -> str:
    """Replace ``{name}`` placeholders without ``str.format`` (texts may hold braces)."""
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _placeholders(text: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER_RE.findall(text))


def _load_bundled(language: str) -> dict[str, str]:
    resource = resources.files("consentkit") / "data" / "i18n" / f"{language}.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    if not isinstance(data, dict):  # pragma: no cover - shipped data is tested
        raise ConfigError("translation file is not an object", source=f"i18n/{language}.json")
    return {str(k): str(v) for k, v in data.items()}


def _safe_path(value: str, fallback: str = "/") -> str:
    """A same-site path for links and hidden fields; anything else becomes *fallback*."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(ch) < 0x20 or ch == "\x7f" for ch in value)
        or len(value) > 2048
    ):
        return fallback
    return value


def _safe_url(value: str) -> str:
    """An http(s) or site-relative URL for ``href``; empty when unsafe."""
    if not value:
        return ""
    if value.startswith("/") and not value.startswith("//"):
        return _safe_path(value, "")
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _relative_luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _theme_css(theme: Mapping[str, str] | None) -> str:
    """Validate a theme and return its custom-property declarations."""
    if not theme:
        return ""
    src = "Banner(theme=...)"
    for key, value in theme.items():
        if key not in _THEME_KEYS:
            raise ConfigError(
                "unknown theme key",
                source=src,
                key=str(key),
                fix=f"use {', '.join(sorted(_THEME_KEYS))}",
            )
        if not isinstance(value, str) or not _THEME_VALUE_RE.fullmatch(value):
            raise ConfigError(
                f"unsafe CSS value {value!r}",
                source=src,
                key=key,
                fix="use a plain colour, length or font list (no ; { } < > or url())",
            )
    colours = {**_DEFAULT_COLOURS, **{k: v for k, v in theme.items() if k in _DEFAULT_COLOURS}}
    for text_key, back_key in (("fg", "bg"), ("accent_fg", "accent")):
        front, back = colours[text_key], colours[back_key]
        if _HEX_RE.fullmatch(front) and _HEX_RE.fullmatch(back):
            ratio = _contrast(front, back)
            if ratio < 4.5:
                raise ConfigError(
                    f"{text_key} on {back_key} has contrast {math.floor(ratio * 100) / 100}:1",
                    source=src,
                    key=text_key,
                    fix="pick colours with a contrast ratio of at least 4.5:1 (WCAG AA)",
                )
    return ";".join(f"{_THEME_KEYS[k]}:{v}" for k, v in sorted(theme.items()))


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
        self._theme_css = _theme_css(theme)
        self._texts = self._build_texts(languages, texts or {}, src)
        self.languages: tuple[str, ...] = tuple(self._texts)
        default_language = default_language.lower()
        if default_language not in self._texts:
            raise ConfigError(
                f"default language {default_language!r} is not offered",
                source=src,
                key="default_language",
                fix=f"use one of {', '.join(self.languages)}",
            )
        self.default_language = default_language
        package_loader = jinja2.PackageLoader("consentkit", "templates")
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([loader, package_loader] if loader else [package_loader]),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        head_code = (static_dir() / "ck-head.js").read_text(encoding="utf-8")
        if "</" in head_code:  # pragma: no cover - guards the inline copy below
            raise ConfigError("ck-head.js must not contain '</'", source="static/ck-head.js")
        self._head_code = Markup(head_code)  # noqa: S704 - our own file, checked above
        self._hashes: dict[str, str] = {}
        self._cookie_rows: dict[Category, tuple[_CookieRow, ...]] = {}
        self._body_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_body)
        self._head_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_head)
        self._placeholder_cached = lru_cache(maxsize=_CACHE_SIZE)(self._render_placeholder)

    def __repr__(self) -> str:
        return f"Banner(prefix={self.prefix!r}, languages={len(self.languages)})"

    # -- texts -----------------------------------------------------------------------------

    def _build_texts(
        self,
        languages: Sequence[str] | None,
        overrides: Mapping[str, Mapping[str, str]],
        src: str,
    ) -> dict[str, MappingProxyType[str, str]]:
        reference = _load_bundled("en")
        wanted = [lang.lower() for lang in (languages or BUNDLED_LANGUAGES)]
        if not wanted:
            raise ConfigError("no languages", source=src, key="languages", fix="offer at least one")
        lowered = {str(lang).lower(): dict(values) for lang, values in overrides.items()}
        for lang in lowered:
            if lang not in wanted:
                raise ConfigError(
                    f"texts given for {lang!r}, which is not offered",
                    source=src,
                    key=f"texts.{lang}",
                    fix="add it to languages=... or remove the texts",
                )
        result: dict[str, MappingProxyType[str, str]] = {}
        for lang in wanted:
            base = _load_bundled(lang) if lang in BUNDLED_LANGUAGES else {}
            merged = {**base, **lowered.get(lang, {})}
            for key, value in merged.items():
                if key not in reference:
                    raise ConfigError(
                        "unknown text key",
                        source=src,
                        key=f"texts.{lang}.{key}",
                        fix=f"use a key of the English texts, e.g. {sorted(reference)[0]}",
                    )
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(
                        "must be a non-empty string", source=src, key=f"texts.{lang}.{key}"
                    )
                if _placeholders(value) != _placeholders(reference[key]):
                    expected = ", ".join(sorted(_placeholders(reference[key]))) or "none"
                    raise ConfigError(
                        "placeholders differ from English",
                        source=src,
                        key=f"texts.{lang}.{key}",
                        fix=f"use exactly these placeholders: {expected}",
                    )
            missing = sorted(set(reference) - set(merged))
            if missing:
                raise ConfigError(
                    f"language {lang!r} is not bundled and lacks {len(missing)} texts",
                    source=src,
                    key=f"texts.{lang}",
                    fix=f"provide every key, starting with {', '.join(missing[:3])}",
                )
            for category in CATEGORIES:
                # A site's own category wording wins over the generic translation.
                if category in self.policy.texts:
                    custom = self.policy.text(category)
                    merged[f"{category}_label"] = custom.label
                    merged[f"{category}_description"] = custom.description
            result[lang] = MappingProxyType(merged)
        return result

    def texts(self, language: str) -> Mapping[str, str]:
        """The strings shown in *language* (the default language for unknown ones)."""
        return self._texts.get(str(language).lower(), self._texts[self.default_language])

    def _language(self, language: str) -> str:
        lang = str(language).lower()
        return lang if lang in self._texts else self.default_language

    def negotiate(self, accept_language: str | None) -> str:
        """Pick the offered language that best matches an ``Accept-Language`` header.

        Honours q-values (ties keep header order), falls back from a regional tag
        to its language (``pt-BR`` to ``pt``), ignores malformed entries and answers
        the default language when nothing matches. Never raises.
        """
        if not accept_language or not isinstance(accept_language, str):
            return self.default_language
        best, best_q = self.default_language, 0.0
        for entry in accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")[:64]:
            tag, _, params = entry.partition(";")
            tag = tag.strip().lower().replace("_", "-")
            if not _LANGUAGE_TAG_RE.fullmatch(tag):
                continue
            q = self._qvalue(params)
            if q is None or q <= best_q:
                continue
            match = self._match_tag(tag)
            if match is not None:
                best, best_q = match, q
        return best

    @staticmethod
    def _qvalue(params: str) -> float | None:
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                if not _QVALUE_RE.fullmatch(value):
                    return None
                q = float(value)
        return q

    def _match_tag(self, tag: str) -> str | None:
        if tag == "*":
            return self.default_language
        if tag in self._texts:
            return tag
        primary = tag.split("-", 1)[0]
        return primary if primary in self._texts else None

    # -- what the visitor is shown ------------------------------------------------------------

    def _rows(self, category: Category) -> tuple[_CookieRow, ...]:
        rows = self._cookie_rows.get(category)
        if rows is None:
            rows = tuple(_cookie_row(rule) for rule in self.policy.cookies_for(category))
            self._cookie_rows[category] = rows
        return rows

    def _categories(
        self, texts: Mapping[str, str], granted: frozenset[str], limit: int | None
    ) -> list[_CategoryView]:
        return [
            _CategoryView(
                key=category,
                label=texts[f"{category}_label"],
                description=texts[f"{category}_description"],
                cookies=self._rows(category)[:limit],
                total=len(self._rows(category)),
                checked=category == "necessary" or category in granted,
                locked=category == "necessary",
            )
            for category in CATEGORIES
        ]

    def shown_hash(self, language: str) -> str:
        """SHA-256 (hex) of the exact texts and cookie list shown in *language*.

        Receipts record it, so a receipt proves what the visitor saw.
        """
        lang = self._language(language)
        cached = self._hashes.get(lang)
        if cached is None:
            shown = {
                "language": lang,
                "texts": dict(sorted(self.texts(lang).items())),
                "site_name": self.policy.site_name,
                "privacy_url": _safe_url(self.policy.privacy_url),
                "cookies": {
                    c: [[r.name, r.provider, r.purpose, r.retention] for r in self._rows(c)]
                    for c in CATEGORIES
                },
            }
            blob = json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            cached = hashlib.sha256(blob.encode("utf-8")).hexdigest()
            self._hashes[lang] = cached
        return cached

    # -- rendering ------------------------------------------------------------------------------

    def _common(self, language: str, nonce: str | None, return_to: str) -> dict[str, Any]:
        lang = self._language(language)
        safe_return = _safe_path(return_to)
        return {
            "t": self.texts(lang),
            "lang": lang,
            "dir": "rtl" if lang.split("-", 1)[0] in _RTL_LANGUAGES else "ltr",
            "prefix": self.prefix,
            "nonce": nonce,
            "return_to": safe_return,
            "return_query": quote(safe_return, safe="/"),
            "position": self.position,
            "theme_css": Markup(self._theme_css),  # noqa: S704 - validated in _theme_css
            "site_name": self.policy.site_name,
            "privacy_url": _safe_url(self.policy.privacy_url),
        }

    @staticmethod
    def _decision_key(ctx: BannerContext) -> tuple[Any, ...]:
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
        )

    def body_html(self, ctx: BannerContext) -> str:
        """HTML injected right after ``<body>`` (in the first paint, the first Tab stop).

        The first layer (only while the visitor has something to
        answer), the preferences dialog (hidden until opened), the "Cookie settings"
        control and the enhancement script.
        """
        return self._body_cached(self._decision_key(ctx))

    def _render_body(self, key: tuple[Any, ...]) -> str:
        (lang, decided, granted, refused, pending, model, region, gpc, reason, revision,
         nonce, return_to, gpc_honoured) = key  # fmt: skip
        granted_set = frozenset(granted) | {"necessary"}
        public = {
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
        context = self._common(lang, nonce, return_to)
        texts = context["t"]
        announce = {
            k: texts[k]
            for k in (
                "announce_accepted",
                "announce_rejected",
                "announce_saved",
                "announce_withdrawn",
            )
        }
        optional_granted = [c for c in OPTIONAL_CATEGORIES if c in granted_set]
        context.update(
            decision_json=json.dumps(public, separators=(",", ":")),
            announce_json=json.dumps(announce, ensure_ascii=False, separators=(",", ":")),
            show_first_layer=bool(pending) and model != "notice",
            model=model,
            decided=decided,
            gpc_honoured=gpc_honoured,
            categories=self._categories(texts, granted_set, _LISTED_PER_CATEGORY),
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
            theme_css=Markup(self._theme_css),  # noqa: S704 - validated in _theme_css
            defaults_json=json.dumps(defaults, separators=(",", ":")),
            code=self._head_code,
        )

    def _page(self, template: str, ctx: BannerContext, limit: int | None) -> str:
        context = self._common(ctx.language, ctx.nonce, ctx.return_to)
        decision = ctx.decision
        context.update(
            decided=decision.decided,
            model=decision.model,
            gpc_honoured=ctx.gpc_honoured,
            categories=self._categories(context["t"], frozenset(decision.granted), limit),
            revision=self.policy.revision,
        )
        return self._env.get_template(template).render(context)

    def preferences_page(self, ctx: BannerContext) -> str:
        """The full preferences page served at ``GET {prefix}/preferences`` (no JS needed)."""
        return self._page("preferences_page.html", ctx, _LISTED_PER_CATEGORY)

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
    ) -> str:
        """An accessible stand-in shown before a blocked iframe.

        Names the provider and the category; "Load" (shown by the script) loads
        this one frame without recording consent; "Always allow <category>" is a form
        posting ``save`` with the category added to *granted* (the categories the
        visitor granted already, so adding one revokes nothing), which works without JS.
        """
        cat = _as_category(category, self.policy.unclassified)
        keep = tuple(c for c in OPTIONAL_CATEGORIES if c in set(granted) | {cat})
        return self._placeholder_cached(
            str(provider or ""), cat, str(src or ""), self._language(language), keep, return_to
        )

    def _render_placeholder(
        self,
        provider: str,
        category: Category,
        src: str,
        language: str,
        keep: tuple[str, ...],
        return_to: str,
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
            message=_fill(
                texts["placeholder"], provider=provider or host or src[:60] or "?", category=label
            ),
            always_allow=_fill(texts["always_allow"], category=label),
            keep=keep,
        )
        return self._env.get_template("placeholder.html").render(context)


def _as_category(value: object, fallback: Category) -> Category:
    """*value* as a category key; anything else (e.g. ``unclassified``) is *fallback*."""
    for category in CATEGORIES:
        if value == category:
            return category
    return fallback


def _cookie_row(rule: CookieRule) -> _CookieRow:
    """Display values of a cookie rule; a prefix rule shows as ``name*``."""
    name = rule.name + "*" if rule.match == "prefix" else rule.name
    return _CookieRow(name, rule.provider, rule.purpose, rule.retention)
