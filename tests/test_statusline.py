"""``tokmeter statusline``: Claude Code's status-line JSON in, one line out, from the summary the ingest
keeps (``STORE/summary.json``), without importing polars or Typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import run_cli
from test_blocks import write_transcript
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.ingest.recent import build_summary
from tokmeter.ingest.summary import read_summary, summary_path, write_summary
from tokmeter.render.statusline import status_input, status_line
from tokmeter.report.queries import Filters, build_report
from tokmeter.store.local import Store

STATUS = {
    "hook_event_name": "Status",
    "session_id": "s-1",
    "transcript_path": "/home/alice/.claude/projects/-home-alice-work/s-1.jsonl",
    "cwd": "/home/alice/work",
    "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
    "workspace": {"current_dir": "/home/alice/work", "project_dir": "/home/alice/work"},
    "version": "1.0.80",
    "cost": {"total_cost_usd": 0.01},
}  # the fields Claude Code documents for a status-line command (code.claude.com/docs/en/statusline)


def micro(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def test_line_from_the_summary(tmp_path: Path) -> None:
    now = datetime(2026, 11, 3, 11, 30, tzinfo=UTC)
    times = [now - timedelta(minutes=90), now - timedelta(minutes=30)]
    store = Store(tmp_path / "store")
    run_ingest([write_transcript(tmp_path / "claude", times)], store, check_prices=False)
    with store.reading():
        doc = build_summary(store, now=now)
    session_cost = float(build_report(store, ["session"], Filters()).rows["cost_usd"][0])
    assert doc["sessions"]["s-1"]["cost"] == pytest.approx(session_cost)
    block = doc["block"]
    assert (block["start_us"], block["requests"]) == (micro(datetime(2026, 11, 3, 10, tzinfo=UTC)), 2)
    write_summary(store.root, doc)
    line = status_line(STATUS, store.root, micro(now))
    assert line.startswith("🤖 Opus 4.1 | 💰 ")
    assert f"${session_cost:,.2f} session" in line and "block (3h 30m left)" in line and "/hr" in line
    assert "as of" not in line  # fresh
    later = status_line({**STATUS, "session_id": "other"}, store.root, micro(now + timedelta(hours=6)))
    assert "N/A session" in later and "no active block" in later and "as of 6h 0m ago" in later


def test_no_summary_and_bad_input(tmp_path: Path) -> None:
    assert status_input(b"") == {} and status_input(b"not json") == {} and status_input(b"[1]") == {}
    assert "no figures yet" in status_line({}, tmp_path)


def test_input_and_summary_of_the_wrong_shape_are_no_input(tmp_path: Path) -> None:
    """Wrong types on standard input, or a summary edited or damaged by hand, never fail the line."""
    now = micro(datetime(2026, 11, 3, 11, 30, tzinfo=UTC))
    good = {"written_us": now, "quarters": [[now, 1.5]], "sessions": {"s-1": {"cost": 1.5}}, "block": None}
    write_summary(tmp_path, good)
    odd = {"session_id": ["s-1"], "model": {"display_name": {"a": 1}}}
    assert status_line(odd, tmp_path, now) == "💰 N/A session / $1.50 today / no active block"
    damaged = [
        {"cost_quarters": "x", "sessions": 5},
        {**good, "quarters": [[now]]},
        {**good, "sessions": {"s-1": {"cost": "1.5"}}},
        {**good, "block": {"start_us": now, "cost": 1.0}},
    ]
    write_summary(tmp_path, {**good, "unpriced_requests": 3})  # cost unknown, not $0: the line says so
    assert status_line({}, tmp_path, now) == "💰 N/A session / $1.50 today / no active block | ⚠ 3 unpriced"
    for doc in damaged:
        write_summary(tmp_path, doc)
        assert read_summary(tmp_path) is None
        assert "no figures yet" in status_line(STATUS, tmp_path, now)


def test_ingest_writes_the_summary_and_the_cli_reads_it(isolated_store: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    write_transcript(tmp_path / "claude", [now - timedelta(minutes=20), now - timedelta(minutes=5)])
    run_ingest([tmp_path / "claude"], Store(isolated_store), check_prices=False)
    summary = read_summary(isolated_store)
    assert summary is not None and set(summary["sessions"]) == {"s-1"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tokmeter", "statusline"],
        input=json.dumps(STATUS).encode(),
        capture_output=True,
        env=os.environ,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.decode()
    assert f"${summary['sessions']['s-1']['cost']:,.2f} session" in line and "left)" in line
    imported = {row.rsplit("|", 1)[-1].strip() for row in done.stderr.decode().splitlines()}
    assert "tokmeter.render.statusline" in imported
    assert not {name for name in imported if name.split(".")[0] in ("polars", "typer", "rich")}
    assert summary_path(isolated_store).stat().st_mode & 0o077 == 0  # the owner's only


@pytest.mark.slow
def test_statusline_is_fast(isolated_store: Path, tmp_path: Path) -> None:
    """Best of 10 under 100 ms of wall time (on a machine that is not overloaded)."""
    now = datetime.now(UTC)
    write_transcript(tmp_path / "claude", [now - timedelta(minutes=20), now - timedelta(minutes=5)])
    assert run_cli("ingest", str(tmp_path / "claude"), "--quiet").returncode == 0
    best = float("inf")
    for _ in range(10):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tokmeter", "statusline"],
            input=json.dumps(STATUS).encode(),
            capture_output=True,
            check=True,
        )
        best = min(best, time.perf_counter() - began)
    assert best < 0.1, best


def test_ingests_of_recent_rows_price_the_summary_through_the_memo(
    isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ingest rewrites the summary from the last days' rows, priced: through the price memo, so an
    ingest of new recent rows of models and days priced before does not load genai-prices; the summary is
    the same as one priced without the memo."""
    now = datetime.now(UTC)
    probe = (
        "import sys, runpy; sys.argv = ['tokmeter', 'ingest', '--claude-code', sys.argv[1]];\n"
        "try:\n    runpy.run_module('tokmeter', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('GENAI' if 'genai_prices' in sys.modules else 'NO-GENAI', file=sys.stderr)"
    )

    def ingest(minutes: list[int]) -> str:
        write_transcript(tmp_path / "claude", [now - timedelta(minutes=m) for m in minutes])
        done = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / "claude")],
            capture_output=True,
            text=True,
            env=os.environ,
            timeout=120,
            check=False,
        )
        return done.stderr.split()[-1]

    assert ingest([40, 30]) == "GENAI"  # the first: nothing kept yet
    assert ingest([40, 30, 5]) == "NO-GENAI"  # a new recent row: its price comes from the memo
    summary = read_summary(isolated_store)
    assert summary is not None and summary["block"]["requests"] == 3
    monkeypatch.setenv("TOKMETER_PRICE_MEMO", "0")
    store = Store(isolated_store)
    with store.reading():
        fresh = build_summary(store, now=datetime.fromtimestamp(summary["written_us"] / 1e6, UTC))
    assert fresh["sessions"] == summary["sessions"] and fresh["quarters"] == summary["quarters"]
