"""Builders and response readers shared by the test modules (one copy each)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consentkit import CookieRule, Policy
from consentkit.cookies import parse_set_cookie

SHOP_RULES = (
    CookieRule("sessionid", "necessary", provider="Shop", purpose="Login"),
    CookieRule("_ga", "performance", provider="Google Analytics", purpose="Visits"),
    CookieRule("lang", "functionality", provider="Shop", purpose="Language"),
    CookieRule("_fbp", "targeting", provider="Meta", purpose="Ads"),
)
"""One declared cookie per category, as a small shop would have."""
MATOMO_RULE = CookieRule("_pk_id", "performance", provider="Matomo", purpose="Visits")
GOOGLE_ADS_RULE = CookieRule("_gcl_au", "targeting", provider="Google Ads", purpose="Ads")


def shop_policy(*extra_rules: CookieRule, **options: Any) -> Policy:
    """A policy with :data:`SHOP_RULES` (plus *extra_rules*), no knowledge base."""
    options.setdefault("knowledge_base", False)
    return Policy(cookies=(*SHOP_RULES, *extra_rules), **options)


def set_cookie_names(response: Any, *, deletions: bool = False) -> list[str]:
    """Names of the cookies a response sets, in header order.

    Lines that delete a cookie (expired at once) count only with *deletions*. Every
    line must parse: the middleware never sends one a browser would ignore.
    """
    now = datetime.now(UTC)
    names = []
    for line in response.headers.get_list("set-cookie"):
        parsed = parse_set_cookie(line)
        assert parsed is not None, line
        if deletions or not parsed.is_deletion(now):
            names.append(parsed.name)
    return names


def deleted_cookie_names(response: Any) -> set[str]:
    """Names of the cookies a response deletes (``Max-Age=0`` or an expiry in the past)."""
    now = datetime.now(UTC)
    parsed = [parse_set_cookie(line) for line in response.headers.get_list("set-cookie")]
    assert None not in parsed
    return {c.name for c in parsed if c is not None and c.is_deletion(now)}


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""Conformance vectors (html5lib-tests, http-state, WPT cookies) kept beside the repository."""
SKIP_VECTORS = "CONSENTKIT_SKIP_VECTORS"


def require_shared_data(*paths: Path) -> None:
    """Fail, naming the missing folder, unless every path exists.

    With ``CONSENTKIT_SKIP_VECTORS=1`` the test is skipped instead, saying why: a
    checkout without the vectors must ask for that, never pass silently.
    """
    for path in paths:
        if path.exists():
            continue
        if os.environ.get(SKIP_VECTORS) == "1":
            pytest.skip(f"{SKIP_VECTORS}=1: conformance data {path} not used")
        pytest.fail(
            f"conformance data missing: {path} (expected in {SHARED_DATA}); "
            f"provide it, or set {SKIP_VECTORS}=1 to skip these tests",
            pytrace=False,
        )
