"""A site served by a real uvicorn process, for crash, outage and HTTP throughput runs.

``python -m uvicorn tests.crash_app:app_from_env --factory`` builds the app from
``CONSENTKIT_TEST_STORE`` (a store URL) and, optionally, ``CONSENTKIT_TEST_SPOOL``
(the spool file; SQLite stores default to one beside the database) and
``CONSENTKIT_TEST_OPTIONS`` (more middleware options, as a JSON object).
:class:`ServerProcess` starts, kills and restarts such a process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentkit import ConsentMiddleware, CookieRule, Policy

SECRET = "crash-secret-key-0123456789abcdef"
RECEIPT_KEY = "crash-receipt-key-fedcba9876543210"
ADMIN_TOKEN = "crash-admin-token-0123456789"
STORE_ENV = "CONSENTKIT_TEST_STORE"
SPOOL_ENV = "CONSENTKIT_TEST_SPOOL"
OPTIONS_ENV = "CONSENTKIT_TEST_OPTIONS"
REPO = Path(__file__).resolve().parents[1]


async def home(request: Request) -> Response:
    return HTMLResponse("<html><head><title>t</title></head><body><p>hi</p></body></html>")


def create_app(store_url: str, spool_path: str | None = None, **options: Any) -> Starlette:
    """The test site with receipts recorded in *store_url*; *options* go to the middleware."""
    policy = Policy(
        revision="2026-11",
        cookies=(CookieRule("sessionid", "necessary", provider="This site", purpose="Login"),),
    )
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(
        ConsentMiddleware,
        policy=policy,
        secret_key=SECRET,
        store=store_url,
        receipt_key=RECEIPT_KEY,
        receipt_rate_limit=0,  # one client sends the whole volley
        spool_path=spool_path,
        admin_token=ADMIN_TOKEN,
        **options,
    )
    return app


def app_from_env() -> Starlette:
    """The app factory uvicorn calls (``--factory``)."""
    store_url = os.environ.get(STORE_ENV)
    if not store_url:
        raise RuntimeError(f"set {STORE_ENV} to a receipt store URL")
    options = json.loads(os.environ.get(OPTIONS_ENV) or "{}")
    return create_app(store_url, os.environ.get(SPOOL_ENV) or None, **options)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One uvicorn process serving :func:`app_from_env` on 127.0.0.1.

    The server's stderr goes to *log_path*, so a failing test can show it. *workers* above
    one runs that many uvicorn worker processes on the one port; *options* are more
    middleware options (JSON-serialisable).
    """

    def __init__(
        self,
        store_url: str,
        log_path: Path,
        spool_path: str | None = None,
        *,
        workers: int = 1,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.store_url = store_url
        self.spool_path = spool_path
        self.workers = workers
        self.options = options or {}
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the process and wait until it answers; raise ``RuntimeError`` if it does not."""
        self.port = free_port()
        env = dict(
            os.environ,
            **{
                STORE_ENV: self.store_url,
                SPOOL_ENV: self.spool_path or "",
                OPTIONS_ENV: json.dumps(self.options),
            },
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self._log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.crash_app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "off",
        ]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=self._log
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        request = "GET /_consent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(request.encode("ascii"))
                return sock.recv(12).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        """Ask the process to exit (SIGTERM), killing it if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""
