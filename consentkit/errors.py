"""Exceptions raised by consentkit, and the one "did you mean" hint their fixes use.

::

    ConsentKitError
     ├── ConfigError          invalid policy or middleware configuration
     ├── StoreError           a receipt store could not do its job
     │    └── ChainError      the receipt chain does not verify
     └── MissingExtraError    an optional dependency is not installed
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

from .categories import fold_name


class ConsentKitError(Exception):
    """Base class of every error consentkit raises on purpose."""


class ConfigError(ConsentKitError, ValueError):
    """A configuration value is invalid.

    The fields stay apart (``problem``, ``source``, ``key``, ``fix``) so a caller that adds
    context re-raises with other fields instead of parsing the message; ``str()`` joins
    them as ``source: key: problem (fix: fix)``.
    """

    def __init__(self, problem: str, *, source: str = "Policy(...)", key: str = "", fix: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.source = source
        self.key = key
        self.fix = fix

    def __str__(self) -> str:
        key = f"{self.key}: " if self.key else ""
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{self.source}: {key}{self.problem}{fix}"


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


def did_you_mean(
    value: str,
    choices: Iterable[str],
    *,
    synonyms: Mapping[str, str] | None = None,
    or_list: str = "",
) -> str:
    """A hint naming the choice *value* was probably meant to be.

    *value* is compared ignoring case, surrounding space and ``-``/``_``/space differences,
    then by similarity; *synonyms* (keyed in that folded form) name choices by another word.
    When nothing is close the hint is ``""``, or with *or_list* (e.g. ``"known: "``) that
    label followed by every choice, sorted.
    """
    names = list(dict.fromkeys(choices))
    folded = fold_name(value)
    by_fold = {fold_name(name): name for name in names}
    match = (synonyms or {}).get(folded) or by_fold.get(folded)
    if match is None:
        close = difflib.get_close_matches(value, names, n=1)
        if not close:
            close = [by_fold[f] for f in difflib.get_close_matches(folded, list(by_fold), n=1)]
        match = close[0] if close else None
    if match:
        return f'did you mean "{match}"?'
    return f"{or_list}{', '.join(sorted(names))}" if or_list else ""


def reject_unknown_keys(
    keys: Iterable[object],
    known: Collection[str],
    *,
    source: str,
    where: str = "",
    or_list: str = "known keys: ",
) -> None:
    """Raise a :class:`ConfigError` for the first of *keys* not in *known*.

    The error names the key under *where* (``services[0].nmae``) and suggests the known
    key it was probably meant to be (see :func:`did_you_mean`), else lists them.
    """
    for key in keys:
        if key not in known:
            raise ConfigError(
                "unknown key",
                source=source,
                key=f"{where}.{key}" if where else str(key),
                fix=did_you_mean(str(key), known, or_list=or_list),
            )
