"""The HTTP API under the prefix (default ``/_consent``).

``POST {prefix}`` records a choice; ``GET {prefix}`` returns the decision; the
preferences centre, cookie declaration, receipt, static assets and admin views
live below it. Every answer to bad input is a 4xx with a JSON error; nothing
here ever raises into the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from ..categories import CATEGORIES, OPTIONAL_CATEGORIES, VISITOR_ACTIONS, Category, is_category
from ..decision import Decision, StoredConsent, choice, decide
from ..enforcement import cookies_to_expire, expiry_headers
from ..jurisdiction import gpc_json
from ..policy import Controller, Policy
from ..stores.export import to_kantara
from .admin import Admin
from .banner import Banner
from .declaration import Declaration
from .paths import safe_path
from .recorder import Recorder
from .request import RequestInfo
from .responses import BadRequest, Reply, error, json_reply, query_value, reply
from .settings import Settings
from .templates import static_dir

__all__ = ["ConsentEndpoints"]

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_GPC_LAST_UPDATE: Final = date(2026, 11, 1)


def _controller_table(settings: Settings, policy: Policy) -> dict[str, str]:
    """The receipt's controller: the middleware's ``controller`` option, else the policy's."""
    controller = Controller.coerce(
        settings.controller or policy.controller, source="ConsentMiddleware(...)"
    )
    return controller.as_dict(policy_url=policy.privacy_url)


class ConsentEndpoints:
    """Dispatches requests under the prefix.

    Args:
        settings: the prefix, allowed origins, body limit and receipt controller.
        policy: the site's policy (revision, fingerprints, declared cookies).
        recorder: signs the consent cookie and stores receipts.
        banner: renders the preferences and cookie pages; ``None`` disables them.
        admin: answers ``{prefix}/admin``.
        declaration: the declared and observed cookies (names to expire on refusal).
    """

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        recorder: Recorder,
        banner: Banner | None,
        admin: Admin,
        declaration: Declaration | None = None,
    ) -> None:
        self.settings = settings
        self.declaration = declaration or Declaration(policy)
        self.policy = policy
        self.recorder = recorder
        self.banner = banner
        self.admin = admin
        self.prefix = settings.prefix
        self.own_cookies = settings.own_cookies

    def handle(self, request: RequestInfo, decision: Decision, body: bytes = b"") -> Reply:
        """The answer to a request under the prefix; *body* is the request body of a POST.

        Framework-neutral: the ASGI and WSGI middlewares read the body (see
        :meth:`reads_body`, :meth:`admit_body`) and send the :class:`Reply`.
        """
        try:
            return self._dispatch(self._sub(request), request.method, request, decision, body)
        except BadRequest as exc:
            return error(exc.status, exc.message)

    def reads_body(self, request: RequestInfo) -> bool:
        """Whether :meth:`handle` needs the request body (the consent ``POST``)."""
        return request.method == "POST" and self._sub(request) == "/"

    def blocks(self, request: RequestInfo) -> bool:
        """Whether :meth:`handle` waits on the store (an ASGI server runs it in a thread)."""
        sub = self._sub(request)
        return (
            (sub == "/" and request.method == "POST")
            or sub == "/receipt"
            or sub == "/admin"
            or sub.startswith("/admin/")
        )

    def admit_body(self, request: RequestInfo) -> None:
        """Refuse a post before its body is read: cross-site, or declared too large."""
        self._check_same_origin(request)
        limit = self.settings.max_body_size
        declared = request.header("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BadRequest(400, "invalid Content-Length")
            if int(declared) > limit:
                raise self.too_large()

    def too_large(self) -> BadRequest:
        """The answer to a body over ``max_body_size`` (raised by the adapters' readers)."""
        return BadRequest(413, f"body larger than {self.settings.max_body_size} bytes")

    def _sub(self, request: RequestInfo) -> str:
        return request.path[len(self.prefix) :].rstrip("/") or "/"

    def _dispatch(
        self,
        sub: str,
        method: str,
        request: RequestInfo,
        decision: Decision,
        body: bytes,
    ) -> Reply:
        if sub == "/":
            if method == "POST":
                return self.record(body, request, decision)
            if method in ("GET", "HEAD"):
                return self.status(decision)
            return error(405, "use GET or POST", {"Allow": "GET, HEAD, POST"})
        if method not in ("GET", "HEAD"):
            return error(405, "use GET", {"Allow": "GET, HEAD"})
        if sub in ("/preferences", "/cookies"):
            return self.page(sub, request, decision)
        if sub == "/receipt":
            return self.receipt(decision)
        if sub.startswith("/static/"):
            return self.static(sub[len("/static/") :], request)
        if sub == "/admin" or sub.startswith("/admin/"):
            return self.admin(sub, request)
        return error(404, "no such consent endpoint")

    # -- decisions ----------------------------------------------------------------------

    def status(self, decision: Decision) -> Reply:
        return json_reply(
            {"decision": decision.as_json()},
            headers={"Cache-Control": "no-store", "Vary": "Cookie"},
        )

    def _check_same_origin(self, request: RequestInfo) -> None:
        """Refuse cross-site posts: no other site may force a choice."""
        site = request.header("sec-fetch-site")
        if site is not None and site.strip().lower() not in ("same-origin", "none"):
            raise BadRequest(403, "cross-site consent requests are refused")
        origin = request.header("origin")
        if origin is None:
            return
        own = f"{request.scheme}://{request.host}".lower()
        if origin.strip().lower() != own and origin.strip() not in self.settings.allowed_origins:
            raise BadRequest(403, "cross-origin consent requests are refused")

    def _parse_body(self, body: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
        """Return the fields and whether the caller speaks JSON."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media == _JSON:
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # deep nesting
                raise BadRequest(400, "body is not valid JSON") from None
            if not isinstance(data, dict):
                raise BadRequest(400, "JSON body must be an object")
            return data, True
        if media == _FORM or (media == "" and not body):
            try:
                text = body.decode("utf-8")
                pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
            except (UnicodeDecodeError, ValueError):
                raise BadRequest(400, "body is not a valid form") from None
            fields: dict[str, Any] = {}
            lists: dict[str, list[str]] = {key: [] for key in _LIST_FIELDS}
            for key, value in pairs:
                if key in lists:
                    lists[key].append(value)
                else:
                    fields.setdefault(key, value)
            fields.update(lists)
            return fields, False
        raise BadRequest(415, "send application/json or an HTML form")

    def record(self, body: bytes, request: RequestInfo, decision: Decision) -> Reply:
        """``POST {prefix}``: record a choice, set the cookie, write the receipt.

        The adapters call :meth:`admit_body` first and read at most ``max_body_size``.
        """
        self._check_same_origin(request)
        fields, is_json = self._parse_body(body, request.header("content-type") or "")
        wants_json = is_json or _JSON in (request.header("accept") or "")
        action = fields.get("action")
        if not isinstance(action, str) or action not in VISITOR_ACTIONS:
            raise BadRequest(400, f"action must be one of {', '.join(sorted(VISITOR_ACTIONS))}")
        policy = self.policy
        granted, services_granted, services_refused = _answers(action, fields, decision, policy)
        if not self.recorder.may_record(request):  # nothing is set or stored
            raise BadRequest(429, "too many consent choices from this network; retry shortly")
        now = datetime.now(UTC)
        stored = choice(
            policy,
            granted,
            action=action,
            consent_id=decision.consent_id,
            now=now,
            gpc_recorded=decision.gpc,
            services_granted=services_granted,
            services_refused=services_refused,
        )
        new = decide(
            stored,
            policy,
            now=now,
            model=decision.model,
            region=decision.region,
            gpc=decision.gpc,
        )
        collection = (
            "banner_js"
            if is_json and fields.get("via") == "banner"
            else ("api" if is_json else "html_form")
        )
        receipt_id = None
        if self.recorder.store is not None:
            draft = self.recorder.build_draft(
                request, new, action, collection, fields.get("return_to"), now
            )
            _, receipt_id = self.recorder.store_receipt(draft)
        stale = cookies_to_expire(
            request.cookies, decision=new, policy=policy, own_cookies=self.own_cookies
        )
        return_to = safe_path(fields.get("return_to"))
        if wants_json:
            response = json_reply(
                {
                    "decision": new.as_json(),
                    "expire": stale + _declared_names(self.declaration, policy, new, stale),
                    "receipt_id": receipt_id,
                },
                headers={"Cache-Control": "no-store"},
            )
        else:
            response = reply(status=303, headers={"Location": return_to})
        self._set_consent_cookie(response, request, stored)
        for key, value in expiry_headers(
            stale,
            policy=policy,
            host=request.hostname,
            path=urlsplit(return_to).path or "/",
            secure=request.scheme == "https",
            cookie_domain=self.settings.cookie_domain,
        ):
            response.headers.append((key, value))
        return response

    def _set_consent_cookie(
        self, response: Reply, request: RequestInfo, stored: StoredConsent
    ) -> None:
        cookie = self.recorder.consent_cookie(request, stored)
        response.headers.append((b"set-cookie", cookie))

    # -- pages and files ----------------------------------------------------------------

    def page(self, sub: str, request: RequestInfo, decision: Decision) -> Reply:
        banner = self.banner
        if banner is None:
            return error(404, "the banner is disabled")
        ctx = banner.context(
            decision,
            accept_language=request.accept_language,
            return_to=safe_path(query_value(request.query, "return_to")),
        )
        vary = "Cookie, Accept-Language"
        if sub == "/preferences" and query_value(request.query, "fragment") == "1":
            # The centre alone, for the banner script's dialog: revalidated by its
            # ETag, so a browser keeps one copy per language, choice and revision.
            fragment = banner.preferences_fragment(ctx).encode("utf-8")
            etag = _etag(fragment)
            headers = {"Cache-Control": "private, no-cache", "Vary": vary, "ETag": etag}
            if request.header("if-none-match") == etag:
                return reply(status=304, headers=headers)
            return reply(fragment, media_type="text/html; charset=utf-8", headers=headers)
        html = banner.preferences_page(ctx) if sub == "/preferences" else banner.cookies_page(ctx)
        return reply(
            html,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "private, no-store", "Vary": vary},
        )

    def receipt(self, decision: Decision) -> Reply:
        store = self.recorder.store
        if store is None or not decision.consent_id:
            return error(404, "no receipt recorded for this browser")
        latest = store.latest(decision.consent_id)
        if latest is None:
            return error(404, "no receipt recorded for this browser")
        body = to_kantara(latest, controller=_controller_table(self.settings, self.policy))
        return json_reply(body, headers={"Cache-Control": "private, no-store"})

    def static(self, name: str, request: RequestInfo) -> Reply:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return error(404, "no such file")
        path = static_dir() / name
        if not path.is_file():
            return error(404, "no such file")
        data = path.read_bytes()
        etag = _etag(data)
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if request.header("if-none-match") == etag:
            return reply(status=304, headers=headers)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/") or media.endswith("javascript"):
            media += "; charset=utf-8"
        return reply(data, media_type=media, headers=headers)

    def gpc_json(self) -> Reply:
        """``/.well-known/gpc.json``: the site honours Global Privacy Control."""
        return reply(
            gpc_json(_GPC_LAST_UPDATE),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=86400"},
        )


_LIST_FIELDS: Final = ("categories", "services", "refused_services", "shown_services")
"""Form fields that may repeat (checkboxes); a JSON body gives them as lists."""


def _declared_names(
    declaration: Declaration, policy: Policy, decision: Decision, already: list[str]
) -> list[str]:
    """Exact cookie names of refused categories and refused services, for the page script
    to delete."""
    names: dict[str, None] = dict.fromkeys(already)  # linear de-duplication
    start = len(names)
    per_service = bool(
        decision.services_granted or decision.services_refused or decision.pending_services
    )
    for category in OPTIONAL_CATEGORIES:
        if decision.allows(category) and not per_service:
            continue
        for name in declaration.names(category):
            service = policy.service_for_cookie(name) if per_service else None
            if not decision.allows_use(category, None if service is None else service.id):
                names[name] = None
    return list(names)[start:]


def _answers(
    action: str, fields: Mapping[str, Any], decision: Decision, policy: Policy
) -> tuple[frozenset[Category], frozenset[str], frozenset[str]]:
    """The categories granted and the services granted and refused on their own by a post."""
    granted = _granted_for(action, fields.get("categories"))
    known = policy.service_index.categories
    services_granted, services_refused = _services_for(action, fields, known)
    services_refused |= _switched_off(fields, granted, services_granted, known)
    if action == "save" and _flag(fields.get("keep_choice")) and decision.decided:
        return _kept(decision, granted, services_granted, services_refused)
    return granted, services_granted, services_refused


def _kept(
    decision: Decision, granted: frozenset[Category], sg: frozenset[str], sr: frozenset[str]
) -> tuple[frozenset[Category], frozenset[str], frozenset[str]]:
    """A choice added to the visitor's current one ("Always allow YouTube"): it grants or
    refuses what it names and revokes nothing else."""
    refused = (decision.services_refused - sg) | sr
    return granted | decision.granted, (decision.services_granted - refused) | sg, refused


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "on"))


def _services_for(
    action: str, fields: Mapping[str, Any], known: Mapping[str, Category]
) -> tuple[frozenset[str], frozenset[str]]:
    """The services a ``save`` grants and refuses on their own; a bad list is a 400.

    ``services`` may also be a JSON object of id to true/false. Other actions answer
    for whole categories, so their services follow them.
    """
    granted_raw = fields.get("services")
    refused_raw = fields.get("refused_services")
    if isinstance(granted_raw, dict):
        if not all(isinstance(v, bool) for v in granted_raw.values()):
            raise BadRequest(400, "services must map service ids to true or false")
        mapping = granted_raw
        granted_raw = [k for k, v in mapping.items() if v]
        refused_raw = [
            *_id_list(refused_raw, "refused_services"),
            *(k for k, v in mapping.items() if not v),
        ]
    granted = _id_list(granted_raw, "services")
    refused = _id_list(refused_raw, "refused_services")
    unknown = [i for i in (*granted, *refused) if i not in known]
    if unknown:
        shown = unknown[0][:40]
        raise BadRequest(400, f"unknown service {shown!r}: use an id the consent status lists")
    both = set(granted) & set(refused)
    if both:
        raise BadRequest(400, f"service {sorted(both)[0]!r} is both granted and refused")
    if action != "save":
        return frozenset(), frozenset()
    return frozenset(granted), frozenset(refused)


def _switched_off(
    fields: Mapping[str, Any],
    granted: frozenset[Category],
    services: frozenset[str],
    known: Mapping[str, Category],
) -> frozenset[str]:
    """Services a preferences form showed unticked under a ticked category.

    A form cannot send an unticked checkbox, so it names the switches it showed in
    ``shown_services``. A ticked category with none of its services ticked grants them all
    (the category switch sets its services, even without JavaScript); with some ticked,
    the others are refused.
    """
    if fields.get("action") != "save":
        return frozenset()
    shown = _id_list(fields.get("shown_services"), "shown_services")
    if any(i not in known for i in shown):
        raise BadRequest(400, "shown_services must list service ids the consent status lists")
    ticked = {known[i] for i in services if i in known}
    return frozenset(
        i for i in shown if i not in services and known[i] in granted and known[i] in ticked
    )


def _id_list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > 256
        or not all(isinstance(v, str) for v in value)
    ):
        raise BadRequest(400, f"{name} must be a list of service ids")
    return list(value)


def _etag(data: bytes) -> str:
    """A strong entity tag for *data*: 96 bits of its SHA-256."""
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()[:12]).decode() + '"'


def _granted_for(action: str, categories: object) -> frozenset[Category]:
    """The categories a posted choice grants (necessary always); a bad list is a 400."""
    if action == "accept_all":
        return frozenset(CATEGORIES)
    if action in ("reject_all", "withdraw"):
        return frozenset({"necessary"})
    if isinstance(categories, str):
        categories = [categories]
    if categories is None:
        categories = []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise BadRequest(400, "categories must be a list of category keys")
    unknown = [c for c in categories if not is_category(c)]
    if unknown:
        raise BadRequest(
            400, f"unknown categories {unknown!r}: use {', '.join(OPTIONAL_CATEGORIES)}"
        )
    return frozenset({"necessary", *categories})
