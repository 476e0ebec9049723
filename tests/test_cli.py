"""The CLI through its real entry point, on the bundled sample_logs/ (whose totals are checked by hand:
see the comments on each figure)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pytest

from conftest import SAMPLE_LOGS, run_cli
from tokmeter.pricing.modifiers import VERSION as MODIFIERS

# sample_logs/: 13 captures -> 10 usage rows. Dropped: one retry copy of req_oa_0002 (identical usage, seen
# again after midnight) and the cut-off first attempt of req_an_0003 (its complete retry wins); one malformed
# line (gateway-2026-11.jsonl:6) is set aside.
TOTALS = {
    "requests": 10,
    "input_tokens": 18523,  # 2048+310+0+500+9240+3025+700+0+1500+1200
    "cache_read_tokens": 9024,  # 1024 (gpt-4o-mini) + 8000 (sonnet)
    "cache_write_tokens": 4200,  # 1200 (sonnet, 5m) + 3000 (haiku, 1h)
    "output_tokens": 1469,  # 5 of them estimated: two streams ended without (all of) their usage
    "reasoning_tokens": 640,
    # 0.0002376+0.000835+0.00451+0.00927+0.007125+0.003525+0.001505+0.00304, + the estimated output:
    # 3 gpt-4o-mini tokens (0.0000018) and 2 claude-haiku-4-5 tokens (0.00001)
    "cost_usd": 0.0300594,
    "unpriced_requests": 0,
    "modifier_unknown_requests": 0,  # sample_logs say no service tier: standard rates
    "estimated_requests": 2,  # req_oa_0003 (no include_usage) and req_an_0005 (cut after message_start)
    # req_oa_0003's estimate cannot see the cache (req_an_0005 kept message_start's exact counts)
    "unknown_cache_read_tokens": 1,
    "unknown_cache_write_tokens": 1,
    "unknown_cache_write_1h_tokens": 1,
    "unknown_reasoning_tokens": 0,
}


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert result.returncode == 0, result.stderr
    return isolated_store


def report_json(*args: str, env: dict[str, str] | None = None) -> dict:
    result = run_cli("report", "--format", "json", *args, env=env)
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
    assert set(doc) == {"rows", "totals", "unpriced_models", "price_data"}
    assert doc["price_data"] == {
        "genai_prices": version("genai-prices"),
        "modifiers": MODIFIERS,
        "overrides": None,
    }
    assert doc["totals"] == TOTALS
    assert doc["unpriced_models"] == []
    assert sum(r["requests"] for r in doc["rows"]) == 10
    assert sum(Decimal(str(r["cost_usd"])) for r in doc["rows"]) == Decimal("0.0300594")
    costs = [r["cost_usd"] for r in doc["rows"]]
    assert costs == sorted(costs, reverse=True)


def test_report_by_user_and_model_with_dates(ingested: Path) -> None:
    doc = report_json("--by", "user", "--by", "model", "--since", "2026-11-01", "--until", "2026-11-02")
    got = {
        (r["user"], r["model"]): (r["requests"], r["input_tokens"], r["output_tokens"]) for r in doc["rows"]
    }
    assert got == {
        ("alice", "gpt-4o-mini-2024-07-18"): (1, 2048, 12),
        ("bob", "gpt-4o-2024-08-06"): (1, 310, 6),  # its retry copy at 00:00:01 on the 2nd is the one kept
        ("carol", "gpt-4o-mini-2024-07-18"): (1, 0, 3),  # stream without usage: estimated, no prompt captured
        ("alice", "o4-mini-2025-04-16"): (1, 500, 900),
    }


def test_report_by_day_week_month(ingested: Path) -> None:
    days = {r["day"]: r["requests"] for r in report_json("--by", "day")["rows"]}
    assert days == {"2026-11-01": 1, "2026-11-02": 3, "2026-11-03": 4, "2026-11-04": 2}
    assert {r["week"]: r["requests"] for r in report_json("--by", "week")["rows"]} == {
        "2026-W44": 1,
        "2026-W45": 9,
    }
    assert {r["month"] for r in report_json("--by", "month")["rows"]} == {"2026-11"}


def test_report_table_has_totals_row(ingested: Path) -> None:
    result = run_cli("report", "--by", "provider")
    assert result.returncode == 0, result.stderr
    assert "Total" in result.stdout and "$0.030059" in result.stdout
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
    assert (cut["complete"], cut["input_tokens"], cut["output_tokens"]) == (
        False,
        1500,
        3,
    )  # output estimated
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
    for command in ("ingest", "report", "rows", "prices"):
        assert command in result.stdout


# ---- prices: price files, prices check / show, provenance, cost breakdown -----------------------------
PRICE_FILE = """
[discounts]
providers = { azure = 20 }

[aliases]
"prod-gpt4o-eu" = "gpt-4o"

[[prices]]
model = "house-llm-7b"
provider = "acme"
effective_from = 2026-01-01
input = 0.20
output = 0.80

[[prices]]
model = "house-llm-7b"
provider = "acme"
effective_from = 2026-06-01
input = 0.15
output = 0.60
"""


def capture(request_id: str, ts: str, provider: str, model: str, prompt: int, completion: int) -> str:
    """One capture-log line: an OpenAI-shaped chat completion with this usage."""
    body = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return json.dumps(
        {
            "ts": ts,
            "request_id": request_id,
            "user": "erin",
            "provider": provider,
            "method": "POST",
            "path": "/v1/chat/completions",
            "status": 200,
            "request": {"model": model, "stream": False},
            "body": json.dumps(body),
        }
    )


@pytest.fixture
def private_models(isolated_store: Path, tmp_path: Path) -> Path:
    """A store with a self-hosted model (before, during and after its two custom prices), an Azure deployment
    name, and a model nobody prices. Returns the price file that prices all but the last."""
    log = tmp_path / "private.jsonl"
    log.write_text(
        "\n".join(
            [
                capture(
                    "p1", "2025-12-31T23:00:00Z", "acme", "house-llm-7b", 1_000_000, 1_000_000
                ),  # no price yet
                capture(
                    "p2", "2026-03-01T10:00:00Z", "acme", "house-llm-7b", 1_000_000, 1_000_000
                ),  # $0.20 + $0.80
                capture(
                    "p3", "2026-06-01T00:00:00Z", "acme", "house-llm-7b", 1_000_000, 1_000_000
                ),  # $0.15 + $0.60
                capture(
                    "p4", "2026-03-01T10:00:00Z", "azure", "prod-gpt4o-eu", 1_000_000, 100_000
                ),  # ($2.50 + $1) * 0.8
                capture("p5", "2026-03-02T10:00:00Z", "acme", "mystery-9b", 5_000, 70),
            ]
        )
        + "\n"
    )
    assert run_cli("ingest", str(log)).returncode == 0
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICE_FILE)
    return prices


def test_report_with_price_file(private_models: Path) -> None:
    doc = report_json("--by", "model", "--prices", str(private_models))
    costs = {r["model"]: r["cost_usd"] for r in doc["rows"]}
    assert costs == {"house-llm-7b": 1.75, "prod-gpt4o-eu": 2.8, "mystery-9b": None}
    house = next(r for r in doc["rows"] if r["model"] == "house-llm-7b")
    assert (house["requests"], house["unpriced_requests"]) == (3, 1)  # 2025-12-31 is before the first price
    assert doc["totals"]["cost_usd"] == 4.55 and doc["totals"]["unpriced_requests"] == 2
    assert {(m["model"], m["requests"]) for m in doc["unpriced_models"]} == {
        ("house-llm-7b", 1),
        ("mystery-9b", 1),
    }
    digest = hashlib.sha256(private_models.read_bytes()).hexdigest()
    assert doc["price_data"]["overrides"] == f"{private_models} sha256:{digest}"


def test_rows_say_what_priced_them(private_models: Path) -> None:
    result = run_cli("rows", "--format", "jsonl", "--prices", str(private_models))
    got = {r["request_id"]: (r["model"], r["priced_as"]) for r in map(json.loads, result.stdout.splitlines())}
    assert got == {
        "p1": ("house-llm-7b", None),
        "p2": ("house-llm-7b", "custom:house-llm-7b"),
        "p3": ("house-llm-7b", "custom:house-llm-7b"),
        "p4": ("prod-gpt4o-eu", "azure:gpt-4o -20%"),
        "p5": ("mystery-9b", None),
    }


def test_corrected_price_file_reprices_history(private_models: Path) -> None:
    before = report_json("--prices", str(private_models))
    private_models.write_text(PRICE_FILE.replace("input = 0.20", "input = 0.30"))
    after = report_json("--prices", str(private_models))
    assert Decimal(str(after["totals"]["cost_usd"])) - Decimal(str(before["totals"]["cost_usd"])) == Decimal(
        "0.1"
    )
    assert after["price_data"]["overrides"] != before["price_data"]["overrides"]  # a new sha256


def test_price_file_from_environment_and_config_file(private_models: Path, tmp_path: Path) -> None:
    from_env = report_json(env={"TOKMETER_PRICES": str(private_models)})
    config = tmp_path / "config.toml"
    config.write_text(f'prices = "{private_models.name}"\n')  # relative to the config file
    from_config = report_json(env={"TOKMETER_CONFIG": str(config)})
    assert from_env["totals"]["cost_usd"] == from_config["totals"]["cost_usd"] == 4.55
    no_discount = tmp_path / "plain.toml"
    no_discount.write_text(PRICE_FILE.replace("azure = 20", "azure = 0"))
    flag_wins = report_json("--prices", str(no_discount), env={"TOKMETER_PRICES": str(private_models)})
    assert flag_wins["totals"]["cost_usd"] == 4.55 + 0.7


def test_prices_check_lists_unpriced_models_and_fails(private_models: Path) -> None:
    result = run_cli("prices", "check")
    assert result.returncode == 1
    for text in ("house-llm-7b", "prod-gpt4o-eu", "mystery-9b", "5,000", "2026-03-02 10:00"):
        assert text in result.stdout
    assert "3 model(s) without a price (5 requests)" in result.stderr and "Hint:" in result.stderr
    with_file = run_cli("prices", "check", "--prices", str(private_models))
    assert with_file.returncode == 1 and "prod-gpt4o-eu" not in with_file.stdout


def test_prices_check_quiet_when_all_priced(private_models: Path) -> None:
    private_models.write_text(PRICE_FILE + '\n[[prices]]\nmodel = "mystery-9b"\ninput = 1\noutput = 1\n')
    quiet = run_cli("prices", "check", "--quiet", "--since", "2026-01-01", "--prices", str(private_models))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    loud = run_cli("prices", "check", "--since", "2026-01-01", "--prices", str(private_models))
    assert loud.returncode == 0 and "Every model in the store has a price" in loud.stdout


def test_prices_show(private_models: Path) -> None:
    custom = run_cli(
        "prices",
        "show",
        "house-llm-7b",
        "--provider",
        "acme",
        "--at",
        "2026-03-01",
        "--prices",
        str(private_models),
    )
    assert custom.returncode == 0, custom.stderr
    for text in (
        "custom:house-llm-7b",
        str(private_models),
        "sha256:",
        "from 2026-01-01 until 2026-06-01",
        "│   0.2 │",
        "0.8",
    ):
        assert text in custom.stdout, text
    alias = run_cli("prices", "show", "prod-gpt4o-eu", "--provider", "azure", "--prices", str(private_models))
    for text in ("prod-gpt4o-eu -> gpt-4o", "azure:gpt-4o -20%", "20% (provider azure)", "│     2 │"):
        assert text in alias.stdout, text
    known = run_cli("prices", "show", "o3", "--at", "2025-01-01")
    assert f"genai-prices {version('genai-prices')}" in known.stdout
    assert "until 2025-06-10" in known.stdout
    unknown = run_cli("prices", "show", "mystery-9b")
    assert unknown.returncode == 1 and "no price for model 'mystery-9b'" in unknown.stderr


def test_bad_price_file_is_one_error_with_file_key_and_hint(isolated_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text('[discounts]\nproviders = { openai = "lots" }\n')
    result = run_cli("report", "--prices", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"{bad}: discounts.providers.openai: expected a number" in result.stderr and "Hint:" in result.stderr
    )


def test_price_data_in_table_and_parquet(ingested: Path, tmp_path: Path) -> None:
    table = run_cli("report", "--by", "model")
    assert f"Prices: genai-prices {version('genai-prices')}" in table.stdout
    out = tmp_path / "r.parquet"
    assert run_cli("report", "--by", "model", "--format", "parquet", "--output", str(out)).returncode == 0
    metadata = pl.read_parquet_metadata(out)
    assert json.loads(metadata["tokmeter.price_data"]) == {
        "genai_prices": version("genai-prices"),
        "modifiers": MODIFIERS,
        "overrides": None,
    }


def test_cost_breakdown_sums_to_cost(ingested: Path, tmp_path: Path) -> None:
    parts = ["cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd"]
    for by in ((), ("--by", "user"), ("--by", "model", "--by", "day")):
        out = tmp_path / f"r{len(by)}.parquet"
        result = run_cli("report", *by, "--cost-breakdown", "--format", "parquet", "--output", str(out))
        assert result.returncode == 0, result.stderr
        frame = pl.read_parquet(out)  # exact Decimal(38, 18)
        assert frame["cost_usd"].null_count() == 0
        assert frame.select(pl.sum_horizontal(parts)).to_series().to_list() == frame["cost_usd"].to_list()
    doc = report_json("--cost-breakdown")
    assert doc["totals"]["cost_usd"] == report_json()["totals"]["cost_usd"]
    assert all(doc["totals"][p] > 0 for p in parts)
    assert "cache write $" in run_cli("report", "--by", "model", "--cost-breakdown").stdout
