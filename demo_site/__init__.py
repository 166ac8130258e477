"""consentkit's demo site: ``python -m demo_site [--profile NAME]``."""

from __future__ import annotations

from .app import DEFAULT_PROFILE, PROFILES, create_app, create_providers_app

__all__ = ["DEFAULT_PROFILE", "PROFILES", "create_app", "create_providers_app"]
