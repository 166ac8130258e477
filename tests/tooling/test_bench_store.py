"""The store benchmark's peak-memory measure counts the child process alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_store import _run_child


def test_peak_rss_is_the_childs_own_not_its_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parent holds 200 MB; Linux's ru_maxrss of a child would report at least that.
    ballast = bytearray(200 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    module = tmp_path / "grow.py"
    module.write_text("block = bytearray(80 * 2**20)\nblock[::4096] = b'y' * len(block[::4096])\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    seconds, peak_mb = _run_child(["grow"], tmp_path)
    assert seconds > 0
    assert 80 <= peak_mb < 150, peak_mb
    assert len(ballast) == 200 * 2**20
