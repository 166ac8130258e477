"""URL path rules shared by the middleware's settings and the banner: one home, so they agree.

Pure: standard library only.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import ConfigError

__all__ = ["check_prefix"]

_PREFIX: Final = re.compile(r"(/[A-Za-z0-9_.~-]+)+")


def check_prefix(prefix: object, *, source: str) -> str:
    """Return *prefix* if it is a valid mount path for the consent endpoints.

    A prefix is one or more ``/segment`` parts of unreserved URL characters: a leading
    slash, no trailing slash, nothing that needs escaping in a link or a form action.

    Raises:
        ConfigError: naming *source*, the ``prefix`` key and the fix.
    """
    if not isinstance(prefix, str) or _PREFIX.fullmatch(prefix) is None:
        raise ConfigError(
            f"invalid prefix {prefix!r}",
            source=source,
            key="prefix",
            fix='use a path like "/_consent" (leading slash, no trailing slash)',
        )
    return prefix
