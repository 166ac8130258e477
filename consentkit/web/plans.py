"""A page's rewrite plan: what its response blocks and which banner markup goes in.

:func:`page_plan` builds the :class:`~consentkit.rewriter.RewritePlan` of one HTML
response from the site's rules, the request and the visitor's decision. Most plans are
made for their response: a fresh block key, placeholders in the page's language. A
choice that leaves nothing to block (a visitor who accepted everything) gets a
*settled* plan instead, remembered and shared by every view of the page under the same
decision, languages and CSP nonce: it only inserts markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..consent_mode import advanced_mode_providers
from ..decision import Decision
from ..rewriter import (
    Blocked,
    RewritePlan,
    block_key_html,
    blocks_nothing,
    default_placeholder,
    new_block_key,
)
from .banner import BannerContext
from .i18n import LANGUAGE_STATE_KEY, preferring
from .request import RequestInfo
from .rules import ResponseRules

__all__ = ["page_plan"]

_SETTLED_LONGEST: Final = 1024
"""A page address or ``Accept-Language`` longer than this is not remembered."""
_LANGUAGES_KEPT: Final = 8
"""Page languages (``<html lang>``) a settled plan remembers its banner markup for."""

_Context = Callable[[str], BannerContext]


def page_plan(
    rules: ResponseRules, request: RequestInfo, decision: Decision, nonce: str | None
) -> RewritePlan:
    """The plan of this HTML response; *nonce* is its CSP nonce, if any."""
    return _settled_plan(rules, request, decision, nonce) or _plan(rules, request, decision, nonce)


def _banner_context(
    rules: ResponseRules, request: RequestInfo, decision: Decision, nonce: str | None
) -> _Context | None:
    """The banner's context for this response, given the page's ``<html lang>``
    (``""`` for none); ``None`` when no banner goes into the page."""
    banner = rules.banner
    if banner is None or not rules.inject_banner or decision.crawler:
        return None
    # The app's choice for this response, then the page's <html lang>, then the
    # visitor's Accept-Language: the first the banner offers wins.
    override = (request.scope.get("state") or {}).get(LANGUAGE_STATE_KEY)
    accept = request.accept_language
    return_to = request.return_to

    def context(html_lang: str) -> BannerContext:
        return banner.context(
            decision,
            accept_language=preferring(override, html_lang, accept_language=accept),
            return_to=return_to,
            nonce=nonce,
        )

    return context


def _settled_plan(
    rules: ResponseRules, request: RequestInfo, decision: Decision, nonce: str | None
) -> RewritePlan | None:
    """The plan of a page under a choice that leaves nothing to block, remembered.

    Such a plan only inserts the banner's markup, which depends on the decision, the
    languages asked for, the page's address and the CSP nonce (a plan with a nonce is not
    kept: the next response has another). It carries no block key: nothing is blocked,
    and the empty key tells the banner script there is nothing to activate (the key
    element stays, so the page's own markup can never stand in for it). Nor a site host:
    nothing is judged. ``None`` for any other page.
    """
    override = (request.scope.get("state") or {}).get(LANGUAGE_STATE_KEY)
    accept = request.accept_language
    return_to = request.return_to
    version = rules.declaration.version if rules.declaration is not None else 0
    key = (
        decision,
        override if isinstance(override, str) else None,
        accept,
        return_to,
        nonce,
        version,
    )
    plan = rules.settled.get(key)
    if plan is not None:
        return plan  # only a decision that blocks nothing is ever remembered
    by_service = decision.services_granted or decision.services_refused
    answers = decision.service_exceptions() if by_service or decision.pending_services else ()
    if not blocks_nothing(decision.granted, answers, rules.policy.unclassified, rules.trackers):
        return None
    context = _banner_context(rules, request, decision, nonce)
    banner = rules.banner
    if context is None or banner is None:
        return None
    ctx = context("")
    key_html = block_key_html("")
    body_html = banner.body_html(ctx) + key_html
    by_lang: dict[str, str] = {"": body_html}

    def body_for_lang(html_lang: str) -> str:
        markup = by_lang.get(html_lang)
        if markup is None:
            page_ctx = context(html_lang)
            markup = body_html
            if page_ctx.language != ctx.language:
                markup = banner.body_html(page_ctx) + key_html
            if len(by_lang) < _LANGUAGES_KEPT:
                by_lang[html_lang] = markup
        return markup

    plan = RewritePlan(
        granted=decision.granted,
        services=rules.policy.service_index,
        service_answers=answers,
        trackers=rules.trackers,
        head_html=banner.head_html(ctx),
        body_start_html=body_html,
        body_start_html_for_lang=body_for_lang,
        unclassified_category=rules.policy.unclassified,
    )
    # A CSP nonce is new with every response: a plan holding one is never asked for again.
    if (
        nonce is None
        and len(return_to) <= _SETTLED_LONGEST
        and len(accept or "") <= _SETTLED_LONGEST
    ):
        rules.settled.put(key, plan)
    return plan


def _plan(
    rules: ResponseRules, request: RequestInfo, decision: Decision, nonce: str | None
) -> RewritePlan:
    """This response's own plan: what to block, the banner, the placeholders."""
    head_html = body_html = block_key = ""
    placeholder = default_placeholder
    body_for_lang: Callable[[str], str] | None = None
    context = _banner_context(rules, request, decision, nonce)
    banner = rules.banner
    if context is not None and banner is not None:
        ctx = context("")
        head_html = banner.head_html(ctx)
        # This response's key for what it blocks, right after the banner script.
        block_key = new_block_key()
        key_html = block_key_html(block_key)
        body_html = banner.body_html(ctx) + key_html
        language = [ctx.language]

        def body_for_lang(html_lang: str) -> str:
            page_ctx = context(html_lang) if html_lang else ctx
            if page_ctx.language == ctx.language:
                return body_html  # the same language: the same markup
            language[0] = page_ctx.language
            return banner.body_html(page_ctx) + key_html

        def placeholder(blocked: Blocked) -> str:
            return banner.placeholder_html(
                provider=blocked.provider,
                category=blocked.category,
                src=blocked.url,
                language=language[0],
                granted=decision.granted,
                return_to=request.return_to,
                service=blocked.service,
            )

    return RewritePlan(
        granted=decision.granted,
        services=rules.policy.service_index,
        service_answers=decision.service_exceptions(),
        preconsent_providers=advanced_mode_providers(
            rules.policy.consent_mode,
            decided=decision.decided or decision.crawler,
            gpc=decision.gpc,
        ),
        trackers=rules.trackers,
        head_html=head_html,
        body_start_html=body_html,
        body_start_html_for_lang=body_for_lang,
        placeholder=placeholder,
        unclassified_category=rules.policy.unclassified,
        site_host=request.hostname,
        unknown_source=(
            rules.unknown_hosts.for_site(request.hostname) if rules.unknown_hosts else None
        ),
        block_key=block_key,
    )
