"""Gemini, Bedrock, Cohere and HAR: small hand-made captures in the providers' real wire shapes,
including the broken ones a proxy records (streams cut mid-way, corrupt frames)."""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tokmeter.errors import BadCaptureError
from tokmeter.extract import extract_row
from tokmeter.extract.eventstream import EventStream, iter_messages
from tokmeter.sources import BadCapture, Capture, detect_format, read_captures

TS = "2026-01-05T10:00:00+00:00"
GEMINI_HOST = "generativelanguage.googleapis.com"
BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
ES_HEADERS = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "5b6f-req"}


def row(body: Any, **meta: Any) -> dict[str, Any]:
    return extract_row(Capture("test", 0, {"ts": TS, "status": 200, **meta}, body))


# --- Gemini ------------------------------------------------------------------------------------

GEMINI_CHUNKS = [
    {
        "candidates": [
            {"content": {"parts": [{"text": "**Plan**", "thought": True}], "role": "model"}, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 11, "totalTokenCount": 11},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "IopyaseNCL-s",
    },
    {
        "candidates": [{"content": {"parts": [{"text": "Scoop"}], "role": "model"}, "index": 0}],
        "usageMetadata": {
            "promptTokenCount": 11,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 291,
            "totalTokenCount": 304,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "IopyaseNCL-s",
    },
    {
        "candidates": [
            {"content": {"parts": [{"text": "!"}], "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 11,
            "candidatesTokenCount": 3,
            "thoughtsTokenCount": 291,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 305,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "IopyaseNCL-s",
    },
]
GEMINI_SSE = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in GEMINI_CHUNKS)
STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


def test_gemini_generate_content_counts_tool_use_prompt_and_thoughts() -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "37170"}], "role": "model"}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.0-flash",
        "responseId": "30PraemqKIqJ",
        "usageMetadata": {
            "promptTokenCount": 13,
            "toolUsePromptTokenCount": 289,
            "candidatesTokenCount": 194,
            "thoughtsTokenCount": 20,
            "cachedContentTokenCount": 8,
            "totalTokenCount": 516,
        },
    }
    got = row(json.dumps(body), host=GEMINI_HOST, path="/v1beta/models/gemini-2.0-flash:generateContent")
    assert (got["input_tokens"], got["cache_read_tokens"], got["output_tokens"], got["reasoning_tokens"]) == (
        302,
        8,
        214,
        20,
    )
    assert (got["model"], got["response_id"], got["provider"]) == (
        "gemini-2.0-flash",
        "30PraemqKIqJ",
        "google",
    )
    assert got["complete"] and not got["stream"]


def test_gemini_sse_takes_the_last_running_total() -> None:
    got = row(GEMINI_SSE, host=GEMINI_HOST, path=STREAM_PATH + "?alt=sse")
    assert (got["input_tokens"], got["cache_read_tokens"], got["output_tokens"], got["reasoning_tokens"]) == (
        11,
        4,
        294,
        291,
    )
    assert got["stream"] and got["complete"] and got["usage_source"] == "reported"
    assert (got["response_id"], got["endpoint"]) == ("IopyaseNCL-s", STREAM_PATH)


def test_gemini_sse_cut_mid_way_keeps_the_last_whole_chunk_and_is_incomplete() -> None:
    cut = GEMINI_SSE[: GEMINI_SSE.rindex("data: ") + 60]
    got = row(cut)  # no path, no host: recognized by the body's shape
    assert not got["complete"]
    assert (got["input_tokens"], got["output_tokens"], got["usage_source"]) == (11, 293, "reported")
    assert got["provider"] == "google"


def test_gemini_json_array_stream() -> None:
    body = "[" + ",\r\n".join(json.dumps(chunk, indent=2) for chunk in GEMINI_CHUNKS) + "]"
    got = row(body, host="europe-west4-aiplatform.googleapis.com", path=STREAM_PATH)
    assert (got["input_tokens"], got["output_tokens"], got["reasoning_tokens"]) == (11, 294, 291)
    assert got["stream"] and got["complete"] and got["provider"] == "google-vertex"


def test_gemini_json_array_stream_cut_off_reads_its_whole_chunks() -> None:
    body = "[" + ",\n".join(json.dumps(chunk) for chunk in GEMINI_CHUNKS)
    got = row(body[:-40], host=GEMINI_HOST, path=STREAM_PATH)
    assert got["stream"] and not got["complete"]
    assert (got["output_tokens"], got["usage_source"]) == (293, "reported")


def test_gemini_blocked_prompt_is_complete_with_usage() -> None:
    body = {
        "promptFeedback": {"blockReason": "MODEL_ARMOR"},
        "usageMetadata": {"trafficType": "ON_DEMAND"},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mSEXaseKG",
    }
    got = row([body], host=GEMINI_HOST, path=STREAM_PATH)
    assert got["complete"] and got["usage_source"] == "reported" and got["input_tokens"] == 0


# --- AWS event streams and Bedrock ----------------------------------------------------------------


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One eventstream message, string headers only, CRCs computed."""
    raw = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(raw) + len(payload) + 4, len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload, separators=(",", ":")).encode())


CONVERSE_FRAMES = [
    event("messageStart", {"p": "abcdefghijk", "role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Paris."}, "p": "abcdef"}),
    event("contentBlockStop", {"contentBlockIndex": 0, "p": "abcdefghijklmnop"}),
    event("messageStop", {"p": "abcdefghijklm", "stopReason": "end_turn"}),
    event(
        "metadata",
        {
            "metrics": {"latencyMs": 422},
            "p": "abc",
            "usage": {
                "cacheReadInputTokens": 1024,
                "cacheWriteInputTokens": 0,
                "inputTokens": 471,
                "outputTokens": 91,
                "totalTokens": 1586,
            },
        },
    ),
]
CONVERSE_STREAM = b"".join(CONVERSE_FRAMES)
CONVERSE_STREAM_PATH = "/model/us.amazon.nova-micro-v1%3A0/converse-stream"


def converse_stream_row(body: Any, **meta: Any) -> dict[str, Any]:
    meta = {"host": BEDROCK_HOST, "path": CONVERSE_STREAM_PATH, "response_headers": ES_HEADERS, **meta}
    return row(body, **meta)


def test_converse_stream() -> None:
    got = converse_stream_row(CONVERSE_STREAM)
    assert (got["input_tokens"], got["cache_read_tokens"], got["output_tokens"]) == (1495, 1024, 91)
    assert got["complete"] and got["stream"] and got["provider"] == "bedrock"
    assert (got["model"], got["response_id"], got["request_id"]) == (
        "us.amazon.nova-micro-v1:0",
        "5b6f-req",
        "5b6f-req",
    )


def test_converse_stream_recognized_from_its_bytes_alone() -> None:
    got = row(CONVERSE_STREAM)
    assert (got["input_tokens"], got["output_tokens"], got["provider"]) == (1495, 91, "bedrock")


def test_converse_stream_as_base64_text_under_its_content_type() -> None:
    got = converse_stream_row(base64.b64encode(CONVERSE_STREAM).decode())
    assert (got["input_tokens"], got["output_tokens"], got["complete"]) == (1495, 91, True)


def test_converse_stream_with_a_bad_crc_is_a_bad_capture() -> None:
    corrupt = bytearray(CONVERSE_STREAM)
    corrupt[CONVERSE_STREAM.index(b"Paris")] ^= 0x20
    with pytest.raises(BadCaptureError, match="message CRC mismatch"):
        converse_stream_row(bytes(corrupt))
    corrupt = bytearray(CONVERSE_STREAM)
    corrupt[4] ^= 0x01  # the first frame's headers length: its prelude CRC no longer matches
    with pytest.raises(BadCaptureError, match="prelude CRC mismatch"):
        list(iter_messages(bytes(corrupt)))


def test_converse_stream_truncated_in_its_final_frame_is_incomplete() -> None:
    cut = CONVERSE_STREAM[:-30]
    stream = EventStream(cut)
    kinds = [headers[":event-type"] for headers, _ in stream]
    assert kinds == ["messageStart", "contentBlockDelta", "contentBlockStop", "messageStop"]
    assert stream.truncated
    got = converse_stream_row(cut)
    # the metadata frame with the usage was lost: "Paris." (2 tokens) and the end token are counted instead
    assert not got["complete"] and got["usage_source"] == "estimated"
    assert (got["input_tokens"], got["output_tokens"]) == (0, 3)


def test_converse_stream_ending_in_an_exception_is_incomplete() -> None:
    error = frame(
        {
            ":exception-type": "modelStreamErrorException",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        b'{"message":"The model stream was interrupted."}',
    )
    got = converse_stream_row(b"".join(CONVERSE_FRAMES[:2]) + error)
    assert not got["complete"] and got["usage_source"] == "estimated" and got["output_tokens"] == 3
    only_error = row(error)  # throttled before the first event, no path: still a Bedrock stream
    assert (only_error["provider"], only_error["complete"], only_error["stream"]) == ("bedrock", False, True)


def test_converse_json_with_cache_writes_by_ttl() -> None:
    body = {
        "metrics": {"latencyMs": 1187},
        "output": {"message": {"content": [{"text": "Hi"}], "role": "assistant"}},
        "stopReason": "end_turn",
        "usage": {
            "cacheDetails": [{"inputTokens": 2000, "ttl": "1h"}, {"inputTokens": 74, "ttl": "5m"}],
            "cacheReadInputTokenCount": 0,
            "cacheReadInputTokens": 0,
            "cacheWriteInputTokenCount": 2074,
            "cacheWriteInputTokens": 2074,
            "inputTokens": 3,
            "outputTokens": 288,
            "totalTokens": 2365,
        },
    }
    got = row(
        json.dumps(body),
        host=BEDROCK_HOST,
        path="/model/us.anthropic.claude-sonnet-4-5-v1%3A0/converse",
        response_headers={"x-amzn-requestid": "9ed59709"},
    )
    assert (
        got["input_tokens"],
        got["cache_write_tokens"],
        got["cache_write_1h_tokens"],
        got["output_tokens"],
    ) == (2077, 2074, 2000, 288)
    assert (got["response_id"], got["model"]) == ("9ed59709", "us.anthropic.claude-sonnet-4-5-v1:0")


def test_invoke_model_with_an_anthropic_body() -> None:
    body = {
        "id": "msg_bdrk_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
            "output_tokens": 7,
        },
    }
    got = row(json.dumps(body), host=BEDROCK_HOST, path="/model/anthropic.claude-sonnet-4-5-v1%3A0/invoke")
    assert (
        got["input_tokens"],
        got["cache_read_tokens"],
        got["cache_write_tokens"],
        got["output_tokens"],
    ) == (115, 100, 5, 7)
    assert (got["provider"], got["response_id"], got["model"]) == (
        "bedrock",
        "msg_bdrk_01",
        "claude-sonnet-4-5-20250929",
    )


def chunk(anthropic_event: dict[str, Any]) -> bytes:
    encoded = base64.b64encode(json.dumps(anthropic_event).encode()).decode()
    return event("chunk", {"bytes": encoded, "p": "abcdefgh"})


INVOKE_STREAM = b"".join(
    [
        chunk(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_02",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-haiku-4-5-20251001",
                    "content": [],
                    "usage": {"input_tokens": 25, "cache_read_input_tokens": 0, "output_tokens": 1},
                },
            }
        ),
        chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        chunk(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 12}}
        ),
        chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": 25,
                    "outputTokenCount": 12,
                    "invocationLatency": 640,
                    "firstByteLatency": 300,
                },
            }
        ),
    ]
)


def test_invoke_with_response_stream_delegates_to_anthropic() -> None:
    path = "/model/anthropic.claude-haiku-4-5-v1%3A0/invoke-with-response-stream"
    got = row(INVOKE_STREAM, host=BEDROCK_HOST, path=path, response_headers=ES_HEADERS)
    assert (got["input_tokens"], got["output_tokens"], got["usage_source"]) == (25, 12, "reported")
    assert got["complete"] and got["stream"]
    assert (got["model"], got["response_id"]) == ("claude-haiku-4-5-20251001", "msg_bdrk_02")
    assert not row(INVOKE_STREAM[:-20], host=BEDROCK_HOST, path=path)["complete"]


def test_eventstream_header_value_types() -> None:
    when = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    raw = b"".join(
        [
            b"\x01a\x00",
            b"\x01b\x01",
            b"\x01c\x02\xff",
            b"\x01d\x03\x01\x00",
            b"\x01e\x04\x00\x00\x01\x00",
            b"\x01f\x05" + struct.pack(">q", -2),
            b"\x01g\x06\x00\x02\x00\x01",
            b"\x01h\x08" + struct.pack(">q", int(when.timestamp() * 1000)),
            b"\x01i\x09" + ident.bytes,
        ]
    )
    prelude = struct.pack(">II", 12 + len(raw) + 4, len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw
    [(headers, payload)] = iter_messages(message + struct.pack(">I", zlib.crc32(message)))
    assert headers == {
        "a": True,
        "b": False,
        "c": -1,
        "d": 256,
        "e": 256,
        "f": -2,
        "g": b"\x00\x01",
        "h": when,
        "i": ident,
    }
    assert payload == b""


# --- Cohere --------------------------------------------------------------------------------------


def test_cohere_reads_tokens_not_billed_units() -> None:
    body = {
        "finish_reason": "COMPLETE",
        "id": "cf7be73f-dcee",
        "message": {"content": [{"text": "Paris.", "type": "text"}], "role": "assistant"},
        "usage": {
            "billed_units": {"input_tokens": 13, "output_tokens": 61},
            "cached_tokens": 512,
            "tokens": {"input_tokens": 542, "output_tokens": 63},
        },
    }
    got = row(
        json.dumps(body), host="api.cohere.com", path="/v2/chat", request={"model": "command-r7b-12-2024"}
    )
    assert (got["input_tokens"], got["cache_read_tokens"], got["output_tokens"]) == (542, 512, 63)
    assert (got["provider"], got["model"], got["response_id"]) == (
        "cohere",
        "command-r7b-12-2024",
        "cf7be73f-dcee",
    )


def test_cohere_stream() -> None:
    events = [
        (
            "message-start",
            {"id": "29f14a5a", "type": "message-start", "delta": {"message": {"role": "assistant"}}},
        ),
        (
            "content-delta",
            {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}},
        ),
        (
            "message-end",
            {
                "type": "message-end",
                "delta": {
                    "finish_reason": "COMPLETE",
                    "usage": {
                        "billed_units": {"input_tokens": 3, "output_tokens": 2},
                        "tokens": {"input_tokens": 70, "output_tokens": 2},
                    },
                },
            },
        ),
    ]
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    got = row(body)
    assert (got["input_tokens"], got["output_tokens"], got["response_id"], got["complete"]) == (
        70,
        2,
        "29f14a5a",
        True,
    )
    assert not row(body[: body.index("event: message-end")])["complete"]


# --- HAR -----------------------------------------------------------------------------------------


def har_entry(
    url: str,
    method: str,
    status: int,
    content: dict[str, Any],
    post: str | None = None,
    request_headers: list | None = None,
    response_headers: list | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": request_headers or []}
    if post is not None:
        request["postData"] = {"mimeType": "application/json", "text": post}
    return {
        "startedDateTime": "2026-01-05T10:00:00.123Z",
        "request": request,
        "response": {"status": status, "headers": response_headers or [], "content": content},
    }


def test_har_reader(tmp_path: Path) -> None:
    chat = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"finish_reason": "stop", "index": 0, "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }
    entries = [
        har_entry(
            "https://example.com/logo.png",
            "GET",
            200,
            {"mimeType": "image/png", "text": "iVBOR", "encoding": "base64"},
        ),
        har_entry("https://api.openai.com/v1/chat/completions", "OPTIONS", 204, {"mimeType": "x-unknown"}),
        har_entry(
            "https://api.openai.com/v1/chat/completions",
            "POST",
            200,
            {"mimeType": "application/json", "text": json.dumps(chat)},
            post=json.dumps(
                {"model": "gpt-4o-mini", "user": "ana", "messages": [{"role": "user", "content": "secret"}]}
            ),
            request_headers=[
                {"name": "Authorization", "value": "Bearer sk-live"},
                {"name": "Cookie", "value": "s=1"},
            ],
            response_headers=[
                {"name": "X-Request-ID", "value": "req_9"},
                {"name": "Set-Cookie", "value": "c=1"},
            ],
        ),
        har_entry(
            f"https://{BEDROCK_HOST}{CONVERSE_STREAM_PATH}",
            "POST",
            200,
            {
                "mimeType": ES_HEADERS["content-type"],
                "encoding": "base64",
                "text": base64.b64encode(CONVERSE_STREAM).decode(),
            },
            response_headers=[{"name": "Content-Type", "value": ES_HEADERS["content-type"]}],
        ),
        har_entry("https://api.anthropic.com/v1/messages", "POST", 0, {"mimeType": "x-unknown"}),
    ]
    path = tmp_path / "session.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": entries}}))
    assert detect_format(path) == "har"
    captures = list(read_captures(path))
    assert [c.offset for c in captures] == [2, 3, 4] and all(isinstance(c, Capture) for c in captures)
    openai_meta = captures[0].meta
    assert openai_meta["request"] == {"model": "gpt-4o-mini", "user": "ana"}
    assert openai_meta["response_headers"] == {"x-request-id": "req_9"}
    assert "secret" not in repr(openai_meta) and "sk-live" not in repr(openai_meta)
    rows = [extract_row(c) for c in captures]
    assert (rows[0]["request_id"], rows[0]["user"], rows[0]["input_tokens"]) == ("req_9", "ana", 9)
    assert rows[0]["timestamp"] == datetime(2026, 1, 5, 10, 0, 0, 123000, tzinfo=UTC)
    assert (
        isinstance(captures[1].body, bytes)
        and rows[1]["input_tokens"] == 1495
        and rows[1]["provider"] == "bedrock"
    )
    assert rows[2]["status"] is None and not rows[2]["complete"]


def test_har_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "broken.har"
    path.write_text('{"log": {"pages": []}}')
    [bad] = read_captures(path)
    assert isinstance(bad, BadCapture) and "log.entries" in bad.reason
