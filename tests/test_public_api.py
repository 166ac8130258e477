"""The public API: a sorted ``__all__`` whose names all resolve (layers: test_layers.py)."""

from __future__ import annotations

from pathlib import Path

import consentkit

PACKAGE = Path(consentkit.__file__).parent


def test_all_is_sorted_and_unique() -> None:
    names = list(consentkit.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert len(names) == len(set(names))


def test_every_exported_name_resolves() -> None:
    for name in consentkit.__all__:
        assert getattr(consentkit, name) is not None, name


def test_py_typed_is_shipped() -> None:
    assert (PACKAGE / "py.typed").is_file()
