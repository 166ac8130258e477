"""``ConsentCore``: what the ASGI and WSGI middlewares share, built once per site.

It validates the options, opens the store, builds the collaborators (the
:class:`~.recorder.Recorder`, :class:`~.endpoints.ConsentEndpoints`, the
:class:`~.editor.ResponseRules`) and decides each request's consent. It knows neither
ASGI nor WSGI: :class:`~.middleware.ConsentMiddleware` and
:class:`consentkit.wsgi.ConsentWSGIMiddleware` add only the protocol.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from functools import partial
from time import time
from typing import Any, Final

from ..categories import Model
from ..crawlers import is_crawler
from ..decision import ConsentCodec, Decision, StoredConsent, decide, recorded_window
from ..errors import ConfigError, did_you_mean
from ..jurisdiction import JurisdictionResolver, read_signals
from ..memo import ABSENT, Memo
from ..policy import Policy
from ..services import service_trackers
from ..stores import ReceiptStore
from ..trackers import TrackerIndex, default_index
from .admin import Admin
from .banner import Banner
from .declaration import Declaration
from .endpoints import ConsentEndpoints
from .recorder import Recorder, open_receipt_store
from .request import CookieRead, CookieReads, RequestInfo, cookie_reads
from .rules import ResponseRules
from .settings import Settings
from .third_party import UnknownHosts
from .unclassified import UnclassifiedReport

__all__ = ["ConsentCore"]

_MEMO_ITEMS: Final = 4096
_MIN_KEY_BYTES: Final = 32
_SETTINGS_FIELDS: Final = frozenset(f.name for f in fields(Settings))
_ALL_OPTIONS: Final = _SETTINGS_FIELDS | {
    "policy",
    "secret_key",
    "store",
    "receipt_key",
    "spool_path",
    "banner",
    "jurisdiction",
    "trusted_headers",
    "geoip_path",
    "trackers",
}


def check_secret_keys(
    secret_key: str | bytes | Sequence[str | bytes] | None, *, source: str
) -> str | bytes | Sequence[str | bytes]:
    """Each signing key must hold at least 32 bytes: a short one can be guessed offline."""
    fix = (
        "pass secret_key=os.environ['CONSENTKIT_SECRET'], a random key of at least "
        f"{_MIN_KEY_BYTES} bytes (`consentkit keygen` prints one)"
    )
    if not secret_key:
        raise ConfigError(
            "a secret key is required to sign consent cookies",
            source=source,
            key="secret_key",
            fix=fix,
        )
    keys = [secret_key] if isinstance(secret_key, str | bytes) else list(secret_key)
    for key in keys:
        size = len(key.encode("utf-8") if isinstance(key, str) else key)
        if size < _MIN_KEY_BYTES:
            raise ConfigError(
                f"a signing key has {size} bytes, fewer than {_MIN_KEY_BYTES}",
                source=source,
                key="secret_key",
                fix=fix,
            )
    return secret_key


_UA_LONGEST: Final = 1024
_crawler_uas: Memo[bytes, bool] = Memo(_MEMO_ITEMS)
"""``User-Agent`` values seen lately and whether each is a crawler's."""


def _is_crawler_ua(user_agent: bytes) -> bool:
    """:func:`~consentkit.crawlers.is_crawler` for a raw header, remembered: a site sees
    the same few hundred ``User-Agent`` values again and again (long ones are not kept)."""
    found = _crawler_uas.get(user_agent)
    if found is None:
        found = bool(user_agent) and is_crawler(user_agent.decode("latin-1"))
        if len(user_agent) <= _UA_LONGEST:
            _crawler_uas.put(user_agent, found)
    return found


class ConsentCore:
    """Keep a site's cookie-consent promises on the server (shared by ASGI and WSGI).

    Args:
        policy: the site's :class:`~consentkit.policy.Policy`, or the path of a TOML
            policy file, loaded with :meth:`Policy.from_toml <consentkit.policy.Policy.from_toml>`.
        secret_key: key (or keys, newest first) signing the consent cookie. Required;
            each at least 32 bytes (``consentkit keygen`` prints one).
        store: a :class:`~consentkit.stores.ReceiptStore` or a store URL
            (``sqlite:///consent.db``, ``postgresql://...``); ``None`` records nothing.
        receipt_key: key (or keys, newest first) sealing receipts; required with a store
            and distinct from ``secret_key``.
        spool_path: where receipts wait when the store is down (default: next to a
            SQLite store, else ``consentkit-spool.jsonl``).
        banner: a :class:`~consentkit.web.banner.Banner`, ``True`` for the default one,
            ``False`` to inject nothing. A banner given is bound to this middleware's
            ``policy`` and ``prefix`` (:meth:`Banner.bound_to`).
        jurisdiction: resolves the visitor's region and consent model; by default
            the policy's region table with ``trusted_headers`` (none: every visitor
            gets the policy's default region) and ``geoip_path``.
        trusted_headers: CDN presets (``cloudflare``, ``cloudfront``, ``vercel``,
            ``fastly``) or header pairs to read the country from. Only list headers
            your CDN sets: a visitor can send any header to an origin it reaches.
        geoip_path: a MaxMind database file (``consentkit[geoip]``).
        trackers: the tracker index used to block unmarked third-party tags.
        **options: fields of :class:`Settings`.
    """

    def __init__(
        self,
        *,
        policy: Policy | str | os.PathLike[str],
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        store: ReceiptStore | str | None = None,
        receipt_key: str | Sequence[str] | None = None,
        spool_path: str | None = None,
        banner: Banner | bool = True,
        jurisdiction: JurisdictionResolver | None = None,
        trusted_headers: Sequence[str | tuple[str, str | None]] = (),
        geoip_path: str | None = None,
        trackers: TrackerIndex | None = None,
        **options: Any,
    ) -> None:
        src = f"{type(self).__name__}(...)"
        if isinstance(policy, str | os.PathLike):
            policy = Policy.from_toml(os.fspath(policy))
        if not isinstance(policy, Policy):
            raise ConfigError(
                "policy is required",
                source=src,
                key="policy",
                fix='pass policy=Policy(...) or the path of a TOML policy ("consent.toml")',
            )
        secret_key = check_secret_keys(secret_key, source=src)
        unknown = sorted(set(options) - _SETTINGS_FIELDS)
        if unknown:
            raise ConfigError(
                "unknown option",
                source=src,
                key=unknown[0],
                fix=did_you_mean(unknown[0], _ALL_OPTIONS, or_list="known options: "),
            )
        self.settings = Settings(**options)
        self.policy = policy
        # The policy's site id binds tokens to this site (see ConsentCodec).
        self.codec = ConsentCodec(secret_key, site=policy.site_id)
        self.declaration = Declaration(policy)
        if banner is True:
            banner = Banner(policy, prefix=self.settings.prefix)
        # One source of truth: the banner posts under this middleware's prefix and
        # lists this policy, whatever it was built with.
        self.banner: Banner | None = (
            banner.bound_to(policy, self.settings.prefix, self.declaration) if banner else None
        )
        self.jurisdiction = jurisdiction or JurisdictionResolver(
            trusted_headers, geoip_path, table=policy.region_table
        )
        # Declared services' hosts are blocked like known trackers, and win over them.
        self.trackers = trackers or default_index()
        extra = service_trackers(policy.services)
        if extra:
            self.trackers = self.trackers.with_extra(extra)
        self.unclassified = UnclassifiedReport()
        self.own_cookies = self.settings.own_cookies
        opened = open_receipt_store(store, receipt_key, secret_key, spool_path)
        # Only a store opened here is closed here (and opened again when used after that).
        reopen = (
            partial(open_receipt_store, store, receipt_key, secret_key, spool_path)
            if isinstance(store, str)
            else None
        )
        self.recorder = Recorder(
            self.settings, policy, self.codec, opened, self.banner, reopen=reopen
        )
        admin = Admin(
            self.settings,
            policy,
            self.recorder,
            self.unclassified,
            scan_store_url=store if isinstance(store, str) else None,
        )
        self.endpoints = ConsentEndpoints(
            self.settings, policy, self.recorder, self.banner, admin, declaration=self.declaration
        )
        self.rules = ResponseRules(
            policy=policy,
            own_cookies=self.own_cookies,
            trackers=self.trackers,
            recorder=self.recorder,
            unclassified=self.unclassified,
            banner=self.banner,
            declaration=self.declaration,
            unknown_hosts=UnknownHosts(policy, self.unclassified),
            rewrite_html=self.settings.rewrite_html,
            inject_banner=self.settings.inject_banner,
            cookie_domain=self.settings.cookie_domain,
            max_decoded_size=self.settings.max_decoded_size,
        )
        self._prefix = self.settings.prefix
        self._prefix_slash = self.settings.prefix + "/"
        self._tokens: Memo[str, StoredConsent | None] = Memo(_MEMO_ITEMS)
        # The default decision is keyed by None when the region cannot vary and no signal
        # came (a recorded choice is then remembered on the Cookie header's reading),
        # else by the tuple of all that decides.
        self._defaults: dict[tuple[str, str, bool, bool] | None, Decision] = {}
        self._recorded: Memo[tuple[str, str, str, bool, bool], tuple[Decision, float, float]]
        self._recorded = Memo(_MEMO_ITEMS)
        self._reads = {
            name: cookie_reads()
            for name in {
                self.settings.request_cookie_name("https"),
                self.settings.request_cookie_name("http"),
            }
        }
        self._block_crawlers = self.settings.crawler_mode == "block"
        self._static_region = (
            self.jurisdiction.resolve([], None) if self.jurisdiction.is_static else None
        )

    @property
    def store(self) -> ReceiptStore | None:
        """The receipt store (``None`` when none is configured or after :meth:`close`)."""
        return self.recorder.store

    def close(self) -> None:
        """Close the receipt store if the middleware opened it from a URL.

        Called on ASGI ``lifespan.shutdown``; call it yourself when the server does not
        run the lifespan protocol. A store object passed in stays open: its owner closes it.
        A request after ``close()`` opens the store again.
        """
        self.recorder.close()

    # -- per request --------------------------------------------------------------------

    def cookie_reads(self, cookie_name: str) -> CookieReads:
        """This site's memo of ``Cookie`` headers read for *cookie_name* (pass it to
        :class:`RequestInfo`: the decisions of recorded choices are remembered on it)."""
        reads = self._reads.get(cookie_name)
        if reads is None:
            reads = self._reads[cookie_name] = cookie_reads()
        return reads

    def route(self, path: str) -> str:
        """Who answers *path*: ``"endpoints"``, ``"gpc"`` (the GPC file) or ``"app"``."""
        if path == self._prefix or path.startswith(self._prefix_slash):
            return "endpoints"
        if path == "/.well-known/gpc.json":
            return "gpc"
        return "app"

    def decide(self, request: RequestInfo) -> Decision:
        """The decision for a request: stored cookie, region model and signals.

        This runs on every request, so its pure parts are memoised: verified tokens,
        the region when it cannot vary, the decision of a visitor without a cookie, and a
        recorded choice's decision while the clock is inside its window of validity.
        """
        found = request.found
        resolved = self._static_region
        if resolved is None or b"sec-gpc" in found or b"dnt" in found:
            decision = self._decide_signalled(request, request.consent_token)
        else:
            # The usual request: one region, no signal; the Cookie header alone decides,
            # and its reading remembers the decision while the choice stays valid.
            read = request.read
            if read is None:
                decision = self._defaults.get(None) or self._decide(
                    None, resolved.region, resolved.model, False, False, None
                )
            else:
                memo = read.decided
                if memo is not None and memo[0] is self and memo[2] <= time() < memo[3]:
                    decision = memo[1]
                else:
                    decision = self._decide(
                        read.token, resolved.region, resolved.model, False, False, read
                    )
        if self._block_crawlers and _crawler_uas.get(found.get(b"user-agent", b"")) is not False:
            decision = self._crawler_decision(found.get(b"user-agent", b""), decision)
        return decision

    def _crawler_decision(self, user_agent: bytes, decision: Decision) -> Decision:
        """*decision*, or for a crawler's ``User-Agent`` only what is strictly necessary:
        search and link-preview crawlers index the content, not the trackers."""
        if not _is_crawler_ua(user_agent):
            return decision
        return replace(
            decision, granted=frozenset({"necessary"}), pending=frozenset(), crawler=True
        )

    def _decide_signalled(self, request: RequestInfo, token: str | None) -> Decision:
        """:meth:`decide` for a region that varies by request or a request with signals."""
        resolved = self._static_region or self.jurisdiction.resolve(
            request.headers, request.client_ip
        )
        gpc = dnt = False
        found = request.found
        if b"sec-gpc" in found or b"dnt" in found:
            signals = read_signals(request.headers)
            gpc, dnt = signals.gpc, signals.dnt
        if token:
            # A recorded choice decides alike until it expires: memoised per token,
            # and used only while the clock is inside the window it stays valid in.
            memo = self._recorded.get((token, resolved.region, resolved.model, gpc, dnt))
            if memo is not None and memo[1] <= time() < memo[2]:
                return memo[0]
        return self._decide(token, resolved.region, resolved.model, gpc, dnt, False)

    def _decide(
        self,
        token: str | None,
        region: str,
        model: Model,
        gpc: bool,
        dnt: bool,
        plain: CookieRead | bool | None,
    ) -> Decision:
        """:meth:`decide` past the memos. *plain*: the region is static and no signal came,
        given as the request's ``Cookie`` reading (``None``: no cookie) where a recorded
        choice is then remembered; ``False`` otherwise (remembered by all that decides)."""
        stored = self._verify(token) if token else None
        default_key = None if plain is not False else (region, model, gpc, dnt)
        if stored is None:
            decision = self._defaults.get(default_key)
            if decision is not None:
                return decision
        now = datetime.now(UTC)
        decision = decide(
            stored, self.policy, now=now, model=model, region=region, gpc=gpc, dnt=dnt
        )
        if stored is None:
            if len(self._defaults) < _MEMO_ITEMS:
                self._defaults[default_key] = decision
        elif decision.decided and token:
            window = recorded_window(stored, self.policy)
            if isinstance(plain, CookieRead):
                plain.decided = (self, decision, *window)
            else:
                self._recorded.put((token, region, model, gpc, dnt), (decision, *window))
        return decision

    def _verify(self, token: str) -> StoredConsent | None:
        # A token's signature and content never change: verify each one once.
        found = self._tokens.get(token, ABSENT)
        if found is not ABSENT:
            return found  # type: ignore[return-value]
        return self._tokens.put(token, self.codec.loads(token))
