"""The web layer: the ASGI middleware and what it is made of.

``middleware`` wires the pieces together; ``request`` reads a request once;
``responder`` enforces consent on each response (``encodings`` and ``headers``
help it); ``recorder`` signs consent cookies and stores receipts for both the
``endpoints`` (and ``admin``) and the responder; ``banner`` renders what the
visitor sees (with ``theme``, ``i18n`` and ``templates``); ``dashboard`` draws
the admin view.
"""

from __future__ import annotations

from .banner import Banner, BannerContext
from .middleware import ConsentMiddleware
from .settings import Settings

__all__ = ["Banner", "BannerContext", "ConsentMiddleware", "Settings"]
