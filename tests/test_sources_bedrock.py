"""Amazon Bedrock model invocation logs (``sources/bedrock_logs.py``): S3 objects and CloudWatch Logs
exports, usage from the response body when it has one, else Bedrock's own counts."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from sources_helpers import SAMPLES, priced, rows_of
from test_pricing import _reference_cost
from tokmeter.extract.logs import bedrock_model
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.sources.bedrock_logs import caller
from tokmeter.store.local import Store

FOLDER = SAMPLES / "bedrock-invocation-log"
S3_OBJECT = FOLDER / "bedrock-2025-s3-object.json"
EXPORT = FOLDER / "000000.gz"


def records(path: Path) -> list[dict]:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    return [json.loads(line[line.index("{") :]) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("path", [S3_OBJECT, EXPORT], ids=lambda p: p.name)
def test_each_record_is_one_row_with_its_ids_time_and_caller(path: Path) -> None:
    rows, recs = rows_of(path), records(path)
    assert [r["request_id"] for r in rows] == [rec["requestId"] for rec in recs]
    assert [r["timestamp"] for r in rows] == [datetime.fromisoformat(rec["timestamp"]) for rec in recs]
    assert [r["user"] for r in rows] == [rec["identity"]["arn"].rsplit("/", 1)[-1] for rec in recs]
    for row, rec in zip(rows, recs, strict=True):
        assert {t["key"]: t["value"] for t in row["tags"]} == {
            "account_id": rec["accountId"],
            "region": rec["region"],
        }
        assert row["provider"] == "bedrock"
        assert row["stream"] is rec["operation"].endswith("Stream")
        assert row["model"] == bedrock_model(rec["modelId"])


def test_usage_from_the_body_or_from_the_counts() -> None:
    rows, recs = rows_of(S3_OBJECT), records(S3_OBJECT)
    converse, stream, invoke, invoke_stream, throttled = rows
    usage = recs[0]["output"]["outputBodyJson"]["usage"]
    assert (converse["input_tokens"], converse["output_tokens"]) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert (stream["input_tokens"], stream["output_tokens"]) == (4, 38)
    body = recs[2]["output"]["outputBodyJson"]["usage"]  # Anthropic's: input excludes the cache
    assert invoke["input_tokens"] == body["input_tokens"] + body["cache_read_input_tokens"]
    assert (invoke["cache_read_tokens"], invoke["output_tokens"]) == (1843, body["output_tokens"])
    given, output = recs[3]["input"], recs[3]["output"]  # a stream's body is a list: the counts
    assert invoke_stream["input_tokens"] == given["inputTokenCount"] + given["cacheWriteInputTokenCount"]
    assert invoke_stream["cache_write_tokens"] == given["cacheWriteInputTokenCount"]
    assert invoke_stream["output_tokens"] == output["outputTokenCount"]
    assert invoke_stream["cache_write_1h_tokens"] is None and invoke_stream["reasoning_tokens"] is None
    assert throttled["usage_source"] == "missing" and throttled["input_tokens"] == 0


def test_rows_are_priced_at_bedrock_standard_rates() -> None:
    rows = [r for r in rows_of(S3_OBJECT) + rows_of(EXPORT) if r["usage_source"] == "reported"]
    for row, got in zip(rows, priced(rows), strict=True):
        want = _reference_cost(row)
        assert want is not None and want > 0, row["model"]
        assert got["cost_usd"] == want, row["model"]


@pytest.mark.parametrize(
    ("model_id", "model"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        ("arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
        ),
    ],
)
def test_model_ids_and_arns(model_id: str, model: str) -> None:
    assert bedrock_model(model_id) == model


def test_caller_is_the_role_session_or_the_user() -> None:
    assert caller("arn:aws:sts::123456789012:assumed-role/DataPipelineRole/etl-nightly") == "etl-nightly"
    assert caller("arn:aws:iam::123456789012:user/dheeraj") == "dheeraj"


def test_a_request_logged_and_captured_is_one_row(tmp_path: Path) -> None:
    """The capture proxy in front of Bedrock keys its row on the x-amzn-RequestId header, which is the
    invocation log's requestId: ingesting both gives one row per request."""
    rec = records(S3_OBJECT)[0]
    body = rec["output"]["outputBodyJson"]
    capture = {
        "ts": rec["timestamp"],
        "provider": "bedrock",
        "method": "POST",
        "path": f"/model/{rec['modelId']}/converse",
        "status": 200,
        "response_headers": {"x-amzn-RequestId": rec["requestId"], "content-type": "application/json"},
        "body": json.dumps(body),
    }
    proxy = tmp_path / "proxy.jsonl"
    proxy.write_text(json.dumps(capture) + "\n")
    store = Store(tmp_path / "store")
    report = run_ingest([proxy, S3_OBJECT], store)
    assert not report.bad
    stored = store.scan().collect()
    assert stored.height == len(records(S3_OBJECT))
    (row,) = stored.filter(stored["request_id"] == rec["requestId"]).to_dicts()
    assert (row["input_tokens"], row["output_tokens"]) == (
        body["usage"]["inputTokens"],
        body["usage"]["outputTokens"],
    )
