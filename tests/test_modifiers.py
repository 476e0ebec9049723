"""Price modifiers: the service tier and fast mode each provider's response reports, stored normalized
(``service_tier``, ``speed``), and priced by the modifier table (``price_modifiers``)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import pytest

from tokmeter.extract import extract_row
from tokmeter.sources.capture import Capture


def row(body: object, **meta: object) -> dict:
    meta.setdefault("ts", "2026-11-03T10:00:00Z")
    return extract_row(Capture("cap.jsonl", 0, dict(meta), body))


def sse(*events: tuple[str | None, object]) -> str:
    return "".join((f"event: {name}\n" if name else "") + "data: "
                   + (data if isinstance(data, str) else json.dumps(data)) + "\n\n" for name, data in events)


# ---- Anthropic: usage.service_tier and usage.speed, JSON and SSE -----------------------------------
def anthropic_body(**usage: object) -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-6", "content": [],
            "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": 5, **usage}}


@pytest.mark.parametrize(("usage", "expected"), [
    ({"service_tier": "standard"}, ("standard", None)),
    ({"service_tier": "priority"}, ("priority", None)),
    ({"service_tier": "batch"}, ("batch", None)),
    ({"service_tier": "standard", "speed": "fast"}, ("standard", "fast")),
    ({"speed": "standard"}, (None, "standard")),
    ({}, (None, None)),
    ({"service_tier": "turbo-9000", "speed": "ludicrous"}, ("other", "other")),
])
def test_anthropic_json_tier_and_speed(usage: dict, expected: tuple) -> None:
    got = row(anthropic_body(**usage), provider="anthropic", path="/v1/messages")
    assert (got["service_tier"], got["speed"]) == expected
    assert (got["input_tokens"], got["output_tokens"]) == (10, 5)


def anthropic_stream(start_usage: dict, delta_usage: dict) -> str:
    message = {**anthropic_body(), "usage": {"input_tokens": 10, "output_tokens": 1, **start_usage}}
    return sse(("message_start", {"type": "message_start", "message": message}),
               ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": "hi"}}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                  "usage": {"output_tokens": 5, **delta_usage}}),
               ("message_stop", {"type": "message_stop"}))


def test_anthropic_stream_tier_from_message_start_and_speed_from_a_delta() -> None:
    got = row(anthropic_stream({"service_tier": "priority"}, {"speed": "fast"}), provider="anthropic",
              path="/v1/messages")
    assert (got["service_tier"], got["speed"], got["output_tokens"], got["complete"]) == ("priority", "fast", 5, True)


def test_anthropic_stream_later_usage_replaces_earlier_tier() -> None:
    got = row(anthropic_stream({"service_tier": "standard", "speed": "standard"}, {"service_tier": "priority"}),
              provider="anthropic", path="/v1/messages")
    assert (got["service_tier"], got["speed"]) == ("priority", "standard")


def test_claude_code_transcript_keeps_fast_mode(tmp_path: Any) -> None:
    from tokmeter.sources import read_captures

    line = {"type": "assistant", "sessionId": "s1", "timestamp": "2026-11-03T10:00:00Z", "requestId": "req_1",
            "message": {**anthropic_body(service_tier="standard", speed="fast"), "id": "msg_cc"}}
    project = tmp_path / ".claude" / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s1.jsonl").write_text(json.dumps(line) + "\n")
    rows = [extract_row(c) for c in read_captures(project / "s1.jsonl", "claude-code") if isinstance(c, Capture)]
    assert [(r["service_tier"], r["speed"]) for r in rows] == [("standard", "fast")]


# ---- OpenAI: service_tier in Chat Completions and Responses ----------------------------------------
@pytest.mark.parametrize(("tier", "expected"), [("default", "standard"), ("flex", "flex"),
                                                ("priority", "priority"), ("scale", "scale"), (None, None)])
def test_openai_chat_json_tier(tier: str | None, expected: str | None) -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-5", "service_tier": tier, "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert got["service_tier"] == expected and got["speed"] is None


def chat_chunk(tier: str | None, **fields: object) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-5", "service_tier": tier, **fields}


@pytest.mark.parametrize("fast", [True, False])
def test_openai_chat_stream_tier_from_the_usage_chunk(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tier of the chunk carrying the usage (a request's "auto" on the first chunk is resolved
    later); the same with the fast path off."""
    from tokmeter.extract import fastpath

    monkeypatch.setattr(fastpath, "ENABLED", fast)
    body = sse((None, chat_chunk("auto", choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}])),
               (None, chat_chunk("flex", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
               (None, chat_chunk("flex", choices=[], usage={"prompt_tokens": 3, "completion_tokens": 4})),
               (None, "[DONE]"))
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert (got["service_tier"], got["output_tokens"], got["complete"]) == ("flex", 4, True)


def test_openai_chat_stream_without_usage_keeps_the_first_chunks_tier() -> None:
    body = sse((None, chat_chunk("priority", choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}])),
               (None, chat_chunk("priority", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
               (None, "[DONE]"))
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert got["service_tier"] == "priority" and got["usage_source"] == "estimated"


def responses_doc(tier: str, status: str = "completed", usage: bool = True) -> dict:
    return {"id": "resp_1", "object": "response", "model": "gpt-5", "status": status, "service_tier": tier,
            "usage": {"input_tokens": 8, "output_tokens": 2} if usage else None}


@pytest.mark.parametrize(("tier", "expected"), [("flex", "flex"), ("priority", "priority"), ("default", "standard")])
def test_openai_responses_json_and_stream_tier(tier: str, expected: str) -> None:
    got = row(responses_doc(tier), provider="openai", path="/v1/responses")
    assert got["service_tier"] == expected
    stream = sse(("response.created", {"type": "response.created",
                                       "response": responses_doc("auto", "in_progress", usage=False)}),
                 ("response.completed", {"type": "response.completed", "response": responses_doc(tier)}))
    got = row(stream, provider="openai", path="/v1/responses")
    assert (got["service_tier"], got["input_tokens"], got["complete"]) == (expected, 8, True)


# ---- Gemini: usageMetadata.serviceTier, else the x-gemini-service-tier header -----------------------
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


def gemini_body(**usage: object) -> dict:
    return {"candidates": [{"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 2, **usage},
            "modelVersion": "gemini-2.5-flash", "responseId": "g1"}


def test_gemini_tier_from_body_then_header() -> None:
    host = "generativelanguage.googleapis.com"
    assert row(gemini_body(serviceTier="flex"), host=host, path=GEMINI_PATH)["service_tier"] == "flex"
    headed = row(gemini_body(), host=host, path=GEMINI_PATH, response_headers={"X-Gemini-Service-Tier": "priority"})
    assert headed["service_tier"] == "priority"
    said = row(gemini_body(serviceTier="standard"), host=host, path=GEMINI_PATH,
               response_headers={"x-gemini-service-tier": "priority"})
    assert said["service_tier"] == "standard"  # the body wins
    assert row(gemini_body(), host=host, path=GEMINI_PATH)["service_tier"] is None
    stream = sse((None, gemini_body(serviceTier="flex")))
    assert row(stream, host=host, path=GEMINI_PATH.replace("generateContent", "streamGenerateContent"))[
        "service_tier"] == "flex"


# ---- Bedrock: serviceTier {"type": ...} in Converse bodies and the stream's metadata ----------------
BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
ES_HEADERS = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-es"}


def es_event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    raw = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
                   for k, v in headers.items())
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(raw) + len(body) + 4, len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + body
    return message + struct.pack(">I", zlib.crc32(message))


@pytest.mark.parametrize(("tier", "expected"), [("flex", "flex"), ("priority", "priority"),
                                                ("default", "standard"), ("reserved", "reserved")])
def test_bedrock_converse_json_and_stream_tier(tier: str, expected: str) -> None:
    usage = {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8}
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn",
            "usage": usage, "metrics": {"latencyMs": 10}, "serviceTier": {"type": tier}}
    path = "/model/us.amazon.nova-micro-v1%3A0/converse"
    assert row(body, host=BEDROCK_HOST, path=path)["service_tier"] == expected
    stream = b"".join([es_event("messageStart", {"role": "assistant"}), es_event("messageStop", {"stopReason": "end_turn"}),
                       es_event("metadata", {"usage": usage, "metrics": {"latencyMs": 10},
                                             "serviceTier": {"type": tier}})])
    got = row(stream, host=BEDROCK_HOST, path=path + "-stream", response_headers=ES_HEADERS)
    assert (got["service_tier"], got["output_tokens"], got["complete"]) == (expected, 3, True)
