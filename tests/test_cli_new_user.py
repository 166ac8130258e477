"""The command line as a new user meets it: keys, policy checks, typos, pipes and progress."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consentkit import ConsentMiddleware, Policy
from consentkit.cli import main, parse_age
from consentkit.receipts import Receipt
from consentkit.stores import open_store

from .receipt_factory import KEYS, draft

REPO = Path(__file__).resolve().parents[1]
KEY_ARGS = ["--receipt-key", KEYS[0], "--receipt-key", KEYS[1]]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'receipts.db'}"


@pytest.fixture
def filled(url: str) -> list[Receipt]:
    store = open_store(url, receipt_keys=KEYS)
    try:
        return [store.append(draft(i)) for i in range(12)]
    finally:
        store.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("consentkit ")


def test_keygen_prints_keys_the_middleware_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    secret, receipt_key = lines["CONSENTKIT_SECRET"], lines["CONSENTKIT_RECEIPT_KEYS"]
    assert secret != receipt_key
    assert len(secret.encode()) >= 32
    ConsentMiddleware(lambda *a: None, policy=Policy(), secret_key=secret)  # type: ignore[arg-type]


def test_check_summarises_a_policy_and_names_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "consent.toml"
    good.write_text(
        'revision = "3"\n[[cookies]]\nname = "sessionid"\ncategory = "necessary"\n'
        '[[cookies]]\nname = "_pk_id"\nmatch = "prefix"\ncategory = "performance"\n'
    )
    assert main(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "revision 3, 2 cookies declared" in out
    assert "sessionid" in out
    assert "_pk_id" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[categories.performance]\nlable = 'Stats'\n")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert 'did you mean "label"' in err


def test_export_action_typo_is_an_error(url: str, filled: list[Receipt]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--store", url, *KEY_ARGS, "export", "--action", "accpet"])
    assert info.value.code == 2


def test_export_action_typo_suggests(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--store", url, *KEY_ARGS, "export", "--action", "accpet_all"])
    assert 'did you mean "accept_all"' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "delta"),
    [("1y", timedelta(days=365)), ("6m", timedelta(days=180)), ("30d", timedelta(days=30))],
)
def test_purge_ages_in_years_months_and_days(text: str, delta: timedelta) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_age(text, now=now) == now - delta


def test_mistyped_sqlite_url_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--store", "sqlite:/consent.db", *KEY_ARGS, "verify"]) == 2
    err = capsys.readouterr().err
    assert "mistyped" in err
    assert "sqlite:///consent.db" in err
    assert not list(tmp_path.iterdir())


def test_unknown_receipt_key_hints_at_the_option(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    other = "some-other-receipt-key-0123456789"
    assert main(["--store", url, "--receipt-key", other, "verify"]) == 1
    assert "--receipt-key" in capsys.readouterr().out


def test_show_into_a_closed_pipe_is_quiet(url: str, tmp_path: Path) -> None:
    store = open_store(url, receipt_keys=KEYS)
    try:
        for i in range(300):
            store.append(draft(0, consent_id="c" * 32, action=("save", "withdraw")[i % 2]))
    finally:
        store.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "consentkit.cli", "--store", url, *KEY_ARGS]
    proc = subprocess.Popen(
        [*command, "show", "c" * 32],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(100)  # like `| head -c 100`
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Broken pipe" not in err
    assert "Traceback" not in err
    assert proc.returncode == 0


@pytest.mark.parametrize("command", [["verify"], ["export", "--format", "csv"]])
def test_progress_only_on_a_terminal(
    url: str,
    filled: list[Receipt],
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    out = ["--out", str(tmp_path / "x.csv")] if command[0] == "export" else []
    assert main(["--store", url, *KEY_ARGS, *command, *out]) == 0
    assert capsys.readouterr().err == ""  # piped: quiet
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--store", url, *KEY_ARGS, *command, *out]) == 0
    assert "12/12 (100%)" in terminal.getvalue()


def test_purge_says_what_runs_on_a_terminal(
    url: str, filled: list[Receipt], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--store", url, *KEY_ARGS, "purge", "--older-than", "1y"]) == 0
    assert "purging receipts older than" in terminal.getvalue()
