"""docs/integrations.md: every code block is marked and run by a test; the README points to each."""

from __future__ import annotations

import re
from pathlib import Path

from ..snippets import DOC, snippets

TESTS = Path(__file__).resolve().parent
README = TESTS.parents[1] / "README.md"


def test_every_block_is_marked_and_run_by_a_test() -> None:
    used: set[str] = set()
    for path in TESTS.glob("test_integrations_*.py"):
        used |= set(re.findall(r'snippet\("([\w.-]+)"\)', path.read_text(encoding="utf-8")))
    used |= {"consent.toml"}  # written into every recipe's site by site_checks.write_site
    assert set(snippets()) <= used, f"untested snippets: {sorted(set(snippets()) - used)}"
    assert used <= set(snippets()), f"tests name missing snippets: {sorted(used - set(snippets()))}"


def test_the_readme_points_to_every_recipe() -> None:
    headings = re.findall(r"^## (.+)$", DOC.read_text(encoding="utf-8"), re.M)
    anchors = {re.sub(r"[^\w -]", "", h).strip().lower().replace(" ", "-") for h in headings}
    linked = set(re.findall(r"docs/integrations\.md#([\w-]+)", README.read_text(encoding="utf-8")))
    recipes = {a for a in anchors if a != "testing-your-app-with-a-consent-state"}
    assert recipes <= linked, f"README does not point to {sorted(recipes - linked)}"
    assert linked <= anchors, f"README points to missing anchors {sorted(linked - anchors)}"
