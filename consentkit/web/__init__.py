"""The web layer: the ASGI middleware and what it is made of.

``middleware`` wires the pieces together (options in ``settings``); ``request`` reads
a request once; ``responder`` enforces consent on each response, helped by
``encodings`` (content codecs) and ``headers``; ``recorder`` signs consent cookies and
stores receipts for both the ``endpoints`` (with ``admin``) and the responder;
``banner`` renders what the visitor sees (with ``theme``, ``i18n`` and ``templates``);
``dashboard`` draws the admin view of the store and the ``unclassified`` report.
``paths`` holds the one safe return-path rule, ``responses`` the JSON error answers.
"""

from __future__ import annotations

from .banner import Banner, BannerContext
from .middleware import ConsentMiddleware
from .settings import Settings

__all__ = ["Banner", "BannerContext", "ConsentMiddleware", "Settings"]
