"""The admin endpoints under ``{prefix}/admin``: the dashboard and the receipt export.

Both need the admin token (``Authorization: Bearer <token>`` or Basic auth with the
token as password); without a configured token they do not exist. Both read the store,
so the ASGI adapter calls them in a worker thread.
"""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from ..policy import Policy
from ..stores import ReceiptStore
from ..stores.export import MEDIA_TYPES, export_stream
from .dashboard import render_dashboard
from .recorder import Recorder
from .request import RequestInfo
from .responses import Reply, error, query_value, reply
from .settings import Settings
from .unclassified import UnclassifiedReport

__all__ = ["Admin"]


class Admin:
    """Answers ``{prefix}/admin`` and ``{prefix}/admin/export``.

    It is the dashboard's :class:`~consentkit.web.dashboard.DashboardSource`: the
    store (through the recorder, which may have closed it), the unclassified- and
    undeclared-cookie report, the store URL saved scans are read from, the settings and
    the policy.
    """

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        recorder: Recorder,
        unclassified: UnclassifiedReport,
        scan_store_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.unclassified = unclassified
        #: The receipt store's URL, where ``consentkit scan --store`` saves scans; ``None``
        #: when the store was passed in as an object.
        self.scan_store_url = scan_store_url
        self._recorder = recorder

    @property
    def store(self) -> ReceiptStore | None:
        return self._recorder.store

    def _authorised(self, request: RequestInfo) -> bool:
        token = self.settings.admin_token
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

    def __call__(self, sub: str, request: RequestInfo) -> Reply:
        if not self._authorised(request):
            return error(
                401,
                "admin credentials required",
                {"WWW-Authenticate": 'Basic realm="consentkit admin", charset="UTF-8"'},
            )
        store = self.store
        if store is None:
            return error(404, "no receipt store is configured")
        if sub == "/admin/export":
            return _export(store, request)
        if sub == "/admin":
            html = render_dashboard(self, query_value(request.query, "days"))
            return reply(
                html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
            )
        return error(404, "no such admin endpoint")


def _export(store: ReceiptStore, request: RequestInfo) -> Reply:
    fmt = query_value(request.query, "format") or "ndjson"
    if fmt not in MEDIA_TYPES:
        return error(400, "format must be csv, ndjson or json")
    filters: dict[str, Any] = {}
    for key in ("since", "until"):
        value = query_value(request.query, key)
        if value:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return error(400, f"{key} must be an ISO 8601 date or time")
            filters[key] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    actions = [v for k, v in parse_qsl(request.query) if k == "action"]
    if actions:
        filters["actions"] = actions
    return reply(
        export_stream(store, fmt, **filters),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="consent-receipts.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
