"""Run the demo: ``python -m demo_site [--profile NAME] [--port 8000] [--providers-port 8001]``.

Starts two servers in one event loop: the site, and the stand-in third-party providers on
a second origin. Ctrl-C stops both cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import uvicorn

from .app import DEFAULT_PROFILE, PROFILES, create_app, create_providers_app

VAR_DIR: Final = Path(__file__).resolve().parent / "var"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`_serve`.

    uvicorn's own handlers re-raise the signal once it stops, which would end the
    demo with a traceback; two servers in one loop need one shared handler anyway.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo_site",
        description="consentkit's demo site: a small company website in one of five profiles, "
        "plus local stand-in third-party providers on a second port.",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"which company the site plays (default: {DEFAULT_PROFILE})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port of the site")
    parser.add_argument(
        "--providers-port", type=int, default=8001, help="port of the stand-in providers"
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite file of consent receipts (default: demo_site/var/consent-<profile>.db)",
    )
    return parser.parse_args(argv)


def demo_keys(var_dir: Path) -> tuple[str, str, str]:
    """The cookie secret, receipt key and admin token: from the environment, else demo keys.

    Generating and saving keys is a convenience of the demo only: the library itself has
    no random fallback and refuses to start without keys, so that a restart never
    invalidates every visitor's consent and every receipt seal.
    """
    path = var_dir / "keys.json"
    saved: dict[str, str] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict):
            saved = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str) and v}
    wanted = {
        "secret": "CONSENTKIT_SECRET",
        "receipt_key": "CONSENTKIT_RECEIPT_KEY",
        "admin_token": "CONSENTKIT_ADMIN_TOKEN",
    }
    changed = False
    for key, env in wanted.items():
        if key not in saved and not os.environ.get(env):
            saved[key] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
        path.chmod(0o600)
    values = [os.environ.get(env) or saved[key] for key, env in wanted.items()]
    return values[0], values[1], values[2]


async def _serve(servers: Sequence[uvicorn.Server]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    secret, receipt_key, admin_token = demo_keys(VAR_DIR)
    db_path: Path = args.db or VAR_DIR / f"consent-{args.profile}.db"
    host: str = args.host
    shown_host = f"[{host}]" if ":" in host else host
    site_url = f"http://{shown_host}:{args.port}"
    providers_url = f"http://{shown_host}:{args.providers_port}"
    site = create_app(
        args.profile,
        db_path=db_path,
        secret=secret,
        receipt_key=receipt_key,
        admin_token=admin_token,
        providers_url=providers_url,
    )
    servers = [
        _Server(
            uvicorn.Config(site, host=host, port=args.port, log_level="warning", lifespan="off")
        ),
        _Server(
            uvicorn.Config(
                create_providers_app(),
                host=host,
                port=args.providers_port,
                log_level="warning",
                lifespan="off",
            )
        ),
    ]
    print(
        f"consentkit demo: profile {args.profile!r} ({PROFILES[args.profile].company})\n"
        f"  site                {site_url}/\n"
        f"  cookie declaration  {site_url}/_consent/cookies\n"
        f"  preferences         {site_url}/_consent/preferences\n"
        f"  dashboard           {site_url}/_consent/admin  (user: any, password: {admin_token})\n"
        f"  stand-in providers  {providers_url}/\n"
        f"  consent receipts    {db_path}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    # A Ctrl-C before the loop's handlers are in place still stops quietly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(servers))
    for server in servers:
        if not server.started:
            print("the demo could not start (is the port in use?)", file=sys.stderr)
            return 1
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
