"""``{% load consentkit %}``: consent-aware template tags.

``{% consent_allows "performance" %}...{% else %}...{% endconsent_allows %}`` renders
its first part only when the visitor allows the category.

``{% consent_allows_service "youtube" %}...{% else %}...{% endconsent_allows_service %}``
does the same for one service (a declared or built-in service id): answered on its own,
or else by its category.

``{% consent_script "performance" src="/js/stats.js" async=True %}`` renders a script
that stays inert until consent: the live element when the category is allowed, else the
markup the rewriter produces for a blocked tag (``type="text/plain"``, ``data-ck-src``),
which the banner script brings back when the visitor grants the category.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ...categories import normalize_category
from ...decision import Decision
from ...rewriter import HTMLRewriter, RewritePlan
from ..middleware import decision_of

__all__ = ["consent_allows", "consent_allows_service", "consent_script"]

register = template.Library()


def _decision(context: template.Context) -> Decision | None:
    found = context.get("consent")
    if isinstance(found, Decision):
        return found
    request = context.get("request")
    return decision_of(request) if request is not None else None


def _category(name: object) -> str:
    category = normalize_category(str(name))
    if category is None:
        raise template.TemplateSyntaxError(f"unknown consent category {name!r}")
    return category


def _allows_category(decision: Decision, name: object) -> bool:
    return decision.allows(_category(name))


def _allows_service(decision: Decision, name: object) -> bool:
    try:
        return decision.allows_service(str(name))
    except ValueError:
        raise template.TemplateSyntaxError(f"unknown consent service {name!r}") from None


class ConsentAllowsNode(template.Node):
    def __init__(
        self,
        allows: Callable[[Decision, object], bool],
        name: template.base.FilterExpression,
        yes: Any,
        no: Any | None,
    ) -> None:
        self.allows, self.name, self.yes, self.no = allows, name, yes, no

    def render(self, context: template.Context) -> str:
        name = self.name.resolve(context)
        decision = _decision(context)
        # No decision (the middleware is missing) fails closed: nothing is allowed.
        if decision is not None and self.allows(decision, name):
            return str(self.yes.render(context))
        return str(self.no.render(context)) if self.no is not None else ""


def _block(
    parser: template.base.Parser,
    token: template.base.Token,
    allows: Callable[[Decision, object], bool],
    example: str,
) -> ConsentAllowsNode:
    bits = token.split_contents()
    tag, end = bits[0], "end" + bits[0]
    if len(bits) != 2:
        raise template.TemplateSyntaxError(f'use {{% {tag} "{example}" %}}')
    name = parser.compile_filter(bits[1])
    yes = parser.parse(("else", end))
    no = None
    if parser.next_token().contents == "else":
        no = parser.parse((end,))
        parser.delete_first_token()
    return ConsentAllowsNode(allows, name, yes, no)


@register.tag("consent_allows")
def consent_allows(parser: template.base.Parser, token: template.base.Token) -> ConsentAllowsNode:
    return _block(parser, token, _allows_category, "performance")


@register.tag("consent_allows_service")
def consent_allows_service(
    parser: template.base.Parser, token: template.base.Token
) -> ConsentAllowsNode:
    return _block(parser, token, _allows_service, "youtube")


@register.simple_tag(takes_context=True)
def consent_script(context: template.Context, category: str, **attrs: Any) -> SafeString:
    """A ``<script>`` of *category* that runs only once the visitor allows it."""
    key = _category(category)
    parts = [f'<script data-consent="{escape(key)}"']
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {escape(name)}")
        elif value not in (False, None):
            parts.append(f' {escape(name)}="{escape(str(value))}"')
    markup = "".join(parts) + "></script>"
    decision = _decision(context)
    granted = decision.granted if decision is not None else frozenset({"necessary"})
    rewriter = HTMLRewriter(RewritePlan(granted=granted, block_unmarked_trackers=False))
    out = rewriter.feed(markup.encode("utf-8")) + rewriter.flush()
    return mark_safe(out.decode("utf-8"))  # noqa: S308 - every attribute escaped above
