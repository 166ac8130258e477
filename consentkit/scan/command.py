"""``consentkit scan URL``: arguments, outputs and exit status.

Exit status: 0 compliant, 1 violations found, 2 could not verify (or the scan could not run).
Every failure after the arguments parse still writes the reports asked for (a partial
report) and prints one clear line on stderr; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from consentkit.errors import ConsentKitError, MissingExtraError
from consentkit.policy import Policy
from consentkit.trackers import default_index

from .crawl import BadURLError, check_start_url
from .declaration import draft_declaration
from .model import ScanOptions, ScanRun
from .report import render_html, render_markdown, render_text, to_json
from .rules import Analysis, Classifier, analyse

__all__ = ["add_scan_parser", "run_scan_command", "scan_exit_status"]

_STDOUT: Final = "-"


def add_scan_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``scan`` subcommand to the ``consentkit`` parser's subparsers."""
    scan = commands.add_parser(
        "scan",
        help="audit a site in a real browser (needs consentkit[scan])",
        description="Visit a site's pages before a choice, after Accept all and after Reject "
        "all; report cookies, storage and trackers. Exit 0 compliant, 1 violations, "
        "2 could not verify.",
    )
    scan.add_argument("url", help="the start page, e.g. https://example.com/")
    scan.add_argument("--pages", type=_positive_int, default=10, metavar="N", help="default 10")
    scan.add_argument(
        "--delay", type=_seconds, default=1.0, metavar="S", help="pause between visits (1.0)"
    )
    scan.add_argument("--ignore-robots", action="store_true", help="do not honour robots.txt")
    scan.add_argument("--gpc", action="store_true", help="send Sec-GPC: 1 on every request")
    scan.add_argument("--withdraw", action="store_true", help="add a visit after withdrawal")
    scan.add_argument("--policy", metavar="FILE", help="the site's consent.toml")
    for flag, what in (("json", "JSON"), ("markdown", "Markdown"), ("html", "HTML")):
        scan.add_argument(
            f"--{flag}",
            nargs="?",
            const=_STDOUT,
            metavar="FILE",
            help=f"write a {what} report to FILE (standard output without FILE)",
        )
    scan.add_argument("--declaration", metavar="FILE", help="write a draft [[cookies]] list")
    scan.add_argument(
        "--store",
        dest="scan_store",
        metavar="URL",
        help="also save the results in this receipt store's database",
    )
    scan.add_argument(
        "--chromium",
        default=os.environ.get("CONSENTKIT_CHROMIUM", "/usr/bin/chromium"),
        metavar="PATH",
        help="the Chromium binary (default: $CONSENTKIT_CHROMIUM or /usr/bin/chromium)",
    )
    scan.add_argument(
        "--browser-arg",
        action="append",
        default=[],
        dest="browser_args",
        metavar="ARG",
        help="an extra Chromium flag, e.g. --browser-arg=--host-resolver-rules=...",
    )
    scan.add_argument("--timeout", type=_seconds, default=20.0, metavar="S", help="per page (20)")
    scan.add_argument(
        "--settle", type=_seconds, default=1.0, metavar="S", help="wait after each load (1.0)"
    )
    scan.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return scan


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("use a number between 1 and 10000")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("use between 0 and 3600 seconds")
    return value


def _progress(stream: IO[str]) -> Callable[[str], None]:
    def show(message: str) -> None:
        stream.write(f"\r\x1b[2Kscanning {message[:150]}")
        stream.flush()

    return show


def scan_exit_status(analysis: Analysis) -> int:
    """0 compliant, 1 violations, 2 could not verify."""
    return analysis.exit_code


def _write(target: str, text: str) -> None:
    if target == _STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    else:
        Path(target).write_text(text, encoding="utf-8")


def _fail(message: str) -> None:
    print(f"consentkit scan: error: {message}", file=sys.stderr)


def run_scan_command(args: argparse.Namespace) -> int:
    """Run ``consentkit scan`` with parsed *args*; return the exit status."""
    policy: Policy | None = None
    if args.policy:
        try:
            policy = Policy.from_toml(args.policy)
        except ConsentKitError as exc:
            _fail(str(exc))
            return 2
    options = ScanOptions(
        pages=args.pages,
        delay=args.delay,
        ignore_robots=args.ignore_robots,
        gpc=args.gpc,
        withdraw=args.withdraw,
        policy=args.policy or "",
        settle_ms=int(args.settle * 1000),
        timeout_ms=max(1000, int(args.timeout * 1000)),
    )
    problem = ""
    try:
        start = check_start_url(args.url)
    except BadURLError as exc:
        problem = str(exc)
        run = ScanRun(args.url, options, errors=[problem])
    else:
        run, problem = _browse(start, options, args)
    if problem:
        _fail(problem)
    analysis = analyse(run, Classifier(policy, default_index()))
    status = analysis.exit_code
    try:
        _outputs(analysis, args)
    except OSError as exc:
        _fail(f"cannot write the report: {exc}")
        return 2
    if args.scan_store:
        try:
            from consentkit.stores.scans import save_scan

            scan_id = save_scan(args.scan_store, to_json(analysis))
        except ConsentKitError as exc:
            _fail(f"cannot save the scan: {exc}")
            return 2
        print(f"consentkit scan: saved as scan {scan_id} in the store", file=sys.stderr)
    return status


def _browse(start: str, options: ScanOptions, args: argparse.Namespace) -> tuple[ScanRun, str]:
    from .browser import ScanError, run_scan

    progress = None
    if not args.quiet and sys.stderr.isatty():
        progress = _progress(sys.stderr)
    try:
        run = run_scan(
            start,
            options,
            chromium=args.chromium,
            browser_args=args.browser_args,
            progress=progress,
        )
    except (MissingExtraError, ScanError) as exc:
        return ScanRun(start, options, errors=[str(exc)]), str(exc)
    finally:
        if progress is not None:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
    problem = ""
    if not run.pages and run.errors:
        problem = run.errors[0]
    elif run.pages and run.pages[0].error:
        problem = f"{run.pages[0].url}: {run.pages[0].error}"
    return run, problem


def _outputs(analysis: Analysis, args: argparse.Namespace) -> None:
    to_stdout = _STDOUT in (args.json, args.markdown, args.html)
    if args.json:
        _write(args.json, json.dumps(to_json(analysis), indent=2, ensure_ascii=False))
    if args.markdown:
        _write(args.markdown, render_markdown(analysis))
    if args.html:
        _write(args.html, render_html(analysis))
    if args.declaration:
        _write(args.declaration, draft_declaration(analysis))
    if not to_stdout:
        print(render_text(analysis))
