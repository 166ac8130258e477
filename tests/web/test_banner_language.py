"""The banner's language: the app's choice, then ``<html lang>``, then the visitor's."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentkit import Banner
from consentkit.rewriter import HTMLRewriter, RewritePlan
from consentkit.web.i18n import LANGUAGE_STATE_KEY

from ..conftest import make_app, site_policy

ACCEPT = {"fr": "Tout accepter", "de": "Alle akzeptieren", "en": "Accept all"}


def page(lang: str | None) -> str:
    attr = f' lang="{lang}"' if lang else ""
    return f"<!doctype html><html{attr}><head><title>t</title></head><body><p>x</p></body></html>"


async def french(request: Request) -> Response:
    return HTMLResponse(page("fr"))


async def french_streamed(request: Request) -> Response:
    body = page("fr-FR").encode()

    async def chunks():  # type: ignore[no-untyped-def]
        for n in range(0, len(body), 7):
            yield body[n : n + 7]

    return StreamingResponse(chunks(), media_type="text/html")


async def klingon(request: Request) -> Response:
    return HTMLResponse(page("tlh"))


async def chosen(request: Request) -> Response:
    setattr(request.state, LANGUAGE_STATE_KEY, request.query_params["lang"])
    return HTMLResponse(page("fr"))


def client(**options: object) -> TestClient:
    routes = [
        Route("/fr", french),
        Route("/fr-stream", french_streamed),
        Route("/tlh", klingon),
        Route("/chosen", chosen),
    ]
    return TestClient(make_app(routes=routes, **options))


def shown(text: str) -> set[str]:
    return {lang for lang, label in ACCEPT.items() if label in text}


@pytest.mark.parametrize("path", ["/fr", "/fr-stream"])
def test_html_lang_beats_accept_language(path: str) -> None:
    text = client().get(path, headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert shown(text) == {"fr"}


def test_unbundled_html_lang_falls_back_to_accept_language() -> None:
    text = client().get("/tlh", headers={"Accept-Language": "de"}).text
    assert shown(text) == {"de"}


def test_the_apps_choice_beats_html_lang() -> None:
    text = client().get("/chosen?lang=de", headers={"Accept-Language": "en"}).text
    assert shown(text) == {"de"}
    # A language the banner does not offer is skipped, not an error.
    text = client().get("/chosen?lang=tlh", headers={"Accept-Language": "en"}).text
    assert shown(text) == {"fr"}


def test_html_lang_only_counts_when_the_banner_offers_it() -> None:
    banner = Banner(site_policy(), languages=["en", "de"])
    text = client(banner=banner).get("/fr", headers={"Accept-Language": "de"}).text
    assert shown(text) == {"de"}


def test_rewriter_hands_the_html_lang_to_the_body_markup_at_every_split() -> None:
    doc = b"<!doctype html><!-- c --><html class=x lang='pt-BR'><head></head><body><p>x</p>"
    seen: list[str] = []

    def for_lang(lang: str) -> str:
        seen.append(lang)
        return f"<i>{lang}</i>"

    plan = RewritePlan(body_start_html="<i>?</i>", body_start_html_for_lang=for_lang)
    outputs = set()
    for cut in range(len(doc) + 1):
        rewriter = HTMLRewriter(plan)
        outputs.add(rewriter.feed(doc[:cut]) + rewriter.feed(doc[cut:]) + rewriter.flush())
    assert outputs == {doc.replace(b"<body>", b"<body><i>pt-BR</i>")}
    assert set(seen) == {"pt-BR"}
    # Without an <html> tag (or with the lang on a later element) the hook gets "".
    rewriter = HTMLRewriter(plan)
    out = rewriter.feed(b"<p lang=fr>x</p><body>y") + rewriter.flush()
    assert b"<i></i>" in out


def test_an_accepted_all_plan_still_reads_the_html_lang_before_its_fast_path() -> None:
    from consentkit.categories import CATEGORIES

    doc = b"<!doctype html><html lang=de><head></head><body><img src=a.png><p>x</p></body>"
    plan = RewritePlan(
        granted=frozenset(CATEGORIES),
        body_start_html="<i>?</i>",
        body_start_html_for_lang=lambda lang: f"<i>{lang}</i>",
    )
    assert plan.blocks_nothing
    for cut in range(len(doc) + 1):
        rewriter = HTMLRewriter(plan)
        out = rewriter.feed(doc[:cut]) + rewriter.feed(doc[cut:]) + rewriter.flush()
        assert out == doc.replace(b"<body>", b"<body><i>de</i>")
