"""A receipt answered over HTTP survives the server being killed, and an outage loses nothing.

Each test runs the site in a real uvicorn process (``tests/crash_app.py``), fires
concurrent consent posts at it from an async HTTP client, SIGKILLs it mid-flight, restarts
it on the same store and checks the store: every post answered 2xx has its receipt, and
the chain verifies (with the public ``consentkit verify`` command too).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from consentkit.cli import main as cli_main
from consentkit.decision import ConsentCodec
from consentkit.stores import ReceiptStore, open_store, verify_store

from ..crash_app import RECEIPT_KEY, SECRET, ServerProcess
from ..pg_server import PgServer

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - either client will do
    import httpx  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(240)

KEYS = [RECEIPT_KEY]
TOTAL_POSTS = 300
CONNECTIONS = 20
KILL_AFTER = 120


def _body(i: int) -> dict[str, Any]:
    action = ("accept_all", "reject_all", "save", "withdraw")[i % 4]
    body: dict[str, Any] = {"action": action, "return_to": f"/page/{i}?ref=x"}
    if action == "save":
        body["categories"] = ["performance"] if i % 8 == 2 else ["functionality", "targeting"]
    return body


@dataclass
class Volley:
    """What a burst of posts got back."""

    answered: list[str] = field(default_factory=list)  # receipt ids of 2xx answers
    statuses: list[int] = field(default_factory=list)
    failed: int = 0  # posts that got no answer (connection refused, reset, timeout)
    attempted: int = 0


async def volley(
    url: str,
    *,
    total: int = TOTAL_POSTS,
    connections: int = CONNECTIONS,
    kill_after: int | None = None,
    kill: Callable[[], None] | None = None,
) -> Volley:
    """*total* posts over *connections* visitors (one cookie jar each), killing mid-way."""
    result = Volley()
    numbers = itertools.count()

    async def visitor() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            while (i := next(numbers)) < total:
                result.attempted += 1
                try:
                    response = await client.post("/_consent", json=_body(i))
                except httpx.TransportError:
                    result.failed += 1
                    return
                result.statuses.append(response.status_code)
                if response.is_success:
                    result.answered.append(response.json()["receipt_id"])
                    if kill is not None and len(result.answered) == kill_after:
                        kill()

    await asyncio.gather(*(visitor() for _ in range(connections)))
    return result


def stored_ids(store: ReceiptStore) -> list[str]:
    return [r.receipt_id for r in store.iter_receipts()]


def cli_verify(url: str) -> int:
    return cli_main(["--store", url, "--receipt-key", RECEIPT_KEY, "verify"])


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Every server a test starts is stopped afterwards, even when the test fails."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def start_server(
    servers: list[ServerProcess], url: str, tmp_path: Path, spool: Path | None = None
) -> ServerProcess:
    server = ServerProcess(url, tmp_path / "server.log", str(spool) if spool else None)
    servers.append(server)
    return server.start()


async def test_sigkill_mid_volley_loses_no_answered_receipt(
    store_url: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    spool = tmp_path / "spool.jsonl"
    server = start_server(servers, store_url, tmp_path, spool)
    result = await volley(server.url, kill_after=KILL_AFTER, kill=server.kill)

    assert server.proc is not None
    assert server.proc.returncode == -9, server.log_tail()
    assert len(result.answered) >= KILL_AFTER
    assert result.failed > 0, "the kill should have cut some posts off"
    assert set(result.statuses) == {200}
    assert None not in result.answered, "a healthy store must not spool"
    assert len(set(result.answered)) == len(result.answered)

    restarted = start_server(servers, store_url, tmp_path, spool)
    async with httpx.AsyncClient(base_url=restarted.url, timeout=30.0) as client:
        after = await client.post("/_consent", json={"action": "accept_all"})
    assert after.status_code == 200
    after_id = after.json()["receipt_id"]
    assert after_id is not None
    restarted.stop()

    store = open_store(store_url, receipt_keys=KEYS)
    try:
        ids = stored_ids(store)
        missing = set(result.answered) - set(ids)
        assert not missing, f"{len(missing)} answered receipts lost\n{server.log_tail()}"
        # Posts cut off by the kill may or may not have committed; nothing else appears.
        assert len(ids) <= result.attempted + 1
        assert len(ids) == len(set(ids))
        assert ids[-1] == after_id
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()
    assert not spool.exists() or spool.read_bytes() == b""
    assert cli_verify(store_url) == 0


def spooled_drafts(spool: Path) -> list[dict[str, Any]]:
    if not spool.exists():
        return []
    return [json.loads(line)["draft"] for line in spool.read_text().splitlines() if line]


async def test_database_outage_spools_then_replays_in_order(
    own_cluster: PgServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    url = own_cluster.new_database()
    spool = tmp_path / "spool.jsonl"
    server = start_server(servers, url, tmp_path, spool)
    codec = ConsentCodec(SECRET)
    posted: list[tuple[str, str]] = []  # (consent id, action) in the order answered

    async with httpx.AsyncClient(base_url=server.url, timeout=60.0) as client:

        async def post(action: str) -> httpx.Response:
            response = await client.post("/_consent", json={"action": action})
            assert response.status_code == 200, server.log_tail()
            stored = codec.loads(client.cookies.get("consentkit"))
            assert stored is not None
            assert stored.action == action
            posted.append((stored.consent_id, action))
            return response

        first = await post("accept_all")
        assert first.json()["receipt_id"] is not None

        own_cluster.pg_ctl("stop")
        down = await post("reject_all")
        assert down.json()["receipt_id"] is None
        assert "consentkit=" in down.headers["set-cookie"]
        assert down.json()["decision"]["granted"] == ["necessary"]
        status = (await client.get("/_consent")).json()["decision"]
        assert status["decided"] is True
        assert status["granted"] == ["necessary"]
        drafts = spooled_drafts(spool)
        assert [(d["consent_id"], d["action"]) for d in drafts] == posted[1:]

        own_cluster.pg_ctl("start")
        # The pool may need a moment to reconnect, and after a failure the spool tries the
        # database again only every few seconds: posts until then are spooled too.
        recorded = None
        for _ in range(60):
            recorded = (await post("save")).json()["receipt_id"]
            if recorded is not None:
                break
            await asyncio.sleep(0.25)
        assert recorded is not None, server.log_tail()
        assert spooled_drafts(spool) == []
        receipt = (await client.get("/_consent/receipt")).json()
        assert receipt["consentReceiptID"] == recorded

    store = open_store(url, receipt_keys=KEYS)
    try:
        receipts = list(store.iter_receipts())
        assert [(r.consent_id, r.action) for r in receipts] == posted
        assert [r.seq for r in receipts] == list(range(1, len(posted) + 1))
        assert verify_store(store, keys=KEYS).ok
    finally:
        store.close()
    assert cli_verify(url) == 0
