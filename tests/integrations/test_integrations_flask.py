"""The Flask and plain-WSGI recipes of docs/integrations.md, served by waitress."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx

from ..servers import serve
from ..site_checks import (
    ENV,
    check_consent_round_trip,
    check_first_visit,
    set_cookie_names,
    write_site,
)
from ..snippets import snippet


def test_flask_recipe_under_waitress(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"app.py": snippet("flask-app")})
    with serve("waitress", "app:app", site, ENV) as url:
        page = check_first_visit(url)
        assert "sessionid" in set_cookie_names(page)  # necessary cookies pass
        assert "private" in page.headers["cache-control"]
        check_consent_round_trip(url, site / "consent.db")


def test_any_wsgi_app_under_waitress(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"hello.py": snippet("any-wsgi")})
    with serve("waitress", "hello:application", site, ENV) as url:
        page = httpx.get(url + "/")
        assert "_ga" not in set_cookie_names(page)
        assert 'class="ck-banner' in page.text
        assert "<p>Hello</p>" in page.text
