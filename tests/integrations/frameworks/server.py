"""Serve an app module with uvicorn in a subprocess and read raw HTTP/1.1 replies."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_process(target: str, *, http: str = "h11") -> Iterator[int]:
    """Run ``uvicorn target`` on 127.0.0.1; yields the port once it accepts connections."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--http", http]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--lifespan", "off"]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


@dataclass
class RawReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def names(self) -> list[str]:
        return [name.lower() for name, _ in self.headers]

    def get(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def raw_get(port: int, path: str, headers: str = "") -> RawReply:
    """One GET over a plain socket: every header line exactly as the server sent it."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        raise AssertionError(f"empty reply for {path}")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    parsed = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    reply = RawReply(status, parsed, body)
    if "chunked" in ",".join(reply.get("transfer-encoding")).lower():
        reply.body = _dechunk(body)
    return reply
