"""Pre-normalized usage logs: Claude Code transcripts, Codex CLI sessions, api-proxy token logs.

The fixtures in data/transcripts/ are hand-written in the shapes the tools write (make_fixtures.py says
what each one holds). The ccusage comparison runs the real ccusage 20.0.24 when node and npm are here.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, run_cli
from tokmeter.extract import extract_row
from tokmeter.sources import BadCapture, Capture, read_captures

DATA = REPO / "tests" / "data" / "transcripts"
CLAUDE = DATA / "claude"
WEBAPP = CLAUDE / "projects" / "-home-alice-work-webapp" / "3f1c2a9e-7b4d-4e0a-9c51-2d8e6f0a1b23.jsonl"
CODEX = DATA / "codex"
TOKEN_LOG = DATA / "token-usage.jsonl"
CCUSAGE_VERSION = "20.0.24"


def rows_of(path: Path, fmt: str = "auto") -> list[dict[str, Any]]:
    items = list(read_captures(path, fmt))
    assert not [i for i in items if isinstance(i, BadCapture)]
    return [extract_row(item) for item in items if isinstance(item, Capture)]


def ingest_rows(*args: str, env: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str]:
    done = run_cli("ingest", *args, env=env)
    assert done.returncode == 0, done.stderr
    listed = run_cli("rows", "--format", "jsonl", env=env)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()], done.stdout


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def cc_line(
    mid: str | None,
    rid: str | None,
    ts: str,
    out: int,
    *,
    side: bool = False,
    sid: str = "s-1",
    model: str = "claude-sonnet-4-5-20250929",
    **usage: int,
) -> str:
    record: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": side,
        "userType": "external",
        "cwd": "/w",
        "sessionId": sid,
        "version": "2.0.37",
        "type": "assistant",
        "uuid": f"u-{mid}-{ts}",
        "timestamp": ts,
        "message": {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "usage": {
                "input_tokens": 1,
                "output_tokens": out,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                **usage,
            },
        },
    }
    if rid is not None:
        record["requestId"] = rid
    return line(record)


# ---- Claude Code -----------------------------------------------------------------------------------------


def test_claude_code_one_row_per_api_response() -> None:
    rows = {r["request_id"]: r for r in rows_of(WEBAPP)}
    assert list(rows) == [
        "req_011CVa7mQ3xRt2Lk9PzWn4Ej",
        "req_011CVa8nR4ySu3Ml0QaXo5Fk",
        "req_011CVa9oS5zTv4Nm1RbYp6Gl",
        "req_011CVbBrU7bVx6Po3TdAr8In",
        "req_011CVbDtW9dXz8Rq5VfCt0Kp",
        "req_011CVbDtW9dXz8Rq5VfCt0Kp:advisor:0",
        "req_011CVbAqT6aUw5On2ScZq7Hm",
    ]
    first = rows[
        "req_011CVa7mQ3xRt2Lk9PzWn4Ej"
    ]  # three lines, one per content block: the last, largest, counts
    assert (
        first["input_tokens"],
        first["cache_read_tokens"],
        first["cache_write_tokens"],
        first["output_tokens"],
    ) == (3 + 13780 + 4521, 13780, 4521, 214)
    assert (first["response_id"], first["provider"], first["model"]) == (
        "msg_01HmXq8vT2kPz9WcR4nLd7Ja",
        "anthropic",
        "claude-sonnet-4-5-20250929",
    )
    assert (
        first["stream"]
        and first["complete"]
        and first["usage_source"] == "reported"
        and first["status"] is None
    )
    assert first["timestamp"] == datetime(2026, 11, 3, 9, 14, 8, 15000, tzinfo=UTC)
    # the transcript's sessionId, and its project directory under projects/
    assert {(r["session"], r["project"]) for r in rows.values()} == {
        ("3f1c2a9e-7b4d-4e0a-9c51-2d8e6f0a1b23", "-home-alice-work-webapp")
    }
    advisor = rows["req_011CVbDtW9dXz8Rq5VfCt0Kp:advisor:0"]
    assert (advisor["model"], advisor["input_tokens"], advisor["output_tokens"]) == (
        "claude-opus-4-5-20251101",
        5210,
        233,
    )
    assert rows["req_011CVbDtW9dXz8Rq5VfCt0Kp"]["output_tokens"] == 412  # the advisor is not in the main row
    midnight = rows["req_011CVbAqT6aUw5On2ScZq7Hm"]  # its final copy was written after midnight UTC
    assert (midnight["timestamp"].date().isoformat(), midnight["output_tokens"]) == ("2026-11-04", 96)


def test_claude_code_skips_what_is_not_an_api_call() -> None:
    """Summary, snapshot, user and tool-result lines (one holds a Task's usage), the <synthetic> message
    and the /btw replay of message A produce nothing; nothing is a bad capture either."""
    rows = rows_of(WEBAPP)
    assert all(r["model"] != "<synthetic>" for r in rows)
    assert sum(r["response_id"] == "msg_01HmXq8vT2kPz9WcR4nLd7Ja" for r in rows) == 1
    assert "req_011CVbCsV8cWy7Qp4UeBs9Jo" not in {r["request_id"] for r in rows}


def test_claude_code_directory_ingest(isolated_store: Path) -> None:
    rows, summary = ingest_rows(str(CLAUDE))
    assert (
        "11 claude-code" in summary
        and "duplicates dropped 2" in summary
        and "bad captures       0" in summary
    )
    assert len(rows) == 9
    assert {r["user"] for r in rows} == {getpass.getuser()}
    # the sub-agent file replays message B under a new request id: not a row of its own
    assert "req_011CVbEuX0eYa9Sr6WgDu1Lq" not in {r["request_id"] for r in rows}
    by_day: dict[str, int] = {}
    for r in rows:
        by_day[r["timestamp"][:10]] = by_day.get(r["timestamp"][:10], 0) + r["output_tokens"]
    assert by_day == {"2026-11-03": 1182, "2026-11-04": 96, "2026-11-05": 743}


def test_claude_code_user_flag_and_environment(isolated_store: Path) -> None:
    rows, _ = ingest_rows(str(CLAUDE), "--claude-code-user", "alice")
    assert {r["user"] for r in rows} == {"alice"}
    other = isolated_store.parent / "store2"
    rows, _ = ingest_rows(str(CLAUDE), "--store", str(other), env={"TOKMETER_CLAUDE_CODE_USER": "team-web"})
    listed = run_cli("rows", "--format", "jsonl", "--store", str(other))
    assert {json.loads(x)["user"] for x in listed.stdout.splitlines()} == {"team-web"}


def test_claude_code_flag_finds_the_default_locations(isolated_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(CLAUDE / "projects", home / ".claude" / "projects")
    rows, summary = ingest_rows("--claude-code", env={"HOME": str(home), "CLAUDE_CONFIG_DIR": ""})
    assert len(rows) == 9 and "11 claude-code" in summary


def test_claude_config_dir_is_respected(isolated_store: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "cfg-a", tmp_path / "cfg-b" / "projects"
    shutil.copytree(
        CLAUDE / "projects" / "-home-alice-work-webapp", first / "projects" / "-home-alice-work-webapp"
    )
    shutil.copytree(CLAUDE / "projects" / "-home-alice-work-api", second / "-home-alice-work-api")
    env = {"HOME": str(tmp_path / "nohome"), "CLAUDE_CONFIG_DIR": f"{first},{second}"}
    rows, _ = ingest_rows("--claude-code", env=env)
    assert len(rows) == 9
    missing = run_cli(
        "ingest", "--claude-code", env={"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "x")}
    )
    assert missing.returncode == 2 and "CLAUDE_CONFIG_DIR" in missing.stderr and "Hint:" in missing.stderr


def test_fold_larger_total_wins_then_the_first(tmp_path: Path) -> None:
    path = tmp_path / "projects" / "-p" / "s-1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        cc_line("msg_1", "req_1", "2026-11-03T10:00:00Z", 50)  # larger total first
        + cc_line("msg_1", "req_1", "2026-11-03T10:00:01Z", 5)
        + cc_line("msg_2", "req_2", "2026-11-03T23:59:59Z", 7)  # equal totals: the first copy, its day
        + cc_line("msg_2", "req_2", "2026-11-04T00:00:01Z", 7)
        + cc_line("msg_3", "req_3", "2026-11-03T11:00:00Z", 9, side=True)  # main chain beats side chain
        + cc_line("msg_3", "req_3", "2026-11-03T11:00:01Z", 4)
    )
    rows = rows_of(path)
    got = [(r["request_id"], r["output_tokens"], r["timestamp"].isoformat()[:19]) for r in rows]
    assert got == [
        ("req_1", 50, "2026-11-03T10:00:00"),
        ("req_2", 7, "2026-11-03T23:59:59"),
        ("req_3", 4, "2026-11-03T11:00:01"),
    ]


def test_missing_request_id_falls_back_to_the_message_id(tmp_path: Path) -> None:
    path = tmp_path / "projects" / "-p" / "s-1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(cc_line("msg_9", None, "2026-11-03T10:00:00Z", 3))
    (row,) = rows_of(path)
    assert (row["request_id"], row["response_id"]) == ("msg_9", "msg_9")


def test_gateway_capture_and_claude_code_collapse_into_one_row(isolated_store: Path, tmp_path: Path) -> None:
    """The same API call seen by a gateway (request-id response header) and written by Claude Code
    (requestId) has one request id: one row."""
    transcript = tmp_path / "projects" / "-p" / "s-1.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(
        cc_line("msg_01Q", "req_011CVzz", "2026-11-03T10:00:02.5Z", 42, cache_read_input_tokens=900)
    )
    body = json.dumps(
        {
            "id": "msg_01Q",
            "type": "message",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 1, "output_tokens": 42, "cache_read_input_tokens": 900},
        }
    )
    gateway = tmp_path / "gateway.jsonl"
    gateway.write_text(
        line(
            {
                "ts": "2026-11-03T10:00:00Z",
                "provider": "anthropic",
                "method": "POST",
                "path": "/v1/messages",
                "status": 200,
                "request": {"model": "claude-sonnet-4-5"},
                "response_headers": {"request-id": "req_011CVzz"},
                "body": body,
            }
        )
    )
    rows, summary = ingest_rows(str(transcript), str(gateway))
    assert len(rows) == 1 and "duplicates dropped 1" in summary
    assert (rows[0]["request_id"], rows[0]["input_tokens"], rows[0]["output_tokens"]) == (
        "req_011CVzz",
        901,
        42,
    )


def test_bedrock_and_vertex_model_ids_name_their_provider(tmp_path: Path) -> None:
    path = tmp_path / "projects" / "-p" / "s-1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        cc_line(
            "msg_b", "req_b", "2026-11-03T10:00:00Z", 1, model="us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
        + cc_line("msg_v", "req_v", "2026-11-03T10:00:00Z", 1, model="claude-sonnet-4-5@20250929")
    )
    assert [r["provider"] for r in rows_of(path)] == ["bedrock", "google-vertex"]


def test_compaction_iterations_are_added_unlike_ccusage(tmp_path: Path) -> None:
    """A deliberate difference (README): top-level usage covers the last iteration only."""
    path = tmp_path / "projects" / "-p" / "s-1.jsonl"
    path.parent.mkdir(parents=True)
    iterations = [
        {"type": "compaction", "input_tokens": 150000, "output_tokens": 3000},
        {"type": "message", "input_tokens": 4000, "output_tokens": 200},
    ]
    path.write_text(
        cc_line("msg_c", "req_c", "2026-11-03T10:00:00Z", 200, input_tokens=4000, iterations=iterations)
    )
    (row,) = rows_of(path)
    assert (row["input_tokens"], row["output_tokens"]) == (154000, 3200)


# ---- ccusage --------------------------------------------------------------------------------------------


def _version(binary: str) -> str | None:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[-1].lstrip("v") if words else None


@pytest.fixture(scope="session")
def ccusage(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """ccusage 20.0.24: $TOKMETER_CCUSAGE, else on PATH, else installed with npm (cached in .pytest_cache)."""
    for candidate in (os.environ.get("TOKMETER_CCUSAGE"), shutil.which("ccusage")):
        if candidate and _version(candidate) == CCUSAGE_VERSION:
            return candidate
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip(
            f"ccusage {CCUSAGE_VERSION} is not installed and node/npm are not available to install it"
        )
    cache = getattr(request.config, "cache", None)
    where = (
        cache.mkdir(f"ccusage-{CCUSAGE_VERSION}") if cache is not None else tmp_path_factory.mktemp("ccusage")
    )
    binary = where / "node_modules" / ".bin" / "ccusage"
    if not binary.exists():
        done = subprocess.run(
            [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", f"ccusage@{CCUSAGE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install ccusage@{CCUSAGE_VERSION}: {done.stderr.strip()[-300:]}")
    if _version(str(binary)) != CCUSAGE_VERSION:
        pytest.skip(f"ccusage {CCUSAGE_VERSION} was installed but does not run here (no native binary?)")
    return str(binary)


def test_daily_totals_equal_ccusage(ccusage: str, isolated_store: Path, tmp_path: Path) -> None:
    """On Claude Code logs whose lines all carry message.id and requestId, tokmeter's per-day totals are
    ccusage's (``ccusage daily --json --offline --timezone UTC``). ccusage's inputTokens excludes the cache."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "CODEX_", "XDG_"))}
    env.update(HOME=str(home), CLAUDE_CONFIG_DIR=str(CLAUDE), NO_COLOR="1")
    done = subprocess.run(
        [ccusage, "daily", "--json", "--offline", "--timezone", "UTC"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    theirs = {
        r["period"]: (r["inputTokens"], r["outputTokens"], r["cacheCreationTokens"], r["cacheReadTokens"])
        for r in json.loads(done.stdout)["daily"]
    }
    assert run_cli("ingest", str(CLAUDE), "--quiet").returncode == 0
    report = json.loads(run_cli("report", "--by", "day", "--format", "json").stdout)
    ours = {
        r["day"]: (
            r["input_tokens"] - r["cache_read_tokens"] - r["cache_write_tokens"],
            r["output_tokens"],
            r["cache_write_tokens"],
            r["cache_read_tokens"],
        )
        for r in report["rows"]
    }
    assert ours == theirs
    assert len(theirs) == 3


# ---- Codex ----------------------------------------------------------------------------------------------


def test_codex_turns() -> None:
    (path,) = CODEX.rglob("*.jsonl")
    rows = rows_of(path)
    got = [
        (r["model"], r["input_tokens"], r["cache_read_tokens"], r["output_tokens"], r["reasoning_tokens"])
        for r in rows
    ]
    assert got == [
        ("gpt-5-codex", 12051, 9984, 733, 512),  # last_token_usage
        ("gpt-5-codex", 15320, 12160, 1210, 896),  # the repeat before it counted nothing
        ("gpt-5.1-codex-mini", 16002, 15232, 95, 64),
    ]  # no last: difference of the running totals
    assert {r["provider"] for r in rows} == {"openai"} and {r["user"] for r in rows} == {getpass.getuser()}
    assert all(r["request_id"].startswith("codex:0199a6c1-4f2e-7d30-b8e5-93c1d2f4a6b7:") for r in rows)
    assert rows[0]["timestamp"] == datetime(2026, 11, 3, 10, 13, 2, 102000, tzinfo=UTC)
    # the session and its project (the working directory session_meta names)
    assert {(r["session"], r["project"]) for r in rows} == {
        ("0199a6c1-4f2e-7d30-b8e5-93c1d2f4a6b7", "/home/alice/work/cli")
    }


def test_codex_flag_and_codex_home(isolated_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(CODEX / "sessions", home / ".codex" / "sessions")
    rows, summary = ingest_rows("--codex", env={"HOME": str(home), "CODEX_HOME": ""})
    assert len(rows) == 3 and "3 codex" in summary
    elsewhere = tmp_path / "codex-work"
    shutil.copytree(CODEX / "sessions", elsewhere / "archived_sessions")
    again, summary = ingest_rows("--codex", env={"HOME": str(tmp_path / "x"), "CODEX_HOME": str(elsewhere)})
    assert len(again) == 3 and "duplicates dropped 3" in summary  # the same turns, archived


def test_codex_fork_counts_only_its_own_turns(isolated_store: Path) -> None:
    """A fork repeats its parent's history (re-stamped at the fork): parent and fork together count each
    turn once, so their rows add up to the fork's final running total, and the fork's rows are its own."""
    fork = next((DATA / "codex-fork").rglob("*.jsonl"))
    rows, _ = ingest_rows(str(CODEX / "sessions"), str(fork))
    events = [json.loads(x)["payload"] for x in fork.read_text().splitlines()]
    final = [e["info"]["total_token_usage"] for e in events if e.get("type") == "token_count" and e["info"]][
        -1
    ]
    assert sum(r["input_tokens"] for r in rows) == final["input_tokens"]
    assert sum(r["cache_read_tokens"] for r in rows) == final["cached_input_tokens"]
    assert sum(r["output_tokens"] for r in rows) == final["output_tokens"]
    fork_id, parent_id = events[0]["id"], events[0]["forked_from_id"]
    from_fork = [r for r in rows if r["source"] == str(fork)]
    assert len(from_fork) == 2 and all(r["request_id"].startswith(f"codex:{fork_id}:") for r in from_fork)
    assert all(r["request_id"].startswith(f"codex:{parent_id}:") for r in rows if r not in from_fork)


def codex_event(ts: str, total: int, kind: str = "token_count", **payload: Any) -> str:
    info = {
        "total_token_usage": {
            "input_tokens": total,
            "cached_input_tokens": 0,
            "output_tokens": total // 10,
            "reasoning_output_tokens": 0,
            "total_tokens": total + total // 10,
        }
    }
    body = {"type": kind, "info": info} if kind == "token_count" else payload
    return line({"timestamp": ts, "type": "event_msg" if kind == "token_count" else kind, "payload": body})


def test_codex_subagent_replay_keeps_the_running_total_as_base(tmp_path: Path) -> None:
    """ccusage's case: a sub-agent (thread_spawn) file whose copied turns were written in one instant."""
    spawn = {
        "id": "sub-1",
        "source": {"subagent": {"thread_spawn": {"parent_thread_id": "main-1", "depth": 1}}},
    }
    path = tmp_path / "rollout-2026-11-03T08-03-00-sub.jsonl"
    path.write_text(
        codex_event("2026-11-03T08:03:00.000Z", 0, "session_meta", **spawn)
        + codex_event("2026-11-03T08:03:00.001Z", 1000)
        + codex_event("2026-11-03T08:03:00.001Z", 1500)
        + codex_event("2026-11-03T08:04:00.000Z", 1600)
    )
    assert [(r["input_tokens"], r["output_tokens"]) for r in rows_of(path)] == [(100, 10)]


def test_codex_without_a_fork_counts_close_events(tmp_path: Path) -> None:
    """Only a fork's copied history is skipped: a plain session's quick turns all count."""
    path = tmp_path / "rollout-2026-11-03T08-03-00-main.jsonl"
    path.write_text(
        codex_event("2026-11-03T08:03:00.000Z", 0, "session_meta", id="main-1")
        + codex_event("2026-11-03T08:03:00.300Z", 1000)
        + codex_event("2026-11-03T08:03:00.600Z", 1500)
    )
    assert [r["input_tokens"] for r in rows_of(path)] == [1000, 500]


# ---- api-proxy token logs -------------------------------------------------------------------------------


def test_token_log_normalizes_the_input_convention() -> None:
    rows = {r["provider"]: r for r in rows_of(TOKEN_LOG)}
    anthropic, openai, copilot = rows["anthropic"], rows["openai"], rows["copilot"]
    # Anthropic's input_tokens excludes the cache; OpenAI's includes it
    assert (anthropic["input_tokens"], anthropic["cache_read_tokens"], anthropic["cache_write_tokens"]) == (
        12 + 14020 + 2210,
        14020,
        2210,
    )
    assert (openai["input_tokens"], openai["cache_read_tokens"], openai["output_tokens"]) == (2048, 1024, 310)
    assert anthropic["request_id"] == "5b0c2f1e-7a4d-4c8b-9e21-3f6a8d0b4c17" and anthropic["stream"]
    assert not openai["stream"] and openai["endpoint"] == "/v1/chat/completions" and openai["status"] == 200
    # the record's timestamp is when the call completed: the request started duration_ms earlier
    assert anthropic["timestamp"] == datetime(2026, 11, 3, 11, 0, 0, tzinfo=UTC)
    assert copilot["model"] is None and copilot["usage_source"] == "reported"


def test_token_log_cache_larger_than_input_was_not_included(tmp_path: Path) -> None:
    path = tmp_path / "token-usage.jsonl"
    record = {
        "_schema": "token-usage/v0.26.0",
        "timestamp": "2026-11-03T11:00:00Z",
        "request_id": "r1",
        "provider": "copilot",
        "model": "claude-sonnet-4.5",
        "path": "/v1/chat/completions",
        "status": 200,
        "streaming": True,
        "input_tokens": 40,
        "output_tokens": 9,
        "cache_read_tokens": 3000,
        "cache_write_tokens": 0,
        "duration_ms": 0,
    }
    path.write_text(line(record) + "not json\n" + line({**record, "_schema": "audit/v0.26.0"}))
    items = list(read_captures(path))
    assert extract_row(items[0])["input_tokens"] == 3040
    assert [i.reason[:16] for i in items[1:]] == ["not valid JSON (", "not a token-usag"]


def test_token_log_fields_it_does_not_carry_are_null_and_reports_count_them(isolated_store: Path) -> None:
    records = [json.loads(text) for text in TOKEN_LOG.read_text().splitlines()]
    rows, _ = ingest_rows(str(TOKEN_LOG), "--quiet")
    by_id = {r["request_id"]: r for r in rows}
    lacking = [rec["request_id"] for rec in records if "reasoning_tokens" not in rec and rec["output_tokens"]]
    assert lacking and len(lacking) < len(records)  # the fixture has records with and without the field
    for record in records:
        row = by_id[record["request_id"]]
        assert row["reasoning_tokens"] == record.get(
            "reasoning_tokens", None if record["output_tokens"] else 0
        )
        # no record splits cache writes by TTL: unknown where there were writes, else 0
        assert row["cache_write_1h_tokens"] == (None if record["cache_write_tokens"] else 0)
    doc = json.loads(run_cli("report", "--by", "provider", "--format", "json").stdout)
    totals = doc["totals"]
    assert totals["unknown_reasoning_tokens"] == len(lacking)
    assert totals["reasoning_tokens"] == sum(r["reasoning_tokens"] or 0 for r in rows)  # the known values
    assert totals["output_tokens"] == sum(r["output_tokens"] for r in rows)
    assert sum(g["unknown_reasoning_tokens"] for g in doc["rows"]) == len(lacking)
    table = run_cli("report", "--by", "provider").stdout
    assert f"reasoning_tokens unknown for {len(lacking)} of {len(records)} rows" in table
    assert "cache_write_1h_tokens unknown for" in table and "cache_read_tokens unknown" not in table


def test_token_log_subsets_of_nothing_are_zero_and_a_null_field_is_unknown() -> None:
    record = {
        "_schema": "token-usage/v0.26.0",
        "timestamp": "2026-11-03T11:00:00Z",
        "request_id": "r1",
        "provider": "openai",
        "model": "o3",
        "path": "/v1/responses",
        "status": 200,
        "streaming": False,
        "input_tokens": 40,
        "output_tokens": 0,
        "cache_read_tokens": None,
        "duration_ms": 0,
    }
    capture = Capture("t.jsonl", 0, {"ts": record["timestamp"]}, record, 1, None, "token-log")
    row = extract_row(capture)
    assert (row["reasoning_tokens"], row["cache_write_1h_tokens"]) == (0, None)  # no output; writes unknown
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (None, None)  # null and absent alike
    assert (row["input_tokens"], row["output_tokens"], row["usage_source"]) == (40, 0, "reported")
