"""LiteLLM proxy logs (``sources/litellm.py``, ``extract/gateways.py``): the StandardLoggingPayload its
logging callbacks write, usage from the response it carries, LiteLLM's own sums undone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sources_helpers import SAMPLES, priced, rows_of
from test_pricing import _reference_cost

FOLDER = SAMPLES / "litellm"
S3_OBJECT = next(FOLDER.glob("time-*.json"))
CALLBACKS = FOLDER / "proxy-callbacks.jsonl"


def payloads() -> list[dict]:
    return [json.loads(line) for line in CALLBACKS.read_text().splitlines() if line.strip()]


def test_an_openai_response_is_read_as_openai_reads_it() -> None:
    (row,) = rows_of(S3_OBJECT)
    payload = json.loads(S3_OBJECT.read_text())
    usage = payload["response"]["usage"]
    assert (row["input_tokens"], row["output_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert row["request_id"] == payload["id"] and row["provider"] == "openai" and row["stream"] is True
    assert row["timestamp"] == datetime.fromisoformat(payload["startTime"]).replace(tzinfo=UTC)
    assert row["endpoint"] == "/v1/chat/completions"


def test_anthropic_usage_is_the_providers_not_litellms_sums() -> None:
    _, row, _ = rows_of(CALLBACKS)
    usage = payloads()[1]["response"]["usage"]
    details = usage["prompt_tokens_details"]
    read, write = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
    assert row["input_tokens"] == details["text_tokens"] + read + write
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (read, write)
    assert (
        row["cache_write_1h_tokens"] == details["cache_creation_token_details"]["ephemeral_1h_input_tokens"]
    )
    assert row["output_tokens"] == usage["completion_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert row["reasoning_tokens"] is None  # LiteLLM estimated it from the text: unknown, not its guess


def test_attribution_from_the_key_team_user_and_tags() -> None:
    no_response, anthropic, failure = rows_of(CALLBACKS)
    meta = payloads()[1]["metadata"]
    assert anthropic["user"] == meta["user_api_key_user_email"]  # end_user is empty
    assert anthropic["team"] == meta["user_api_key_team_alias"]
    tags = {t["key"]: t["value"] for t in anthropic["tags"]}
    assert tags == {"key_alias": meta["user_api_key_alias"], "request_tags": "checkout,prod"}
    assert meta["user_api_key_hash"] not in json.dumps(anthropic, default=str)  # never the key's hash
    assert no_response["user"] == "test_user" and no_response["team"] == "test_team_alias"
    assert (failure["status"], failure["usage_source"]) == (429, "missing")


def test_without_a_response_the_payloads_sums_are_the_usage() -> None:
    row = rows_of(CALLBACKS)[0]
    payload = payloads()[0]
    assert (row["input_tokens"], row["output_tokens"]) == (
        payload["prompt_tokens"],
        payload["completion_tokens"],
    )
    assert row["usage_source"] == "reported"
    assert row["cache_read_tokens"] is None and row["reasoning_tokens"] is None  # the sums do not say


def test_rows_are_priced_at_standard_rates() -> None:
    rows = [
        r
        for r in rows_of(CALLBACKS) + rows_of(S3_OBJECT)
        if r["usage_source"] == "reported" and r["provider"]
    ]
    for row, got in zip(rows, priced(rows), strict=True):
        want = _reference_cost(row)
        assert want is not None and want > 0 and got["cost_usd"] == want, row["model"]
