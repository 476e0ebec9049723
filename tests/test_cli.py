"""The CLI through its real entry point, on the bundled sample_logs/ (whose totals are checked by hand:
see the comments on each figure)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from conftest import SAMPLE_LOGS, run_cli

# sample_logs/: 13 captures -> 10 usage rows. Dropped: one retry copy of req_oa_0002 (identical usage, seen
# again after midnight) and the cut-off first attempt of req_an_0003 (its complete retry wins); one malformed
# line (gateway-2026-11.jsonl:6) is set aside.
TOTALS = {
    "requests": 10,
    "input_tokens": 18523,  # 2048+310+0+500+9240+3025+700+0+1500+1200
    "cache_read_tokens": 9024,  # 1024 (gpt-4o-mini) + 8000 (sonnet)
    "cache_write_tokens": 4200,  # 1200 (sonnet, 5m) + 3000 (haiku, 1h)
    "output_tokens": 1464,
    "reasoning_tokens": 640,
    "cost_usd": 0.0300476,  # 0.0002376+0.000835+0.00451+0.00927+0.007125+0.003525+0.001505+0.00304
    "unpriced_requests": 0,
}


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert result.returncode == 0, result.stderr
    return isolated_store


def report_json(*args: str) -> dict:
    result = run_cli("report", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ingest_summary(isolated_store: Path) -> None:
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "files              3" in out
    assert "captures           13  (11 capture-log, 1 json, 1 sse)" in out
    assert "rows written       10" in out
    assert "duplicates dropped 2  (1 disagreed on usage)" in out
    assert "bad captures       1" in out
    assert "gateway-2026-11.jsonl:6: not valid JSON" in out


def test_reingest_changes_nothing(ingested: Path) -> None:
    parts = sorted(ingested.rglob("*.parquet"))
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert "rows written       0" in result.stdout and "duplicates dropped 12" in result.stdout
    assert sorted(ingested.rglob("*.parquet")) == parts


def test_report_totals_exact(ingested: Path) -> None:
    doc = report_json("--by", "model")
    assert set(doc) == {"rows", "totals", "unpriced_models"}
    assert doc["totals"] == TOTALS
    assert doc["unpriced_models"] == []
    assert sum(r["requests"] for r in doc["rows"]) == 10
    assert sum(Decimal(str(r["cost_usd"])) for r in doc["rows"]) == Decimal("0.0300476")
    costs = [r["cost_usd"] for r in doc["rows"]]
    assert costs == sorted(costs, reverse=True)


def test_report_by_user_and_model_with_dates(ingested: Path) -> None:
    doc = report_json("--by", "user", "--by", "model", "--since", "2026-11-01", "--until", "2026-11-02")
    got = {(r["user"], r["model"]): (r["requests"], r["input_tokens"], r["output_tokens"]) for r in doc["rows"]}
    assert got == {
        ("alice", "gpt-4o-mini-2024-07-18"): (1, 2048, 12),
        ("bob", "gpt-4o-2024-08-06"): (1, 310, 6),  # its retry copy at 00:00:01 on the 2nd is the one kept
        ("carol", "gpt-4o-mini-2024-07-18"): (1, 0, 0),  # stream without usage: a row, usage missing
        ("alice", "o4-mini-2025-04-16"): (1, 500, 900),
    }


def test_report_by_day_week_month(ingested: Path) -> None:
    days = {r["day"]: r["requests"] for r in report_json("--by", "day")["rows"]}
    assert days == {"2026-11-01": 1, "2026-11-02": 3, "2026-11-03": 4, "2026-11-04": 2}
    assert {r["week"]: r["requests"] for r in report_json("--by", "week")["rows"]} == {"2026-W44": 1, "2026-W45": 9}
    assert {r["month"] for r in report_json("--by", "month")["rows"]} == {"2026-11"}


def test_report_table_has_totals_row(ingested: Path) -> None:
    result = run_cli("report", "--by", "provider")
    assert result.returncode == 0, result.stderr
    assert "Total" in result.stdout and "$0.030048" in result.stdout
    assert result.stdout.index("anthropic") < result.stdout.index("openai")  # sorted by cost


def test_report_csv_and_parquet(ingested: Path, tmp_path: Path) -> None:
    csv = run_cli("report", "--by", "user", "--format", "csv")
    assert csv.stdout.splitlines()[0].startswith("user,requests,input_tokens")
    out = tmp_path / "r.parquet"
    assert run_cli("report", "--by", "user", "--format", "parquet", "--output", str(out)).returncode == 0
    frame = pl.read_parquet(out)
    assert frame["requests"].sum() == 10 and set(frame["user"]) == {"alice", "bob", "carol", "dave"}


def test_rows_jsonl(ingested: Path) -> None:
    result = run_cli("rows", "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 10
    assert len({r["request_id"] for r in rows}) == 10
    cut = next(r for r in rows if r["request_id"] == "req_an_0005")
    assert (cut["complete"], cut["input_tokens"], cut["output_tokens"]) == (False, 1500, 1)
    retried = next(r for r in rows if r["request_id"] == "req_an_0003")
    assert (retried["complete"], retried["output_tokens"], retried["response_id"]) == (True, 95, "msg_01D")
    error = next(r for r in rows if r["request_id"] == "req_an_0004")
    assert (error["status"], error["usage_source"]) == (429, "missing")


def test_rows_filters(ingested: Path) -> None:
    result = run_cli("rows", "--format", "jsonl", "--user", "dave", "--provider", "openai")
    assert [json.loads(line)["request_id"] for line in result.stdout.splitlines()] == ["req_oa_0009"]


def test_no_prompt_or_completion_text_in_the_store(ingested: Path) -> None:
    for path in ingested.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Paris." not in data and b"summary" not in data, path


def test_strict_fails_on_bad_captures(isolated_store: Path) -> None:
    result = run_cli("ingest", "--strict", str(SAMPLE_LOGS))
    assert result.returncode == 4
    assert "1 bad capture(s)" in result.stderr


def test_errors_are_one_message_and_a_hint(isolated_store: Path) -> None:
    result = run_cli("report", "--since", "2026-11-05", "--until", "2026-11-01")
    assert result.returncode == 2
    assert "Error:" in result.stderr and "Hint:" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("ingest", "/no/such/dir")
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_store_flag_overrides_environment(tmp_path: Path) -> None:
    other = tmp_path / "other-store"
    assert run_cli("ingest", "--store", str(other), str(SAMPLE_LOGS)).returncode == 0
    assert list(other.rglob("*.parquet"))
    assert report_json("--store", str(other))["totals"]["requests"] == 10


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("ingest", "report", "rows"):
        assert command in result.stdout
