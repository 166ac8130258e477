"""The web layer: a framework-neutral core and the ASGI middleware on top of it.

``core`` builds the pieces and decides each request (options in ``settings``); ``request``
reads a request once (an ASGI scope or a WSGI environ); ``editor`` decides what each
response becomes (headers, HTML body rewriting), helped by ``encodings`` (content codecs)
and ``headers``; ``recorder`` signs consent cookies and stores receipts for both the
``endpoints`` (with ``admin``), which answer with a neutral ``responses.Reply``, and the
editor. ``middleware`` and ``responder`` are the ASGI door; ``consentkit.wsgi`` is the
WSGI one. ``banner`` renders what the visitor sees (with ``theme``, ``i18n`` and
``templates``); ``dashboard`` draws the admin view of the store and the ``unclassified``
report. ``paths`` holds the one safe return-path rule.
"""

from __future__ import annotations

from .banner import Banner, BannerContext
from .middleware import ConsentMiddleware
from .settings import Settings

__all__ = ["Banner", "BannerContext", "ConsentMiddleware", "Settings"]
