"""Agents that record only a running total per session (Droid, Goose, Hermes: ``capture.SESSION_TOTAL_AGENTS``)
give one row per session that a later read replaces. A session read again after it grew, days later, with its
file's modification time moved, is still one row holding the final total: its time comes from the file's
content where the agent records one, and the store keeps every per-session row at the time of its first
stored copy (``store/sessions.py``), so no re-read lands on a day deduplication does not compare.

Each case writes the agent's real file layout (the columns and fields its own code writes, as in
``tests/data/agents/*/README.md``), ingests it, grows the session, sets the file's time days later and
ingests again."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, run_cli
from tokmeter.capture import SESSION_TOTAL_AGENTS, session_total_id
from tokmeter.extract import extract_row
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.sources import BadCapture, read_captures
from tokmeter.sources.agents import AGENTS
from tokmeter.store.local import Store
from tokmeter.store.sessions import TIMES

START = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)  # when the session began, as its content says
FIRST_READ = START + timedelta(hours=5)  # the file's time at the first read
LATER = START + timedelta(days=6)  # the file's time after the session grew
SESSION = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
DOUBLE_COUNTED = REPO / "tests" / "data" / "agents" / "droid" / "double-counted-store"


def _set_time(files: list[Path], when: datetime) -> None:
    for file in files:
        os.utime(file, (when.timestamp(), when.timestamp()))


# ---- one writer per agent: (folder, tokens, content time or None, with message times) -> files written


def _droid(folder: Path, tokens: int, lock_time: bool, messages: bool) -> list[Path]:
    """``<session>.settings.json`` (as ccusage's droid fixtures) and, with ``messages``, the transcript
    beside it: a ``session_start`` line (no time) then ``message`` lines Droid stamps."""
    project = folder / "sessions" / "-home-alice-work-api"
    project.mkdir(parents=True, exist_ok=True)
    settings = {
        "model": "claude-sonnet-4-5-20250929",
        "providerLock": "anthropic",
        "tokenUsage": {"inputTokens": tokens, "outputTokens": tokens // 10, "cacheReadTokens": tokens * 4},
    }
    if lock_time:
        settings["providerLockTimestamp"] = START.isoformat().replace("+00:00", "Z")
    files = [project / f"{SESSION}.settings.json"]
    files[0].write_text(json.dumps(settings))
    if messages:
        lines = [{"type": "session_start", "id": SESSION, "title": "<title>", "cwd": "/home/alice/work/api"}]
        for minute in range(tokens // 1000):
            stamp = (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
            lines.append(
                {"type": "message", "id": f"m{minute}", "timestamp": stamp, "message": {"role": "user"}}
            )
        files.append(project / f"{SESSION}.jsonl")
        files[1].write_text("".join(json.dumps(line) + "\n" for line in lines))
    return files


def _goose(folder: Path, tokens: int, start_time: bool, messages: bool) -> list[Path]:
    """``sessions/sessions.db`` with Goose's ``sessions`` and ``messages`` columns (block/goose
    session_manager.rs): ``created_at`` is ``YYYY-MM-DD HH:MM:SS``, ``created_timestamp`` epoch seconds."""
    database = folder / "sessions" / "sessions.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as db:
        db.execute(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, working_dir TEXT, created_at TIMESTAMP, "
            "accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER, "
            "accumulated_output_tokens INTEGER, provider_name TEXT, model_config_json TEXT)"
        )
        db.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, "
            "role TEXT NOT NULL, content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL)"
        )
        created = START.strftime("%Y-%m-%d %H:%M:%S") if start_time else None
        db.execute(
            "INSERT INTO sessions VALUES (?, '/home/alice/work/infra', ?, ?, ?, ?, 'anthropic', ?)",
            (
                SESSION,
                created,
                tokens * 11 // 10,
                tokens,
                tokens // 10,
                '{"model_name": "claude-sonnet-4-5"}',
            ),
        )
        for minute in range(tokens // 1000 if messages else 0):
            stamp = int((START + timedelta(minutes=minute)).timestamp())
            db.execute("INSERT INTO messages VALUES (NULL, ?, 'user', '[]', ?)", (SESSION, stamp))
    return [database]


def _hermes(folder: Path, tokens: int, start_time: bool, messages: bool) -> list[Path]:
    """``state.db`` with Hermes' ``sessions`` and ``messages`` columns (NousResearch/hermes-agent
    hermes_state_common.py: ``started_at REAL``, ``messages.timestamp REAL``, epoch seconds)."""
    database = folder / "state.db"
    folder.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as db:
        db.execute(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, source TEXT, model TEXT, started_at REAL, "
            "input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, "
            "cache_write_tokens INTEGER, reasoning_tokens INTEGER, billing_provider TEXT)"
        )
        db.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, "
            "role TEXT NOT NULL, content TEXT, timestamp REAL NOT NULL)"
        )
        started = START.timestamp() if start_time else None
        db.execute(
            "INSERT INTO sessions VALUES (?, 'cli', 'claude-sonnet-4-5', ?, ?, ?, ?, 0, 0, 'anthropic')",
            (SESSION, started, tokens, tokens // 10, tokens * 4),
        )
        for minute in range(tokens // 1000 if messages else 0):
            stamp = (START + timedelta(minutes=minute)).timestamp()
            db.execute("INSERT INTO messages VALUES (NULL, ?, 'user', NULL, ?)", (SESSION, stamp))
    return [database]


WRITERS: dict[str, Callable[[Path, int, bool, bool], list[Path]]] = {
    "droid": _droid,
    "goose": _goose,
    "hermes": _hermes,
}
# each way the time can be found: the agent's own start time; none, but its messages' times; neither
WAYS = {"start time": (True, True), "messages only": (False, True), "neither": (False, False)}


def _ingest(agent: str, files: list[Path], store: Store) -> None:
    report = run_ingest(files, store, fmt=agent, check_prices=False)
    assert not report.bad, report.bad


def _stored(store: Store) -> pl.DataFrame:
    with store.reading():
        return store.scan().collect()


def _input(rows: pl.DataFrame) -> int:
    return int(rows["input_tokens"].sum())


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("agent", sorted(WRITERS))
def test_a_grown_session_read_days_later_is_one_row(agent: str, way: str, tmp_path: Path) -> None:
    start_time, messages = WAYS[way]
    folder, store = tmp_path / agent, Store(tmp_path / "store")
    files = WRITERS[agent](folder, 4000, start_time, messages)
    _set_time(files, FIRST_READ)
    _ingest(agent, files, store)
    first = _stored(store)
    _set_time(WRITERS[agent](folder, 9000, start_time, messages), LATER)
    _ingest(agent, files, store)
    rows = _stored(store)
    grown = WRITERS[agent](tmp_path / "alone", 9000, start_time, messages)  # the final session, read alone
    _set_time(grown, LATER)
    alone = Store(tmp_path / "alone-store")
    _ingest(agent, grown, alone)
    assert rows.height == 1 and rows["request_id"][0] == session_total_id(agent, SESSION)
    assert _input(rows) == _input(_stored(alone)) > _input(first)  # the final total, counted once
    expected = START if start_time or messages else FIRST_READ  # the content's time, else the first read's
    assert rows["timestamp"][0] == first["timestamp"][0] == expected


@pytest.mark.parametrize("agent", sorted(WRITERS))
def test_an_old_copy_on_a_far_day_is_replaced(agent: str, tmp_path: Path) -> None:
    """A store written before the first stored times were kept holds the session stamped with the file's
    time, weeks after the time its content now gives: the re-read replaces that copy (at its day)."""
    folder, store = tmp_path / agent, Store(tmp_path / "store")
    old_time = START + timedelta(days=20)
    files = WRITERS[agent](folder, 4000, False, False)
    _set_time(files, old_time)
    _ingest(agent, files, store)
    (store.root / TIMES).unlink()  # as a store written before TIMES existed
    files = WRITERS[agent](folder, 9000, True, True)
    _set_time(files, LATER)
    _ingest(agent, files, store)
    rows = _stored(store)
    assert rows.height == 1 and rows["timestamp"][0] == old_time  # where its spend was first reported
    assert _input(rows) == 9000 + (36000 if agent != "goose" else 0)
    assert (store.root / TIMES).exists()


def test_a_grown_session_through_the_cli(tmp_path: Path, isolated_store: Path) -> None:
    """``tokmeter ingest --agent hermes`` twice, the second a week later after the session grew: the report
    counts the final total once."""
    home = tmp_path / "hermes"
    _set_time(_hermes(home, 4000, False, False), FIRST_READ)
    env = {"HERMES_HOME": str(home)}
    assert run_cli("ingest", "--agent", "hermes", env=env).returncode == 0
    _set_time(_hermes(home, 9000, False, False), LATER)
    done = run_cli("ingest", "--agent", "hermes", env=env)
    assert done.returncode == 0, done.stderr
    report = run_cli("report", "--by", "day", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    days = json.loads(report.stdout)["rows"]
    assert [(day["day"], day["requests"], day["input_tokens"]) for day in days] == [
        (FIRST_READ.date().isoformat(), 1, 9000 + 36000)
    ]


def test_session_total_agents_are_agents() -> None:
    assert set(SESSION_TOTAL_AGENTS) <= set(AGENTS)
    with pytest.raises(ValueError, match="per-session totals"):
        session_total_id("claude-code", SESSION)


def test_a_store_that_counted_sessions_twice_is_settled(tmp_path: Path, isolated_store: Path) -> None:
    """A store written before (``tests/data/agents/droid/double-counted-store``, see its README) holds two
    sessions twice, 6 days apart. The first ingest of a session row settles both: one row each, its
    largest total, at its first stored time; the re-read session with its grown total; the ledger holds."""
    shutil.copytree(DOUBLE_COUNTED, isolated_store)
    before = json.loads(run_cli("report", "--by", "day", "--format", "json").stdout)["totals"]
    files = _droid(tmp_path / "droid", 12000, False, True)
    _set_time(files, LATER + timedelta(days=30))
    done = run_cli("ingest", "-q", "--format", "droid", str(files[0]))
    assert done.returncode == 0, done.stderr
    rows = _stored(Store(isolated_store)).sort("input_tokens")
    assert before["requests"] == 4 and rows.height == 2
    assert rows["input_tokens"].to_list() == [5000 * 5, 12000 * 5]  # the other's larger copy; the re-read
    assert set(rows["timestamp"].dt.date().to_list()) == {datetime(2026, 11, 3).date()}
    assert run_cli("verify").returncode == 0


@pytest.mark.parametrize("damage", [b"{not json", b'{"times": []}', b'{"times": {"goose:x": "yesterday"}}'])
def test_damaged_session_times_are_built_again(damage: bytes, tmp_path: Path) -> None:
    """A session_times.json edited or damaged by hand is read again from the stored rows, never a crash."""
    store = Store(tmp_path / "store")
    files = _goose(tmp_path / "goose", 4000, False, False)
    _set_time(files, FIRST_READ)
    _ingest("goose", files, store)
    (store.root / TIMES).write_bytes(damage)
    files = _goose(tmp_path / "goose", 9000, False, False)
    _set_time(files, LATER)
    _ingest("goose", files, store)
    rows = _stored(store)
    assert rows.height == 1 and _input(rows) == 9000 and rows["timestamp"][0] == FIRST_READ
    assert json.loads((store.root / TIMES).read_bytes())["times"] == {
        session_total_id("goose", SESSION): FIRST_READ.isoformat()
    }


@pytest.mark.parametrize("compressed", [False, True])
def test_droid_time_from_its_transcript(compressed: bool, tmp_path: Path) -> None:
    """Without ``providerLockTimestamp``, the first ``message`` line that carries a time: lines cut short,
    of another type or with no usable time before it are passed over; a gzipped settings file finds its
    plain transcript beside it."""
    settings, transcript = _droid(tmp_path, 4000, False, True)
    lines = transcript.read_text().splitlines()
    odd = ['{"type": "message", "id": "m', '{"type": "todo", "timestamp": "2026-01-01T00:00:00Z"}']
    odd.append('{"type": "message", "id": "mx", "timestamp": "soon"}')
    transcript.write_text("\n".join([lines[0], *odd, *lines[1:]]) + "\n")
    if compressed:
        zipped = settings.with_name(settings.name + ".gz")
        zipped.write_bytes(gzip.compress(settings.read_bytes()))
        settings.unlink()
        settings = zipped
    (capture,) = read_captures(settings, "droid")
    assert not isinstance(capture, BadCapture)
    assert extract_row(capture)["timestamp"] == START
