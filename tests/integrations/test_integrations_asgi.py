"""The FastAPI, Litestar and Quart recipes of docs/integrations.md, served by uvicorn."""

from __future__ import annotations

import types
from pathlib import Path

import httpx2 as httpx
import pytest

from ..servers import serve
from ..site_checks import (
    ENV,
    check_consent_round_trip,
    check_first_visit,
    set_cookie_names,
    write_site,
)
from ..snippets import snippet


def test_fastapi_recipe(tmp_path: Path) -> None:
    site = write_site(
        tmp_path,
        {"main.py": snippet("fastapi-app"), "templates/home.html": snippet("fastapi-template")},
    )
    with serve("uvicorn", "main:app", site, ENV) as url:
        check_first_visit(url)
        assert httpx.get(url + "/api/consent").json() == {"performance": False}
        check_consent_round_trip(url, site / "consent.db")


def test_litestar_recipe(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"litestar_site.py": snippet("litestar-app")})
    with serve("uvicorn", "litestar_site:app", site, ENV) as url:
        check_first_visit(url, gtag=False)
        check_consent_round_trip(url, site / "consent.db")


def test_litestar_define_middleware_recipe(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"defined.py": snippet("litestar-define")})
    with serve("uvicorn", "defined:app", site, ENV) as url:
        response = httpx.get(url + "/")
        assert response.status_code == 200
        assert response.text == "ok"
        assert "_ga" not in set_cookie_names(response)


def test_quart_recipe(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"quart_site.py": snippet("quart-app")})
    with serve("uvicorn", "quart_site:app", site, ENV) as url:
        check_first_visit(url, gtag=False)
        check_consent_round_trip(url, site / "consent.db")


def test_starlette_testing_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("testing_recipe")
    exec(compile(snippet("testing-starlette"), "integrations.md", "exec"), module.__dict__)
    module.test_analytics_cookie_needs_consent()
