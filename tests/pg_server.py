"""A throwaway PostgreSQL cluster for tests and benchmarks.

Uses the server binaries (``initdb``, ``pg_ctl``) from PATH or Debian's
``/usr/lib/postgresql/<version>/bin``; listens on 127.0.0.1 on a free port with trust
auth. As root, the cluster runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

SKIP_ENV = "CONSENTKIT_SKIP_POSTGRES"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the cluster would not start."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, newest version first."""
    on_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(on_path):
        return Path(str(on_path[0])).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")],
        reverse=True,
    )
    for initdb in candidates:
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgServer:
    """One cluster in a temporary directory; :meth:`start`, :meth:`new_database`, :meth:`stop`."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self.port = 0
        self.root: Path | None = None
        self._owner: pwd.struct_passwd | None = None
        self._bindir: Path | None = None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self._bindir is not None
        command = [str(self._bindir / args[0]), *args[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PgServer:
        """Create and start the cluster; raise :class:`PostgresUnavailable` on failure."""
        self._bindir = find_bindir()
        if self._bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql "
                f"or set {SKIP_ENV}=1 to skip the PostgreSQL tests"
            )
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root but no 'postgres' user") from None
        self.root = Path(tempfile.mkdtemp(prefix="consentkit-pg-"))
        data = self.root / "data"
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.port = _free_port()
        try:
            self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
            self.pg_ctl("start")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log = self._log_tail()
            self._cleanup()
            detail = getattr(exc, "stderr", "") or ""
            raise PostgresUnavailable(f"could not start PostgreSQL: {detail}\n{log}") from exc
        return self

    def _log_tail(self) -> str:
        if self.root is None:
            return ""
        try:
            return (self.root / "log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    @property
    def admin_url(self) -> str:
        """URL of the ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def pg_ctl(self, action: str) -> None:
        """Run ``pg_ctl stop`` or ``pg_ctl start`` on the cluster (for outage tests)."""
        assert self.root is not None
        data = str(self.root / "data")
        if action == "stop":
            self._run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
            return
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=60"
        )
        self._run("pg_ctl", "-D", data, "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server and delete its files."""
        if self.root is not None and (self.root / "data").exists():
            self._run(
                "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop", check=False
            )
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


_shared: PgServer | None = None
_shared_error: str | None = None
_lock = threading.Lock()


def shared_server() -> PgServer:
    """The process-wide test cluster, started on first use and stopped at exit."""
    global _shared, _shared_error
    with _lock:
        if _shared is None:
            if _shared_error is not None:
                raise PostgresUnavailable(_shared_error)
            try:
                _shared = PgServer().start()
            except PostgresUnavailable as exc:
                _shared_error = str(exc)
                raise
            atexit.register(_shared.stop)
        return _shared


def skip_requested() -> bool:
    """Whether the environment asks to skip the PostgreSQL tests."""
    return os.environ.get(SKIP_ENV, "") == "1"
