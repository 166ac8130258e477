"""Scan reports: the JSON document (schema version 1), terminal text, Markdown and HTML.

Everything a scanned site controls (cookie names, URLs, button labels) is escaped for the
output it lands in: autoescaped Jinja2 for HTML, backslash escapes for Markdown, control
characters removed on the terminal. The JSON schema is documented in ``docs/scan.md``;
fields are only ever added within one ``schema_version``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from typing import Any, Final
from urllib.parse import urlsplit

import jinja2

from .crawl import is_third_party
from .model import VISIT_KINDS, Control, ObservedCookie, Visit, VisitKind
from .rules import Analysis, Finding, ItemVerdict, cookie_lifetime_days

__all__ = [
    "SCHEMA_VERSION",
    "CookieSummary",
    "cookie_summaries",
    "render_html",
    "render_markdown",
    "render_text",
    "to_json",
]

SCHEMA_VERSION: Final = 1
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Inside a list item or table cell only these start inline markup (HTML is made entities).
_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]|~])")
_TITLES: Final = {
    "violation": "Violations",
    "not_verified": "Could not verify",
    "warning": "Warnings",
    "info": "Third-party hosts",
}
_STATUS_TEXT: Final = {
    "compliant": "compliant",
    "violations": "VIOLATIONS FOUND",
    "not_verified": "COULD NOT VERIFY",
}


@dataclass(slots=True)
class CookieSummary:
    """One cookie (name, domain, path) across every visit that saw it."""

    name: str
    domain: str
    path: str
    third_party: bool
    verdict: ItemVerdict
    set_by: str = "unknown"
    set_by_url: str = ""
    lifetime_days: float | None = None
    visits: list[VisitKind] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)


def cookie_summaries(analysis: Analysis) -> list[CookieSummary]:
    """Every cookie seen, merged across pages and visits, sorted by name."""
    merged: dict[tuple[str, str, str], CookieSummary] = {}
    run = analysis.run
    for page in run.pages:
        for visit in page.visits:
            for cookie in visit.cookies:
                key = (cookie.name, cookie.domain, cookie.path)
                entry = merged.get(key)
                if entry is None:
                    entry = merged[key] = CookieSummary(
                        cookie.name,
                        cookie.domain,
                        cookie.path,
                        is_third_party(cookie.domain, run.start_url),
                        analysis.classifier.item(cookie.name, cookie.domain),
                    )
                if entry.set_by == "unknown" and cookie.set_by != "unknown":
                    entry.set_by, entry.set_by_url = cookie.set_by, cookie.set_by_url
                days = cookie_lifetime_days(cookie, visit.observed_at)
                if days is not None and (entry.lifetime_days or 0) < days:
                    entry.lifetime_days = days
                if visit.kind not in entry.visits:
                    entry.visits.append(visit.kind)
                if page.url not in entry.pages:
                    entry.pages.append(page.url)
    for entry in merged.values():
        entry.visits.sort(key=VISIT_KINDS.index)
    return sorted(merged.values(), key=lambda c: (c.name.lower(), c.domain, c.path))


# -- JSON ---------------------------------------------------------------------------------


def _iso(epoch: float) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _control(control: Control | None) -> dict[str, str] | None:
    if control is None:
        return None
    return {"action": control.action, "how": control.how, "label": control.label}


def _finding(finding: Finding) -> dict[str, str]:
    return {
        "severity": finding.severity,
        "kind": finding.kind,
        "message": finding.message,
        "page": finding.page,
        "visit": finding.visit,
        "subject": finding.subject,
        "name": finding.name,
        "category": finding.category,
    }


def _verdict(verdict: ItemVerdict) -> dict[str, Any]:
    return {
        "category": verdict.category,
        "required_category": verdict.required,
        "source": verdict.source,
        "provider": verdict.provider,
        "purpose": verdict.purpose,
        "retention": verdict.retention,
        "declared": verdict.declared,
    }


def _visit_cookie(cookie: ObservedCookie, visit: Visit, analysis: Analysis) -> dict[str, Any]:
    verdict = analysis.classifier.item(cookie.name, cookie.domain)
    return {
        "name": cookie.name,
        "domain": cookie.domain,
        "path": cookie.path,
        "host_only": cookie.host_only,
        "expires": _iso(cookie.expires) if cookie.expires is not None else None,
        "lifetime_days": _days(cookie_lifetime_days(cookie, visit.observed_at)),
        "party": "third" if is_third_party(cookie.domain, analysis.run.start_url) else "first",
        "set_by": cookie.set_by,
        "set_by_url": cookie.set_by_url,
        "required_category": verdict.required,
    }


def _visit(visit: Visit, analysis: Analysis) -> dict[str, Any]:
    start = analysis.run.start_url
    requests = []
    for request in visit.requests:
        host = urlsplit(request.url).hostname or ""
        if not host or not is_third_party(host, start):
            continue
        tracker = analysis.classifier.tracker(request.url, start)
        requests.append(
            {
                "url": request.url,
                "host": host,
                "resource_type": request.resource_type,
                "failed": request.failed,
                "tracker": tracker.provider if tracker else None,
                "tracker_category": tracker.category if tracker else None,
            }
        )
    return {
        "kind": visit.kind,
        "status": visit.status,
        "error": visit.error,
        "control": _control(visit.control),
        "navigator_gpc": visit.navigator_gpc,
        "cookies": [_visit_cookie(c, visit, analysis) for c in visit.cookies],
        "storage": [
            {
                "area": s.area,
                "key": s.key,
                "origin": s.origin,
                "required_category": analysis.classifier.item(s.key).required,
            }
            for s in visit.storage
        ],
        "third_party_requests": requests,
    }


def _site(analysis: Analysis) -> dict[str, Any]:
    layer = next((p.first_layer for p in analysis.run.pages if p.first_layer), None)
    if layer is None:
        return {
            "consentkit": False,
            "cmp": None,
            "banner_shown": False,
            "accept_control": None,
            "reject_control": None,
            "reject_as_easy_as_accept": None,
        }
    easy: bool | None = None
    if layer.banner_shown and layer.accept is not None:
        easy = layer.reject is not None
    return {
        "consentkit": layer.consentkit,
        "cmp": layer.cmp or None,
        "banner_shown": layer.banner_shown,
        "accept_control": _control(layer.accept),
        "reject_control": _control(layer.reject),
        "reject_as_easy_as_accept": easy,
    }


def _hosts(analysis: Analysis) -> list[dict[str, Any]]:
    rows = []
    for host, visits in sorted(analysis.third_party_hosts.items()):
        tracker = analysis.classifier.tracker(f"https://{host}/", analysis.run.start_url)
        rows.append(
            {
                "host": host,
                "tracker": tracker.provider if tracker else None,
                "tracker_category": tracker.category if tracker else None,
                "visits": sorted(visits, key=lambda v: VISIT_KINDS.index(v)),
            }
        )
    return rows


def _version() -> str:
    try:
        return metadata.version("consentkit")
    except metadata.PackageNotFoundError:
        return "unknown"


def to_json(analysis: Analysis) -> dict[str, Any]:
    """The report as JSON-ready data (``schema_version`` 1, see ``docs/scan.md``)."""
    run = analysis.run
    options = run.options
    cookies = cookie_summaries(analysis)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "consentkit scan", "version": _version()},
        "url": run.start_url,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "options": {
            "pages": options.pages,
            "delay": options.delay,
            "ignore_robots": options.ignore_robots,
            "gpc": options.gpc,
            "withdraw": options.withdraw,
            "policy": options.policy or None,
        },
        "status": analysis.status,
        "exit_code": analysis.exit_code,
        "site": _site(analysis),
        "summary": {
            "pages": len(run.pages),
            "violations": len(analysis.of("violation")),
            "not_verified": len(analysis.of("not_verified")),
            "warnings": len(analysis.of("warning")),
            "cookies": len(cookies),
            "undeclared_cookies": sum(1 for c in cookies if c.verdict.declared is False),
            "third_party_hosts": len(analysis.third_party_hosts),
        },
        "findings": [_finding(f) for f in analysis.findings],
        "cookies": [
            {
                "name": c.name,
                "domain": c.domain,
                "path": c.path,
                "party": "third" if c.third_party else "first",
                **_verdict(c.verdict),
                "set_by": c.set_by,
                "set_by_url": c.set_by_url,
                "lifetime_days": _days(c.lifetime_days),
                "visits": list(c.visits),
                "pages": list(c.pages),
            }
            for c in cookies
        ],
        "third_party_hosts": _hosts(analysis),
        "pages": [
            {
                "url": page.url,
                "error": page.error,
                "visits": [_visit(v, analysis) for v in page.visits],
            }
            for page in run.pages
        ],
        "skipped": [{"url": url, "reason": reason} for url, reason in run.skipped],
        "errors": list(run.errors),
    }


# -- terminal -----------------------------------------------------------------------------


def _plain(text: object) -> str:
    return _CONTROL_CHARS.sub("?", str(text))


def _lifetime(days: float | None) -> str:
    if days is None:
        return "session"
    if days < 1:
        return f"{days * 24:.0f} h"
    return f"{days:.0f} d"


@dataclass(frozen=True, slots=True)
class _Line:
    """Findings that say the same thing on several pages, shown once."""

    finding: Finding
    paths: tuple[str, ...]

    @property
    def severity(self) -> str:
        return self.finding.severity

    @property
    def message(self) -> str:
        return self.finding.message

    @property
    def where(self) -> str:
        parts = []
        if self.paths:
            shown = ", ".join(self.paths[:5])
            more = len(self.paths) - 5
            parts.append(shown + (f" and {more} more" if more > 0 else ""))
        if self.finding.visit:
            parts.append(self.finding.visit.replace("_", " "))
        return f" [{'; '.join(parts)}]" if parts else ""


def _lines(items: list[Finding]) -> list[_Line]:
    merged: dict[tuple[str, str, str], list[str]] = {}
    first: dict[tuple[str, str, str], Finding] = {}
    for finding in items:
        key = (finding.kind, finding.message, finding.visit)
        first.setdefault(key, finding)
        paths = merged.setdefault(key, [])
        if finding.page:
            path = urlsplit(finding.page).path or "/"
            if path not in paths:
                paths.append(path)
    return [_Line(first[key], tuple(paths)) for key, paths in merged.items()]


def _grouped(analysis: Analysis) -> Iterable[tuple[str, list[_Line]]]:
    for severity, title in _TITLES.items():
        items = analysis.of(severity)  # type: ignore[arg-type]
        if items:
            yield title, _lines(items)


def render_text(analysis: Analysis) -> str:
    """A terminal summary: status, findings by severity, then the cookie table."""
    run = analysis.run
    lines = [
        f"consentkit scan {_plain(run.start_url)}",
        f"{len(run.pages)} page(s) scanned; status: {_STATUS_TEXT[analysis.status]} "
        f"(exit {analysis.exit_code})",
    ]
    for title, items in _grouped(analysis):
        lines += ["", f"{title} ({len(items)}):"]
        lines += [f"  - {_plain(line.message)}{_plain(line.where)}" for line in items]
    cookies = cookie_summaries(analysis)
    if cookies:
        lines += ["", f"Cookies ({len(cookies)}):"]
        lines.append(f"  {'name':<24} {'category':<13} {'party':<6} {'lifetime':<9} set by")
        for c in cookies:
            lines.append(
                f"  {_plain(c.name)[:24]:<24} {c.verdict.category:<13} "
                f"{'third' if c.third_party else 'first':<6} {_lifetime(c.lifetime_days):<9} "
                f"{c.set_by} {_plain(c.set_by_url)}".rstrip()
            )
    for url, reason in run.skipped:
        lines.append(f"skipped {_plain(url)}: {_plain(reason)}")
    return "\n".join(lines)


# -- Markdown -----------------------------------------------------------------------------


def _md(text: object) -> str:
    flat = " ".join(_plain(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def render_markdown(analysis: Analysis) -> str:
    """A Markdown report: status, findings, cookies and third-party hosts."""
    run = analysis.run
    out = [
        f"# consentkit scan of {_md(run.start_url)}",
        "",
        f"**Status: {_STATUS_TEXT[analysis.status]}** (exit code {analysis.exit_code}); "
        f"{len(run.pages)} page(s), scanned {_md(_iso(run.started_at) or '')}.",
    ]
    for title, items in _grouped(analysis):
        out += ["", f"## {title} ({len(items)})", ""]
        out += [f"- {_md(line.message)} {_md(line.where)}" for line in items]
    cookies = cookie_summaries(analysis)
    if cookies:
        out += [
            "",
            f"## Cookies ({len(cookies)})",
            "",
            "| name | domain | category | declared | party | lifetime | set by | seen |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in cookies:
            declared = {True: "yes", False: "**no**", None: "-"}[c.verdict.declared]
            out.append(
                f"| {_md(c.name)} | {_md(c.domain)} | {c.verdict.category} | {declared} | "
                f"{'third' if c.third_party else 'first'} | {_lifetime(c.lifetime_days)} | "
                f"{c.set_by} {_md(c.set_by_url)} | {_md(', '.join(c.visits))} |"
            )
    return "\n".join(out) + "\n"


# -- HTML ---------------------------------------------------------------------------------


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("consentkit", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_html(analysis: Analysis) -> str:
    """A standalone, autoescaped HTML report."""
    return (
        _env()
        .get_template("scan_report.html")
        .render(
            run=analysis.run,
            status=_STATUS_TEXT[analysis.status],
            exit_code=analysis.exit_code,
            started=_iso(analysis.run.started_at) or "",
            groups=list(_grouped(analysis)),
            cookies=cookie_summaries(analysis),
            lifetime=_lifetime,
        )
    )
