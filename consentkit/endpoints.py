"""The HTTP API under the prefix (default ``/_consent``).

``POST {prefix}`` records a choice; ``GET {prefix}`` returns the decision; the
preferences centre, cookie declaration, receipt, static assets and admin views
live below it. Every answer to bad input is a 4xx with a JSON error; nothing
here ever raises into the server.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import mimetypes
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit

import anyio
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .categories import CATEGORIES, OPTIONAL_CATEGORIES, Category, is_category
from .cookies import render_set_cookie
from .decision import Decision, StoredConsent, decide, new_consent_id
from .enforcement import cookies_to_expire, expiry_headers
from .jurisdiction import gpc_json
from .receipts import ReceiptDraft, reduce_user_agent, to_kantara, truncate_ip

if TYPE_CHECKING:
    from .middleware import ConsentMiddleware, RequestInfo

__all__ = ["ConsentEndpoints"]

logger = logging.getLogger("consentkit")

ACTIONS: Final = frozenset({"accept_all", "reject_all", "save", "withdraw"})
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_GPC_LAST_UPDATE: Final = date(2026, 11, 1)


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ConsentEndpoints:
    """Dispatches requests under the prefix."""

    def __init__(self, mw: ConsentMiddleware) -> None:
        self.mw = mw
        self.prefix = mw.settings.prefix

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: RequestInfo,
        decision: Decision,
    ) -> None:
        sub = scope["path"][len(self.prefix) :].rstrip("/") or "/"
        method = request.method
        try:
            response = await self._dispatch(sub, method, scope, receive, request, decision)
        except BadRequest as exc:
            response = _error(exc.status, exc.message)
        await response(scope, receive, send)

    async def _dispatch(
        self,
        sub: str,
        method: str,
        scope: Scope,
        receive: Receive,
        request: RequestInfo,
        decision: Decision,
    ) -> Response:
        if sub == "/":
            if method == "POST":
                return await self.record(receive, request, decision)
            if method in ("GET", "HEAD"):
                return self.status(decision)
            return _error(405, "use GET or POST", {"Allow": "GET, HEAD, POST"})
        if method not in ("GET", "HEAD"):
            return _error(405, "use GET", {"Allow": "GET, HEAD"})
        if sub in ("/preferences", "/cookies"):
            return self.page(sub, request, decision)
        if sub == "/receipt":
            return await self.receipt(decision)
        if sub.startswith("/static/"):
            return self.static(sub[len("/static/") :], request)
        if sub == "/admin" or sub.startswith("/admin/"):
            return await self.admin(sub, request)
        return _error(404, "no such consent endpoint")

    # -- decisions ----------------------------------------------------------------------

    def status(self, decision: Decision) -> Response:
        return JSONResponse(
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
        if origin.strip().lower() != own and origin.strip() not in self.mw.settings.allowed_origins:
            raise BadRequest(403, "cross-origin consent requests are refused")

    async def _read_body(self, receive: Receive, request: RequestInfo) -> bytes:
        limit = self.mw.settings.max_body_size
        declared = request.header("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BadRequest(400, "invalid Content-Length")
            if int(declared) > limit:
                raise BadRequest(413, f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest(400, "client disconnected")
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _parse_body(self, body: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
        """Return the fields and whether the caller speaks JSON."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media == _JSON:
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
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
            categories: list[str] = []
            for key, value in pairs:
                if key == "categories":
                    categories.append(value)
                else:
                    fields.setdefault(key, value)
            fields["categories"] = categories
            return fields, False
        raise BadRequest(415, "send application/json or an HTML form")

    async def record(self, receive: Receive, request: RequestInfo, decision: Decision) -> Response:
        """``POST {prefix}``: record a choice, set the cookie, write the receipt."""
        self._check_same_origin(request)
        body = await self._read_body(receive, request)
        fields, is_json = self._parse_body(body, request.header("content-type") or "")
        wants_json = is_json or _JSON in (request.header("accept") or "")
        action = fields.get("action")
        if not isinstance(action, str) or action not in ACTIONS:
            raise BadRequest(400, f"action must be one of {', '.join(sorted(ACTIONS))}")
        granted = self._granted_for(action, fields.get("categories"))
        mw = self.mw
        now = datetime.now(UTC)
        consent_id = decision.consent_id or new_consent_id()
        refused = frozenset(c for c in OPTIONAL_CATEGORIES if c not in granted)
        stored = StoredConsent(
            consent_id=consent_id,
            granted=granted,
            refused=refused,
            revision=mw.policy.revision,
            decided_at=now,
            fingerprints={c: mw.policy.fingerprint(c) for c in CATEGORIES},
            action=action,
            gpc_recorded=decision.gpc,
        )
        new = decide(
            stored,
            mw.policy,
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
        _, receipt_id = await self.store_receipt(
            request, new, action, collection, fields.get("return_to"), now
        )
        stale = cookies_to_expire(
            request.cookies, decision=new, policy=mw.policy, own_cookies=mw.own_cookies
        )
        return_to = _safe_return(fields.get("return_to"), request)
        if wants_json:
            response: Response = JSONResponse(
                {
                    "decision": new.as_json(),
                    "expire": stale + self._declared_names(refused, stale),
                    "receipt_id": receipt_id,
                },
                headers={"Cache-Control": "no-store"},
            )
        else:
            response = Response(status_code=303, headers={"Location": return_to})
        self._set_consent_cookie(response, request, stored)
        for key, value in expiry_headers(
            stale,
            policy=mw.policy,
            host=request.hostname,
            path=urlsplit(return_to).path or "/",
            secure=request.scheme == "https",
            cookie_domain=mw.settings.cookie_domain,
        ):
            response.raw_headers.append((key, value))
        return response

    @staticmethod
    def _granted_for(action: str, categories: object) -> frozenset[Category]:
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

    def _declared_names(self, refused: frozenset[Category], already: list[str]) -> list[str]:
        """Exact cookie names of refused categories, for the page script to delete."""
        names: list[str] = []
        for category in refused:
            for rule in self.mw.policy.cookies_for(category):
                if rule.match == "exact" and rule.name not in already and rule.name not in names:
                    names.append(rule.name)
        return names

    def _set_consent_cookie(
        self, response: Response, request: RequestInfo, stored: StoredConsent
    ) -> None:
        response.raw_headers.append((b"set-cookie", self.consent_cookie(request, stored)))

    def consent_cookie(self, request: RequestInfo, stored: StoredConsent) -> bytes:
        """The ``Set-Cookie`` value carrying *stored*, signed."""
        settings = self.mw.settings
        lifetime = self.mw.policy.lifetime_days(stored.granted)
        secure = settings.cookie_secure
        if secure is None:
            secure = request.scheme == "https"
        # The name was chosen per request (a __Host- prefix needs Secure, which it has).
        value = render_set_cookie(
            request.cookie_name,
            self.mw.codec.dumps(stored),
            max_age=lifetime * 86400,
            path="/",
            domain=settings.cookie_domain,
            secure=secure,
            http_only=True,
            same_site="lax",
        )
        return value.encode("latin-1")

    async def store_receipt(
        self,
        request: RequestInfo,
        decision: Decision,
        action: str,
        collection: str,
        page: object,
        now: datetime,
    ) -> tuple[bool, str | None]:
        """Append the receipt of *decision*; ``(stored or spooled, receipt id)``.

        Never raises: a visitor's choice is honoured even when it cannot be recorded
        (the failure is logged loudly; a spooled store keeps the draft on disk).
        """
        store = self.mw.store
        if store is None:
            return False, None
        draft = self.build_draft(request, decision, action, collection, page, now)
        try:
            receipt = await anyio.to_thread.run_sync(store.append, draft)
        except Exception:
            logger.exception("could not record consent receipt for action %s", action)
            return False, None
        return True, receipt.receipt_id if receipt is not None else None

    def build_draft(
        self,
        request: RequestInfo,
        decision: Decision,
        action: str,
        collection: str,
        page: object,
        now: datetime,
    ) -> ReceiptDraft:
        mw = self.mw
        language = "en"
        shown = ""
        if mw.banner is not None:
            language = mw.banner.negotiate(request.header("accept-language"))
            shown = mw.banner.shown_hash(language)
        lifetime = mw.policy.lifetime_days(decision.granted)
        page_path = urlsplit(_safe_return(page, request)).path
        return ReceiptDraft(
            consent_id=decision.consent_id or "",
            action=action,
            granted=tuple(c for c in CATEGORIES if decision.allows(c)),
            refused=tuple(c for c in OPTIONAL_CATEGORIES if not decision.allows(c)),
            policy_revision=mw.policy.revision,
            shown_hash=shown,
            language=language,
            jurisdiction=decision.region,
            consent_model=decision.model,
            collection=collection,
            page=page_path,
            user_agent=reduce_user_agent(request.header("user-agent") or ""),
            ip=truncate_ip(request.client_ip or "", mw.settings.ip_mode),
            timestamp=now,
            expires_at=now + timedelta(days=lifetime),
        )

    # -- pages and files ----------------------------------------------------------------

    def page(self, sub: str, request: RequestInfo, decision: Decision) -> Response:
        banner = self.mw.banner
        if banner is None:
            return _error(404, "the banner is disabled")
        return_to = _safe_return(_query_value(request.query, "return_to"), request)
        ctx = self.mw.banner_context(request, decision, None)
        ctx = type(ctx)(
            decision=ctx.decision,
            language=ctx.language,
            return_to=return_to,
            nonce=None,
            gpc_honoured=ctx.gpc_honoured,
        )
        html = banner.preferences_page(ctx) if sub == "/preferences" else banner.cookies_page(ctx)
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "private, no-store", "Vary": "Cookie, Accept-Language"},
        )

    async def receipt(self, decision: Decision) -> Response:
        store = self.mw.store
        if store is None or not decision.consent_id:
            return _error(404, "no receipt recorded for this browser")
        latest = await anyio.to_thread.run_sync(store.latest, decision.consent_id)
        if latest is None:
            return _error(404, "no receipt recorded for this browser")
        body = to_kantara(latest, controller={"piiController": self.mw.settings.controller})
        return JSONResponse(body, headers={"Cache-Control": "private, no-store"})

    def static(self, name: str, request: RequestInfo) -> Response:
        from .banner import static_dir

        if not name or "/" in name or "\\" in name or name.startswith("."):
            return _error(404, "no such file")
        path = static_dir() / name
        if not path.is_file():
            return _error(404, "no such file")
        data = path.read_bytes()
        etag = (
            '"'
            + base64.urlsafe_b64encode(__import__("hashlib").sha256(data).digest()[:12]).decode()
            + '"'
        )
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if request.header("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/") or media.endswith("javascript"):
            media += "; charset=utf-8"
        return Response(data, media_type=media, headers=headers)

    async def gpc_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(
            gpc_json(_GPC_LAST_UPDATE),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=86400"},
        )
        await response(scope, receive, send)

    # -- admin --------------------------------------------------------------------------

    def _authorised(self, request: RequestInfo) -> bool:
        token = self.mw.settings.admin_token
        if not token:
            return False
        header = request.header("authorization") or ""
        scheme, _, credentials = header.partition(" ")
        offered = ""
        if scheme.lower() == "bearer":
            offered = credentials.strip()
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return False
            offered = decoded.partition(":")[2]
        return hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8"))

    async def admin(self, sub: str, request: RequestInfo) -> Response:
        if not self._authorised(request):
            return _error(
                401,
                "admin credentials required",
                {"WWW-Authenticate": 'Basic realm="consentkit admin", charset="UTF-8"'},
            )
        store = self.mw.store
        if store is None:
            return _error(404, "no receipt store is configured")
        if sub == "/admin/export":
            return self._export(request)
        if sub == "/admin":
            from .dashboard import render_dashboard

            html = await anyio.to_thread.run_sync(
                lambda: render_dashboard(self.mw, _query_value(request.query, "days"))
            )
            return Response(
                html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
            )
        return _error(404, "no such admin endpoint")

    def _export(self, request: RequestInfo) -> Response:
        from .export import export_stream

        fmt = _query_value(request.query, "format") or "ndjson"
        if fmt not in ("csv", "ndjson", "json"):
            return _error(400, "format must be csv, ndjson or json")
        filters: dict[str, Any] = {}
        for key in ("since", "until"):
            value = _query_value(request.query, key)
            if value:
                try:
                    parsed = datetime.fromisoformat(value)
                except ValueError:
                    return _error(400, f"{key} must be an ISO 8601 date or time")
                filters[key] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        actions = [v for k, v in parse_qsl(request.query) if k == "action"]
        if actions:
            filters["actions"] = actions
        media = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}.get(
            fmt, "application/json"
        )
        assert self.mw.store is not None
        return StreamingResponse(
            export_stream(self.mw.store, fmt, **filters),
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="consent-receipts.{fmt}"',
                "Cache-Control": "no-store",
            },
        )


def _query_value(query: str, key: str) -> str | None:
    try:
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k == key:
                return v
    except ValueError:
        return None
    return None


def _safe_return(value: object, request: RequestInfo) -> str:
    """A same-origin path to send the visitor back to; never another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 for ch in value):
        return "/"
    return value
