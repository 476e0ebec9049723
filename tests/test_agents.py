"""Coding agents' local logs (``sources/agents.py``): the registry, ``ingest --agent`` / ``--agents``, and per
agent its fixture in ``tests/data/agents/<agent>/`` (each README says where it came from), read in process,
with per-day totals equal to those the real ccusage 20.0.24 printed for the same files
(``ccusage-daily.json``, the command in the README), except where the README's agent table says tokmeter
differs on purpose."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, run_cli
from tokmeter.capture import AGENTS as AGENT_NAMES
from tokmeter.extract import extract_row
from tokmeter.sources import BadCapture, detect_format, find_inputs, read_captures
from tokmeter.sources.agents import AGENTS, agent_logs

DATA = REPO / "tests" / "data" / "agents"

# agent -> (its data directory in the fixture, relative to DATA/<agent>; what ccusage's outputTokens leaves out)
FIXTURES: dict[str, tuple[str, str | None]] = {
    "gemini": ("tmp", "reasoning_tokens"),  # ccusage counts thoughts in totalTokens only
}


def rows_under(root: Path, hint: str) -> list[dict[str, Any]]:
    """The rows of every file under ``root``, each request once (the store's deduplication)."""
    rows: dict[str, dict[str, Any]] = {}
    for found in find_inputs([root]):
        for item in read_captures(found.path, hint=hint):
            assert not isinstance(item, BadCapture), item
            row = extract_row(item)
            rows.setdefault(row["request_id"], row)
    return list(rows.values())


def test_registry_is_the_cli_choices() -> None:
    assert tuple(AGENTS) == AGENT_NAMES
    assert all(agent.env and agent.homes for agent in AGENTS.values())


@pytest.mark.parametrize("agent", sorted(FIXTURES))
def test_daily_totals_equal_ccusage(agent: str) -> None:
    where, left_out = FIXTURES[agent]
    rows = rows_under(DATA / agent / where, agent)
    ours: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in rows:
        day = ours[row["timestamp"].date().isoformat()]
        cache = (row["cache_read_tokens"] or 0) + (row["cache_write_tokens"] or 0)
        output = row["output_tokens"] - ((row[left_out] or 0) if left_out else 0)
        counts = (
            row["input_tokens"] - cache,
            output,
            row["cache_write_tokens"] or 0,
            row["cache_read_tokens"] or 0,
        )
        for index, value in enumerate((*counts, row["input_tokens"] + row["output_tokens"])):
            day[index] += value
    theirs = {
        r["date"]: [
            r["inputTokens"],
            r["outputTokens"],
            r["cacheCreationTokens"],
            r["cacheReadTokens"],
            r["totalTokens"],
        ]
        for r in json.loads((DATA / agent / "ccusage-daily.json").read_text())["daily"]
    }
    assert dict(ours) == theirs
    assert all(row["project"] and row["session"] for row in rows)


def test_gemini_rows() -> None:
    rows = {r["request_id"].rsplit(":", 1)[1]: r for r in rows_under(DATA / "gemini" / "tmp", "gemini")}
    assert sorted(rows) == ["g-1", "g-2", "m-g1", "m-g2", "m-g3"]  # no user/info lines, no tokens: null
    g1 = rows["g-1"]  # written twice: the later copy, with its tokens
    assert (g1["input_tokens"], g1["cache_read_tokens"], g1["output_tokens"], g1["reasoning_tokens"]) == (
        15000,
        12000,
        1800,
        1100,
    )
    assert g1["project"] == "/home/alice/work/webapp" and g1["provider"] == "google"
    assert rows["m-g3"]["input_tokens"] == 1500  # the tool-use prompt is input
    session = DATA / "gemini" / "tmp" / "webapp" / "chats"
    assert detect_format(next(session.glob("*.jsonl"))) == "gemini"  # by content, wherever it lies


def test_agents_flag_reads_what_is_found(isolated_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(DATA / "gemini" / "tmp", home / ".gemini" / "tmp")
    env = {"HOME": str(home), **{agent.env: "" for agent in AGENTS.values()}}
    done = run_cli("ingest", "--agents", env=env)
    assert done.returncode == 0, done.stderr
    assert "agents found: gemini; not found: claude-code, codex" in done.stderr
    assert "rows written       5" in done.stdout
    missing = run_cli("ingest", "--agent", "codex", env=env)
    assert missing.returncode == 2 and "CODEX_HOME" in missing.stderr and "Hint:" in missing.stderr


def test_agent_logs_follow_the_variable(tmp_path: Path) -> None:
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir()
    two.mkdir()
    environ = {"GEMINI_DATA_DIR": f"{one}, {two},{tmp_path / 'none'}"}
    assert agent_logs("gemini", environ, tmp_path / "home") == [one, two]
    assert agent_logs("gemini", {}, tmp_path / "home") == []
