"""Price modifiers: the service tier and fast mode each provider's response reports, stored normalized
(``service_tier``, ``speed``), and priced by the modifier table (``price_modifiers``)."""

from __future__ import annotations

import fnmatch
import json
import re
import struct
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import run_cli
from test_pricing import _reference_cost
from tokmeter.capture import Capture
from tokmeter.errors import ConfigError
from tokmeter.extract import extract_row
from tokmeter.pricing.modifiers import BUILTIN, UNKNOWN
from tokmeter.pricing.overrides import PriceOverrides, load_overrides
from tokmeter.pricing.table import price_rows
from tokmeter.schema import polars_schema
from tokmeter.sources import read_captures


def row(body: object, **meta: object) -> dict:
    meta.setdefault("ts", "2026-11-03T10:00:00Z")
    return extract_row(Capture("cap.jsonl", 0, dict(meta), body))


def sse(*events: tuple[str | None, object]) -> str:
    return "".join(
        (f"event: {name}\n" if name else "")
        + "data: "
        + (data if isinstance(data, str) else json.dumps(data))
        + "\n\n"
        for name, data in events
    )


# ---- Anthropic: usage.service_tier and usage.speed, JSON and SSE -----------------------------------
def anthropic_body(**usage: object) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-6",
        "content": [],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    }


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"service_tier": "standard"}, ("standard", None)),
        ({"service_tier": "priority"}, ("priority", None)),
        ({"service_tier": "batch"}, ("batch", None)),
        ({"service_tier": "standard", "speed": "fast"}, ("standard", "fast")),
        ({"speed": "standard"}, (None, "standard")),
        ({}, (None, None)),
        ({"service_tier": "turbo-9000", "speed": "ludicrous"}, ("other", "other")),
    ],
)
def test_anthropic_json_tier_and_speed(usage: dict, expected: tuple) -> None:
    got = row(anthropic_body(**usage), provider="anthropic", path="/v1/messages")
    assert (got["service_tier"], got["speed"]) == expected
    assert (got["input_tokens"], got["output_tokens"]) == (10, 5)


def anthropic_stream(start_usage: dict, delta_usage: dict) -> str:
    message = {**anthropic_body(), "usage": {"input_tokens": 10, "output_tokens": 1, **start_usage}}
    return sse(
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 5, **delta_usage},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    )


def test_anthropic_stream_tier_from_message_start_and_speed_from_a_delta() -> None:
    got = row(
        anthropic_stream({"service_tier": "priority"}, {"speed": "fast"}),
        provider="anthropic",
        path="/v1/messages",
    )
    assert (got["service_tier"], got["speed"], got["output_tokens"], got["complete"]) == (
        "priority",
        "fast",
        5,
        True,
    )


def test_anthropic_stream_later_usage_replaces_earlier_tier() -> None:
    got = row(
        anthropic_stream({"service_tier": "standard", "speed": "standard"}, {"service_tier": "priority"}),
        provider="anthropic",
        path="/v1/messages",
    )
    assert (got["service_tier"], got["speed"]) == ("priority", "standard")


def test_claude_code_transcript_keeps_fast_mode(tmp_path: Any) -> None:
    line = {
        "type": "assistant",
        "sessionId": "s1",
        "timestamp": "2026-11-03T10:00:00Z",
        "requestId": "req_1",
        "message": {**anthropic_body(service_tier="standard", speed="fast"), "id": "msg_cc"},
    }
    project = tmp_path / ".claude" / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s1.jsonl").write_text(json.dumps(line) + "\n")
    rows = [
        extract_row(c) for c in read_captures(project / "s1.jsonl", "claude-code") if isinstance(c, Capture)
    ]
    assert [(r["service_tier"], r["speed"]) for r in rows] == [("standard", "fast")]


def test_token_log_records_may_say_the_tier(tmp_path: Path) -> None:
    record = {
        "_schema": "token-usage/v0.26.0",
        "timestamp": "2026-11-03T11:00:00Z",
        "request_id": "t1",
        "provider": "openai",
        "model": "gpt-5",
        "path": "/v1/responses",
        "status": 200,
        "streaming": False,
        "input_tokens": 40,
        "output_tokens": 9,
        "duration_ms": 0,
    }
    path = tmp_path / "token-usage.jsonl"
    path.write_text(
        json.dumps({**record, "service_tier": "flex"})
        + "\n"
        + json.dumps({**record, "request_id": "t2"})
        + "\n"
    )
    got = [extract_row(c) for c in read_captures(path, "token-log") if isinstance(c, Capture)]
    assert [(r["service_tier"], r["speed"]) for r in got] == [("flex", None), (None, None)]


# ---- OpenAI: service_tier in Chat Completions and Responses ----------------------------------------
@pytest.mark.parametrize(
    ("tier", "expected"),
    [("default", "standard"), ("flex", "flex"), ("priority", "priority"), ("scale", "scale"), (None, None)],
)
def test_openai_chat_json_tier(tier: str | None, expected: str | None) -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-5",
        "service_tier": tier,
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert got["service_tier"] == expected and got["speed"] is None


def chat_chunk(tier: str | None, **fields: object) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-5",
        "service_tier": tier,
        **fields,
    }


@pytest.mark.parametrize("fast", [True, False])
def test_openai_chat_stream_tier_from_the_usage_chunk(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tier of the chunk carrying the usage (a request's "auto" on the first chunk is resolved
    later); the same with the fast path off."""
    from tokmeter.extract import fastpath

    monkeypatch.setattr(fastpath, "ENABLED", fast)
    body = sse(
        (None, chat_chunk("auto", choices=[{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}])),
        (None, chat_chunk("flex", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        (None, chat_chunk("flex", choices=[], usage={"prompt_tokens": 3, "completion_tokens": 4})),
        (None, "[DONE]"),
    )
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert (got["service_tier"], got["output_tokens"], got["complete"]) == ("flex", 4, True)


def test_openai_chat_stream_without_usage_keeps_the_first_chunks_tier() -> None:
    hi = {"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}
    body = sse(
        (None, chat_chunk("priority", choices=[hi])),
        (None, chat_chunk("priority", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        (None, "[DONE]"),
    )
    got = row(body, provider="openai", path="/v1/chat/completions")
    assert got["service_tier"] == "priority" and got["usage_source"] == "estimated"


def responses_doc(tier: str, status: str = "completed", usage: bool = True) -> dict:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-5",
        "status": status,
        "service_tier": tier,
        "usage": {"input_tokens": 8, "output_tokens": 2} if usage else None,
    }


@pytest.mark.parametrize(
    ("tier", "expected"), [("flex", "flex"), ("priority", "priority"), ("default", "standard")]
)
def test_openai_responses_json_and_stream_tier(tier: str, expected: str) -> None:
    got = row(responses_doc(tier), provider="openai", path="/v1/responses")
    assert got["service_tier"] == expected
    stream = sse(
        (
            "response.created",
            {"type": "response.created", "response": responses_doc("auto", "in_progress", usage=False)},
        ),
        ("response.completed", {"type": "response.completed", "response": responses_doc(tier)}),
    )
    got = row(stream, provider="openai", path="/v1/responses")
    assert (got["service_tier"], got["input_tokens"], got["complete"]) == (expected, 8, True)


# ---- Gemini: usageMetadata.serviceTier, else the x-gemini-service-tier header -----------------------
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


def gemini_body(**usage: object) -> dict:
    return {
        "candidates": [{"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 2, **usage},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "g1",
    }


def test_gemini_tier_from_body_then_header() -> None:
    host = "generativelanguage.googleapis.com"
    assert row(gemini_body(serviceTier="flex"), host=host, path=GEMINI_PATH)["service_tier"] == "flex"
    headed = row(
        gemini_body(), host=host, path=GEMINI_PATH, response_headers={"X-Gemini-Service-Tier": "priority"}
    )
    assert headed["service_tier"] == "priority"
    said = row(
        gemini_body(serviceTier="standard"),
        host=host,
        path=GEMINI_PATH,
        response_headers={"x-gemini-service-tier": "priority"},
    )
    assert said["service_tier"] == "standard"  # the body wins
    assert row(gemini_body(), host=host, path=GEMINI_PATH)["service_tier"] is None
    stream = sse((None, gemini_body(serviceTier="flex")))
    assert (
        row(stream, host=host, path=GEMINI_PATH.replace("generateContent", "streamGenerateContent"))[
            "service_tier"
        ]
        == "flex"
    )


# ---- Bedrock: serviceTier {"type": ...} in Converse bodies and the stream's metadata ----------------
BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
ES_HEADERS = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-es"}


def es_event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    raw = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
        for k, v in headers.items()
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(raw) + len(body) + 4, len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + body
    return message + struct.pack(">I", zlib.crc32(message))


@pytest.mark.parametrize(
    ("tier", "expected"),
    [("flex", "flex"), ("priority", "priority"), ("default", "standard"), ("reserved", "reserved")],
)
def test_bedrock_converse_json_and_stream_tier(tier: str, expected: str) -> None:
    usage = {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8}
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 10},
        "serviceTier": {"type": tier},
    }
    path = "/model/us.amazon.nova-micro-v1%3A0/converse"
    assert row(body, host=BEDROCK_HOST, path=path)["service_tier"] == expected
    stream = b"".join(
        [
            es_event("messageStart", {"role": "assistant"}),
            es_event("messageStop", {"stopReason": "end_turn"}),
            es_event(
                "metadata", {"usage": usage, "metrics": {"latencyMs": 10}, "serviceTier": {"type": tier}}
            ),
        ]
    )
    got = row(stream, host=BEDROCK_HOST, path=path + "-stream", response_headers=ES_HEADERS)
    assert (got["service_tier"], got["output_tokens"], got["complete"]) == (expected, 3, True)


# ---- pricing: the modifier table --------------------------------------------------------------------


WHEN = datetime(2026, 11, 3, 10, tzinfo=UTC)


def usage(
    provider: str, model: str, tier: str | None = None, speed: str | None = None, **tokens: int
) -> dict:
    counts = {
        "input_tokens": 12_000,
        "cache_read_tokens": 2_000,
        "cache_write_tokens": 1_000,
        "cache_write_1h_tokens": 0,
        "output_tokens": 3_000,
        "reasoning_tokens": 500,
        **tokens,
    }
    return {
        "request_id": f"{provider}-{model}-{tier}-{speed}",
        "response_id": None,
        "timestamp": WHEN,
        "user": None,
        "provider": provider,
        "model": model,
        "endpoint": None,
        "stream": False,
        "status": 200,
        **counts,
        "usage_source": "reported",
        "complete": True,
        "service_tier": tier,
        "speed": speed,
        "source": "t",
        "source_offset": 0,
    }


def priced(*rows: dict, overrides: object = None, breakdown: bool = False) -> list[dict]:
    frame = pl.DataFrame(list(rows), schema=polars_schema())
    return price_rows(frame.lazy(), overrides, breakdown=breakdown).collect().to_dicts()  # type: ignore[arg-type]


def multiplier(provider: str, model: str, **what: str) -> Decimal:
    """The built-in table's multiplier for the model (found the way a reader of the table would)."""
    entries = [
        m for m in BUILTIN if m.provider == provider and all(getattr(m, k) == v for k, v in what.items())
    ]
    named = [m for m in entries if any(p != "*" and fnmatch.fnmatchcase(model, p) for p in m.models)]
    found = (named or [m for m in entries if "*" in m.models])[0]
    assert found.multiplier is not None
    return found.multiplier


@pytest.mark.parametrize(
    ("provider", "model", "tier", "speed"),
    [
        ("anthropic", "claude-opus-4-6", None, "fast"),
        ("anthropic", "claude-opus-4-8", "standard", "fast"),
        ("anthropic", "claude-sonnet-4-5", "batch", None),
        ("openai", "gpt-5", "flex", None),
        ("openai", "o3", "flex", None),
        ("openai", "gpt-4o", "batch", None),
        ("google", "gemini-2.5-flash", "flex", None),
        ("google", "gemini-2.5-pro", "batch", None),
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "batch", None),
    ],
)
def test_a_multiplier_scales_the_standard_cost(
    provider: str, model: str, tier: str | None, speed: str | None
) -> None:
    standard, modified = priced(usage(provider, model), usage(provider, model, tier, speed))
    assert standard["cost_usd"] == _reference_cost(usage(provider, model)) > 0
    what = {"speed": speed} if speed not in (None, "standard") else {"service_tier": tier}
    factor = multiplier("aws" if provider == "bedrock" else provider, model, **what)
    assert modified["cost_usd"] == standard["cost_usd"] * factor
    assert (
        modified["priced_as"].startswith(standard["priced_as"] + " ") and UNKNOWN not in modified["priced_as"]
    )


def test_fast_mode_is_six_times_in_the_long_context_tier_too() -> None:
    long = {"input_tokens": 300_000, "cache_read_tokens": 0, "cache_write_tokens": 0}
    standard, fast = priced(
        usage("anthropic", "claude-opus-4-6", **long),
        usage("anthropic", "claude-opus-4-6", "standard", "fast", **long),
    )
    assert fast["cost_usd"] == standard["cost_usd"] * 6 and "fast x6" in fast["priced_as"]


def test_openai_priority_has_its_own_rates() -> None:
    entry = next(m for m in BUILTIN if m.service_tier == "priority" and m.models == ("gpt-5",))
    rates = {name: rate / 1_000_000 for name, rate in entry.rates}
    row = usage("openai", "gpt-5", "priority", cache_write_tokens=0)
    (got,) = priced(row)
    uncached = row["input_tokens"] - row["cache_read_tokens"]
    want = (
        uncached * rates["input"]
        + row["cache_read_tokens"] * rates["cache_read"]
        + row["output_tokens"] * rates["output"]
    )
    assert got["cost_usd"] == want and got["priced_as"].endswith("priority rates")


@pytest.mark.parametrize(
    ("provider", "model", "tier", "speed"),
    [
        ("openai", "gpt-4o", "priority", None),  # no priority rates sourced for it
        ("openai", "gpt-5", "scale", None),
        ("anthropic", "claude-sonnet-4-5", None, "fast"),  # no fast mode on Sonnet
        ("anthropic", "claude-opus-4-6", "priority", None),  # Priority Tier is a capacity commitment
        ("google", "gemini-2.5-flash", "priority", None),  # "75% to 100% more": no per-model rate
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "flex", None),
        ("openai", "gpt-5", "other", None),
    ],
)
def test_an_unknown_modifier_is_priced_at_standard_and_flagged(
    provider: str, model: str, tier: str | None, speed: str | None
) -> None:
    standard, flagged = priced(usage(provider, model), usage(provider, model, tier, speed))
    assert flagged["cost_usd"] == standard["cost_usd"] and flagged["priced_as"].endswith(UNKNOWN)


def test_known_speed_with_unknown_tier_applies_what_is_known() -> None:
    opus = ("anthropic", "claude-opus-4-6")
    standard, both = priced(usage(*opus), usage(*opus, "priority", "fast"))
    assert both["cost_usd"] == standard["cost_usd"] * 6 and UNKNOWN in both["priced_as"]


def test_cost_breakdown_shows_the_modifiers_share() -> None:
    opus = ("anthropic", "claude-opus-4-6")
    standard, fast, flex = priced(
        usage(*opus), usage(*opus, speed="fast"), usage("openai", "gpt-5", "flex"), breakdown=True
    )
    kinds = ("cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd")
    assert standard["cost_modifier_usd"] == 0
    assert [fast[k] for k in kinds] == [standard[k] for k in kinds]  # the kinds at standard rates
    assert fast["cost_modifier_usd"] == standard["cost_usd"] * 5
    assert flex["cost_modifier_usd"] < 0
    for row in (standard, fast, flex):
        assert sum(row[k] for k in (*kinds, "cost_modifier_usd")) == row["cost_usd"]


# ---- the price file's [[modifiers]] -----------------------------------------------------------------
def price_file(tmp_path: Path, text: str) -> PriceOverrides:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return load_overrides(path)


def test_price_file_modifiers_add_and_replace_entries(tmp_path: Path) -> None:
    overrides = price_file(
        tmp_path,
        """
[[modifiers]]
provider = "google"
models = ["gemini-2.5-*"]
service_tier = "priority"
multiplier = 1.8
source = "our Google contract"

[[modifiers]]
provider = "openai"
service_tier = "flex"
multiplier = 0.6
effective_from = 2026-11-01

[[modifiers]]
provider = "openai"
models = ["gpt-4o"]
service_tier = "priority"
input = 4.25
output = 17
""",
    )
    rows = [
        usage("google", "gemini-2.5-flash"),
        usage("google", "gemini-2.5-flash", "priority"),
        usage("openai", "gpt-5"),
        usage("openai", "gpt-5", "flex"),
        usage("openai", "gpt-4o", "priority", cache_read_tokens=0, cache_write_tokens=0),
    ]
    g_std, g_prio, o_std, o_flex, o_prio = priced(*rows, overrides=overrides)
    assert g_prio["cost_usd"] == g_std["cost_usd"] * Decimal("1.8") and "priority x1.8" in g_prio["priced_as"]
    assert o_flex["cost_usd"] == o_std["cost_usd"] * Decimal("0.6")  # the file's entry beats the table's
    assert (
        o_prio["cost_usd"]
        == (rows[4]["input_tokens"] * Decimal("4.25") + rows[4]["output_tokens"] * 17) / 10**6
    )
    before = priced(
        usage("openai", "gpt-5", "flex") | {"timestamp": datetime(2026, 10, 31, tzinfo=UTC)},
        usage("openai", "gpt-5") | {"timestamp": datetime(2026, 10, 31, tzinfo=UTC)},
        overrides=overrides,
    )
    assert before[0]["cost_usd"] == before[1]["cost_usd"] * multiplier("openai", "gpt-5", service_tier="flex")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('service_tier = "flex"\nmultiplier = 0.5\ncolour = "red"', "modifiers[0].colour: unknown key"),
        ("multiplier = 0.5", "needs service_tier or speed"),
        ('service_tier = "flex"\nspeed = "fast"\nmultiplier = 2', "needs service_tier or speed"),
        ('service_tier = "standard"\nmultiplier = 2', "modifiers[0].service_tier: expected one of"),
        ('speed = "warp"\nmultiplier = 2', "modifiers[0].speed: expected fast"),
        ('service_tier = "flex"', "needs a multiplier or rates"),
        ('service_tier = "flex"\nmultiplier = 0.5\ninput = 1\noutput = 2', "needs a multiplier or rates"),
        ('service_tier = "flex"\ninput = 1', "modifiers[0].output: missing"),
        ('service_tier = "flex"\nmultiplier = -1', "not a factor from 0 to 1000"),
        ('service_tier = "flex"\nmultiplier = 0.5\nmodels = "gpt-5"', "modifiers[0].models: expected a list"),
    ],
)
def test_bad_modifier_entries_are_errors(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        price_file(tmp_path, f"[[modifiers]]\n{entry}\n")


# ---- end to end: captures -> store -> reports, prices show, the README -----------------------------
def capture_log(path: Path) -> Path:
    """Four Claude Opus 4.6 calls (standard, fast, priority, batch) and two OpenAI ones (flex, scale)."""

    def anthropic(n: int, **usage: str) -> dict:
        return {
            "ts": "2026-11-03T10:00:00Z",
            "request_id": f"an-{n}",
            "provider": "anthropic",
            "path": "/v1/messages",
            "status": 200,
            "body": anthropic_body(**usage),
        }

    def openai(n: int, tier: str) -> dict:
        body = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "model": "gpt-5",
            "service_tier": tier,
            "choices": [],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
        }
        return {
            "ts": "2026-11-03T11:00:00Z",
            "request_id": f"oa-{n}",
            "provider": "openai",
            "path": "/v1/chat/completions",
            "status": 200,
            "body": body,
        }

    records = [
        anthropic(1, service_tier="standard"),
        anthropic(2, service_tier="standard", speed="fast"),
        anthropic(3, service_tier="priority"),
        anthropic(4, service_tier="batch"),
        openai(5, "flex"),
        openai(6, "scale"),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_reports_price_and_flag_the_tiers_end_to_end(tmp_path: Path) -> None:
    ingest = run_cli("ingest", str(capture_log(tmp_path / "gateway.jsonl")))
    assert ingest.returncode == 0, ingest.stderr
    rows = run_cli("rows", "--format", "jsonl")
    assert rows.returncode == 0, rows.stderr
    by_id = {r["request_id"]: r for r in map(json.loads, rows.stdout.splitlines())}
    assert {k: (r["service_tier"], r["speed"]) for k, r in by_id.items()} == {
        "an-1": ("standard", None),
        "an-2": ("standard", "fast"),
        "an-3": ("priority", None),
        "an-4": ("batch", None),
        "oa-5": ("flex", None),
        "oa-6": ("scale", None),
    }
    cost = {k: Decimal(str(r["cost_usd"])) for k, r in by_id.items()}
    assert (
        cost["an-2"] == 6 * cost["an-1"] and cost["an-4"] == cost["an-1"] / 2 and cost["an-3"] == cost["an-1"]
    )
    assert cost["oa-5"] * 2 == cost["oa-6"]  # flex at half; scale has no known rate: standard
    report = run_cli("report", "--by", "model", "--format", "json", "--cost-breakdown")
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout, parse_float=Decimal)
    by_model = {r["model"]: r for r in doc["rows"]}
    assert by_model["claude-opus-4-6"]["modifier_unknown_requests"] == 1  # priority
    assert by_model["gpt-5"]["modifier_unknown_requests"] == 1  # scale
    assert doc["totals"]["modifier_unknown_requests"] == 2
    assert by_model["claude-opus-4-6"]["cost_modifier_usd"] == 5 * cost["an-1"] - cost["an-1"] / 2
    tiers = run_cli("report", "--by", "service_tier", "--by", "speed", "--format", "json")
    assert tiers.returncode == 0, tiers.stderr
    by_tier = {
        (r["service_tier"], r["speed"]): r for r in json.loads(tiers.stdout, parse_float=Decimal)["rows"]
    }
    assert by_tier[("standard", "fast")]["cost_usd"] == cost["an-2"]
    assert (
        by_tier[("scale", None)]["modifier_unknown_requests"] == 1
        and by_tier[("flex", None)]["requests"] == 1
    )
    table = run_cli("report", "--by", "model")  # the column is shown when some row has it (its header wraps)
    assert table.returncode == 0 and "modifier" in table.stdout and "unknown" in table.stdout


def test_prices_show_lists_the_modifiers_and_prices_a_tier() -> None:
    shown = run_cli("prices", "show", "claude-opus-4-6", "--at", "2026-11-03")
    assert shown.returncode == 0, shown.stderr
    assert "fast x6" in shown.stdout and "batch x0.5" in shown.stdout
    fast = run_cli("prices", "show", "claude-opus-4-6", "--at", "2026-11-03", "--speed", "fast")
    assert fast.returncode == 0 and "priced as   anthropic:claude-opus-4-6 fast x6" in fast.stdout
    unknown = run_cli("prices", "show", "gpt-4o", "--at", "2026-11-03", "--service-tier", "priority")
    assert unknown.returncode == 0 and UNKNOWN in unknown.stdout
    bad = run_cli("prices", "show", "gpt-4o", "--service-tier", "turbo")
    assert (
        bad.returncode == 2 and "unknown service tier 'turbo'" in bad.stderr and "Traceback" not in bad.stderr
    )


def test_readme_documents_the_modifier_table() -> None:
    from tokmeter.pricing.modifiers import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme


# ---- a store written before the columns existed ----------------------------------------------------
def test_parts_without_the_new_columns_read_as_null_and_still_verify(tmp_path: Path) -> None:
    """Write a store, then make its part what an older tokmeter wrote (no service_tier, no speed) with the
    ledger digest that tokmeter computed then: reading gives nulls (standard prices), verify passes."""
    import orjson

    from tokmeter.store import ledger
    from tokmeter.store.local import Store

    store = Store(tmp_path / "old")
    ingest = run_cli("ingest", str(capture_log(tmp_path / "gateway.jsonl")), "--store", str(store.root))
    assert ingest.returncode == 0, ingest.stderr
    (part,) = store.part_files()
    old = pl.read_parquet(part).drop("service_tier", "speed")
    old.write_parquet(part)
    values = old.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    digest = ledger.hashlib.sha256(
        ledger.canonical_lines(values.rows())
    ).hexdigest()  # the old rule: every column
    entry = {
        "op": "add",
        "part": part.relative_to(store.root).as_posix(),
        "rows": old.height,
        "sha256": digest,
    }
    (store.root / ledger.LEDGER).write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in ledger.chained([entry], "old-txn", None))
    )
    assert ledger.verify(store.root, store.part_files()).ok
    scanned = Store(store.root).scan().collect()
    assert (
        scanned.height == 6
        and scanned["service_tier"].null_count() == 6
        and scanned["speed"].null_count() == 6
    )
    report = run_cli("report", "--format", "json", "--store", str(store.root))
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["modifier_unknown_requests"] == 0
    verify = run_cli("verify", "--store", str(store.root))
    assert verify.returncode == 0, verify.stdout + verify.stderr


# ---- the real recorded responses ----------------------------------------------------------------------
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-captures"


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real captures are not beside the repository")
def test_real_responses_tiers_are_read_and_normalized() -> None:
    """Every recorded response that names its tier in the body gets a tier from tokmeter's vocabulary;
    the providers that say so (OpenAI default, Anthropic and Gemini standard, Groq on_demand) read standard."""
    from collections import Counter

    from tokmeter.errors import BadCaptureError
    from tokmeter.schema import SERVICE_TIERS, SPEEDS

    said: Counter = Counter()
    for name, fmt in (("captures.jsonl.gz", "capture-log"), ("eventstream.har", "har")):
        for capture in read_captures(REAL / name, fmt):
            assert isinstance(capture, Capture)
            try:
                got = extract_row(capture)
            except BadCaptureError:
                continue
            assert got["service_tier"] in (None, *SERVICE_TIERS) and got["speed"] in (None, *SPEEDS)
            body = _json_object(capture.body)
            named = body.get("service_tier") if body else None
            if isinstance(named, str) and named and body and "usage" in body:  # a whole JSON body that says
                assert got["service_tier"] is not None, got["request_id"]
                said["checked"] += 1
            said[(got["provider"], got["service_tier"])] += 1
    for provider in ("openai", "anthropic", "google", "groq"):
        assert said[(provider, "standard")] > 0, provider
    assert said["checked"] > 0


def _json_object(body: object) -> dict | None:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return body if isinstance(body, dict) else None


def test_a_modifier_starting_within_a_span_is_priced_by_day(tmp_path: Path) -> None:
    """Rows of one model on both sides of a modifier's effective_from, in one report group: each side
    is priced by its own day (the grouped fast path equals pricing every row)."""
    from tokmeter.report.queries import report_from_rows
    from tokmeter.rollup.transforms import group_usage

    overrides = price_file(
        tmp_path,
        '[[modifiers]]\nprovider = "openai"\nmodels = ["gpt-4o"]\n'
        'service_tier = "flex"\nmultiplier = 0.25\neffective_from = 2026-11-02\n',
    )
    rows = [
        usage("openai", "gpt-4o", "flex")
        | {"request_id": f"f{day}", "timestamp": datetime(2026, 11, day, tzinfo=UTC)}
        for day in (1, 2, 3)
    ]
    frame = pl.DataFrame(rows, schema=polars_schema()).lazy()
    per_row = price_rows(frame, overrides).collect()
    costs = per_row["cost_usd"].to_list()
    assert costs[0] == 4 * costs[1] and costs[1] == costs[2]  # before: no flex rate for gpt-4o (standard)
    assert per_row["priced_as"][0].endswith(UNKNOWN) and per_row["priced_as"][1].endswith("flex x0.25")
    grouped = report_from_rows(frame, ["model"], "UTC", overrides, False)[0]
    assert (
        grouped["cost_usd"][0]
        == sum(costs)
        == group_usage(per_row.lazy(), ["model"]).collect()["cost_usd"][0]
    )
    assert grouped["modifier_unknown_requests"][0] == 1
