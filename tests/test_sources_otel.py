"""OpenTelemetry (``sources/otel.py``, ``extract/otel.py``): OTLP JSON lines as the Collector's file exporter
writes them; GenAI model-call spans and events, both cache spellings, Claude Code ``api_request`` events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sources_helpers import SAMPLES, priced, rows_of
from test_pricing import _reference_cost
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.sources.otel import attributes
from tokmeter.store.local import Store

FOLDER = SAMPLES / "otel"
TRACES = FOLDER / "traces.jsonl"
LOGS = FOLDER / "logs.jsonl"


def spans(line: int) -> list[dict]:
    request = json.loads(TRACES.read_text().splitlines()[line])
    return [span for r in request["resourceSpans"] for s in r["scopeSpans"] for span in s["spans"]]


def test_only_model_calls_become_rows() -> None:
    rows = rows_of(TRACES)
    chat = next(s for s in spans(0) if s["name"].startswith("chat"))
    attrs = attributes(chat["attributes"])
    assert [r["request_id"] for r in rows] == [attrs["gen_ai.response.id"], "msg_01XFDUDYJgAACzvnptvVoYEL"]
    first = rows[0]
    assert (first["input_tokens"], first["output_tokens"]) == (
        attrs["gen_ai.usage.input_tokens"],
        attrs["gen_ai.usage.output_tokens"],
    )
    assert (first["model"], first["provider"], first["user"]) == (
        attrs["gen_ai.response.model"],
        "openai",
        "dana",
    )
    assert first["timestamp"] == datetime.fromtimestamp(int(chat["startTimeUnixNano"]) / 1e9, UTC)
    assert first["cache_read_tokens"] is None and first["reasoning_tokens"] is None  # not reported: unknown
    assert {t["key"]: t["value"] for t in first["tags"]} == {"service": "support-bot"}


def test_openllmetry_spelling_and_its_inclusive_input() -> None:
    row = rows_of(TRACES)[1]
    attrs = attributes(spans(1)[0]["attributes"])
    assert row["input_tokens"] == attrs["gen_ai.usage.prompt_tokens"]  # includes the cache, as the spec says
    assert row["cache_read_tokens"] == attrs["gen_ai.usage.cache_read_input_tokens"]
    assert row["cache_write_tokens"] == attrs["gen_ai.usage.cache_creation_input_tokens"]
    assert (row["provider"], row["output_tokens"]) == ("anthropic", attrs["gen_ai.usage.completion_tokens"])


def test_claude_code_api_request_events() -> None:
    rows = rows_of(LOGS)
    claude = rows[0]
    records = json.loads(LOGS.read_text().splitlines()[0])["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    attrs = attributes(
        next(r for r in records if r["body"]["stringValue"] == "claude_code.api_request")["attributes"]
    )
    counts = {key: int(attrs[key]) for key in ("input_tokens", "cache_read_tokens", "cache_creation_tokens")}
    assert claude["input_tokens"] == sum(counts.values())  # Claude Code's input excludes the cache
    assert claude["cache_read_tokens"] == counts["cache_read_tokens"]
    assert claude["cache_write_tokens"] == counts["cache_creation_tokens"]
    assert claude["output_tokens"] == int(attrs["output_tokens"])
    assert (claude["user"], claude["session"], claude["model"]) == (
        attrs["user.email"],
        attrs["session.id"],
        attrs["model"],
    )
    assert claude["request_id"] == f"claude-code:{attrs['session.id']}:{attrs['event.sequence']}"
    assert len(rows) == 2  # the user_prompt and api_error events are no rows


def test_a_span_and_its_inference_event_are_one_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    report = run_ingest([TRACES, LOGS], store)
    assert not report.bad
    ids = store.scan().collect()["request_id"].to_list()
    assert ids.count("chatcmpl-9J3uIL87gldCFtiIbyaOvTeYBRA3l") == 1 and len(ids) == 3


def test_rows_are_priced_at_standard_rates() -> None:
    rows = rows_of(TRACES) + rows_of(LOGS)
    for row, got in zip(rows, priced(rows), strict=True):
        want = _reference_cost({**row, "cache_read_tokens": row["cache_read_tokens"] or 0})  # unknown: none
        assert want is not None and want > 0 and got["cost_usd"] == want, row["model"]
