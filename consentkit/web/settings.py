"""``Settings``: the middleware's options as one frozen value, validated once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..decision import DEFAULT_COOKIE_NAME, consent_cookie_name
from ..errors import ConfigError
from ..policy import Controller
from ..privacy import IP_MODES, IPMode
from ..urls import check_prefix
from .encodings import DEFAULT_MAX_DECODED

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Middleware configuration, validated once."""

    prefix: str = "/_consent"
    # None: "__Host-consentkit" on secure requests without cookie_domain, else "consentkit".
    cookie_name: str | None = None
    cookie_domain: str | None = None
    cookie_secure: bool | None = None
    rewrite_html: bool = True
    inject_banner: bool = True
    admin_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_body_size: int = 16 * 1024
    body_timeout: float = 10.0
    # Decoded size cap of one compressed HTML body (compression bombs end the body there).
    max_decoded_size: int = DEFAULT_MAX_DECODED
    # Receipts per minute per client network (IPv4 /24, IPv6 /48); 0: no limit.
    receipt_rate_limit: int = 60
    ip_mode: IPMode = "truncate"
    crawler_mode: Literal["block", "off"] = "block"
    controller: Controller | Mapping[str, str] | str | None = None

    def __post_init__(self) -> None:
        src = "ConsentMiddleware(...)"
        check_prefix(self.prefix, source=src)
        if self.controller is not None:
            controller = Controller.coerce(self.controller, source=src)
            object.__setattr__(self, "controller", controller)
        if self.cookie_name is not None and not re.fullmatch(
            r"[A-Za-z0-9_.-]{1,64}", self.cookie_name
        ):
            raise ConfigError(
                f"invalid cookie name {self.cookie_name!r}",
                source=src,
                key="cookie_name",
                fix="use letters, digits, '_', '.' or '-'",
            )
        # A prefixed name the browser would always reject is a configuration error.
        prefix = (self.cookie_name or "").lower()
        if prefix.startswith("__host-") and self.cookie_domain:
            raise ConfigError(
                "a __Host- cookie cannot have a Domain",
                source=src,
                key="cookie_name",
                fix="drop cookie_domain, or use a name without the __Host- prefix",
            )
        if prefix.startswith(("__host-", "__secure-")) and self.cookie_secure is False:
            raise ConfigError(
                "__Host- and __Secure- cookies must be Secure",
                source=src,
                key="cookie_secure",
                fix="leave cookie_secure unset (Secure on HTTPS) or drop the prefix",
            )
        if (
            not isinstance(self.max_decoded_size, int)
            or isinstance(self.max_decoded_size, bool)
            or self.max_decoded_size < 64 * 1024
        ):
            raise ConfigError(
                f"invalid max_decoded_size {self.max_decoded_size!r}",
                source=src,
                key="max_decoded_size",
                fix="use a number of bytes of at least 65536 (default 33554432, 32 MiB)",
            )
        limit = self.receipt_rate_limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ConfigError(
                f"invalid receipt_rate_limit {limit!r}",
                source=src,
                key="receipt_rate_limit",
                fix="use a number of receipts per minute per network (default 60; 0: no limit)",
            )
        if self.ip_mode not in IP_MODES:
            raise ConfigError(
                f"unknown ip_mode {self.ip_mode!r}",
                source=src,
                key="ip_mode",
                fix='use "truncate", "omit" or "full"',
            )
        if isinstance(self.body_timeout, bool) or not (
            isinstance(self.body_timeout, int | float) and 0 < self.body_timeout <= 3600
        ):
            raise ConfigError(
                f"invalid body_timeout {self.body_timeout!r}",
                source=src,
                key="body_timeout",
                fix="give the seconds a consent post's body may take to arrive, e.g. 10",
            )
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ConfigError(
                "admin token is too short",
                source=src,
                key="admin_token",
                fix="use a random token of at least 16 characters",
            )

    def cookie_name_for(self, secure: bool) -> str:
        """The consent cookie's name on a request whose cookies are *secure* or not."""
        return consent_cookie_name(
            self.cookie_name, secure=secure, cookie_domain=self.cookie_domain
        )

    def request_cookie_name(self, scheme: object) -> str:
        """The consent cookie's name on a request made over *scheme* (``"https"`` or not)."""
        secure = self.cookie_secure
        if secure is None:
            secure = scheme == "https"
        return self.cookie_name_for(secure)

    @property
    def own_cookies(self) -> frozenset[str]:
        """Every name the consent cookie may have: enforcement never touches these."""
        return frozenset(
            {self.cookie_name_for(True), self.cookie_name_for(False), DEFAULT_COOKIE_NAME}
        )
