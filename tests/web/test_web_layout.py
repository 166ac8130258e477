"""The web layer's shape: collaborators passed in, never the middleware; readable sizes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import consentkit
from consentkit import Banner, ConfigError, ConsentMiddleware, Policy

from ..conftest import SECRET

WEB = Path(consentkit.__file__).parent / "web"
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300


def modules() -> list[Path]:
    found = sorted(WEB.glob("*.py"))
    assert found, "consentkit/web has no modules"
    return found


def relative_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1
    }


def test_only_the_package_imports_the_middleware() -> None:
    # TYPE_CHECKING imports count too: an import inside ``if`` is still found by ast.walk.
    for path in modules():
        if path.name in ("__init__.py", "middleware.py"):
            continue
        assert "middleware" not in relative_imports(path), f"web/{path.name} imports .middleware"


def _type_checking_imports(source: str) -> list[int]:
    """Lines of imports made only for the type checker (inside ``if TYPE_CHECKING``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found += [
                inner.lineno
                for branch in node.body
                for inner in ast.walk(branch)
                if isinstance(inner, ast.Import | ast.ImportFrom)
            ]
    return found


def test_no_type_checking_imports_in_the_web_layer() -> None:
    # An import only the type checker sees hides a cycle between modules. (Choosing a
    # base class for the type checker, as request.py and responder.py do, is allowed.)
    for path in modules():
        assert not _type_checking_imports(path.read_text(encoding="utf-8")), path.name


def test_type_checking_imports_are_found() -> None:
    source = "if TYPE_CHECKING:\n    from .core import ConsentCore\nelse:\n    X = 1\n"
    assert _type_checking_imports(source) == [2]
    assert _type_checking_imports("if TYPE_CHECKING or x:\n    Base = object\n") == []


def test_endpoints_and_responder_do_not_import_each_other() -> None:
    assert "responder" not in relative_imports(WEB / "endpoints.py")
    assert "endpoints" not in relative_imports(WEB / "responder.py")
    assert "endpoints" not in relative_imports(WEB / "editor.py")
    assert "endpoints" not in relative_imports(WEB / "plans.py")
    # Both reach receipts and the consent cookie through the recorder (the editor
    # through the rules it applies).
    assert "recorder" in relative_imports(WEB / "endpoints.py")
    assert "rules" in relative_imports(WEB / "editor.py")
    assert "recorder" in relative_imports(WEB / "rules.py")
    # The ASGI responder only moves bytes: header and body decisions are the editor's.
    assert "editor" in relative_imports(WEB / "responder.py")


def test_modules_and_classes_stay_readable() -> None:
    for path in modules():
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= MAX_MODULE_LINES, f"web/{path.name} is over {MAX_MODULE_LINES}"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                assert size <= MAX_CLASS_LINES, f"{path.name}:{node.name} has {size} lines"


def test_no_assert_statements_in_the_web_layer() -> None:
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not asserts, f"web/{path.name} uses assert at lines {asserts}"


@pytest.mark.parametrize("prefix", ["", "consent", "/consent/", "//evil.test", "/a b", '/x"y'])
def test_the_middleware_and_the_banner_share_one_prefix_rule(prefix: str) -> None:
    # Without a banner the middleware used to accept prefixes the banner refused.
    with pytest.raises(ConfigError, match="prefix"):
        ConsentMiddleware(
            lambda *a: None,  # type: ignore[arg-type,return-value]
            policy=Policy(),
            secret_key=SECRET,
            banner=False,
            prefix=prefix,
        )
    with pytest.raises(ConfigError, match="prefix"):
        Banner(Policy(), prefix=prefix)


def test_a_nested_prefix_is_accepted_by_both() -> None:
    middleware = ConsentMiddleware(
        lambda *a: None,  # type: ignore[arg-type,return-value]
        policy=Policy(),
        secret_key=SECRET,
        prefix="/privacy/consent",
    )
    assert middleware.banner is not None
    assert middleware.banner.prefix == "/privacy/consent"
