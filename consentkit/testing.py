"""Helpers for testing your own app behind consentkit: give a test client a consent state.

A test should not click through the banner or write receipts to get "performance
granted": :func:`consent_cookie` signs the very cookie the consent ``POST`` would have
set (same codec, same policy fingerprints), so the middleware treats the client as a
visitor who made that choice::

    name, value = consent_cookie(middleware, granted=["performance"])
    client.cookies.set(name, value)

:func:`grant` does that for a Starlette/httpx ``TestClient``, a Flask or Werkzeug test
client and Django's test ``Client``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from .categories import CATEGORIES, Action, Category, normalize_category
from .decision import ConsentCodec, choice, consent_cookie_name
from .errors import did_you_mean
from .policy import Policy
from .web.core import ConsentCore

__all__ = ["consent_cookie", "grant"]


def _categories(granted: Iterable[str]) -> frozenset[Category]:
    if isinstance(granted, str):
        granted = [granted]
    found: set[Category] = set()
    for name in granted:
        category = normalize_category(name)
        if category is None:
            hint = did_you_mean(name, CATEGORIES, or_list="use ")
            raise ValueError(f"unknown category {name!r}: {hint}")
        found.add(category)
    return frozenset(found)


def consent_cookie(
    source: ConsentCore | Policy | str | PathLike[str],
    secret_key: str | bytes | Sequence[str | bytes] | None = None,
    *,
    granted: Iterable[str] = (),
    cookie_name: str | None = None,
    action: Action = "save",
    secure: bool = False,
    services: Iterable[str] = (),
) -> tuple[str, str]:
    """``(cookie name, signed value)`` of a visitor who granted *granted* (necessary implied).

    Args:
        source: the middleware (ASGI or WSGI; its key and cookie name are used), the
            :class:`~consentkit.policy.Policy` or the path of its TOML file (then
            *secret_key* is required).
        secret_key: the middleware's ``secret_key`` when *source* is a policy.
        granted: category keys or synonyms; an unknown name raises ``ValueError``.
        cookie_name: the middleware's ``cookie_name`` when *source* is a policy and it is
            not the default.
        action: the action recorded in the cookie (``accept_all``, ``save``...).
        secure: the cookie is for HTTPS requests: without a configured name that is
            ``__Host-consentkit`` rather than ``consentkit``.
        services: service ids granted on their own (``"youtube"``), as the consent
            ``POST``'s ``services`` field; an unknown id raises ``ValueError``.

    No receipt is written: this is for tests of your own pages, not of consentkit.
    """
    categories = _categories(granted)
    if isinstance(source, str | PathLike):
        source = Policy.from_toml(Path(source))
    if isinstance(source, ConsentCore):
        policy, codec = source.policy, source.codec
        name = cookie_name or source.settings.cookie_name_for(secure)
    elif isinstance(source, Policy):
        if not secret_key:
            raise ValueError("consent_cookie(policy, ...) needs the middleware's secret_key")
        policy, codec = source, ConsentCodec(secret_key, site=source.site_id)
        name = cookie_name or consent_cookie_name(None, secure=secure)
    else:
        raise TypeError(
            f"consent_cookie() takes the middleware or a Policy, not {type(source).__name__}"
        )
    wanted = list(services)
    unknown = [i for i in wanted if policy.service_index.get(i) is None]
    if unknown:
        raise ValueError(
            f"unknown service {unknown[0]!r}: {policy.service_index.unknown_id_hint(unknown[0])}"
        )
    stored = choice(policy, categories, action=action, services_granted=wanted)
    return name, codec.dumps(stored)


def grant(
    client: Any,
    source: ConsentCore | Policy | str | PathLike[str],
    secret_key: str | bytes | Sequence[str | bytes] | None = None,
    *,
    granted: Iterable[str] = (),
    cookie_name: str | None = None,
    domain: str | None = None,
    services: Iterable[str] = (),
) -> None:
    """Put the consent cookie of :func:`consent_cookie` into a test *client*'s cookie jar.

    Understands ``starlette.testclient.TestClient`` and ``httpx`` clients
    (``client.cookies.set``), Flask/Werkzeug test clients (``client.set_cookie``) and
    Django's test ``Client`` (``client.cookies[name] = value``).
    """
    # A client whose requests are HTTPS sends (and needs) the __Host- prefixed name.
    secure = str(getattr(client, "base_url", "")).startswith("https:")
    name, value = consent_cookie(
        source,
        secret_key,
        granted=granted,
        cookie_name=cookie_name,
        secure=secure,
        services=services,
    )
    cookies = getattr(client, "cookies", None)
    if hasattr(client, "set_cookie"):  # Flask / Werkzeug
        client.set_cookie(name, value, domain=domain or "localhost")
    elif cookies is not None and hasattr(cookies, "set"):  # httpx, Starlette TestClient
        if domain is None:
            cookies.set(name, value)
        else:
            cookies.set(name, value, domain=domain)
    elif cookies is not None:  # Django's SimpleCookie jar
        cookies[name] = value
    else:
        raise TypeError(f"grant() does not know how to set a cookie on {type(client).__name__}")
