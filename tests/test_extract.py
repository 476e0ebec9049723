"""Extraction of OpenAI and Anthropic captures into usage rows (documented response shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tokmeter.capture import Capture
from tokmeter.errors import BadCaptureError
from tokmeter.extract import extract_row, parse_timestamp


def sse(*events: tuple[str | None, object]) -> str:
    out = ""
    for name, data in events:
        out += (
            (f"event: {name}\n" if name else "")
            + "data: "
            + (data if isinstance(data, str) else json.dumps(data))
            + "\n\n"
        )
    return out


def row(body: object, **meta: object) -> dict:
    meta.setdefault("ts", "2026-11-03T10:00:00Z")
    return extract_row(Capture("cap.jsonl", 0, dict(meta), body))


def chunk(**fields: object) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06", **fields}


def test_openai_chat_stream_usage_on_final_chunk() -> None:
    body = sse(
        (None, chunk(choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}], usage=None)),
        (None, chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], usage=None)),
        (
            None,
            chunk(
                choices=[],
                usage={
                    "prompt_tokens": 11,
                    "completion_tokens": 7,
                    "prompt_tokens_details": {"cached_tokens": 4},
                    "completion_tokens_details": {"reasoning_tokens": 2},
                },
            ),
        ),
        (None, "[DONE]"),
    )
    r = row(body, provider="openai", path="/v1/chat/completions", request={"model": "gpt-4o", "stream": True})
    assert (r["input_tokens"], r["cache_read_tokens"], r["output_tokens"], r["reasoning_tokens"]) == (
        11,
        4,
        7,
        2,
    )
    assert r["usage_source"] == "reported" and r["complete"] and r["stream"]
    assert r["model"] == "gpt-4o-2024-08-06" and r["response_id"] == "chatcmpl-1"


def test_openai_chat_stream_without_include_usage_is_estimated_not_dropped() -> None:
    body = sse(
        (None, chunk(choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}], usage=None)),
        (None, chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        (None, "[DONE]"),
    )
    r = row(body, provider="openai")
    # "Hi" and the end token; no prompt was captured, so input stays 0 (see test_estimate.py)
    assert (
        r["usage_source"] == "estimated"
        and (r["input_tokens"], r["output_tokens"]) == (0, 2)
        and r["complete"]
    )


def test_openai_chat_stream_cut_before_done_is_incomplete() -> None:
    body = sse(
        (None, chunk(choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}], usage=None))
    )
    r = row(body + 'data: {"id":"chatcmpl-1","cho', provider="openai")
    assert r["complete"] is False and r["usage_source"] == "estimated" and r["output_tokens"] == 2


def test_openai_chat_json_with_deepseek_and_mistral_cache_fields() -> None:
    deepseek = {
        "id": "x",
        "object": "chat.completion",
        "model": "deepseek-chat",
        "usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 60},
    }
    assert row(deepseek)["cache_read_tokens"] == 60
    mistral = {
        "id": "y",
        "object": "chat.completion",
        "model": "mistral-small",
        "usage": {"prompt_tokens": 100, "completion_tokens": 5, "num_cached_tokens": 30},
    }
    assert row(json.dumps(mistral))["cache_read_tokens"] == 30


def responses_event(kind: str, status: str, usage: object = None) -> tuple[str, dict]:
    response = {
        "id": "resp_1",
        "object": "response",
        "model": "o4-mini-2025-04-16",
        "status": status,
        "usage": usage,
    }
    return kind, {"type": kind, "response": response}


def test_openai_responses_stream_completed() -> None:
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 10},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 20},
    }
    body = sse(
        responses_event("response.created", "in_progress"),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "x"}),
        responses_event("response.completed", "completed", usage),
    )
    r = row(body, provider="openai", path="/v1/responses")
    assert (r["input_tokens"], r["cache_read_tokens"], r["output_tokens"], r["reasoning_tokens"]) == (
        50,
        10,
        30,
        20,
    )
    assert r["complete"] and r["response_id"] == "resp_1"


def test_openai_responses_stream_incomplete_and_events_without_names() -> None:
    usage = {"input_tokens": 5, "output_tokens": 3}
    body = sse(
        (None, responses_event("response.created", "in_progress")[1]),
        (None, responses_event("response.incomplete", "incomplete", usage)[1]),
    )
    r = row(body, path="/v1/responses")
    assert (r["input_tokens"], r["output_tokens"], r["complete"], r["provider"]) == (5, 3, True, "openai")


def anthropic_start(usage: dict) -> tuple[str, dict]:
    return "message_start", {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude-sonnet-4-5-20250929", "usage": usage},
    }


def test_anthropic_stream_takes_last_cumulative_delta_never_sums() -> None:
    body = sse(
        anthropic_start(
            {
                "input_tokens": 10,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
                "cache_creation": {"ephemeral_1h_input_tokens": 20},
                "output_tokens": 1,
            }
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        ),
        ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 40}}),
        ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 55, "input_tokens": 12}}),
        ("message_stop", {"type": "message_stop"}),
    )
    r = row(body, provider="anthropic", path="/v1/messages")
    assert r["input_tokens"] == 12 + 100 + 20
    assert (r["cache_read_tokens"], r["cache_write_tokens"], r["cache_write_1h_tokens"]) == (100, 20, 20)
    assert r["output_tokens"] == 55 and r["complete"] and r["usage_source"] == "reported"


def test_anthropic_stream_cut_keeps_message_start_usage_and_is_incomplete() -> None:
    body = sse(
        anthropic_start({"input_tokens": 700, "output_tokens": 1}),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"text": "x"}}),
    )
    r = row(body[:-1], provider="anthropic")
    # input as reported; output estimated from the text that did arrive ("x" and the end token)
    assert (r["input_tokens"], r["output_tokens"], r["complete"], r["usage_source"]) == (
        700,
        2,
        False,
        "estimated",
    )


def test_anthropic_json_with_compaction_iterations_added() -> None:
    doc = {
        "id": "msg_2",
        "type": "message",
        "model": "claude-sonnet-4-6",
        "usage": {
            "input_tokens": 229,
            "output_tokens": 5,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "iterations": [
                {
                    "type": "compaction",
                    "input_tokens": 100,
                    "output_tokens": 131,
                    "cache_creation_input_tokens": 55096,
                },
                {"type": "message", "input_tokens": 229, "output_tokens": 5},
                {"type": "advisor_message", "model": "other", "input_tokens": 999, "output_tokens": 9},
            ],
        },
    }
    r = row(doc, provider="anthropic")
    assert (r["input_tokens"], r["cache_write_tokens"], r["output_tokens"]) == (55425, 55096, 136)


def test_error_response_gives_a_row_with_status() -> None:
    body = json.dumps({"type": "error", "error": {"type": "overloaded_error"}, "request_id": "req_9"})
    r = row(body, provider="anthropic", status=529, path="/v1/messages")
    assert r["status"] == 529 and r["usage_source"] == "missing" and r["request_id"] == "req_9"


def test_request_id_fallbacks() -> None:
    doc = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    assert row(doc, request_id="cap-1", response_headers={"x-request-id": "h"})["request_id"] == "cap-1"
    assert row(doc, response_headers={"Request-Id": "hdr-1", "x-request-id": "x"})["request_id"] == "hdr-1"
    assert row(doc, response_headers={"X-Request-Id": "x-1"})["request_id"] == "x-1"
    assert row(doc)["request_id"] == "chatcmpl-9"
    anonymous = {"object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    assert row(anonymous)["request_id"] == row(dict(anonymous))["request_id"]
    assert row(anonymous)["request_id"].startswith("sha256:")


def test_user_fallbacks() -> None:
    doc = {"id": "c", "object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    assert row(doc, user="u1", request={"user": "u2"})["user"] == "u1"
    assert row(doc, request={"user": "u2"})["user"] == "u2"
    assert row(doc, request={"metadata": {"user_id": "u3"}})["user"] == "u3"
    assert row(doc)["user"] is None


def test_model_falls_back_to_request_then_path() -> None:
    error = json.dumps({"error": {"message": "bad"}})
    assert row(error, status=400, request={"model": "gpt-4o"})["model"] == "gpt-4o"
    assert row(error, status=400, path="/openai/deployments/prod-4o/chat/completions")["model"] == "prod-4o"


@pytest.mark.parametrize("bad", ["12", -1, 1.5, float("inf"), True, [1]])
def test_bad_token_values_are_rejected_with_field_name(bad: object) -> None:
    doc = {"id": "c", "object": "chat.completion", "usage": {"prompt_tokens": bad, "completion_tokens": 1}}
    with pytest.raises(BadCaptureError, match="usage.prompt_tokens"):
        row(doc)


def test_integral_float_tokens_accepted() -> None:
    doc = {"id": "c", "object": "chat.completion", "usage": {"prompt_tokens": 12.0, "completion_tokens": 1}}
    assert row(doc)["input_tokens"] == 12


def test_unrecognized_2xx_body_is_a_bad_capture() -> None:
    with pytest.raises(BadCaptureError, match="not a response of any known API"):
        row({"hello": "world"}, status=200)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-03T10:00:00Z", datetime(2026, 11, 3, 10, tzinfo=UTC)),
        ("2026-11-03T12:00:00+02:00", datetime(2026, 11, 3, 10, tzinfo=UTC)),
        ("2026-11-03T10:00:00", datetime(2026, 11, 3, 10, tzinfo=UTC)),
        (1793700000, datetime(2026, 11, 3, 10, tzinfo=UTC)),
        (1793700000.5, datetime(2026, 11, 3, 10, 0, 0, 500000, tzinfo=UTC)),
        (1793700000000, datetime(2026, 11, 3, 10, tzinfo=UTC)),
        ("1793700000", datetime(2026, 11, 3, 10, tzinfo=UTC)),
    ],
)
def test_timestamps(value: object, expected: datetime) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", True, None, [1], 1e30])
def test_bad_timestamps(value: object) -> None:
    with pytest.raises(BadCaptureError, match="ts is"):
        parse_timestamp(value)
