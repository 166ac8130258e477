"""Regenerate the text-key table of ``docs/frontend.md`` from the bundled English texts.

Usage, from the repository root::

    python docs/gen_frontend_texts.py          # rewrite the table in place
    python docs/gen_frontend_texts.py --check  # exit 1 when the table is out of date

The table lives between two marker comments, so the prose around it is never touched.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "frontend.md"
ENGLISH = ROOT / "consentkit" / "data" / "i18n" / "en.json"
COMMAND = "python docs/gen_frontend_texts.py"
START = f"<!-- BEGIN text table: generated from consentkit/data/i18n/en.json by {COMMAND} -->"
END = "<!-- END text table -->"

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def load_english(path: Path = ENGLISH) -> dict[str, str]:
    """The bundled English texts, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object of text keys")
    return {str(key): str(value) for key, value in data.items()}


def _cell(text: str) -> str:
    # A pipe would end the cell and a newline the row.
    return " ".join(text.split()).replace("|", "\\|")


def render_table(texts: dict[str, str]) -> str:
    """The Markdown table: one row per key, with its English text and placeholders."""
    lines = ["| key | English text | placeholders |", "|---|---|---|"]
    for key, value in texts.items():
        names = ", ".join(f"`{{{name}}}`" for name in dict.fromkeys(_PLACEHOLDER.findall(value)))
        lines.append(f"| `{key}` | {_cell(value)} | {names} |")
    return "\n".join(lines)


def replace_table(document: str, table: str) -> str:
    """*document* with the text between the markers replaced by *table*."""
    start = document.find(START)
    end = document.find(END)
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"the markers {START!r} and {END!r} are missing or out of order")
    return document[: start + len(START)] + "\n" + table + "\n" + document[end:]


def main(argv: list[str]) -> int:
    document = DOC.read_text(encoding="utf-8")
    updated = replace_table(document, render_table(load_english()))
    if "--check" in argv:
        if updated != document:
            print(f"{DOC.name}: the text table is out of date; run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if updated != document:
        DOC.write_text(updated, encoding="utf-8")
        print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
