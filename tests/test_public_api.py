"""The public API: a sorted ``__all__`` whose names all resolve, and layering rules."""

from __future__ import annotations

import ast
from pathlib import Path

import consentkit

PACKAGE = Path(consentkit.__file__).parent
PURE_MODULES = [
    "categories",
    "policy",
    "registry",
    "knowledge",
    "decision",
    "cookies",
    "rewriter",
    "receipts",
    "trackers",
    "enforcement",
    "jurisdiction",
    "crawlers",
]
FORBIDDEN_IN_PURE = {"starlette", "jinja2", "anyio", "sqlite3", "psycopg", "httpx", "uvicorn"}


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


def test_pure_modules_import_no_web_or_io_layers() -> None:
    for name in PURE_MODULES:
        path = PACKAGE / f"{name}.py"
        assert path.is_file(), f"{name}.py is missing"
        bad = _imports(path) & FORBIDDEN_IN_PURE
        assert not bad, f"consentkit/{name}.py imports {sorted(bad)}"


def test_pure_modules_import_no_web_modules_of_the_package() -> None:
    web = {"middleware", "endpoints", "banner", "dashboard", "cli", "stores", "export"}
    for name in PURE_MODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
                assert node.module.split(".")[0] not in web, f"{name} imports .{node.module}"
