"""Exceptions raised by consentkit.

::

    ConsentKitError
     ├── ConfigError          invalid policy or middleware configuration
     ├── StoreError           a receipt store could not do its job
     │    └── ChainError      the receipt chain does not verify
     └── MissingExtraError    an optional dependency is not installed
"""

from __future__ import annotations


class ConsentKitError(Exception):
    """Base class of every error consentkit raises on purpose."""


class ConfigError(ConsentKitError, ValueError):
    """A configuration value is invalid.

    The message names the source (file or ``Policy(...)``), the key and the fix.
    """

    def __init__(self, message: str, *, source: str = "Policy(...)", key: str = "", fix: str = ""):
        self.source = source
        self.key = key
        self.fix = fix
        parts = [f"{source}: "]
        if key:
            parts.append(f"{key}: ")
        parts.append(message)
        if fix:
            parts.append(f" (fix: {fix})")
        super().__init__("".join(parts))


class StoreError(ConsentKitError):
    """A receipt store failed to read or write."""


class ChainError(StoreError):
    """The receipt chain is broken; ``receipt_id`` names the first bad receipt."""

    def __init__(self, message: str, receipt_id: str | None = None):
        self.receipt_id = receipt_id
        super().__init__(message)


class MissingExtraError(ConsentKitError, ImportError):
    """An optional dependency is missing; the message says which extra installs it."""

    def __init__(self, feature: str, extra: str, package: str):
        self.extra = extra
        super().__init__(
            f"{feature} needs the '{package}' package: pip install 'consentkit[{extra}]'"
        )
