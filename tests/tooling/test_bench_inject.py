"""The injected-bytes and streaming-memory benchmark counts what it claims to count."""

from __future__ import annotations

from benchmarks import bench_inject
from benchmarks.apps.starlette_apps import consent_cookie


def test_injected_bytes_are_what_the_middleware_adds_to_a_plain_page() -> None:
    first = bench_inject._injected(None)
    decided = bench_inject._injected(consent_cookie())
    # Something is injected in both states (banner, or the "Cookie settings" control), and a
    # decided visitor never gets more than a first visit.
    assert first > 0
    assert 0 < decided <= first


def test_every_decided_state_is_read_as_decided() -> None:
    # Each decided visitor's cookie must be one the middleware accepts (signed for this
    # site): a rejected cookie would measure a first visit under a decided label.
    first = bench_inject._injected(None)
    for cookie in (consent_cookie(), bench_inject.necessary_cookie()):
        assert bench_inject._injected(cookie) < first


def test_a_streamed_page_leaves_before_the_app_finishes_writing() -> None:
    import asyncio

    data = b"<!doctype html><html><body>" + b"<p>x</p>" * 40_000 + b"</body></html>"
    assert asyncio.run(bench_inject._early_chunks(data)) > 0


def test_injected_bytes_stay_within_the_targets() -> None:
    # Bytes, not time: a first visit gets the banner and head defaults only, a decided
    # visitor only the "Cookie settings" control; the preferences centre is fetched.
    assert bench_inject._injected(None) <= bench_inject.FIRST_VISIT_TARGET
    for cookie in (consent_cookie(), bench_inject.necessary_cookie()):
        assert bench_inject._injected(cookie) <= bench_inject.DECIDED_TARGET
