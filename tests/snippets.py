"""The code blocks of ``docs/integrations.md``, by their ``<!-- snippet: NAME -->`` marker.

Tests write them into a project in a temporary directory and run them against the real
framework and server, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "integrations.md"
_BLOCK = re.compile(
    r"(?:<!-- snippet: (?P<name>[\w.-]+) -->\n)?```[^\n]*\n(?P<code>.*?)^```", re.M | re.S
)


@cache
def snippets() -> dict[str, str]:
    """Every marked block; an unmarked block raises (it would be untested)."""
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        name = match["name"]
        if name is None:
            raise AssertionError(f"a code block in {DOC.name} has no snippet marker:\n{match[0]}")
        if name in found:
            raise AssertionError(f"snippet {name!r} appears twice in {DOC.name}")
        found[name] = match["code"]
    return found


def snippet(name: str) -> str:
    return snippets()[name]
