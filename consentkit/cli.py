"""The ``consentkit`` command: migrate, verify, anchor, export, purge, show, stats and scan;
keygen and check.

``consentkit kb import|stats`` (in :mod:`consentkit.kbcli`) works on the cookie knowledge base
and needs no store.

The store URL comes from ``--store`` or ``CONSENTKIT_STORE``; receipt keys from repeated
``--receipt-key`` or ``CONSENTKIT_RECEIPT_KEYS`` (comma-separated, newest first).
Exit status: 0 success, 1 verification failure or nothing found, 2 usage or store error.
``keygen`` and ``check`` need no store. Long ``export``, ``verify`` and ``purge`` runs report
progress on standard error when it is a terminal, and stay quiet when it is not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Final

from .categories import ACTIONS, CATEGORIES
from .chain import (
    anchor_from_dict,
    anchor_to_dict,
    seal_checkpoint,
)
from .errors import ConfigError, ConsentKitError, did_you_mean
from .kbcli import add_kb_parser, run_kb
from .receipts import (
    ChainAnchor,
    format_timestamp,
    to_dict,
)
from .scan.command import add_scan_parser, run_scan_command
from .stores import ReceiptStore, Stats, open_store, verify_store
from .stores.export import MEDIA_TYPES, export_stream

__all__ = ["build_parser", "main", "parse_age", "parse_instant"]

_AGE: Final = re.compile(r"^\s*(\d{1,6})\s*([ymwdh])\s*$", re.IGNORECASE)
_UNITS: Final = {
    "y": timedelta(days=365),
    "m": timedelta(days=30),
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
}
_STORELESS: Final = frozenset({"keygen", "check"})
"""Commands that need no receipt store."""


class _UsageError(ConsentKitError):
    """A command-line value is wrong; reported with exit status 2."""


def parse_instant(text: str) -> datetime:
    """Parse ``2024-05-01`` or an ISO 8601 datetime; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or datetime (e.g. 2024-05-01T00:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_age(text: str, *, now: datetime | None = None) -> datetime:
    """Turn ``1y``, ``6m``, ``400d``, ``8w``, ``12h`` (before now) or an ISO date into an instant.

    A year counts 365 days and a month 30, as retention periods are usually written.
    """
    match = _AGE.match(text)
    if match:
        return (now or datetime.now(UTC)) - int(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        return parse_instant(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an age like 1y, 6m, 30d, 8w, 12h nor an ISO 8601 date"
        ) from None


def parse_action(text: str) -> str:
    """An action name for ``export --action``; a typo is an error with a suggestion."""
    if text in ACTIONS:
        return text
    hint = did_you_mean(text, ACTIONS, or_list="known actions: ")
    raise argparse.ArgumentTypeError(f"unknown action {text!r}: {hint}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("consentkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``consentkit`` command."""
    parser = argparse.ArgumentParser(
        prog="consentkit", description="Manage consentkit consent receipts."
    )
    parser.add_argument("--version", action="version", version=f"consentkit {_version()}")
    parser.add_argument(
        "--store",
        default=os.environ.get("CONSENTKIT_STORE"),
        help="store URL: sqlite:///file.db, a file path, or postgresql://... "
        "(default: $CONSENTKIT_STORE)",
    )
    parser.add_argument(
        "--receipt-key",
        action="append",
        dest="receipt_keys",
        metavar="KEY",
        help="receipt HMAC key; repeat for rotation, newest first "
        "(default: $CONSENTKIT_RECEIPT_KEYS, comma-separated)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="create or upgrade the store schema")
    verify = commands.add_parser("verify", help="check the whole receipt chain")
    verify.add_argument(
        "--anchor",
        action="append",
        dest="anchors",
        metavar="FILE",
        help="a file written by 'consentkit anchor': the chain must still hold every "
        "signed head it lists (repeatable)",
    )
    anchor = commands.add_parser(
        "anchor", help="verify, then print the signed chain head for an external log"
    )
    anchor.add_argument(
        "--out", metavar="FILE", help="append the line to FILE instead of standard output"
    )

    export = commands.add_parser("export", help="stream receipts as CSV, NDJSON or JSON")
    export.add_argument("--format", choices=tuple(MEDIA_TYPES), default="ndjson")
    _add_period(export)
    export.add_argument(
        "--action", action="append", dest="actions", metavar="ACTION", type=parse_action
    )
    export.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    export.add_argument("--progress", action="store_true", help="report progress on stderr")
    export.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)

    purge = commands.add_parser("purge", help="delete old receipts, keeping a chain anchor")
    purge.add_argument(
        "--older-than",
        required=True,
        type=parse_age,
        metavar="AGE|DATE",
        help="e.g. 1y, 6m, 30d or 2025-01-01",
    )

    show = commands.add_parser("show", help="everything recorded for one visitor, as JSON")
    show.add_argument("consent_id")

    stats = commands.add_parser("stats", help="consent rates per category and action")
    _add_period(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    add_scan_parser(commands)
    add_kb_parser(commands)

    commands.add_parser("keygen", help="print a new secret key and receipt key")
    check = commands.add_parser("check", help="validate a TOML policy and summarise it")
    check.add_argument("policy", metavar="POLICY.toml")
    return parser


def _add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=parse_instant, metavar="ISO", help="inclusive")
    parser.add_argument("--until", type=parse_instant, metavar="ISO", help="exclusive")


def _keys(args: argparse.Namespace) -> list[str]:
    if args.receipt_keys:
        return [key for key in args.receipt_keys if key]
    env = os.environ.get("CONSENTKIT_RECEIPT_KEYS", "")
    return [key.strip() for key in env.split(",") if key.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except BrokenPipeError:
        # The reader went away (``consentkit show ID | head``): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "scan":
        return run_scan_command(args)
    if args.command == "kb":
        return run_kb(args)
    if args.command in _STORELESS:
        return _STORELESS_COMMANDS[args.command](args)
    if not args.store:
        parser.error("no store: pass --store URL or set CONSENTKIT_STORE")
    keys = _keys(args)
    if args.command in ("verify", "purge", "anchor") and not keys:
        parser.error(f"{args.command} needs --receipt-key or CONSENTKIT_RECEIPT_KEYS")
    try:
        store = open_store(args.store, receipt_keys=keys, migrate=args.command == "migrate")
    except (ConsentKitError, OSError) as exc:
        return _fail(f"cannot open the store: {exc}")
    try:
        if args.command != "migrate" and store.schema_version() == 0:
            return _fail(f"{args.store!r} holds no consentkit receipts (run: consentkit migrate)")
        return _COMMANDS[args.command](store, args, keys)
    except BrokenPipeError:
        raise  # not a store error: main() ends quietly
    except (ConsentKitError, OSError) as exc:
        return _fail(str(exc))
    finally:
        store.close()


def _fail(message: str, status: int = 2) -> int:
    print(f"consentkit: error: {message}", file=sys.stderr)
    return status


def _migrate(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    print("OK: schema is up to date")
    return 0


def _read_checkpoints(paths: Sequence[str]) -> list[ChainAnchor]:
    points: list[ChainAnchor] = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    points.append(anchor_from_dict(json.loads(line)))
                except (ValueError, TypeError, KeyError) as exc:
                    raise ConfigError(
                        f"line {number} is not a consentkit anchor: {exc}",
                        source=path,
                        fix="pass a file written by 'consentkit anchor'",
                    ) from None
    return points


def _verify(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    checkpoints = _read_checkpoints(args.anchors or [])
    progress = _Progress(store.count(), sys.stderr, "verified") if _show_progress() else None
    result = verify_store(store, keys=keys, checkpoints=checkpoints, progress=progress)
    if progress is not None:
        progress.finish()
    if result.error is not None:
        brk = result.error
        hint = (
            "; it was sealed with a key not given: pass every receipt key with --receipt-key "
            "(repeat it, newest first) or CONSENTKIT_RECEIPT_KEYS"
            if brk.kind == "key"
            else ""
        )
        print(
            f"FAILED: receipt {brk.receipt_id} (seq {brk.seq}): {brk.kind}: {brk.message} "
            f"({result.checked} receipts verified before it){hint}"
        )
        return 1
    anchor = store.anchor()
    since = f" from purge anchor seq {anchor.seq}" if anchor else ""
    held = f", {len(checkpoints)} anchor(s) held" if checkpoints else ""
    print(f"OK: {result.checked} receipts, chain intact{since}{held}")
    return 0


class _Progress:
    """A self-rewriting progress line on a terminal stream."""

    def __init__(self, total: int, stream: IO[str], verb: str = "exported") -> None:
        self.total = total
        self.stream = stream
        self.verb = verb
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        share = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"\r{self.verb} {done}/{self.total}{share}, {rate:,.0f} receipts/s ")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _anchor(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    result = verify_store(store, keys=keys)
    if result.error is not None:
        return _fail(f"the chain does not verify, nothing anchored: {result.error}", 1)
    point = seal_checkpoint(
        result.last_seq, result.last_hash, created_at=datetime.now(UTC), keys=keys
    )
    line = json.dumps(anchor_to_dict(point), sort_keys=True) + "\n"
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(line)
    else:
        sys.stdout.write(line)
    return 0


def _export(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    filters: dict[str, Any] = {"since": args.since, "until": args.until, "actions": args.actions}
    progress: _Progress | None = None
    if args.progress or _show_progress():
        progress = _Progress(store.count(**filters), sys.stderr)
    chunks = export_stream(
        store, args.format, batch_size=args.batch_size, progress=progress, **filters
    )
    if args.out:
        with open(args.out, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
    else:
        stdout = sys.stdout.buffer
        for chunk in chunks:
            stdout.write(chunk)
        stdout.flush()
    if progress is not None:
        progress.finish()
    return 0


def _purge(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    if _show_progress():
        # One store call: say what runs, since verifying a long prefix takes a while.
        print(
            f"purging receipts older than {format_timestamp(args.older_than)}...", file=sys.stderr
        )
    deleted = store.purge(args.older_than)
    anchor = store.anchor()
    where = f"; chain anchored at seq {anchor.seq}" if anchor else ""
    print(f"purged {deleted} receipts older than {format_timestamp(args.older_than)}{where}")
    return 0


def _show(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    receipts = store.for_consent(args.consent_id)
    print(json.dumps([to_dict(r) for r in receipts], indent=2, ensure_ascii=False))
    if not receipts:
        print(f"consentkit: no receipts recorded for {args.consent_id!r}", file=sys.stderr)
        return 1
    return 0


def _stats(store: ReceiptStore, args: argparse.Namespace, keys: list[str]) -> int:
    stats = store.stats(since=args.since, until=args.until)
    if args.json:
        print(json.dumps(_stats_dict(stats, store), indent=2, ensure_ascii=False))
    else:
        print(_stats_text(stats))
    return 0


def _stats_dict(stats: Stats, store: ReceiptStore) -> dict[str, Any]:
    anchor = store.anchor()
    return {
        "total": stats.total,
        "actions": dict(stats.actions),
        "categories": {
            c: {
                "granted": stats.granted.get(c, 0),
                "refused": stats.refused.get(c, 0),
                "consent_rate": stats.consent_rate(c),
            }
            for c in stats.categories()
        },
        "jurisdictions": dict(stats.jurisdictions),
        "languages": dict(stats.languages),
        "per_day": dict(stats.per_day),
        "anchor": anchor_to_dict(anchor) if anchor else None,
    }


def _stats_text(stats: Stats) -> str:
    lines = [f"receipts: {stats.total}", "", "action        count   share"]
    for action, n in stats.actions.items():
        lines.append(f"{action:<12} {n:>7}  {_pct(n, stats.total)}")
    lines += ["", "category        granted  refused  consent rate"]
    for category in stats.categories():
        rate = stats.consent_rate(category)
        shown = "-" if rate is None else f"{100 * rate:.1f}%"
        granted, refused = stats.granted.get(category, 0), stats.refused.get(category, 0)
        lines.append(f"{category:<14} {granted:>8} {refused:>8}  {shown:>12}")
    for title, counts in (("jurisdiction", stats.jurisdictions), ("language", stats.languages)):
        lines += ["", f"{title:<14} count"]
        lines += [f"{key:<14} {n:>5}" for key, n in counts.items()]
    return "\n".join(lines)


def _show_progress() -> bool:
    return sys.stderr.isatty()


def _keygen(args: argparse.Namespace) -> int:
    print(f"CONSENTKIT_SECRET={secrets.token_urlsafe(48)}")
    print(f"CONSENTKIT_RECEIPT_KEYS={secrets.token_urlsafe(48)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .policy import Policy

    try:
        policy = Policy.from_toml(args.policy)
    except ConsentKitError as exc:
        return _fail(str(exc))
    print(f"OK: {args.policy}: revision {policy.revision}, {len(policy.cookies)} cookies declared")
    for category in CATEGORIES:
        names = [r.name for r in policy.cookies if r.category == category]
        label = policy.text(category).label
        print(f"{category:<14} {label:<20} {len(names):>3}  {', '.join(names)}".rstrip())
    kb = "on" if policy.knowledge_base else "off"
    print(f"unknown cookies need: {policy.unclassified}; knowledge base: {kb}")
    return 0


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


_COMMANDS: Final[dict[str, Callable[[ReceiptStore, argparse.Namespace, list[str]], int]]] = {
    "migrate": _migrate,
    "verify": _verify,
    "anchor": _anchor,
    "export": _export,
    "purge": _purge,
    "show": _show,
    "stats": _stats,
}

_STORELESS_COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "keygen": _keygen,
    "check": _check,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
