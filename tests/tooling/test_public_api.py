"""The public API: a sorted ``__all__`` whose names all resolve (layers: test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import consentkit

PACKAGE = Path(consentkit.__file__).parent


def test_all_is_sorted_and_unique() -> None:
    names = list(consentkit.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert len(names) == len(set(names))


def test_every_exported_name_resolves() -> None:
    for name in consentkit.__all__:
        assert getattr(consentkit, name) is not None, name


def test_py_typed_is_shipped() -> None:
    assert (PACKAGE / "py.typed").is_file()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_scan_logic_imports_no_browser() -> None:
    """Only the scanner's browser driver imports Playwright; its logic is unit-testable."""
    scan = PACKAGE / "scan"
    for path in sorted(scan.glob("*.py")):
        imported = _imports(path)
        if path.stem == "browser":
            assert "playwright" in imported
        else:
            assert "playwright" not in imported, f"consentkit/scan/{path.name} imports playwright"
    allowed = {
        "registry",
        "rules",
        "policy",
        "trackers",
        "categories",
        "cookies",
        "domains",
        "errors",
        "stores",
    }
    for path in sorted(scan.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "consentkit" and len(parts) > 1 and parts[1] != "scan":
                    assert parts[1] in allowed, f"scan/{path.name} imports {node.module}"
