"""Vectorized cost must equal genai_prices.calc_price for every row, exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from genai_prices import calc_price

from tokmeter.pricing.resolve import genai_usage, price_data, price_data_version
from tokmeter.pricing.table import price_rows
from tokmeter.schema import polars_schema

# (provider as stored, model as reported): dated names, tiers, cache kinds, date- and time-of-day prices
MODELS = [
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "gpt-4o"),
    ("openai", "o3"),  # price changed 2025-06-10
    ("openai", "gpt-5.6-luna"),  # price changed 2026-07-30
    ("openai", "o4-mini-2025-04-16"),
    ("anthropic", "claude-sonnet-4-5-20250929"),  # long-context tier
    ("anthropic", "claude-sonnet-4-6"),  # price changed 2026-03-13
    ("anthropic", "claude-haiku-4-5-20251001"),
    ("anthropic", "claude-opus-4-1-20250805"),
    ("google", "gemini-2.5-pro"),  # tier at 200k
    ("google", "gemini-2.5-flash"),
    ("google-vertex", "gemini-3-pro-preview"),  # price changed 2026-01-05
    ("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("deepseek", "deepseek-chat"),  # off-peak prices by time of day
    ("deepseek", "deepseek-v4-pro"),  # dates and time of day
    ("mistral", "mistral-large-4"),
    ("groq", "llama-3.3-70b-versatile"),
    ("xai", "grok-4"),
    ("openrouter", "deepseek/deepseek-chat-v3-0324"),
    ("acme", "not-a-model"),  # unpriced
    (None, "gpt-4o-mini"),  # provider unknown: genai-prices finds it by model
]
START = datetime(2025, 5, 1, tzinfo=UTC)


def _random_row(rng: random.Random, index: int) -> dict:
    provider, model = rng.choice(MODELS)
    tiered = rng.random() < 0.2
    input_tokens = rng.randint(200_001, 400_000) if tiered else rng.randint(0, 50_000)
    cache_read = rng.randint(0, input_tokens // 2) if rng.random() < 0.5 else 0
    cache_write = rng.randint(0, (input_tokens - cache_read) // 2) if rng.random() < 0.4 else 0
    cache_1h = rng.randint(0, cache_write) if rng.random() < 0.5 else 0
    output = rng.randint(0, 20_000)
    reasoning = rng.randint(0, output) if rng.random() < 0.3 else 0
    when = START + timedelta(seconds=rng.randint(0, 580 * 86400))
    return {
        "request_id": f"r{index}",
        "response_id": None,
        "timestamp": when,
        "user": None,
        "provider": provider,
        "model": model,
        "endpoint": None,
        "stream": False,
        "status": 200,
        "input_tokens": input_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_write_1h_tokens": cache_1h,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
        "usage_source": "reported",
        "complete": True,
        "source": "t",
        "source_offset": index,
    }


def _reference_cost(row: dict):  # noqa: ANN202
    try:
        return calc_price(
            genai_usage(row),
            row["model"],
            provider_id=row["provider"],
            genai_request_timestamp=row["timestamp"],
        ).total_price
    except LookupError:
        return None


def test_cost_equals_calc_price_for_every_row() -> None:
    rng = random.Random(20261124)
    rows = [_random_row(rng, i) for i in range(3000)]
    frame = pl.DataFrame(rows, schema=polars_schema())
    priced = price_rows(frame.lazy()).collect()
    mismatches = []
    priced_count = 0
    for row, cost in zip(rows, priced["cost_usd"].to_list(), strict=True):
        expected = _reference_cost(row)
        if expected is not None:
            priced_count += 1
        if cost != expected:
            mismatches.append(
                (row["provider"], row["model"], row["timestamp"], row["input_tokens"], cost, expected)
            )
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:3]}"
    assert priced_count > 2500  # the comparison really covered priced rows
    assert priced.filter(pl.col("model") == "not-a-model")["cost_usd"].null_count() > 0


def test_unknown_model_is_null_not_zero() -> None:
    rng = random.Random(1)
    row = _random_row(rng, 0) | {"provider": "acme", "model": "house-llm-7b"}
    priced = price_rows(pl.DataFrame([row], schema=polars_schema()).lazy()).collect()
    assert priced["cost_usd"].to_list() == [None]


@pytest.mark.parametrize("hour, minute", [(0, 29), (0, 30), (16, 29), (16, 30), (23, 59)])
def test_time_of_day_prices_at_their_edges(hour: int, minute: int) -> None:
    rng = random.Random(2)
    row = _random_row(rng, 0) | {
        "provider": "deepseek",
        "model": "deepseek-chat",
        "timestamp": datetime(2025, 9, 1, hour, minute, 30, tzinfo=UTC),
    }
    priced = price_rows(pl.DataFrame([row], schema=polars_schema()).lazy()).collect()
    assert priced["cost_usd"][0] == _reference_cost(row)


def test_sum_of_rows_equals_total_exactly() -> None:
    rng = random.Random(3)
    rows = [_random_row(rng, i) | {"provider": "anthropic", "model": "claude-haiku-4-5"} for i in range(500)]
    priced = price_rows(pl.DataFrame(rows, schema=polars_schema()).lazy()).collect()
    total = priced["cost_usd"].sum()
    assert total == sum(_reference_cost(r) for r in rows)


def test_cost_breakdown_sums_to_cost_exactly() -> None:
    rng = random.Random(4)
    rows = [_random_row(rng, i) for i in range(3000)]
    priced = price_rows(pl.DataFrame(rows, schema=polars_schema()).lazy(), breakdown=True).collect()
    parts = ["cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd"]
    summed = priced.select(pl.sum_horizontal(parts).alias("sum"), "cost_usd", *parts)
    priced_rows = summed.filter(pl.col("cost_usd").is_not_null())
    assert priced_rows.height > 2500
    assert priced_rows["sum"].to_list() == priced_rows["cost_usd"].to_list()
    unpriced = summed.filter(pl.col("cost_usd").is_null())
    assert unpriced.height and all(unpriced[c].null_count() == unpriced.height for c in parts)  # never $0
    assert priced_rows.select((pl.col(c) >= 0).all() for c in parts).row(0) == (True,) * 4


def test_breakdown_prices_each_kind_at_its_rate() -> None:
    # claude-sonnet-4-5 below 200k: input $3, cache read $0.30, 5m write $3.75, 1h write $6, output $15 per MTok
    row = _random_row(random.Random(5), 0) | {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "input_tokens": 100_000,
        "cache_read_tokens": 40_000,
        "cache_write_tokens": 30_000,
        "cache_write_1h_tokens": 10_000,
        "output_tokens": 2_000,
        "reasoning_tokens": 500,
    }
    got = (
        price_rows(pl.DataFrame([row], schema=polars_schema()).lazy(), breakdown=True)
        .collect()
        .row(0, named=True)
    )
    assert got["cost_input_usd"] == Decimal("0.09")  # 30k uncached * $3
    assert got["cost_cache_read_usd"] == Decimal("0.012")  # 40k * $0.30
    assert got["cost_cache_write_usd"] == Decimal("0.135")  # 20k * $3.75 + 10k * $6
    assert got["cost_output_usd"] == Decimal("0.03")  # 2k * $15, reasoning included
    assert got["cost_usd"] == _reference_cost(row) == Decimal("0.267")


def test_price_data_names_the_genai_prices_version() -> None:
    from importlib.metadata import version

    from tokmeter.pricing.modifiers import VERSION

    assert price_data() == {"genai_prices": version("genai-prices"), "modifiers": VERSION, "overrides": None}
    assert price_data_version() == f"genai-prices {version('genai-prices')} + modifiers {VERSION}"


def _varied_frame(count: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = [_random_row(rng, i) for i in range(count)]
    for index, row in enumerate(rows):  # users, failures and estimates, so every measure has something
        row["user"] = rng.choice(["ann", "bob", None])
        row["status"] = rng.choice([200, 200, 200, 429, None])
        row["usage_source"] = rng.choice(["reported", "reported", "estimated", "missing"])
        row["request_id"] = f"g{index}"
        # how it was served: mostly unsaid; priced tiers, fast mode, and tiers without a known rate
        row["service_tier"], row["speed"] = rng.choice(
            [(None, None)] * 6
            + [
                ("standard", None),
                ("flex", None),
                ("priority", None),
                ("batch", None),
                ("scale", None),
                (None, "fast"),
                ("priority", "fast"),
                ("other", "standard"),
            ]
        )
        if (
            index % 40 == 0
        ):  # one model name under providers that price it differently (by time of day or not)
            row["provider"], row["model"] = rng.choice(
                [
                    ("openrouter", "deepseek-chat"),
                    ("azure", "o3"),
                    ("deepseek", "deepseek-chat"),
                    ("openai", "o3"),
                ]
            )
        if index % 7 == 3:  # unknown counts (a token log's), beside known 0s
            row["reasoning_tokens"] = row["cache_write_1h_tokens"] = None
        if index % 11 == 5:  # an estimate's
            row["cache_read_tokens"] = row["cache_write_tokens"] = row["cache_write_1h_tokens"] = None
    return pl.DataFrame(rows, schema=polars_schema())


@pytest.mark.parametrize(
    ("dims", "tz", "breakdown"),
    [
        (["model"], "UTC", False),
        (["user", "model", "day"], "UTC", True),
        (["provider", "week"], "Asia/Kolkata", False),
        (["month"], "America/Los_Angeles", True),
        ([], "UTC", False),
    ],
)
def test_pricing_groups_equals_pricing_every_row(dims: list[str], tz: str, breakdown: bool) -> None:
    """The fast path (group by price key and tier, price each group once) gives exactly the figures of
    pricing every row and adding up: tiers, date and time-of-day prices, unpriced models included."""
    from polars.testing import assert_frame_equal

    from tokmeter.report.queries import report_from_rows
    from tokmeter.rollup.transforms import group_usage, unpriced_models

    lf = _varied_frame(3000, 7).lazy()
    per_row = price_rows(lf, breakdown=breakdown)
    expected = pl.collect_all(
        [
            group_usage(per_row, dims, breakdown=breakdown, tz=tz),
            group_usage(per_row, [], breakdown=breakdown),
            unpriced_models(per_row),
        ]
    )
    for got, want in zip(report_from_rows(lf, dims, tz, None, breakdown), expected, strict=True):
        assert_frame_equal(got, want, check_exact=True)
    assert expected[1]["unpriced_requests"][0] > 0 and expected[1]["cost_usd"][0] > 0
    unknown = lf.select(pl.col("reasoning_tokens").null_count()).collect().item()
    assert unknown and expected[1]["unknown_reasoning_tokens"][0] == unknown


@pytest.mark.parametrize(
    ("period", "tz"), [("day", "UTC"), ("week", "Europe/Berlin"), ("month", "Asia/Kolkata")]
)
def test_rollup_of_priced_groups_equals_rollup_of_priced_rows(period: str, tz: str) -> None:
    from polars.testing import assert_frame_equal

    from tokmeter.rollup.spec import RollupSpec, rollup_frame, rollup_rows

    lf = _varied_frame(3000, 11).lazy()
    spec = RollupSpec(period, ("user", "model", "provider"), tz)
    assert_frame_equal(
        rollup_rows(lf, spec).collect(), rollup_frame(price_rows(lf), spec).collect(), check_exact=True
    )


def _with_unknowns(rng: random.Random, row: dict) -> dict:
    """``row`` with some subset counts unknown (null), as a token log or an estimate stores them."""
    row = dict(row)
    for column in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        if rng.random() < 0.4:
            row[column] = None
    if row["cache_write_tokens"] is None or rng.random() < 0.4:
        row["cache_write_1h_tokens"] = None
    return row


def _usage_without_unknowns(row: dict):  # -> genai_prices.Usage
    """The Usage genai-prices is given when the unknown fields are simply absent."""
    from genai_prices import Usage

    fields = {
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_write_tokens": row["cache_write_tokens"],
        "output_reasoning_tokens": row["reasoning_tokens"],
    }
    if row["cache_write_1h_tokens"] is not None:
        fields |= {
            "cache_write_1h_tokens": row["cache_write_1h_tokens"],
            "cache_write_5m_tokens": row["cache_write_tokens"] - row["cache_write_1h_tokens"],
        }
    return Usage(**{k: v for k, v in fields.items() if v is not None})


def test_unknown_subsets_are_priced_as_genai_prices_prices_absent_fields() -> None:
    rng = random.Random(5)
    rows = [_with_unknowns(rng, _random_row(rng, i)) for i in range(1500)]
    frame = pl.DataFrame(rows, schema=polars_schema())
    assert all(frame[c].null_count() > 300 for c in ("cache_read_tokens", "reasoning_tokens"))
    priced = price_rows(frame.lazy(), breakdown=True).collect()
    mismatches = []
    for row, cost in zip(rows, priced["cost_usd"].to_list(), strict=True):
        try:
            expected = calc_price(
                _usage_without_unknowns(row),
                row["model"],
                provider_id=row["provider"],
                genai_request_timestamp=row["timestamp"],
            ).total_price
        except LookupError:
            expected = None
        if cost != expected:
            mismatches.append((row, cost, expected))
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:2]}"
    assert priced["cost_usd"].null_count() < 200  # a null subset never makes a row unpriced
    parts = priced.select(
        pl.sum_horizontal(
            "cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd"
        ).alias("sum"),
        "cost_usd",
    ).drop_nulls()
    assert parts["sum"].to_list() == parts["cost_usd"].to_list()
