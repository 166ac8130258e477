"""consentkit: keep a site's cookie-consent promises on the server.

Typical use::

    from consentkit import ConsentMiddleware, Policy

    app.add_middleware(
        ConsentMiddleware,
        policy=Policy.from_toml("consent.toml"),
        secret_key=os.environ["CONSENTKIT_SECRET"],
        store="sqlite:///consent.db",
        receipt_key=os.environ["CONSENTKIT_RECEIPT_KEY"],
    )

WSGI apps (Flask, Django under WSGI) use :class:`ConsentWSGIMiddleware` with the same
options; ``docs/integrations.md`` has a recipe per framework.
"""

from __future__ import annotations

from .categories import CATEGORIES, Category
from .decision import ConsentCodec, Decision, StoredConsent
from .errors import ChainError, ConfigError, ConsentKitError, MissingExtraError, StoreError
from .jurisdiction import JurisdictionResolver
from .policy import CategoryText, Controller, Policy
from .receipts import Receipt, ReceiptDraft
from .registry import Classification, Registry
from .rewriter import HTMLRewriter, RewritePlan
from .rules import CookieRule
from .services import Service
from .stores import ReceiptStore, open_store
from .trackers import TrackerIndex
from .web import Banner, BannerContext, ConsentMiddleware, Settings
from .wsgi import ConsentWSGIMiddleware

__all__ = [
    "CATEGORIES",
    "Banner",
    "BannerContext",
    "Category",
    "CategoryText",
    "ChainError",
    "Classification",
    "ConfigError",
    "ConsentCodec",
    "ConsentKitError",
    "ConsentMiddleware",
    "ConsentWSGIMiddleware",
    "Controller",
    "CookieRule",
    "Decision",
    "HTMLRewriter",
    "JurisdictionResolver",
    "MissingExtraError",
    "Policy",
    "Receipt",
    "ReceiptDraft",
    "ReceiptStore",
    "Registry",
    "RewritePlan",
    "Service",
    "Settings",
    "StoreError",
    "StoredConsent",
    "TrackerIndex",
    "open_store",
]

__version__ = "0.1.0"
