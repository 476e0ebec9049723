"""Writes the hand-made agent logs under tests/data/transcripts/ (run it again after editing it).

They follow the shapes the tools write (compact JSON, one object per line), as Claude Code 2.0 and
Codex CLI 0.5x do and as ccusage's parsers read them:

* ``claude/projects/-home-alice-work-webapp/<session>.jsonl``: a session with a summary line, a file
  history snapshot, user prompts and tool results (one a Task result that embeds the sub-agent's
  ``usage``), assistant messages written as one line per content block with usage growing, a
  side-chain (Task) message, a ``/btw`` replay of a main-chain message under a new request id, a
  ``<synthetic>`` message, a ``progress`` line wrapping a sub-agent message, an advisor iteration, and
  a message whose lines straddle midnight UTC.
* ``claude/projects/-home-alice-work-webapp/<session>/subagents/agent-*.jsonl``: the sub-agent's own
  transcript: its message (also seen in the progress line) and a replay of a parent message.
* ``claude/projects/-home-alice-work-api/<session>.jsonl``: a resumed session that repeats a message
  of the first one, then its own messages on another model.
* ``codex/sessions/2026/11/03/rollout-*.jsonl``: a Codex session with rate-limit-only, repeated and
  advancing token_count events, a model switch and a turn without last_token_usage.
* ``codex-fork/sessions/2026/11/03/rollout-*.jsonl``: a fork of that session as Codex writes it: its own
  ``session_meta`` (``forked_from_id``), the parent's lines copied and re-stamped at the fork (its
  ``session_meta`` and ``token_count`` events included), then two turns of its own, the second without
  ``last_token_usage``.
* ``token-usage.jsonl``: an api-proxy (gh-aw-firewall) token log, Anthropic and OpenAI records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SID = "3f1c2a9e-7b4d-4e0a-9c51-2d8e6f0a1b23"
SID2 = "8a6d0e41-95c2-4b7f-a3e0-5c9d1f27b864"
WEB = "/home/alice/work/webapp"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"


def dump(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records))


def usage(
    inp: int, out: int, write: int = 0, read: int = 0, write_1h: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write - write_1h,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": out,
        "service_tier": "standard",
        **extra,
    }


def base(parent: str | None, sid: str = SID, cwd: str = WEB, side: bool = False) -> dict[str, Any]:
    return {
        "parentUuid": parent,
        "isSidechain": side,
        "userType": "external",
        "cwd": cwd,
        "sessionId": sid,
        "version": "2.0.37",
        "gitBranch": "main",
    }


def user(uuid: str, parent: str | None, ts: str, content: Any, **kw: Any) -> dict[str, Any]:
    extra = kw.pop("extra", {})
    return {
        **base(parent, **kw),
        "type": "user",
        "message": {"role": "user", "content": content},
        "uuid": uuid,
        "timestamp": ts,
        **extra,
    }


def assistant(
    uuid: str,
    parent: str,
    ts: str,
    mid: str,
    rid: str | None,
    block: dict[str, Any],
    use: dict[str, Any],
    model: str = SONNET,
    stop: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    extra = kw.pop("extra", {})
    record = {
        **base(parent, **kw),
        "message": {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": use,
        },
    }
    if rid is not None:
        record["requestId"] = rid
    return {**record, "type": "assistant", "uuid": uuid, "timestamp": ts, **extra}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def claude_main() -> list[dict[str, Any]]:
    a, b, c, d = (
        "msg_01HmXq8vT2kPz9WcR4nLd7Ja",
        "msg_01BtY6uKe3QsN8fVw2ZpHc5M",
        "msg_01Ss4GjWq7LxA2dRt9VkPb3N",
        "msg_01Dn9TfLm2WqZ8xCv5RbKe4H",
    )
    ra, rb, rc, rd = (
        "req_011CVa7mQ3xRt2Lk9PzWn4Ej",
        "req_011CVa8nR4ySu3Ml0QaXo5Fk",
        "req_011CVa9oS5zTv4Nm1RbYp6Gl",
        "req_011CVbAqT6aUw5On2ScZq7Hm",
    )
    return [
        {
            "type": "summary",
            "summary": "Fix the flaky login test",
            "leafUuid": "b7e1d2c3-0000-4000-8000-00000000000f",
        },
        {
            "type": "file-history-snapshot",
            "messageId": "0c5e8f1a-1111-4000-8000-000000000001",
            "snapshot": {
                "messageId": "0c5e8f1a-1111-4000-8000-000000000001",
                "trackedFileBackups": {},
                "timestamp": "2026-11-03T09:14:02.118Z",
            },
            "isSnapshotUpdate": False,
        },
        user(
            "u-01",
            None,
            "2026-11-03T09:14:02.120Z",
            "The login test fails one run in ten. Find out why and fix it; the usage of retry() looks off.",
        ),
        # message A: three content blocks, written as they finished; usage grows, last line is final
        assistant(
            "a-01",
            "u-01",
            "2026-11-03T09:14:06.811Z",
            a,
            ra,
            {"type": "thinking", "thinking": "Look at the test first.", "signature": "EqQBCkYIBxgCKkB..."},
            usage(3, 8, write=4521, read=13780),
        ),
        assistant(
            "a-02",
            "a-01",
            "2026-11-03T09:14:07.402Z",
            a,
            ra,
            text("Let me read the test."),
            usage(3, 8, write=4521, read=13780),
        ),
        assistant(
            "a-03",
            "a-02",
            "2026-11-03T09:14:08.015Z",
            a,
            ra,
            {
                "type": "tool_use",
                "id": "toolu_01Mq7",
                "name": "Read",
                "input": {"file_path": f"{WEB}/tests/test_login.py"},
            },
            usage(3, 214, write=4521, read=13780),
            stop="tool_use",
        ),
        user(
            "u-02",
            "a-03",
            "2026-11-03T09:14:08.220Z",
            [
                {
                    "tool_use_id": "toolu_01Mq7",
                    "type": "tool_result",
                    "content": '     1\u2192def test_login(client):\n     2\u2192    assert retry(client.login, usage="once")',
                }
            ],
            extra={
                "toolUseResult": {
                    "type": "text",
                    "file": {
                        "filePath": f"{WEB}/tests/test_login.py",
                        "numLines": 2,
                        "startLine": 1,
                        "totalLines": 2,
                    },
                }
            },
        ),
        # message B: one line
        assistant(
            "a-04",
            "u-02",
            "2026-11-03T09:14:15.930Z",
            b,
            rb,
            {
                "type": "tool_use",
                "id": "toolu_01Tk2",
                "name": "Task",
                "input": {"description": "Find retry() callers", "prompt": "List every caller of retry()."},
            },
            usage(6, 187, write=612, read=18301),
            stop="tool_use",
        ),
        # the Task sub-agent's message, as older versions write it into the main file
        assistant(
            "s-01",
            "a-04",
            "2026-11-03T09:14:19.002Z",
            c,
            rc,
            text("retry() is called in 3 places."),
            usage(1250, 96, write=0, read=9800),
            model=HAIKU,
            side=True,
        ),
        # a progress line wrapping the sub-agent's message that its own file holds too (same ids)
        {
            "parentUuid": "a-04",
            "isSidechain": False,
            "userType": "external",
            "cwd": WEB,
            "sessionId": SID,
            "version": "2.0.37",
            "gitBranch": "main",
            "type": "progress",
            "data": {
                "type": "agent_progress",
                "agentId": "a91f3c2e",
                "message": {
                    "type": "assistant",
                    "timestamp": "2026-11-03T09:14:21.540Z",
                    "requestId": "req_011CVbBrU7bVx6Po3TdAr8In",
                    "isSidechain": True,
                    "message": {
                        "id": "msg_01Ag3SuWv8Mn4Rt6Yh2Kx9Pq",
                        "type": "message",
                        "role": "assistant",
                        "model": HAIKU,
                        "content": [text("Done.")],
                        "usage": usage(2100, 40, read=11050),
                    },
                },
            },
            "toolUseID": "toolu_01Tk2",
            "uuid": "p-01",
            "timestamp": "2026-11-03T09:14:21.541Z",
        },
        # the Task result: the sub-agent's usage rides on a user line; it is not an API call of its own
        user(
            "u-03",
            "a-04",
            "2026-11-03T09:14:22.100Z",
            [{"tool_use_id": "toolu_01Tk2", "type": "tool_result", "content": [text("3 callers.")]}],
            extra={
                "toolUseResult": {
                    "status": "completed",
                    "totalDurationMs": 6110,
                    "totalTokens": 13286,
                    "usage": {"input_tokens": 2100, "output_tokens": 40, "cache_read_input_tokens": 11050},
                }
            },
        ),
        # a /btw side question replays message A under a new request id: the same response
        assistant(
            "s-02",
            "u-03",
            "2026-11-03T09:20:00.000Z",
            a,
            "req_011CVbCsV8cWy7Qp4UeBs9Jo",
            text("Let me read the test."),
            usage(3, 8, write=0, read=18301),
            side=True,
        ),
        # Claude Code's own message after an interruption: no API call
        {
            "parentUuid": "u-03",
            "isSidechain": False,
            "userType": "external",
            "cwd": WEB,
            "sessionId": SID,
            "version": "2.0.37",
            "gitBranch": "main",
            "type": "assistant",
            "uuid": "y-01",
            "timestamp": "2026-11-03T09:21:00.000Z",
            "isApiErrorMessage": False,
            "message": {
                "id": "5d8f2b1c-6e3a-4f9d-b2c7-1a0e9d8c7b6a",
                "type": "message",
                "role": "assistant",
                "model": "<synthetic>",
                "content": [text("No response requested.")],
                "stop_reason": "stop_sequence",
                "stop_sequence": "",
                "usage": {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
        # message with an advisor iteration (another model's call, billed on its own)
        assistant(
            "a-05",
            "u-03",
            "2026-11-03T09:25:41.700Z",
            "msg_01Wv5PbQz3Nk7Ly2Ht8Rc6Dj",
            "req_011CVbDtW9dXz8Rq5VfCt0Kp",
            text("Fixed: retry() now waits for the session."),
            usage(
                8,
                412,
                write=1940,
                read=19113,
                iterations=[
                    {
                        "type": "message",
                        "input_tokens": 8,
                        "output_tokens": 412,
                        "cache_creation_input_tokens": 1940,
                        "cache_read_input_tokens": 19113,
                    },
                    {
                        "type": "advisor_message",
                        "model": "claude-opus-4-5-20251101",
                        "input_tokens": 5210,
                        "output_tokens": 233,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                ],
            ),
            stop="end_turn",
        ),
        user("u-04", "a-05", "2026-11-03T23:59:51.000Z", "Now run the whole suite."),
        # message D straddles midnight UTC: the final (larger) copy is written after it
        assistant(
            "a-06",
            "u-04",
            "2026-11-03T23:59:58.500Z",
            d,
            rd,
            text("Running the suite."),
            usage(4, 12, write=300, read=21053),
        ),
        assistant(
            "a-07",
            "a-06",
            "2026-11-04T00:00:03.250Z",
            d,
            rd,
            {"type": "tool_use", "id": "toolu_01Zp4", "name": "Bash", "input": {"command": "pytest -q"}},
            usage(4, 96, write=300, read=21053),
            stop="tool_use",
        ),
    ]


def claude_subagent() -> list[dict[str, Any]]:
    kw: dict[str, Any] = {"side": True, "extra": {"agentId": "a91f3c2e"}}
    return [
        user("sa-u1", None, "2026-11-03T09:14:16.001Z", "List every caller of retry().", **kw),
        assistant(
            "sa-a1",
            "sa-u1",
            "2026-11-03T09:14:21.540Z",
            "msg_01Ag3SuWv8Mn4Rt6Yh2Kx9Pq",
            "req_011CVbBrU7bVx6Po3TdAr8In",
            text("Done."),
            usage(2100, 40, read=11050),
            model=HAIKU,
            **kw,
        ),
        # a replay of the parent's message B under a new request id
        assistant(
            "sa-a2",
            "sa-a1",
            "2026-11-03T09:14:22.000Z",
            "msg_01BtY6uKe3QsN8fVw2ZpHc5M",
            "req_011CVbEuX0eYa9Sr6WgDu1Lq",
            text("(context)"),
            usage(6, 187, write=0, read=18913),
            **kw,
        ),
    ]


def claude_resumed() -> list[dict[str, Any]]:
    cwd = "/home/alice/work/api"
    kw: dict[str, Any] = {"sid": SID2, "cwd": cwd}
    return [
        {"type": "summary", "summary": "Rate limiter for the API", "leafUuid": "r-9"},
        # the resumed session repeats message B of the first session, ids and all
        assistant(
            "r-01",
            None,
            "2026-11-03T09:14:15.930Z",
            "msg_01BtY6uKe3QsN8fVw2ZpHc5M",
            "req_011CVa8nR4ySu3Ml0QaXo5Fk",
            {"type": "tool_use", "id": "toolu_01Tk2", "name": "Task", "input": {"description": "x"}},
            usage(6, 187, write=612, read=18301),
            stop="tool_use",
            **kw,
        ),
        user("r-02", "r-01", "2026-11-05T14:02:11.004Z", "Add a token bucket rate limiter.", **kw),
        assistant(
            "r-03",
            "r-02",
            "2026-11-05T14:02:14.771Z",
            "msg_01Kc2MvRw9Tq4Zn7Xb3Jy8Pe",
            "req_011CVcFvY1fZb0Ts7XhEv2Mr",
            text("I'll add it to middleware.py."),
            usage(10, 5, write=8210, read=0, write_1h=8210),
            model=HAIKU,
            **kw,
        ),
        assistant(
            "r-04",
            "r-03",
            "2026-11-05T14:02:19.360Z",
            "msg_01Kc2MvRw9Tq4Zn7Xb3Jy8Pe",
            "req_011CVcFvY1fZb0Ts7XhEv2Mr",
            {"type": "tool_use", "id": "toolu_01Rw8", "name": "Write", "input": {"file_path": f"{cwd}/m.py"}},
            usage(10, 655, write=8210, read=0, write_1h=8210),
            model=HAIKU,
            stop="tool_use",
            **kw,
        ),
        assistant(
            "r-05",
            "r-04",
            "2026-11-05T14:03:02.118Z",
            "msg_01Pf8NsTx1Ur5Ao3Yc9Kz0Qf",
            "req_011CVcGwZ2gAc1Ut8YiFw3Ns",
            text("Done; tests pass."),
            usage(7, 88, write=702, read=8210),
            model=HAIKU,
            stop="end_turn",
            **kw,
        ),
    ]


def codex_session() -> list[dict[str, Any]]:
    sid = CODEX_SID
    ts = "2026-11-03T10:{:02d}:{:02d}.{:03d}Z"

    def item(minute: int, second: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"timestamp": ts.format(minute, second, 100 + second), "type": kind, "payload": payload}

    def total(inp: int, cached: int, out: int, reasoning: int) -> dict[str, int]:
        return {
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "output_tokens": out,
            "reasoning_output_tokens": reasoning,
            "total_tokens": inp + out,
        }

    def count(
        minute: int, second: int, tot: dict[str, int] | None, last: dict[str, int] | None
    ) -> dict[str, Any]:
        info = (
            None
            if tot is None
            else {"total_token_usage": tot, "last_token_usage": last, "model_context_window": 272000}
        )
        return item(
            minute,
            second,
            "event_msg",
            {
                "type": "token_count",
                "info": info,
                "rate_limits": {
                    "primary": {"used_percent": 4.0, "window_minutes": 300, "resets_in_seconds": 15210}
                },
            },
        )

    t1 = total(12051, 9984, 733, 512)
    t2 = total(12051 + 15320, 9984 + 12160, 733 + 1210, 512 + 896)
    t3 = total(
        t2["input_tokens"] + 16002,
        t2["cached_input_tokens"] + 15232,
        t2["output_tokens"] + 95,
        t2["reasoning_output_tokens"] + 64,
    )
    return [
        item(
            12,
            44,
            "session_meta",
            {
                "id": sid,
                "timestamp": "2026-11-03T10:12:44.060Z",
                "cwd": "/home/alice/work/cli",
                "originator": "codex_cli_rs",
                "cli_version": "0.58.0",
                "instructions": None,
                "model_provider": "openai",
                "git": {"commit_hash": "4be1f0c", "branch": "main"},
            },
        ),
        item(
            12,
            44,
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "<environment_context>..."}],
            },
        ),
        item(
            12,
            50,
            "turn_context",
            {
                "cwd": "/home/alice/work/cli",
                "approval_policy": "on-request",
                "sandbox_policy": {"mode": "workspace-write"},
                "model": "gpt-5-codex",
                "effort": "medium",
                "summary": "auto",
            },
        ),
        item(
            12,
            50,
            "event_msg",
            {"type": "user_message", "message": "Why does the CLI ignore --verbose?", "kind": "plain"},
        ),
        count(12, 51, None, None),  # rate limits only
        item(
            12,
            58,
            "response_item",
            {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "gAAAAABp..."},
        ),
        count(13, 2, t1, t1),
        count(13, 2, t1, t1),  # repeated: the running total did not move
        item(
            13,
            30,
            "event_msg",
            {"type": "agent_message", "message": "The flag is parsed after logging is set."},
        ),
        count(14, 9, t2, {k: t2[k] - t1[k] for k in t2}),
        item(
            15,
            0,
            "turn_context",
            {
                "cwd": "/home/alice/work/cli",
                "approval_policy": "on-request",
                "sandbox_policy": {"mode": "workspace-write"},
                "model": "gpt-5.1-codex-mini",
                "effort": "low",
                "summary": "auto",
            },
        ),
        count(15, 20, t3, None),  # no last_token_usage: the difference of the running totals
    ]


CODEX_SID = "0199a6c1-4f2e-7d30-b8e5-93c1d2f4a6b7"
CODEX_FORK_SID = "0199a6d8-2b71-7c04-9e5a-41f0c3b2d8e6"


def codex_fork(parent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``codex fork`` of the parent after its last turn: every copied line is stamped when the fork wrote it."""

    def at(second: int, milli: int) -> str:
        return f"2026-11-03T10:20:{second:02d}.{milli:03d}Z"

    meta = {
        **parent[0]["payload"],
        "id": CODEX_FORK_SID,
        "forked_from_id": CODEX_SID,
        "timestamp": "2026-11-03T10:20:00.002Z",
    }
    copied = [{**line, "timestamp": at(0, 3 + index)} for index, line in enumerate(parent)]
    before = parent[-1]["payload"]["info"]["total_token_usage"]
    own = [
        {
            "input_tokens": 18110,
            "cached_input_tokens": 17024,
            "output_tokens": 402,
            "reasoning_output_tokens": 256,
        },
        {
            "input_tokens": 18544,
            "cached_input_tokens": 18048,
            "output_tokens": 77,
            "reasoning_output_tokens": 0,
        },
    ]
    totals = []
    for turn in own:
        before = {key: before[key] + turn.get(key, 0) for key in before}
        before["total_tokens"] = before["input_tokens"] + before["output_tokens"]
        totals.append(before)

    def count(second: int, total: dict[str, int], last: dict[str, int] | None) -> dict[str, Any]:
        last = (
            None if last is None else {**last, "total_tokens": last["input_tokens"] + last["output_tokens"]}
        )
        return {
            "timestamp": at(second, 500),
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": total,
                    "last_token_usage": last,
                    "model_context_window": 272000,
                },
            },
        }

    context = {"cwd": "/home/alice/work/cli", "approval_policy": "on-request", "model": "gpt-5.1-codex-mini"}
    return [
        {"timestamp": at(0, 2), "type": "session_meta", "payload": meta},
        *copied,
        {"timestamp": at(4, 10), "type": "turn_context", "payload": context},
        {
            "timestamp": at(4, 10),
            "type": "event_msg",
            "payload": {"type": "user_message", "message": "Try the other fix", "kind": "plain"},
        },
        count(9, totals[0], own[0]),
        count(31, totals[1], None),  # no last_token_usage: the difference from the copied running total
    ]


def token_log() -> list[dict[str, Any]]:
    def record(
        ts: str,
        rid: str,
        provider: str,
        model: str,
        path: str,
        inp: int,
        out: int,
        read: int,
        write: int,
        streaming: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "_schema": "token-usage/v0.26.0",
            "timestamp": ts,
            "request_id": rid,
            "provider": provider,
            "model": model,
            "path": path,
            "status": 200,
            "streaming": streaming,
            "input_tokens": inp,
            "output_tokens": out,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
            "duration_ms": 2140,
            "response_bytes": 18233,
            **extra,
        }

    return [
        record(
            "2026-11-03T11:00:02.140Z",
            "5b0c2f1e-7a4d-4c8b-9e21-3f6a8d0b4c17",
            "anthropic",
            SONNET,
            "/v1/messages",
            12,
            655,
            14020,
            2210,
        ),
        record(
            "2026-11-03T11:00:09.500Z",
            "7e3a9d2c-1b5f-4e06-8c47-a2d9f1e0b385",
            "openai",
            "gpt-4o-2024-08-06",
            "/v1/chat/completions",
            2048,
            310,
            1024,
            0,
            streaming=False,
            reasoning_tokens=0,
        ),
        record(
            "2026-11-03T11:01:00.000Z",
            "c41f8e2a-9d3b-47c6-b105-6e2a7d9f3b48",
            "copilot",
            "unknown",
            "/chat/completions",
            920,
            41,
            0,
            0,
            event="token_usage",
            x_initiator="agent",
        ),
    ]


def main() -> None:
    project = HERE / "claude" / "projects" / "-home-alice-work-webapp"
    dump(project / f"{SID}.jsonl", claude_main())
    dump(project / SID / "subagents" / "agent-a91f3c2e.jsonl", claude_subagent())
    dump(HERE / "claude" / "projects" / "-home-alice-work-api" / f"{SID2}.jsonl", claude_resumed())
    dump(
        HERE / "codex" / "sessions" / "2026" / "11" / "03" / f"rollout-2026-11-03T10-12-44-{CODEX_SID}.jsonl",
        codex_session(),
    )
    dump(
        HERE
        / "codex-fork"
        / "sessions"
        / "2026"
        / "11"
        / "03"
        / f"rollout-2026-11-03T10-20-00-{CODEX_FORK_SID}.jsonl",
        codex_fork(codex_session()),
    )
    dump(HERE / "token-usage.jsonl", token_log())


if __name__ == "__main__":
    main()
