"""The package's layers, checked from the source: who may import whom, and no import cycles.

Every ``import`` counts: at module level, inside functions (lazy imports) and under
``if TYPE_CHECKING:``, since a type-only import is still a dependency a reader must follow.

    entry points (cli and kbcli, the package's public facade, demo_site, benchmarks) -> anything
    integrations (wsgi, testing, fastapi, consentkit/django/*) -> web, core, rewriter, stores
    web (consentkit/web/*) -> core, rewriter, stores
    rewriter (consentkit/rewriter.py or consentkit/rewriter/*) -> core
    stores (consentkit/stores/*) -> core
    core (the flat modules below) -> core only
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import consentkit

PACKAGE = Path(consentkit.__file__).parent
ROOT = PACKAGE.parent

CORE = frozenset(
    {
        "categories",
        "chain",
        "consent_mode",
        "controller",
        "cookie_dates",
        "cookies",
        "crawlers",
        "decision",
        "domains",
        "enforcement",
        "errors",
        "jurisdiction",
        "knowledge",
        "memo",
        "mime",
        "policy",
        "privacy",
        "receipts",
        "regions",
        "registry",
        "rules",
        "services",
        "speedups",
        "trackers",
        "url_host",
        "urls",
    }
)
"""Pure modules: standard library, itsdangerous, (lazily, for GeoIP) maxminddb, and the
optional C extension consentkit_speedups (``speedups`` picks it up)."""
ENTRY = frozenset({"cli", "kbcli", "__init__", "__main__"})
ENTRY_PACKAGES = frozenset({"scan"})
"""Packages of the entry-point layer (the scanner drives a browser and may import anything)."""
INTEGRATIONS = frozenset({"wsgi", "testing", "fastapi", "django"})
"""Framework adapters on top of the web layer's neutral core (``django`` is a package)."""

ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "rewriter": frozenset({"core", "rewriter"}),
    "stores": frozenset({"core", "stores"}),
    "web": frozenset({"core", "rewriter", "stores", "web"}),
    "integrations": frozenset({"core", "rewriter", "stores", "web", "integrations"}),
    "entry": frozenset({"core", "rewriter", "stores", "web", "integrations", "entry"}),
}
FORBIDDEN_LIBRARIES: dict[str, frozenset[str]] = {
    "core": frozenset(
        {"starlette", "jinja2", "anyio", "sqlite3", "psycopg", "psycopg_pool", "httpx", "uvicorn"}
    ),
    "rewriter": frozenset({"starlette", "jinja2", "anyio", "sqlite3", "psycopg", "httpx"}),
    "stores": frozenset({"starlette", "jinja2", "anyio", "httpx", "uvicorn"}),
}
NEUTRAL_WEB = frozenset(
    {
        "consentkit.web.admin",
        "consentkit.web.core",
        "consentkit.web.editor",
        "consentkit.web.endpoints",
        "consentkit.web.headers",
        "consentkit.web.recorder",
        "consentkit.web.request",
        "consentkit.web.responses",
        "consentkit.wsgi",
    }
)
"""The framework-neutral web core and the WSGI adapter: no ASGI toolkit, no event loop."""
OUTSIDE = frozenset({"demo_site", "benchmarks", "tests"})
"""Top-level packages that use consentkit; the library never imports them."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer of a ``consentkit...`` module; unknown modules fail the test."""
    parts = module.split(".")[1:]
    if not parts or (len(parts) == 1 and parts[0] in ENTRY):
        return "entry"
    head = parts[0]
    if head in ENTRY_PACKAGES:
        return "entry"
    if head == "rewriter":
        return "rewriter"
    if head == "stores":
        return "stores"
    if head == "web":
        return "web"
    if head in INTEGRATIONS:
        return "integrations"
    if len(parts) == 1 and head in CORE:
        return "core"
    raise AssertionError(f"{module} belongs to no layer: add it to the map in {__file__}")


def imports(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import in *path*, relative ones resolved.

    ``from X import name`` counts as importing ``X.name`` when that is a module.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known else target), node.lineno


def graph() -> dict[str, set[str]]:
    known = set(modules())
    edges: dict[str, set[str]] = {}
    for module, path in modules().items():
        edges[module] = {
            target for target, _ in imports(module, path, known) if target in known
        } - {module}
    return edges


def test_every_module_has_a_layer() -> None:
    for module in modules():
        layer(module)


def test_imports_point_down_the_layers() -> None:
    known = set(modules())
    problems = []
    for module, path in modules().items():
        mine = layer(module)
        for target, line in imports(module, path, known):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            if top in OUTSIDE:
                problems.append(f"{where}: the library imports {target}")
            elif target in known and layer(target) not in ALLOWED[mine]:
                problems.append(f"{where}: {mine} module {module} imports {layer(target)} {target}")
            elif top in FORBIDDEN_LIBRARIES.get(mine, frozenset()):
                problems.append(f"{where}: {mine} module {module} imports {top}")
    assert not problems, "\n".join(problems)


def test_the_neutral_core_and_the_wsgi_adapter_need_no_asgi_toolkit() -> None:
    known = set(modules())
    problems = [
        f"{module} imports {target} (line {line})"
        for module in sorted(NEUTRAL_WEB)
        for target, line in imports(module, modules()[module], known)
        if target.split(".")[0] in ("starlette", "anyio")
        or target in ("consentkit.web.middleware", "consentkit.web.responder")
    ]
    assert not problems, "\n".join(problems)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    edges = graph()
    # Package __init__ files re-export their modules; an edge *into* a package is an edge
    # into its facade, which is where cycles would hide, so they stay in the graph.
    found = list(cycles(edges))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_type_checking_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .decision import X\n",
        encoding="utf-8",
    )
    found = [t for t, _ in imports("consentkit.probe", source, {"consentkit.decision"})]
    assert "consentkit.decision" in found


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("consentkit.categories", "core"),
        ("consentkit.web.middleware", "web"),
        ("consentkit.web", "web"),
        ("consentkit.rewriter", "rewriter"),
        ("consentkit.rewriter.tokenizer", "rewriter"),
        ("consentkit.stores.export", "stores"),
        ("consentkit.cli", "entry"),
        ("consentkit.wsgi", "integrations"),
        ("consentkit.django.templatetags.consentkit", "integrations"),
        ("consentkit", "entry"),
    ],
)
def test_layer_map(module: str, expected: str) -> None:
    assert layer(module) == expected
