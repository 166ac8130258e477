"""The ``consentkit kb`` commands: ``import`` an Open Cookie Database CSV, print ``stats``.

Neither needs a receipt store. Exit status: 0 success, 1 bad rows (nothing written unless
``--skip-invalid``), 2 usage or file errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ConfigError
from .knowledge import import_open_cookie_database, knowledge_base_stats
from .policy import Policy
from .rules import knowledge_base
from .trackers import default_index

__all__ = ["add_kb_parser", "run_kb"]


def add_kb_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``kb`` command and its subcommands to the ``consentkit`` parser."""
    kb = commands.add_parser("kb", help="the cookie knowledge base: import a database, stats")
    actions = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    importer = actions.add_parser(
        "import",
        help="convert an Open Cookie Database CSV into a site knowledge-base file",
    )
    importer.add_argument("file", metavar="FILE", help="the CSV file to read")
    importer.add_argument(
        "--out", metavar="TOML", help="where to write (default: FILE with a .toml suffix)"
    )
    importer.add_argument("--force", action="store_true", help="overwrite an existing file")
    importer.add_argument(
        "--skip-invalid", action="store_true", help="write the good rows even if some are bad"
    )
    importer.add_argument(
        "--only-new",
        action="store_true",
        help="leave out names the bundled knowledge base already classifies",
    )
    stats = actions.add_parser("stats", help="count cookie rules, platforms and tracker domains")
    stats.add_argument(
        "--policy", metavar="TOML", help="include the site knowledge-base files of this policy"
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")


def run_kb(args: argparse.Namespace) -> int:
    """Run a ``kb`` subcommand; return the exit status."""
    try:
        if args.kb_command == "import":
            return _import(args)
        return _stats(args)
    except (ConfigError, OSError) as exc:
        print(f"consentkit: error: {exc}", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    out = Path(args.out) if args.out else source.with_suffix(".toml")
    if out.exists() and not args.force:
        print(f"consentkit: error: {out} exists (use --force to overwrite)", file=sys.stderr)
        return 2
    text = source.read_text(encoding="utf-8-sig")
    result = import_open_cookie_database(
        text, source_name=source.name, known=knowledge_base() if args.only_new else ()
    )
    for message in result.errors:
        print(f"consentkit: bad row: {message}", file=sys.stderr)
    if result.errors and not (args.skip_invalid and result.rules):
        print(f"consentkit: nothing written ({len(result.errors)} bad rows)", file=sys.stderr)
        return 1
    out.write_text(result.toml, encoding="utf-8")
    platforms = len({rule.provider for rule in result.rules})
    print(
        f"wrote {out}: {len(result.rules)} cookie rules from {platforms} platforms"
        f" ({len(result.skipped)} rows left out, {len(result.errors)} bad)"
    )
    print(f'add it to the policy: knowledge_base_files = ["{out.name}"]')
    return 1 if result.errors else 0


def _stats(args: argparse.Namespace) -> int:
    rules = Policy.from_toml(args.policy).registry.rules() if args.policy else knowledge_base()
    if args.policy:
        # Declared cookies are the site's, not knowledge: count knowledge-base rules only.
        rules = tuple(rule for rule in rules if rule.source == "knowledge_base")
    trackers = [(t.category, len(t.domains)) for t in default_index().trackers]
    stats = knowledge_base_stats(rules, trackers)
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
        return 0
    shape = f"{stats.exact} exact names, {stats.patterns} patterns"
    print(f"cookie rules    {stats.rules:>6}  ({shape})")
    print(f"platforms       {stats.platforms:>6}")
    print(f"tracker domains {stats.tracker_domains:>6}  ({stats.tracker_providers} providers)")
    print("")
    print("category        cookie rules  tracker domains")
    for category, count in stats.by_category.items():
        domains = stats.trackers_by_category.get(category, 0)
        print(f"{category:<15} {count:>12}  {domains:>15}")
    print("")
    print(stats.summary())
    return 0
