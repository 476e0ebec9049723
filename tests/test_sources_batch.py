"""Batch result files (``sources/batch.py``): OpenAI Batch output files and Anthropic Message Batches
results, read with the providers' own readers and priced at batch rates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sources_helpers import SAMPLES, priced, rows_of
from test_pricing import _reference_cost
from tokmeter.sources import ReadOptions

OPENAI = SAMPLES / "openai-batch" / "batch_abc123_output.jsonl"
ANTHROPIC = SAMPLES / "anthropic-batch" / "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d_results.jsonl"
HALF = Decimal("0.5")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def test_openai_batch_rows_are_the_bodies_read_as_the_api_would() -> None:
    rows = rows_of(OPENAI)
    records = lines(OPENAI)
    assert [r["request_id"] for r in rows] == [
        (rec["response"] or {}).get("request_id") or rec["id"] for rec in records
    ]
    chat, _chat2, responses, embeddings, refused, expired = rows
    body = records[0]["response"]["body"]
    assert (chat["input_tokens"], chat["output_tokens"]) == (
        body["usage"]["prompt_tokens"],
        body["usage"]["completion_tokens"],
    )
    assert chat["timestamp"] == datetime.fromtimestamp(body["created"], UTC)
    assert chat["endpoint"] == "/v1/chat/completions" and chat["status"] == 200
    usage = records[2]["response"]["body"]["usage"]
    assert (responses["input_tokens"], responses["output_tokens"], responses["endpoint"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
        "/v1/responses",
    )
    assert embeddings["input_tokens"] == records[3]["response"]["body"]["usage"]["prompt_tokens"]
    assert embeddings["output_tokens"] == 0 and embeddings["endpoint"] == "/v1/embeddings"
    assert embeddings["timestamp"] == mtime(OPENAI)  # an embeddings list has no time: the file's
    assert (refused["status"], refused["usage_source"]) == (400, "missing")
    assert (expired["request_id"], expired["usage_source"]) == ("batch_req_ghi", "missing")
    assert {r["service_tier"] for r in rows} == {"batch"}
    assert {r["provider"] for r in rows} == {"openai"}


def test_batch_rows_cost_half_the_standard_price() -> None:
    for path in (OPENAI, ANTHROPIC):
        rows = [r for r in rows_of(path) if r["usage_source"] == "reported"]
        for row, got in zip(rows, priced(rows), strict=True):
            standard = _reference_cost({**row, "service_tier": None})
            assert standard is not None and standard > 0, row["model"]
            assert got["cost_usd"] == standard * HALF, row["model"]


def test_anthropic_results_every_kind_is_a_row() -> None:
    rows = rows_of(ANTHROPIC)
    records = lines(ANTHROPIC)
    kinds = [rec["result"]["type"] for rec in records]
    assert kinds == ["succeeded"] * 3 + ["errored", "canceled", "expired"]
    for row, rec in zip(rows, records, strict=True):
        message = rec["result"].get("message")
        if message is None:
            assert row["usage_source"] == "missing"
            assert row["request_id"] == f"msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d:{rec['custom_id']}"
            continue
        usage = message["usage"]
        cache = usage.get("cache_read_input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
        assert (row["request_id"], row["model"]) == (message["id"], message["model"])
        assert row["input_tokens"] == usage["input_tokens"] + cache  # Anthropic's input excludes the cache
        assert row["cache_read_tokens"] == usage.get("cache_read_input_tokens", 0)
        assert row["output_tokens"] == usage["output_tokens"]
    assert {r["service_tier"] for r in rows} == {"batch"}
    assert {r["timestamp"] for r in rows} == {mtime(ANTHROPIC)}


def test_batch_time_stands_for_a_missing_time_only() -> None:
    when = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    anthropic = rows_of(ANTHROPIC, ReadOptions(batch_time=when))
    assert {r["timestamp"] for r in anthropic} == {when}
    openai = rows_of(OPENAI, ReadOptions(batch_time=when))
    assert openai[0]["timestamp"] != when and openai[3]["timestamp"] == when
