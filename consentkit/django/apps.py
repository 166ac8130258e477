"""The Django app config: ``INSTALLED_APPS += ["consentkit.django"]``."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["ConsentKitConfig"]


class ConsentKitConfig(AppConfig):
    """Registers the ``consentkit`` template tag library (``{% load consentkit %}``)."""

    name = "consentkit.django"
    label = "consentkit"
    verbose_name = "consentkit"
