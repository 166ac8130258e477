"""The shared test helpers do what the suite relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import require_shared_data


def test_missing_shared_data_fails_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTKIT_SKIP_VECTORS", raising=False)
    missing = tmp_path / "http-state"
    with pytest.raises(pytest.fail.Exception, match="conformance data missing") as info:
        require_shared_data(tmp_path, missing)
    assert str(missing) in str(info.value)
    assert "CONSENTKIT_SKIP_VECTORS=1" in str(info.value)


def test_missing_shared_data_skips_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_SKIP_VECTORS", "1")
    with pytest.raises(pytest.skip.Exception, match="CONSENTKIT_SKIP_VECTORS=1"):
        require_shared_data(tmp_path / "html5lib-tests")


def test_present_shared_data_passes(tmp_path: Path) -> None:
    require_shared_data(tmp_path)
