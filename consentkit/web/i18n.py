"""The banner's texts per language, and ``Accept-Language`` negotiation.

Texts come from ``data/i18n/<language>.json`` (English is the reference), then the
site's per-language overrides, then category labels the site set in its policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from types import MappingProxyType
from typing import Final

from ..categories import CATEGORIES
from ..errors import ConfigError, did_you_mean
from ..memo import Memo
from ..policy import Policy

__all__ = [
    "BUNDLED_LANGUAGES",
    "LANGUAGE_STATE_KEY",
    "RTL_LANGUAGES",
    "Texts",
    "fill",
    "preferring",
]

BUNDLED_LANGUAGES: Final[tuple[str, ...]] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
"""The 24 official EU languages shipped with the package."""

RTL_LANGUAGES: Final = frozenset({"ar", "dv", "fa", "he", "ku", "ps", "ur", "yi"})
_PLACEHOLDER_RE: Final = re.compile(r"\{([a-z_]+)\}")
_LANGUAGE_TAG_RE: Final = re.compile(r"\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*")
_QVALUE_RE: Final = re.compile(r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?")
_MAX_ACCEPT_LANGUAGE: Final = 1024
_MAX_PREFERRED_TAG: Final = 64
_NEGOTIATED_MAX: Final = 1024
"""``Accept-Language`` headers whose answer is remembered (then the memory starts over)."""

LANGUAGE_STATE_KEY: Final = "consent_language"
"""The ``scope["state"]`` key (``request.state.consent_language``) an app sets to choose
the banner's language for one response; it wins over the page's ``<html lang>`` and
``Accept-Language`` when the banner offers that language."""
_MAX_LANGUAGE_ENTRIES: Final = 64


def fill(template: str, **values: str) -> str:
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


class Texts:
    """Every offered language's strings, validated against English once.

    Args:
        policy: category labels and descriptions the site set win over translations.
        languages: the languages offered (default: all 24 bundled).
        overrides: per-language overrides, e.g. ``{"en": {"title": "Cookies"}}``.
        default_language: used when negotiation finds nothing better.
        src: names the caller in configuration errors.
    """

    def __init__(
        self,
        policy: Policy,
        languages: Sequence[str] | None,
        overrides: Mapping[str, Mapping[str, str]],
        default_language: str,
        src: str,
    ) -> None:
        self._texts = _build_texts(policy, languages, overrides, src)
        self.languages: tuple[str, ...] = tuple(self._texts)
        default_language = default_language.lower()
        if default_language not in self._texts:
            # ``languages=["en-GB"]`` with the default "en": the regional variant stands in.
            default_language = next(
                (lang for lang in self.languages if lang.split("-", 1)[0] == default_language),
                default_language,
            )
        if default_language not in self._texts:
            raise ConfigError(
                f"default language {default_language!r} is not offered",
                source=src,
                key="default_language",
                fix=f"use one of {', '.join(self.languages)}",
            )
        self.default_language = default_language
        self._negotiated: Memo[str, str] = Memo(_NEGOTIATED_MAX)

    def get(self, language: str) -> Mapping[str, str]:
        """The strings shown in *language* (the default language for unknown ones)."""
        return self._texts.get(str(language).lower(), self._texts[self.default_language])

    def language(self, language: str) -> str:
        """*language* if offered, else the default language."""
        lang = str(language).lower()
        return lang if lang in self._texts else self.default_language

    def negotiate(self, accept_language: str | None) -> str:
        """Pick the offered language that best matches an ``Accept-Language`` header.

        Honours q-values (ties keep header order), falls back from a regional tag
        to its language (``pt-BR`` to ``pt``), ignores malformed entries and answers
        the default language when nothing matches. Never raises. Answers are remembered
        (a bounded number): browsers send a handful of distinct headers.
        """
        if not accept_language or not isinstance(accept_language, str):
            return self.default_language
        known = self._negotiated.get(accept_language)
        if known is None:
            known = self._negotiated.put(accept_language, self._negotiate(accept_language))
        return known

    def _negotiate(self, accept_language: str) -> str:
        best, best_q = self.default_language, 0.0
        entries = accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_LANGUAGE_ENTRIES]
        for entry in entries:
            tag, _, params = entry.partition(";")
            tag = tag.strip().lower().replace("_", "-")
            if not _LANGUAGE_TAG_RE.fullmatch(tag):
                continue
            q = _qvalue(params)
            if q is None or q <= best_q:
                continue
            match = self._match_tag(tag)
            if match is not None:
                best, best_q = match, q
        return best

    def _match_tag(self, tag: str) -> str | None:
        if tag == "*":
            return self.default_language
        if tag in self._texts:
            return tag
        primary = tag.split("-", 1)[0]
        return primary if primary in self._texts else None


def preferring(*tags: object, accept_language: str | None) -> str:
    """An ``Accept-Language`` value that puts *tags* (in order) before the visitor's own.

    Negotiation keeps the first offered language among equal q-values, so the first of
    *tags* the banner offers wins, then the visitor's preferences. Empty, non-string or
    over-long tags are left out.
    """
    first = [
        tag.replace(",", "").replace(";", "")
        for tag in tags
        if isinstance(tag, str) and tag.strip() and len(tag) <= _MAX_PREFERRED_TAG
    ]
    return ", ".join([*first, accept_language or ""]) if first else accept_language or ""


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


def _bundled_base(lang: str) -> str | None:
    """The bundled texts a language uses: its own, else its base language's (``en-gb``: ``en``)."""
    if lang in BUNDLED_LANGUAGES:
        return lang
    primary = lang.split("-", 1)[0]
    return primary if primary in BUNDLED_LANGUAGES else None


def _build_texts(
    policy: Policy,
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
        bundled = _bundled_base(lang)
        base = _load_bundled(bundled) if bundled else {}
        merged = {**base, **lowered.get(lang, {})}
        for key, value in merged.items():
            if key not in reference:
                raise ConfigError(
                    "unknown text key",
                    source=src,
                    key=f"texts.{lang}.{key}",
                    fix=did_you_mean(key, reference)
                    or f"use a key of the English texts, e.g. {sorted(reference)[0]}",
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
            if category in policy.texts:
                custom = policy.text(category)
                merged[f"{category}_label"] = custom.label
                merged[f"{category}_description"] = custom.description
        result[lang] = MappingProxyType(merged)
    return result
