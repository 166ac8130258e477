"""Draft a cookie declaration (``[[cookies]]`` tables for ``consent.toml``) from a scan.

Known cookies get provider, purpose, retention and category from the policy or the knowledge
base; unknown ones get the strict default category and a ``TODO`` comment for the owner.
The draft always loads as a policy (tested), so the owner edits values, not syntax.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Final

from consentkit.errors import ConfigError
from consentkit.rules import CookieRule

from .controls import CONSENTKIT
from .report import CookieSummary, cookie_summaries
from .rules import Analysis

__all__ = ["TODO", "draft_declaration"]

TODO: Final = "TODO(owner)"
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""The marker on every value the owner must fill in or confirm."""


def _toml_string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(text, ensure_ascii=False)


def _observed_retention(cookie: CookieSummary) -> str:
    if cookie.lifetime_days is None:
        return "session"
    days = round(cookie.lifetime_days)
    return f"{days} day" if days == 1 else f"{days} days"


def _entry(cookie: CookieSummary) -> list[str]:
    verdict = cookie.verdict
    known = verdict.source in ("declared", "knowledge_base")
    category = verdict.category if known else verdict.required
    lines = ["[[cookies]]", f"name = {_toml_string(cookie.name)}"]
    if not known:
        lines.append(
            f"category = {_toml_string(category)}  # {TODO}: unknown cookie, strict default; "
            "confirm the category"
        )
    else:
        lines.append(f"category = {_toml_string(category)}")
    for key, value in (
        ("provider", verdict.provider),
        ("purpose", verdict.purpose),
        ("retention", verdict.retention or (_observed_retention(cookie) if known else "")),
    ):
        if value:
            lines.append(f"{key} = {_toml_string(value)}")
        elif key == "retention":
            lines.append(
                f"retention = {_toml_string(_observed_retention(cookie))}  # {TODO}: "
                "observed lifetime; confirm"
            )
        else:
            lines.append(f'{key} = ""  # {TODO}')
    if cookie.third_party:
        lines.append(f"domain = {_toml_string(cookie.domain)}")
    where = f"set by {cookie.set_by}"
    if cookie.set_by_url:
        where += f" {cookie.set_by_url}"
    seen = ", ".join(cookie.visits)
    lines.append(
        _CONTROL_CHARS.sub("?", f"# seen on {cookie.domain}{cookie.path} ({seen}); {where}")
    )
    return lines


def draft_declaration(analysis: Analysis, *, now: datetime | None = None) -> str:
    """The draft as TOML text: one ``[[cookies]]`` table per distinct cookie name."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    out = [
        f"# Draft cookie declaration from `consentkit scan {analysis.run.start_url}` ({moment}).",
        f"# Review every entry; values marked {TODO} need the site owner.",
        "# Paste the [[cookies]] tables into consent.toml.",
    ]
    done: set[str] = set()
    for cookie in cookie_summaries(analysis):
        if cookie.name in done or cookie.name == CONSENTKIT.consent_cookie:
            continue
        try:
            CookieRule(name=cookie.name, category="necessary")
        except ConfigError as exc:
            out += ["", _CONTROL_CHARS.sub("?", f"# skipped {json.dumps(cookie.name)}: {exc}")]
            continue
        done.add(cookie.name)
        out += ["", *_entry(cookie)]
    return "\n".join(out) + "\n"
