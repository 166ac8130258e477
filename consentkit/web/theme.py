"""Banner themes: CSS custom properties, validated before they reach a ``<style>`` block."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from ..errors import ConfigError

__all__ = ["THEME_KEYS", "theme_css"]

THEME_KEYS: Final[Mapping[str, str]] = {
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
_MIN_CONTRAST: Final = 4.5


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


def theme_css(theme: Mapping[str, str] | None) -> str:
    """Validate a theme and return its custom-property declarations.

    Raises :class:`~consentkit.errors.ConfigError` for an unknown key, a value that
    could escape the declaration, or a text/background pair below WCAG AA contrast.
    """
    if not theme:
        return ""
    src = "Banner(theme=...)"
    for key, value in theme.items():
        if key not in THEME_KEYS:
            raise ConfigError(
                "unknown theme key",
                source=src,
                key=str(key),
                fix=f"use {', '.join(sorted(THEME_KEYS))}",
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
            if ratio < _MIN_CONTRAST:
                raise ConfigError(
                    f"{text_key} on {back_key} has contrast {math.floor(ratio * 100) / 100}:1",
                    source=src,
                    key=text_key,
                    fix="pick colours with a contrast ratio of at least 4.5:1 (WCAG AA)",
                )
    return ";".join(f"{THEME_KEYS[k]}:{v}" for k, v in sorted(theme.items()))
