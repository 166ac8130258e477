"""What consentkit adds to a page, and what a streamed page costs in memory.

Counts, not times, so one round is exact:

* injected bytes per visitor state (first visit, accepted all, necessary only): the body
  consentkit answers for a small page with no trackers, minus the page the app wrote, so
  every added byte is markup consentkit injected (banner, head defaults, the "Cookie
  settings" control);
* the consent cookie's size (``name=value`` bytes, as every request carries it) when every
  known service is granted on its own against a refused category, the largest record a
  choice can write: for the built-in services, and with the most declared services a
  policy may have (64, with long ids);
* peak memory (``tracemalloc``, after one untraced warm-up request) while the 3 MB page
  streams through consentkit and through the naive buffering blocker, in process, for a
  first visit; and how many body chunks
  had left consentkit when the app had written half of the page (0 would mean it holds the
  page back).
"""

from __future__ import annotations

import asyncio
import re
import tracemalloc
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from benchmarks.apps import SECRET, STREAM_CHUNK, asgi_scope, body
from benchmarks.apps.starlette_apps import COOKIE_NAME, consent_cookie, obvious_app, policy
from benchmarks.report import run_alone
from consentkit import ConsentMiddleware, Policy
from consentkit.categories import CATEGORIES
from consentkit.decision import ConsentCodec, StoredConsent, choice
from consentkit.services import MAX_DECLARED_SERVICES, Service

Message = MutableMapping[str, Any]
ASGI = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

PLAIN_PAGE: Final = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plain</title>'
    b"</head><body><main><h1>Plain</h1><p>Nothing to block here.</p></main></body></html>"
)
CHUNKS_HELD: Final = 5
"""Chunk-sized objects alive at once while a chunk is rewritten: see :func:`memory_row`."""
_CONSTRUCT: Final = re.compile(rb"<script[^>]*>.*?</script\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
FIRST_VISIT_TARGET: Final = 4096
DECIDED_TARGET: Final = 1024
COOKIE_TARGET: Final = 2048
"""Half the 4,096 bytes a browser keeps per cookie: the consent cookie stays well under."""


def every_service_cookie(declared: int = 0) -> str:
    """``name=value`` of the consent cookie granting every known service on its own."""
    services = tuple(
        Service(f"declared-service-{i:02d}-with-a-long-id", f"S{i}", "functionality")
        for i in range(declared)
    )
    pol = Policy(revision=policy().revision, services=services)
    stored = choice(
        pol,
        frozenset(),
        action="save",
        consent_id="bench-0123456789abcdef",
        services_granted=set(pol.service_index.ids),
    )
    return f"{COOKIE_NAME}={ConsentCodec(SECRET, site=pol.site_id).dumps(stored)}"


def cookie_rows() -> list[dict[str, Any]]:
    """The consent cookie's size with every service granted, built-in and declared."""
    rows = []
    for label, declared in (
        ("every built-in service granted", 0),
        (f"every service granted, {MAX_DECLARED_SERVICES} declared", MAX_DECLARED_SERVICES),
    ):
        size = len(every_service_cookie(declared).encode("latin-1"))
        rows.append(
            {
                "measure": f"consent cookie bytes, {label}",
                "value": size,
                "target": f"<= {COOKIE_TARGET:,} B",
                "met": "yes" if size <= COOKIE_TARGET else "no",
            }
        )
    return rows


def necessary_cookie() -> str:
    """A ``Cookie`` header carrying a signed "necessary only" decision."""
    pol = policy()
    stored = StoredConsent(
        consent_id="bench-0123456789abcdef",
        granted=frozenset({"necessary"}),
        refused=frozenset(CATEGORIES) - {"necessary"},
        revision=pol.revision,
        decided_at=datetime.now(UTC),
        fingerprints={c: pol.fingerprint(c) for c in CATEGORIES},
        action="reject_all",
    )
    return f"{COOKIE_NAME}={ConsentCodec(SECRET, site=pol.site_id).dumps(stored)}"


def _streaming_app(data: bytes, written: list[int]) -> ASGI:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        for start in range(0, len(data), STREAM_CHUNK):
            written.append(start)
            await send(
                {
                    "type": "http.response.body",
                    "body": data[start : start + STREAM_CHUNK],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _call(app: ASGI, path: str, cookie: str | None, on_body: Callable[[bytes], None]) -> int:
    status = 0

    requested = False
    never = asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if requested:  # the client stays connected until the response ends
            await never.wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            on_body(bytes(message.get("body", b"")))

    await app(asgi_scope(path, cookie), receive, send)
    return status


def _injected(cookie: str | None) -> int:
    chunks: list[bytes] = []
    app = ConsentMiddleware(_streaming_app(PLAIN_PAGE, []), policy=policy(), secret_key=SECRET)
    status = asyncio.run(_call(app, "/", cookie, chunks.append))
    if status != 200:
        raise SystemExit(f"plain page answered {status}")
    return len(b"".join(chunks)) - len(PLAIN_PAGE)


def _stream_memory(app: ASGI, path: str) -> tuple[int, int]:
    """Peak traced bytes while *app* streams *path*, and how many body chunks had left it
    when the app had written half of the page (or the chunk count, for an app that does not
    expose its writes)."""
    sent: list[int] = []
    asyncio.run(_call(app, path, None, lambda b: None))  # imports and caches happen once
    tracemalloc.start()
    try:
        asyncio.run(_call(app, path, None, lambda b: sent.append(len(b))))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(sent)


async def _early_chunks(data: bytes) -> int:
    """Body messages consentkit had sent when the app had written half of *data*."""
    written: list[int] = []
    seen_at_half: list[int] = []
    sent = 0
    app = ConsentMiddleware(_streaming_app(data, written), policy=policy(), secret_key=SECRET)

    def on_body(chunk: bytes) -> None:
        nonlocal sent
        if chunk:
            sent += 1
        if not seen_at_half and written and written[-1] >= len(data) // 2:
            seen_at_half.append(sent)

    await _call(app, "/stream3m", None, on_body)
    return seen_at_half[0] if seen_at_half else 0


def longest_construct(data: bytes) -> int:
    """Bytes of the longest tag, comment or script element of *data*: the most the rewriter
    may have to hold across a chunk boundary."""
    return max((len(m[0]) for m in _CONSTRUCT.finditer(data)), default=0)


def _consentkit(app: ASGI) -> ASGI:
    return ConsentMiddleware(app, policy=policy(), secret_key=SECRET)


def memory_row(data: bytes, wrap: Callable[[ASGI], ASGI] = _consentkit) -> dict[str, Any]:
    """Peak memory streaming *data* through consentkit (*wrap*), judged against its bound.

    The bound: the bare app's own peak (its chunk and the harness), plus at most
    ``CHUNKS_HELD`` chunks (the chunk received, the rewriter's buffer and its lowered copy
    that the patterns search, its output pieces and their join) plus the longest construct
    the rewriter may hold; and no growth with the
    page's length (a quarter of the page peaks within one chunk of the whole page).
    """
    peak, chunks = _stream_memory(wrap(_streaming_app(data, [])), "/stream3m")
    quarter = data[: len(data) // 4]
    peak_quarter, _ = _stream_memory(wrap(_streaming_app(quarter, [])), "/stream3m")
    bare_peak, _ = _stream_memory(_streaming_app(data, []), "/stream3m")
    naive_peak, _ = _stream_memory(obvious_app(), "/stream3m")
    longest = longest_construct(data)
    bound = bare_peak + CHUNKS_HELD * STREAM_CHUNK + longest
    met = peak <= bound and peak - peak_quarter < STREAM_CHUNK
    return {
        "measure": "peak memory (bytes), 3 MB streamed, consentkit",
        "value": peak,
        "target": f"<= bare app's peak + {CHUNKS_HELD} chunks ({STREAM_CHUNK:,} B) + longest "
        f"construct = {bound:,} B; a quarter of the page within one chunk of it",
        "met": "yes" if met else "no",
        "note": f"{chunks} chunks out; bare app peak {bare_peak:,} B; a quarter of the page "
        f"{peak_quarter:,} B; longest construct {longest:,} B; naive blocker peak "
        f"{naive_peak:,} B",
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Injected bytes per visitor state, then peak memory of the streamed page."""
    rows: list[dict[str, Any]] = []
    states = {
        "first visit": (None, FIRST_VISIT_TARGET),
        "accepted all": (consent_cookie(), DECIDED_TARGET),
        "necessary only": (necessary_cookie(), DECIDED_TARGET),
    }
    for state, (cookie, target) in states.items():
        injected = _injected(cookie)
        rows.append(
            {
                "measure": f"injected bytes, {state}",
                "value": injected,
                "target": f"<= {target:,} B",
                "met": "yes" if injected <= target else "no",
            }
        )
    rows.extend(cookie_rows())
    data = body("/stream3m")
    rows.append(memory_row(data))
    early = asyncio.run(_early_chunks(data))
    rows.append(
        {
            "measure": "body chunks sent before the app wrote half of the 3 MB page",
            "value": early,
            "target": "> 0 (first chunk not held back)",
            "met": "yes" if early > 0 else "no",
        }
    )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: this topic alone, printed as ``results.md`` shows it."""
    run_alone("inject", __doc__, run, "the same counts (one round is exact)", argv)


if __name__ == "__main__":
    main()
