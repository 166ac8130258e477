"""The optional compiled twins of a few per-request loops (``consentkit[speedups]``).

``pip install consentkit[speedups]`` adds the ``consentkit_speedups`` C extension. When it
is importable, of the expected :data:`API` version, and ``CONSENTKIT_PURE_PYTHON`` is not
set to a non-empty value, :data:`native` is the module; otherwise ``None`` and every
caller takes its pure-Python path, which stays the reference: each compiled function
answers exactly as its Python twin (the tests hold the two to that) or returns ``None``
for input shapes it leaves to Python.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Final

__all__ = ["API", "native", "status"]

API: Final = 1
"""The ``consentkit_speedups.API`` this version of consentkit speaks."""


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get("CONSENTKIT_PURE_PYTHON"):
        return None, "pure Python (CONSENTKIT_PURE_PYTHON is set)"
    try:
        import consentkit_speedups  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None, "pure Python (consentkit_speedups is not installed)"
    found = getattr(consentkit_speedups, "API", None)
    if found != API:
        return None, (
            f"pure Python (consentkit_speedups speaks API {found}, this consentkit needs "
            f"{API}: install the consentkit-speedups of this release)"
        )
    return consentkit_speedups, "compiled (consentkit_speedups)"


_loaded = _load()
native: Final = _loaded[0]
status: Final = _loaded[1]
"""Which path runs, and why."""
