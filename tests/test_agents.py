"""Coding agents' local logs (``sources/agents.py``): the registry, ``ingest --agent`` / ``--agents``, and per
agent its fixture in ``tests/data/agents/<agent>/`` (each README says where it came from), read in process,
with per-day totals equal to those the real ccusage 20.0.24 printed for the same files
(``ccusage-daily.json``, the command in the README), except where the README's agent table says tokmeter
differs on purpose."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, run_cli
from tokmeter.capture import AGENTS as AGENT_NAMES
from tokmeter.extract import extract_row
from tokmeter.sources import BadCapture, agent_codebuff, detect_format, find_inputs, read_captures
from tokmeter.sources.agents import AGENTS, agent_logs

DATA = REPO / "tests" / "data" / "agents"

Counts = tuple[int, int, int, int, int]


def ccusage_view(row: dict[str, Any]) -> Counts:
    """A row as ccusage counts it: input without the cache, output without reasoning (ccusage counts the
    agents' reasoning in totalTokens only), cache writes, cache reads, total."""
    read, write = row["cache_read_tokens"] or 0, row["cache_write_tokens"] or 0
    output = row["output_tokens"] - (row["reasoning_tokens"] or 0)
    return row["input_tokens"] - read - write, output, write, read, row["input_tokens"] + row["output_tokens"]


def qwen_view(row: dict[str, Any]) -> Counts:
    """ccusage's Qwen reader counts cached prompt tokens twice (in inputTokens and cacheReadTokens), and
    reasoning a second time in totalTokens (Qwen's OpenAI-compatible output already includes it)."""
    read, reasoning = row["cache_read_tokens"] or 0, row["reasoning_tokens"] or 0
    total = row["input_tokens"] + row["output_tokens"] + read + reasoning
    return row["input_tokens"], row["output_tokens"], 0, read, total


def copilot_view(row: dict[str, Any]) -> Counts:
    """ccusage's Copilot reader takes cache writes as not part of the input (the GenAI conventions count
    them in), so they count twice in its totals."""
    read, write = row["cache_read_tokens"] or 0, row["cache_write_tokens"] or 0
    return (
        row["input_tokens"] - read,
        row["output_tokens"],
        write,
        read,
        row["input_tokens"] + row["output_tokens"] + write,
    )


# agent -> (its data directory in the fixture, relative to DATA/<agent>; a row as ccusage counts it)
FIXTURES: dict[str, tuple[str, Callable[[dict[str, Any]], Counts]]] = {
    "gemini": ("tmp", ccusage_view),
    "opencode": ("data", ccusage_view),
    "qwen": ("home", qwen_view),
    "copilot": ("home/otel/copilot-otel.jsonl", copilot_view),
    "amp": ("data", ccusage_view),
    "goose": ("share", ccusage_view),
    "kimi": ("home", ccusage_view),
    "droid": ("factory", ccusage_view),
    "kilo": ("data", ccusage_view),
    "pi": ("sessions", ccusage_view),
    "openclaw": ("home", ccusage_view),
    "hermes": ("home", ccusage_view),
    "codebuff": ("manicode", ccusage_view),
}


def rows_under(root: Path, agent: str) -> list[dict[str, Any]]:
    """The rows of every file of the agent's logs in the data directory ``root``, each request once (the
    store's deduplication)."""
    rows: dict[str, dict[str, Any]] = {}
    places = agent_logs(agent, {AGENTS[agent].env: str(root)}, root / "no-home")
    for found in find_inputs(places):
        for item in read_captures(found.path, hint=agent):
            assert not isinstance(item, BadCapture), item
            row = extract_row(item)
            rows.setdefault(row["request_id"], row)
    return list(rows.values())


def test_registry_is_the_cli_choices() -> None:
    assert tuple(AGENTS) == AGENT_NAMES
    assert all(agent.env and agent.homes for agent in AGENTS.values())


@pytest.mark.parametrize("agent", sorted(FIXTURES))
def test_daily_totals_equal_ccusage(agent: str) -> None:
    where, view = FIXTURES[agent]
    rows = rows_under(DATA / agent / where, agent)
    ours: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in rows:
        day = ours[row["timestamp"].date().isoformat()]
        for index, value in enumerate(view(row)):
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
    assert all(row["session"] for row in rows)
    assert agent in ("copilot", "hermes") or any(row["project"] for row in rows)  # they record none


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
    shutil.copytree(DATA / "copilot" / "home", home / ".copilot")
    env = {"HOME": str(home), **{agent.env: "" for agent in AGENTS.values()}}
    none = run_cli("ingest", "--agents", env={**env, "HOME": str(tmp_path / "empty-home")})
    # no agent's logs on the machine: said so (it used to say "give a PATH, or --agents"), with the variables
    assert none.returncode == 2 and "--agents: no coding agent's logs were found" in none.stderr
    assert "$GEMINI_DATA_DIR" in none.stderr and "Traceback" not in none.stderr
    done = run_cli("ingest", "--agents", env=env)
    assert done.returncode == 0, done.stderr
    assert "agents found: gemini, copilot; not found: claude-code, codex, opencode, qwen" in done.stderr
    assert "rows written       9" in done.stdout and "(4 copilot, 5 gemini)" in done.stdout
    by_session = run_cli("rows", "--format", "jsonl", env=env)
    sessions = {json.loads(line)["session"] for line in by_session.stdout.splitlines()}
    assert len(sessions) == 5 and None not in sessions
    missing = run_cli("ingest", "--agent", "codex", env=env)
    assert missing.returncode == 2 and "CODEX_HOME" in missing.stderr and "Hint:" in missing.stderr


def test_agent_logs_follow_the_variable(tmp_path: Path) -> None:
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir()
    two.mkdir()
    environ = {"GEMINI_DATA_DIR": f"{one}, {two},{tmp_path / 'none'}"}
    assert agent_logs("gemini", environ, tmp_path / "home") == [one, two]
    assert agent_logs("gemini", {}, tmp_path / "home") == []


def test_opencode_rows() -> None:
    root = DATA / "opencode" / "data"
    rows = {r["request_id"]: r for r in rows_under(root, "opencode")}
    assert sorted(rows) == [f"opencode:msg_{n}" for n in ("a1", "a2", "b1", "b2", "o1")]  # a1 once
    a1, b1 = rows["opencode:msg_a1"], rows["opencode:msg_b1"]
    assert (a1["input_tokens"], a1["cache_read_tokens"], a1["cache_write_tokens"]) == (23512, 21000, 2500)
    assert (b1["output_tokens"], b1["reasoning_tokens"], b1["provider"]) == (1000, 400, "openai")
    assert (a1["project"], a1["session"], a1["provider"]) == (
        "/home/alice/work/api",
        "ses_alpha",
        "anthropic",
    )
    assert detect_format(root / "opencode.db") == "opencode"
    assert detect_format(root / "storage" / "message" / "ses_old" / "msg_o1.json") == "opencode"


def test_qwen_rows_and_branch_copies(tmp_path: Path) -> None:
    shutil.copytree(DATA / "qwen" / "home", tmp_path / "home")
    chats = tmp_path / "home" / "projects" / "-home-alice-work-shop" / "chats"
    (original,) = chats.glob("*.jsonl")
    copied = [json.loads(line) for line in original.read_text().splitlines()[:2]]
    for record in copied:  # /branch: the same records under a new session, their uuid kept
        record["forkedFrom"] = {"sessionId": record["sessionId"], "messageUuid": record["uuid"]}
        record["sessionId"] = "branch-1"
    (chats / "branch-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in copied))
    rows = {r["request_id"]: r for r in rows_under(tmp_path / "home", "qwen")}
    assert sorted(rows) == ["qwen:a1", "qwen:a2", "qwen:a3", "qwen:a4"]  # the copied call once
    a1 = rows["qwen:a1"]
    assert (a1["input_tokens"], a1["cache_read_tokens"], a1["cache_write_tokens"]) == (14200, 11000, None)
    assert (a1["output_tokens"], a1["reasoning_tokens"]) == (820, 300)  # reasoning already in the output
    assert (a1["project"], a1["session"]) == ("/home/alice/work/shop", original.stem)
    assert detect_format(original) == "qwen"  # not Claude Code, whose lines also carry parentUuid


def test_copilot_counts_each_call_once() -> None:
    rows = rows_under(DATA / "copilot" / "home" / "otel" / "copilot-otel.jsonl", "copilot")
    assert len(rows) == 4  # two chat spans (not their summary span nor log), a turn log, an inference log
    turn = next(r for r in rows if r["model"] == "gpt-5")
    assert (turn["output_tokens"], turn["reasoning_tokens"], turn["session"]) == (1200, 700, "s-77")
    chat = next(r for r in rows if r["cache_write_tokens"])
    assert (chat["input_tokens"], chat["cache_read_tokens"], chat["provider"]) == (22100, 18000, "anthropic")
    assert chat["model"] == "claude-sonnet-4-5-20250929" and chat["project"] is None


def test_amp_rows() -> None:
    rows = {r["request_id"]: r for r in rows_under(DATA / "amp" / "data", "amp")}
    first = rows["amp:T-3f9c2a1e-7b4d-4e0a-9c51-2d8e6f0a1b23:1"]
    assert (first["input_tokens"], first["cache_write_tokens"], first["reasoning_tokens"]) == (
        19012,
        3200,
        None,
    )
    assert first["project"] == "/home/alice/work/webapp"
    ledger = rows["amp:T-8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:evt-2"]  # a ledger event, its message's cache
    assert (ledger["input_tokens"], ledger["cache_read_tokens"], ledger["output_tokens"]) == (5403, 5000, 120)
    assert len(rows) == 4


def test_goose_sessions() -> None:
    rows = {r["session"]: r for r in rows_under(DATA / "goose" / "share", "goose")}
    assert sorted(rows) == ["20261108_1", "20261108_2", "20261109_1"]  # nothing counted, no model: no row
    first = rows["20261108_1"]  # the accumulated totals, stamped with the session's start
    assert (first["input_tokens"], first["output_tokens"], first["reasoning_tokens"]) == (45100, 2900, None)
    assert (first["cache_read_tokens"], first["project"], first["provider"]) == (
        None,
        "/home/alice/work/infra",
        "anthropic",
    )
    assert rows["20261108_2"]["reasoning_tokens"] == 400
    assert first["timestamp"].isoformat().startswith("2026-11-08T09:15:00")


def test_kimi_rows() -> None:
    rows = {r["request_id"]: r for r in rows_under(DATA / "kimi" / "home", "kimi")}
    assert len(rows) == 4
    first = rows["kimi:3d2c1b0a-9f8e-4d7c-b6a5-948372615abc:chatcmpl-a1"]
    assert (first["input_tokens"], first["cache_read_tokens"], first["model"]) == (
        11000,
        9200,
        "kimi-k2-turbo-preview",
    )
    assert (first["project"], first["provider"], first["reasoning_tokens"]) == (
        "/home/alice/work/game",
        "moonshot",
        None,
    )
    third = rows["kimi:3d2c1b0a-9f8e-4d7c-b6a5-948372615abc:chatcmpl-a3"]  # total 210 beyond its parts
    assert (third["output_tokens"], third["reasoning_tokens"]) == (300, 210)


def test_droid_sessions() -> None:
    rows = {r["session"]: r for r in rows_under(DATA / "droid" / "factory", "droid")}
    first = rows["a7c1e2d3-4b5f-4a6e-9d8c-7b6a5f4e3d2c"]
    assert (first["input_tokens"], first["output_tokens"], first["reasoning_tokens"]) == (504100, 6500, 1300)
    assert (first["project"], first["provider"]) == ("-home-alice-work-api", "anthropic")
    assert len(rows) == 2  # the transcript beside the settings counts nothing


def test_kilo_rows() -> None:
    rows = {r["request_id"]: r for r in rows_under(DATA / "kilo" / "data", "kilo")}
    assert sorted(rows) == ["kilo:msg_k1", "kilo:msg_k2", "kilo:msg_k3"]
    k2 = rows["kilo:msg_k2"]
    assert (k2["input_tokens"], k2["output_tokens"], k2["reasoning_tokens"], k2["session"]) == (
        25000,
        750,
        350,
        "ses_k1",
    )
    assert detect_format(DATA / "kilo" / "data" / "kilo.db") == "kilo"


def test_pi_rows() -> None:
    rows = {r["request_id"]: r for r in rows_under(DATA / "pi" / "sessions", "pi")}
    session = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
    assert sorted(rows) == [f"pi:{session}:e{n}" for n in (2, 4, 5)]
    e4 = rows[f"pi:{session}:e4"]
    assert (e4["input_tokens"], e4["cache_read_tokens"], e4["cache_write_tokens"]) == (15105, 14200, 900)
    assert (e4["project"], e4["provider"], e4["model"]) == (
        "/home/alice/work/cli",
        "anthropic",
        "claude-opus-4-5",
    )


def test_pi_session_told_by_its_header() -> None:
    """Its later lines look like bare Claude Code usage lines; the header comes first and tells."""
    assert detect_format(next((DATA / "pi" / "sessions").rglob("*.jsonl"))) == "pi"


def test_openclaw_rows() -> None:
    rows = {r["request_id"].rsplit(":", 1)[1]: r for r in rows_under(DATA / "openclaw" / "home", "openclaw")}
    assert sorted(rows) == ["c2", "c4", "d1"]  # a deleted session's calls count too
    assert (rows["c2"]["model"], rows["c2"]["provider"]) == ("claude-opus-4-5", "anthropic")  # model_change
    assert (rows["c4"]["model"], rows["c4"]["provider"]) == ("gpt-5.1", "openai")  # model-snapshot
    session = next((DATA / "openclaw" / "home").rglob("*.jsonl"))
    assert detect_format(session) == "pi" and detect_format(session, "openclaw") == "openclaw"


def test_hermes_sessions() -> None:
    rows = {r["session"]: r for r in rows_under(DATA / "hermes" / "home", "hermes")}
    assert sorted(rows) == ["20261114_090000_ab12", "20261114_231500_cd34", "20261115_080000_ef56"]
    gpt = rows["20261114_231500_cd34"]
    assert (gpt["input_tokens"], gpt["output_tokens"], gpt["reasoning_tokens"]) == (45000, 2100, 1200)
    assert (gpt["provider"], gpt["project"]) == ("openai", None)


def test_codebuff_rows() -> None:
    rows = {
        r["request_id"].rsplit(":", 1)[1]: r for r in rows_under(DATA / "codebuff" / "manicode", "codebuff")
    }
    assert sorted(rows) == ["4", "a-1", "a-2"]  # credits alone are no tokens; the id-less call by position
    a2 = rows["a-2"]  # counts from metadata.usage, the missing ones from metadata.codebuff.usage
    assert (a2["input_tokens"], a2["cache_read_tokens"], a2["output_tokens"]) == (46112, 45300, 300)
    assert (a2["project"], a2["session"]) == ("webshop", "manicode/webshop/2026-11-15T10-30-00.000Z")


def test_codebuff_openai_style_cache_is_inside_the_input() -> None:
    usage = {
        "prompt_tokens": 5000,
        "completion_tokens": 200,
        "prompt_tokens_details": {"cached_tokens": 4000},
    }
    counted = agent_codebuff.tokmeter_usage(usage, {})
    assert counted is not None and (counted["input_tokens"], counted["cache_read_tokens"]) == (5000, 4000)


def test_bad_agent_files_are_set_aside(tmp_path: Path) -> None:
    """A corrupt database or session file is one bad capture naming the file, never a crash."""
    database = tmp_path / "opencode.db"
    database.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    session = tmp_path / "chats" / "session-1.json"
    session.parent.mkdir()
    session.write_text('{"sessionId": "s", "projectHash": "h", "messages": [')
    for path, agent in ((database, "opencode"), (session, "gemini")):
        (bad,) = list(read_captures(path, agent))
        assert isinstance(bad, BadCapture) and bad.source == str(path), bad


@pytest.mark.parametrize(
    ("agent", "pattern"),
    [
        ("copilot", "*.jsonl"),
        ("amp", "T-*.json"),
        ("droid", "*.settings.json"),
        ("kimi", "wire.jsonl"),
        ("codebuff", "chat-messages.json"),
        ("hermes", "state.db"),
        ("goose", "sessions.db"),
        ("gemini", "session-*.json"),
        ("opencode", "opencode.db"),
    ],
)
def test_told_by_content_wherever_it_lies(agent: str, pattern: str) -> None:
    found = next(path for path in (DATA / agent).rglob(pattern) if path.name != "ccusage-daily.json")
    assert detect_format(found) == agent
