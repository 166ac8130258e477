"""The Django recipe of docs/integrations.md: a real project under uvicorn and waitress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from ..servers import REPO, serve
from ..site_checks import ENV, check_consent_round_trip, check_first_visit, write_site
from ..snippets import snippet

BASE_SETTINGS = """
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = ["django.contrib.contenttypes"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {}
USE_TZ = True
"""

URLS = """
from django.http import FileResponse
from django.urls import path

from . import views


def download(request):
    return FileResponse(open(__file__, "rb"), content_type="text/html")


urlpatterns = [
    path("", views.home),
    path("consent.json", views.consent_json),
    path("stream", views.stream),
    path("file", download),
]
"""


def django_site(root: Path) -> Path:
    return write_site(
        root,
        {
            "mysite/__init__.py": "",
            "mysite/settings.py": BASE_SETTINGS + snippet("django-settings"),
            "mysite/urls.py": URLS,
            "mysite/views.py": snippet("django-views"),
            "mysite/asgi.py": snippet("django-asgi"),
            "mysite/wsgi.py": snippet("django-wsgi"),
            "templates/home.html": snippet("django-template"),
        },
    )


@pytest.mark.parametrize(
    ("server", "target"),
    [("uvicorn", "mysite.asgi:application"), ("waitress", "mysite.wsgi:application")],
)
def test_django_recipe(tmp_path: Path, server: str, target: str) -> None:
    site = django_site(tmp_path)
    with serve(server, target, site, ENV) as url:
        page = check_first_visit(url, gtag=False)
        assert 'id="no-stats"' in page.text
        assert 'id="no-video"' in page.text
        assert 'id="video"' not in page.text
        # The script tag stays inert until consent; the banner script revives it.
        assert 'data-ck-src="/static/stats.js"' in page.text
        assert 'type="text/plain"' in page.text
        assert 'id="decided"' not in page.text
        assert len(page.headers.get_list("content-length")) <= 1  # never two spellings
        assert httpx.get(url + "/consent.json").json() == {"performance": False}
        streamed = httpx.get(url + "/stream")
        assert "<p>streamed</p>" in streamed.text
        assert 'class="ck-banner' in streamed.text
        assert "content-length" not in streamed.headers
        served_file = httpx.get(url + "/file")
        assert served_file.status_code == 200
        assert 'class="ck-banner' in served_file.text
        check_consent_round_trip(url, site / "consent.db")
        with httpx.Client(base_url=url) as client:
            client.post(
                "/_consent",
                data={"action": "accept_all"},
                headers={"Sec-Fetch-Site": "same-origin"},
            )
            page = client.get("/")
            assert '<script data-consent="performance" src="/static/stats.js" async>' in page.text
            assert 'id="decided"' in page.text
            assert 'id="video"' in page.text
            assert client.get("/consent.json").json() == {"performance": True}
            # YouTube alone, every category refused: the service's block shows, the
            # category's does not.
            client.post(
                "/_consent",
                data={"action": "save", "services": "youtube"},
                headers={"Sec-Fetch-Site": "same-origin"},
            )
            page = client.get("/")
            assert 'id="video"' in page.text
            assert 'id="no-stats"' in page.text


def test_django_testing_recipe_with_the_test_client(tmp_path: Path) -> None:
    site = django_site(tmp_path)
    (site / "test_recipe.py").write_text(snippet("testing-django"), encoding="utf-8")
    runner = (
        "import django; django.setup()\n"
        "from django.test.utils import setup_test_environment; setup_test_environment()\n"
        "import test_recipe; test_recipe.test_stats_shown_after_consent(); print('ok')\n"
    )
    env = dict(os.environ, **ENV, DJANGO_SETTINGS_MODULE="mysite.settings")
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    done = subprocess.run(
        [sys.executable, "-c", runner],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
    assert "not wrapped" in done.stderr  # the fallback says responses are not enforced
