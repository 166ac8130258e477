"""The ``consentkit`` command line and the streaming export behind it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentkit import ConsentMiddleware, Policy
from consentkit.cli import main, parse_age
from consentkit.receipts import GENESIS_HASH, Receipt, seal, to_dict, unchecked_receipt
from consentkit.stores import open_store
from consentkit.stores.export import CSV_COLUMNS, csv_safe, export_stream, receipt_json

from ..receipt_factory import KEYS, T0, draft

KEY_ARGS = ["--receipt-key", KEYS[0], "--receipt-key", KEYS[1]]
REPO = Path(__file__).resolve().parents[2]


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


def run(url: str, *args: str) -> int:
    return main(["--store", url, *KEY_ARGS, *args])


# --- migrate / verify -----------------------------------------------------------------


def test_migrate_then_verify_an_empty_store(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(url, "migrate") == 0
    assert "OK" in capsys.readouterr().out
    assert run(url, "migrate") == 0
    assert run(url, "verify") == 0
    assert capsys.readouterr().out.strip().endswith("OK: 0 receipts, chain intact")


def test_commands_refuse_a_store_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert run(f"sqlite:///{missing}", "verify") == 2
    assert "no such database file" in capsys.readouterr().err
    assert not missing.exists()


def test_environment_configures_store_and_keys(
    url: str,
    filled: list[Receipt],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONSENTKIT_STORE", url)
    monkeypatch.setenv("CONSENTKIT_RECEIPT_KEYS", f"{KEYS[0]}, {KEYS[1]}")
    assert main(["verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK: 12 receipts, chain intact"


def test_verify_with_the_wrong_key_fails(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", url, "--receipt-key", "not-the-key", "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED")
    assert filled[0].receipt_id in out
    assert "seq 1" in out


@pytest.mark.parametrize("argv", [["verify"], ["--store", "x.db", "verify"], []])
def test_usage_errors_exit_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONSENTKIT_STORE", raising=False)
    monkeypatch.delenv("CONSENTKIT_RECEIPT_KEYS", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


# --- export ---------------------------------------------------------------------------


def test_export_ndjson(
    url: str, filled: list[Receipt], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert run(url, "export", "--format", "ndjson") == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert [json.loads(line) for line in lines] == [to_dict(r) for r in filled]


def test_export_json_array(url: str, filled: list[Receipt], tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    assert run(url, "export", "--format", "json", "--out", str(out)) == 0
    assert json.loads(out.read_text()) == [to_dict(r) for r in filled]


def test_export_json_of_nothing_is_an_empty_array(url: str, tmp_path: Path) -> None:
    run(url, "migrate")
    out = tmp_path / "export.json"
    assert run(url, "export", "--format", "json", "--out", str(out)) == 0
    assert json.loads(out.read_text()) == []


def test_export_filters(url: str, filled: list[Receipt], tmp_path: Path) -> None:
    out = tmp_path / "export.ndjson"
    code = run(
        url,
        "export",
        "--since",
        "2025-03-01T13:00:00Z",
        "--until",
        "2025-03-01T22:00:00+00:00",
        "--action",
        "save",
        "--action",
        "withdraw",
        "--out",
        str(out),
    )
    assert code == 0
    got = [json.loads(line)["seq"] for line in out.read_text().splitlines()]
    expected = [
        r.seq
        for r in filled
        if T0 + timedelta(hours=1) <= r.timestamp < T0 + timedelta(hours=10)
        and r.action in ("save", "withdraw")
    ]
    assert got == expected
    assert got


def test_export_csv_escapes_formulas(url: str, tmp_path: Path) -> None:
    store = open_store(url, receipt_keys=KEYS)
    nasty = draft(
        0,
        consent_id='=HYPERLINK("http://x")',
        user_agent="+cmd",
        language="-1",
        jurisdiction="@SUM(A1)",
        policy_revision="\tx",
        shown_hash="\rx",
        collection='quote " and, comma',
    )
    receipt = store.append(nasty)
    store.close()
    out = tmp_path / "export.csv"
    assert run(url, "export", "--format", "csv", "--out", str(out)) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["consent_id"] == '\'=HYPERLINK("http://x")'
    assert row["user_agent"] == "'+cmd"
    assert row["language"] == "'-1"
    assert row["jurisdiction"] == "'@SUM(A1)"
    assert row["policy_revision"] == "'\tx"
    assert row["shown_hash"] == "'\rx"
    assert row["collection"] == 'quote " and, comma'
    assert row["granted"] == " ".join(receipt.granted)
    assert row["seq"] == "1"
    assert row["hash"] == receipt.hash
    assert row["timestamp"] == "2025-03-01T12:00:00.123456Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\t", "'\t"),
     ("\r", "'\r"), ("a=b", "a=b"), ("", ""), (" =1", " =1")],
)  # fmt: skip
def test_csv_safe(value: str, expected: str) -> None:
    assert csv_safe(value) == expected


def test_receipt_json_matches_the_canonical_dict() -> None:
    tricky = draft(
        1,
        consent_id='quote" back\\slash \n newline \u2028 \u00e9 \U0001f36a',
        ip=None,
        granted=(),
    )
    receipt = seal(tricky, seq=1, prev_hash=GENESIS_HASH, keys=KEYS)
    assert json.loads(receipt_json(receipt)) == to_dict(receipt)


def test_export_progress_on_stderr(
    url: str, filled: list[Receipt], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.csv"
    assert run(url, "export", "--format", "csv", "--progress", "--out", str(out)) == 0
    assert "exported 12/12 (100%)" in capsys.readouterr().err


def test_export_stream_rejects_unknown_formats(url: str, filled: list[Receipt]) -> None:
    store = open_store(url, receipt_keys=KEYS)
    try:
        with pytest.raises(ValueError, match="format"):
            export_stream(store, "xml")
    finally:
        store.close()


class CountingStore:
    """Yields *total* receipts lazily and tracks how many are alive at once."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.produced = 0
        self.alive = 0
        self.max_alive = 0
        self.batch_sizes: list[int] = []
        self.template = seal(draft(0), seq=1, prev_hash=GENESIS_HASH, keys=KEYS)

    def _gone(self) -> None:
        self.alive -= 1

    def iter_receipts(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[Receipt]:
        self.batch_sizes.append(batch_size)
        for seq in range(1, self.total + 1):
            receipt = unchecked_receipt({**self.template.__dict__, "seq": seq})
            self.produced += 1
            self.alive += 1
            self.max_alive = max(self.max_alive, self.alive)
            weakref.finalize(receipt, self._gone)
            yield receipt


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
def test_export_streams_in_constant_memory(fmt: str) -> None:
    source = CountingStore(50_000)
    chunks = export_stream(source, fmt, batch_size=500, chunk_size=1 << 14)
    first = next(chunks)
    assert first
    assert source.produced < 1000
    total_bytes = len(first)
    lines = first.count(b"\n")
    for chunk in chunks:
        assert len(chunk) < 1 << 20  # about one batch at most
        total_bytes += len(chunk)
        lines += chunk.count(b"\n")
    assert source.produced == 50_000
    assert source.max_alive < 100  # never holds the whole list
    assert source.batch_sizes == [500]
    assert lines == {"csv": 50_001, "ndjson": 50_000, "json": 50_002}[fmt]
    assert total_bytes > 50_000 * 300


# --- purge / show / stats -------------------------------------------------------------


def test_purge_by_date_then_verify(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(url, "purge", "--older-than", "2025-03-01T17:00:00Z") == 0
    out = capsys.readouterr().out
    assert "purged 5 receipts" in out
    assert "anchored at seq 5" in out
    assert run(url, "verify") == 0
    assert "OK: 7 receipts, chain intact from purge anchor seq 5" in capsys.readouterr().out


def test_purge_by_age(url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(url, "purge", "--older-than", "1d") == 0  # the fixture dates are long past
    assert "purged 12 receipts" in capsys.readouterr().out
    assert run(url, "verify") == 0


@pytest.mark.parametrize(
    ("text", "delta"),
    [("400d", timedelta(days=400)), ("8w", timedelta(weeks=8)), ("12h", timedelta(hours=12)),
     (" 3D ", timedelta(days=3))],
)  # fmt: skip
def test_parse_age(text: str, delta: timedelta) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_age(text, now=now) == now - delta


def test_parse_age_dates_and_errors() -> None:
    assert parse_age("2025-01-02") == datetime(2025, 1, 2, tzinfo=UTC)
    for bad in ("yesterday", "400", "-3d", ""):
        with pytest.raises(Exception, match="age"):
            parse_age(bad)


def test_bad_purge_value_is_a_usage_error(url: str, filled: list[Receipt]) -> None:
    with pytest.raises(SystemExit) as info:
        run(url, "purge", "--older-than", "soon")
    assert info.value.code == 2


def test_show(url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(url, "show", "cid-2") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == [to_dict(r) for r in filled if r.consent_id == "cid-2"]
    assert len(shown) == 2


def test_show_unknown_visitor(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(url, "show", "nobody") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "no receipts" in captured.err


def test_stats_json(url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(url, "stats", "--json") == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert data["total"] == 12
    assert data["actions"] == {"accept_all": 3, "reject_all": 3, "save": 3, "withdraw": 3}
    functionality = data["categories"]["functionality"]
    assert (functionality["granted"], functionality["refused"]) == (6, 6)
    assert functionality["consent_rate"] == pytest.approx(0.5)
    assert data["categories"]["necessary"]["consent_rate"] == 1.0
    assert data["anchor"] is None


def test_stats_text_and_period(
    url: str, filled: list[Receipt], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(url, "stats", "--since", "2025-03-01T12:00:00Z", "--until", "2025-03-01T16:00") == 0
    out = capsys.readouterr().out
    assert out.startswith("receipts: 4")
    assert "performance" in out
    assert "25.0%" in out


_AWKWARD = st.text(alphabet='ab=+-@\t\r\n",;\x1f \u00e9', max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(_AWKWARD, min_size=4, max_size=4))
def test_database_rendered_csv_equals_csv_writer(tmp_path: Path, cells: list[str]) -> None:
    """The SQLite fast path (separator join + replace) matches csv.writer for any text."""
    from consentkit.stores.sqlite import SQLiteReceiptStore

    path = tmp_path / f"csv-{abs(hash(tuple(cells)))}.db"
    store = open_store(f"sqlite:///{path}", receipt_keys=KEYS)
    try:
        store.append(draft(0))
        store.append(
            draft(
                1,
                consent_id=cells[0] or "x",
                page="/" + cells[1],
                user_agent=cells[2],
                policy_revision=cells[3] or "r",
            )
        )
        assert isinstance(store, SQLiteReceiptStore)
        fast = b"".join(export_stream(store, "csv"))
        slow = b"".join(export_stream(_Generic(store), "csv"))  # type: ignore[arg-type]
        assert fast == slow
        rows = list(csv.reader(fast.decode("utf-8").splitlines(keepends=True)))
        assert len(rows) == 3
    finally:
        store.close()


class _Generic:
    def __init__(self, store: Any) -> None:
        self.iter_receipts = store.iter_receipts


# --- what a new user meets: keys, policy checks, typos, pipes and progress ------------


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
