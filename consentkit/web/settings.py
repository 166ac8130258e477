"""``Settings``: the middleware's options as one frozen value, validated once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from ..policy import Controller
from ..privacy import IP_MODES, IPMode
from ..urls import check_prefix

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Middleware configuration, validated once."""

    prefix: str = "/_consent"
    cookie_name: str = "consentkit"
    cookie_domain: str | None = None
    cookie_secure: bool | None = None
    rewrite_html: bool = True
    inject_banner: bool = True
    admin_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_body_size: int = 16 * 1024
    body_timeout: float = 10.0
    ip_mode: IPMode = "truncate"
    crawler_mode: Literal["block", "off"] = "block"
    controller: Controller | Mapping[str, str] | str | None = None

    def __post_init__(self) -> None:
        src = "ConsentMiddleware(...)"
        check_prefix(self.prefix, source=src)
        if self.controller is not None:
            controller = Controller.coerce(self.controller, source=src)
            object.__setattr__(self, "controller", controller)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.cookie_name):
            raise ConfigError(
                f"invalid cookie name {self.cookie_name!r}",
                source=src,
                key="cookie_name",
                fix="use letters, digits, '_', '.' or '-'",
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
