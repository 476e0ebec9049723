"""Capture-log lines for the follow tests and their writer processes (kept free of heavy imports, so a
writer process starts fast)."""

from __future__ import annotations

import json


def record(i: int, tag: str = "r") -> bytes:
    """One capture-log line: request id ``{tag}-{i}``, input 10+i tokens, output 1+i%7."""
    body = {
        "id": f"chatcmpl-{tag}{i}",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10 + i, "completion_tokens": 1 + i % 7, "total_tokens": 11 + i + i % 7},
    }
    rec = {
        "ts": f"2026-11-03T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "request_id": f"{tag}-{i}",
        "user": f"user-{i % 5}",
        "provider": "openai",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "request": {"model": "gpt-4o-mini", "stream": False},
        "body": json.dumps(body),
    }
    return json.dumps(rec).encode() + b"\n"


def records(ids: range, tag: str = "r") -> bytes:
    return b"".join(record(i, tag) for i in ids)


def input_tokens(ids: range) -> int:
    return sum(10 + i for i in ids)
