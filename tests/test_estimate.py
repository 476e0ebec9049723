"""Usage that never arrived: streams without usage, cut streams, partial Anthropic usage.

Counts are o200k_base tokens (cl100k_base for GPT-4): "The capital of France is Paris." is 7 tokens,
"You are a terse assistant." 6, "What is the capital of France?" 7.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import REAL_CAPTURES, run_cli
from tokmeter.extract import estimate, extract_row, stream_text
from tokmeter.sources import Capture

QUESTION = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def sse(*events: tuple[str | None, Any]) -> str:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out)


def row(body: Any, **meta: Any) -> dict[str, Any]:
    meta.setdefault("ts", "2026-11-03T10:00:00Z")
    meta.setdefault("request_id", "req_1")
    return extract_row(Capture("mem", 0, meta, body))


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


CHAT_WITHOUT_USAGE = sse(
    (None, chat_chunk({"role": "assistant", "content": ""})),
    (None, chat_chunk({"content": "The capital"})),
    (None, chat_chunk({"content": " of France is Paris."})),
    (None, chat_chunk({}, "stop")),
    (None, "[DONE]"),
)


def anthropic_stream(*deltas: dict[str, Any], cut: bool = True) -> str:
    events: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "usage": {"input_tokens": 12, "cache_read_input_tokens": 1500, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas
    ]
    if not cut:
        events += [
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 30},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    return sse(*events)


def test_openai_chat_without_include_usage_is_estimated_from_text_and_prompt() -> None:
    r = row(
        CHAT_WITHOUT_USAGE,
        provider="openai",
        path="/v1/chat/completions",
        request={"model": "gpt-4o", "stream": True, "messages": QUESTION},
    )
    assert r["usage_source"] == "estimated" and r["complete"]
    assert r["output_tokens"] == 7 + 1  # the text and the end token
    assert r["input_tokens"] == 6 + 7 + 2 * 4 + 3  # texts, 4 per message (framing, role), 3 for the reply
    # no reasoning text streamed: 0; cache use cannot be seen from outside: unknown
    assert (r["cache_read_tokens"], r["cache_write_tokens"], r["reasoning_tokens"]) == (None, None, 0)


def test_without_a_captured_prompt_input_stays_zero() -> None:
    r = row(CHAT_WITHOUT_USAGE, provider="openai", request={"model": "gpt-4o", "stream": True})
    assert (r["usage_source"], r["input_tokens"], r["output_tokens"]) == ("estimated", 0, 8)


def test_gpt4_counts_with_cl100k() -> None:
    assert estimate.encoding_name("openai", "gpt-4-0613") == "cl100k_base"
    assert estimate.encoding_name("openai", "gpt-4o-mini") == "o200k_base"
    assert estimate.encoding_name("azure", "openai/gpt-3.5-turbo") == "cl100k_base"
    assert estimate.encoding_name("anthropic", "claude-sonnet-4-5") == "o200k_base"
    assert estimate.count_tokens("The capital of France is Paris.", "openai", "gpt-4") == 7


def test_cut_chat_stream_with_reasoning_and_tool_call() -> None:
    body = sse(
        (None, chat_chunk({"reasoning_content": "The user asks for a capital."})),
        (
            None,
            chat_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q":'},
                        }
                    ]
                }
            ),
        ),
        (None, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"France"}'}}]})),
    )
    r = row(body, provider="deepseek", request={"model": "deepseek-reasoner"})
    reasoning = estimate.count_tokens("The user asks for a capital.", "deepseek", "deepseek-reasoner")
    visible = estimate.count_tokens('lookup{"q":"France"}', "deepseek", "deepseek-reasoner")
    assert (r["usage_source"], r["complete"]) == ("estimated", False)
    assert (r["reasoning_tokens"], r["output_tokens"]) == (reasoning, reasoning + visible + 1)


def test_anthropic_cut_after_message_start_keeps_reported_input_and_estimates_output() -> None:
    body = anthropic_stream(
        {"type": "text_delta", "text": "The capital"}, {"type": "text_delta", "text": " of France is Paris."}
    )
    r = row(body, provider="anthropic", path="/v1/messages", request={"messages": QUESTION[1:]})
    assert (r["input_tokens"], r["cache_read_tokens"]) == (1512, 1500)  # as message_start reported them
    assert (r["output_tokens"], r["usage_source"], r["complete"]) == (8, "estimated", False)


def test_anthropic_cut_thinking_counts_as_reasoning() -> None:
    body = anthropic_stream({"type": "thinking_delta", "thinking": "The user asks for a capital."})
    r = row(body, provider="anthropic")
    assert r["reasoning_tokens"] == 7 and r["output_tokens"] == 8


def test_anthropic_stream_with_its_final_usage_is_not_estimated() -> None:
    r = row(anthropic_stream({"type": "text_delta", "text": "Paris."}, cut=False), provider="anthropic")
    assert (r["usage_source"], r["output_tokens"], r["complete"]) == ("reported", 30, True)


def test_anthropic_final_usage_seen_but_message_stop_lost_stays_reported() -> None:
    body = anthropic_stream({"type": "text_delta", "text": "Paris."}, cut=False)
    body = body[: body.index("event: message_stop")]
    r = row(body, provider="anthropic")
    assert (r["usage_source"], r["output_tokens"], r["complete"]) == ("reported", 30, False)


def test_openai_responses_cut_before_completed() -> None:
    created = {
        "type": "response.created",
        "response": {"id": "resp_1", "model": "gpt-4.1-2025-04-14", "status": "in_progress", "usage": None},
    }
    body = sse(
        ("response.created", created),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "The capital"}),
        (
            "response.output_text.delta",
            {"type": "response.output_text.delta", "delta": " of France is Paris."},
        ),
    )
    r = row(
        body,
        provider="openai",
        path="/v1/responses",
        request={"model": "gpt-4.1", "input": "What is the capital of France?", "instructions": "Be brief."},
    )
    assert (r["usage_source"], r["output_tokens"], r["response_id"]) == ("estimated", 8, "resp_1")
    assert r["input_tokens"] == 7 + estimate.count_tokens("Be brief.", None, "gpt-4.1") + 4 + 3


def test_cohere_cut_before_message_end() -> None:
    body = sse(
        (
            "message-start",
            {"type": "message-start", "id": "c-1", "delta": {"message": {"role": "assistant"}}},
        ),
        (
            "content-delta",
            {
                "type": "content-delta",
                "index": 0,
                "delta": {"message": {"content": {"text": "The capital of France is Paris."}}},
            },
        ),
    )
    r = row(body, provider="cohere", path="/v2/chat", request={"model": "command-a-03-2025"})
    assert (r["usage_source"], r["output_tokens"], r["complete"]) == ("estimated", 8, False)


def test_gemini_stream_without_usage_metadata() -> None:
    chunk = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "The user asks for a capital.", "thought": True},
                        {"text": "The capital of France is Paris."},
                    ],
                }
            }
        ],
        "modelVersion": "gemini-2.5-flash",
    }
    body = sse((None, chunk))
    r = row(
        body,
        provider="google",
        path="/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        request={"contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}]},
    )
    assert (r["usage_source"], r["reasoning_tokens"], r["output_tokens"]) == ("estimated", 7, 15)
    assert r["input_tokens"] == 7 + 4 + 3
    cut_array = json.dumps([chunk])[:-1] + ',{"candidates":[{"content":{"parts":[{"text":"Lyon'
    assert (
        row(cut_array, provider="google", path="/v1beta/models/gemini-2.5-flash:streamGenerateContent")[
            "output_tokens"
        ]
        == 15
    )


def test_error_streams_and_empty_streams_are_not_estimated() -> None:
    failed = row(CHAT_WITHOUT_USAGE, provider="openai", status=500, request={"messages": QUESTION})
    assert (failed["usage_source"], failed["output_tokens"]) == ("missing", 0)
    empty = sse((None, chat_chunk({"role": "assistant", "content": ""})))
    assert row(empty, provider="openai")["usage_source"] == "missing"  # nothing to count at all


def test_streams_with_usage_never_decode_their_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("text decoded on the normal path")

    monkeypatch.setattr(stream_text, "from_sse", boom)
    monkeypatch.setattr(estimate, "fill", boom)
    with_usage = CHAT_WITHOUT_USAGE.replace(
        "data: [DONE]",
        'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[],'
        '"usage":{"prompt_tokens":24,"completion_tokens":8}}\n\ndata: [DONE]',
    )
    assert row(with_usage, provider="openai")["usage_source"] == "reported"
    assert (
        row(anthropic_stream({"type": "text_delta", "text": "x"}, cut=False), provider="anthropic")[
            "output_tokens"
        ]
        == 30
    )


def test_ingest_summary_counts_estimates(isolated_store: Path, tmp_path: Path) -> None:
    log = tmp_path / "gateway.jsonl"
    base = {
        "ts": "2026-11-03T10:00:00Z",
        "provider": "openai",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "body": CHAT_WITHOUT_USAGE,
    }
    log.write_text(
        json.dumps({**base, "request_id": "a", "request": {"model": "gpt-4o", "messages": QUESTION}})
        + "\n"
        + json.dumps({**base, "request_id": "b", "request": {"model": "gpt-4o", "stream": True}})
        + "\n"
    )
    done = run_cli("ingest", str(log))
    assert done.returncode == 0, done.stderr
    assert (
        "estimated usage    2 stream(s) ended without their usage (1 without a captured prompt: input 0)"
        in (done.stdout)
    )


def _real_streams() -> list[dict[str, Any]]:
    if not REAL_CAPTURES.is_dir():
        pytest.skip(f"real captures not found at {REAL_CAPTURES}")
    with gzip.open(REAL_CAPTURES / "captures.jsonl.gz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [
        r
        for r in records
        if isinstance(r.get("body"), str)
        and r["body"].lstrip().startswith(("data:", "event:"))
        and (r.get("status") or 200) < 300
    ]


def test_real_streams_cut_in_half_are_estimated() -> None:
    """Every real stream, cut at half its length (its usage events lost), still gives a row; the ones
    that lost their usage are estimated from the text that arrived."""
    sources: Counter[str] = Counter()
    for record in _real_streams():
        body = record.pop("body")
        cut = extract_row(Capture("real", 0, record, body[: len(body) // 2]))
        sources[cut["usage_source"]] += 1
        if cut["usage_source"] == "estimated":
            assert not cut["complete"] and cut["output_tokens"] >= 0 and cut["input_tokens"] >= 0
    assert sources["estimated"] >= 40, sources


def test_reports_count_the_estimated_rows(isolated_store: Path, tmp_path: Path) -> None:
    log = tmp_path / "gateway.jsonl"
    base = {
        "ts": "2026-11-03T10:00:00Z",
        "provider": "openai",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "request": {"model": "gpt-4o"},
    }
    with_usage = CHAT_WITHOUT_USAGE.replace(
        "data: [DONE]",
        'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[],'
        '"usage":{"prompt_tokens":24,"completion_tokens":8}}\n\ndata: [DONE]',
    )
    log.write_text(
        json.dumps({**base, "request_id": "a", "user": "ann", "body": CHAT_WITHOUT_USAGE})
        + "\n"
        + json.dumps({**base, "request_id": "b", "user": "ann", "body": with_usage})
        + "\n"
        + json.dumps({**base, "request_id": "c", "user": "ben", "body": with_usage})
        + "\n"
    )
    assert run_cli("ingest", str(log)).returncode == 0
    done = run_cli("report", "--by", "user", "--format", "json")
    doc = json.loads(done.stdout)
    assert {r["user"]: (r["requests"], r["estimated_requests"]) for r in doc["rows"]} == {
        "ann": (2, 1),
        "ben": (1, 0),
    }
    assert doc["totals"]["estimated_requests"] == 1
    assert "estimated requests" in run_cli("report", "--by", "user").stdout
