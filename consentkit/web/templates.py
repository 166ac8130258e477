"""Where the web layer's templates and static assets come from.

One Jinja2 environment builder for the banner, the pages and the dashboard, so every
rendering has autoescaping on and fails loudly on a missing variable.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

__all__ = ["environment", "static_dir"]


def environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """An autoescaping environment over *loader* (searched first), then the package templates."""
    package_loader = jinja2.PackageLoader("consentkit", "templates")
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([loader, package_loader]) if loader else package_loader,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def static_dir() -> Path:
    """The folder holding ``consentkit.js``, ``consentkit.css`` and ``ck-head.js``.

    Installed wheels carry it inside the package (``consentkit/static``); a source
    checkout keeps it at the repository root (``static/``).
    """
    package = Path(__file__).resolve().parent.parent
    packaged = package / "static"
    if packaged.is_dir():
        return packaged
    return package.parent / "static"
