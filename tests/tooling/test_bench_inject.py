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


def test_the_memory_bound_holds_for_consentkit_and_catches_a_buffering_layer() -> None:
    from typing import Any

    data = b"<!doctype html><html><body>" + b"<p>x</p>" * 80_000 + b"</body></html>"
    assert bench_inject.memory_row(data)["met"] == "yes"

    def buffering(app: bench_inject.ASGI) -> bench_inject.ASGI:
        # Holds the whole body until the app is done: memory grows with the page.
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            parts: list[bytes] = []

            async def keep(message: Any) -> None:
                if message["type"] == "http.response.start":
                    await send(message)
                    return
                parts.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"".join(parts)})

            await app(scope, receive, keep)

        return wrapped

    row = bench_inject.memory_row(data, buffering)
    assert row["met"] == "no", row


def test_the_cookie_size_rows_measure_a_cookie_granting_every_service() -> None:
    from consentkit import Policy
    from consentkit.decision import ConsentCodec

    rows = bench_inject.cookie_rows()
    assert [r["met"] for r in rows] == ["yes", "yes"]
    builtin, declared = (int(r["value"]) for r in rows)
    assert 0 < builtin < declared < 4096
    # The measured cookie really grants every service: it reads back that way.
    cookie = bench_inject.every_service_cookie()
    value = cookie.split("=", 1)[1]
    policy = Policy(revision=bench_inject.policy().revision)
    stored = ConsentCodec(bench_inject.SECRET, site=policy.site_id).loads(value)
    assert stored is not None
    assert stored.services_granted == set(policy.service_index.ids)


def test_injected_bytes_stay_within_the_targets() -> None:
    # Bytes, not time: a first visit gets the banner and head defaults only, a decided
    # visitor only the "Cookie settings" control; the preferences centre is fetched.
    assert bench_inject._injected(None) <= bench_inject.FIRST_VISIT_TARGET
    for cookie in (consent_cookie(), bench_inject.necessary_cookie()):
        assert bench_inject._injected(cookie) <= bench_inject.DECIDED_TARGET
