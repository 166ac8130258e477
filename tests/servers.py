"""Real servers in child processes: uvicorn for ASGI apps, waitress for WSGI apps."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /_consent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(9).startswith(b"HTTP/1.")
    except OSError:
        return False


@contextmanager
def serve(kind: str, target: str, cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve *target* (``module:attr`` importable from *cwd*) with ``uvicorn`` or ``waitress``.

    Yields the base URL; the server's output is shown when it does not start.
    """
    port = free_port()
    if kind == "uvicorn":
        args = ["-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
        args += ["--log-level", "warning", "--no-access-log"]
    elif kind == "waitress":
        args = ["-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4", target]
    else:
        raise ValueError(kind)
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join([str(cwd), str(REPO)])
    log = cwd / f"{kind}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
