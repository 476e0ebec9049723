"""A tokmeter store of any number of rows, written directly as Parquet parts (no capture files).

    python bench/generate.py store OUT_STORE --rows 100_000_000 [--days 365] [--seed 1]

The parts are in the store's exact layout and schema: ``usage/date=YYYY-MM-DD/part-*.parquet``, one
part per UTC day (what ``tokmeter compact`` leaves), the columns of ``tokmeter.schema.polars_schema()``
in order, rows sorted by timestamp, zstd with statistics, as ``Store.commit`` writes them. The mix is
made to look like a year of a company's gateway logs: a few hundred users (a handful of heavy ones),
a dozen real models that genai-prices prices (two with a 200k-token context tier, which a few rows
cross), five providers, ~80% streams, prompt caching on the providers that have it, reasoning on the
models that think, weekday/weekend traffic and growth over the year.

Such a store has no ledger (``ledger.jsonl``): ``tokmeter verify`` reports every part as unexpected,
which is fine for a benchmark store. Everything is deterministic for a given seed and polars version
(random numbers come from polars' seeded ``hash``), and computed in polars, so 100M rows take minutes.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from tokmeter.schema import polars_schema

# (provider, model, endpoint, share of requests, cache kind, reasoning share of output)
MODELS = [
    ("openai", "gpt-4o-mini-2024-07-18", "/v1/chat/completions", 0.16, "openai", 0.0),
    ("openai", "gpt-4o-2024-08-06", "/v1/chat/completions", 0.08, "openai", 0.0),
    ("openai", "gpt-4.1-2025-04-14", "/v1/chat/completions", 0.07, "openai", 0.0),
    ("openai", "gpt-4.1-mini-2025-04-14", "/v1/chat/completions", 0.09, "openai", 0.0),
    ("openai", "o4-mini-2025-04-16", "/v1/responses", 0.05, "openai", 0.6),
    ("openai", "gpt-5-2025-08-07", "/v1/responses", 0.10, "openai", 0.5),
    ("anthropic", "claude-sonnet-4-5-20250929", "/v1/messages", 0.18, "anthropic", 0.0),
    ("anthropic", "claude-haiku-4-5-20251001", "/v1/messages", 0.10, "anthropic", 0.0),
    ("anthropic", "claude-opus-4-1-20250805", "/v1/messages", 0.02, "anthropic", 0.0),
    (
        "google",
        "gemini-2.5-flash",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        0.08,
        "google",
        0.3,
    ),
    ("google", "gemini-2.5-pro", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", 0.04, "google", 0.5),
    ("groq", "llama-3.3-70b-versatile", "/openai/v1/chat/completions", 0.03, "none", 0.0),
]
USERS = 400
LAST_DAY = date(2026, 11, 19)
_ID_PREFIX = {"openai": "chatcmpl-", "anthropic": "msg_", "google": "gen-", "groq": "chatcmpl-"}


def day_counts(rows: int, days: int) -> list[int]:
    """Rows per day: weekends at 40%, traffic growing 0.6 -> 1.4 over the period; sums to ``rows``."""
    first = LAST_DAY - timedelta(days=days - 1)
    weights = []
    for k in range(days):
        day = first + timedelta(days=k)
        weights.append((0.4 if day.weekday() >= 5 else 1.0) * (0.6 + 0.8 * k / max(days - 1, 1)))
    scale = rows / sum(weights)
    counts = [int(w * scale) for w in weights]
    for k in range(rows - sum(counts)):
        counts[k % days] += 1
    return counts


def _seed(seed: int, salt: int) -> int:
    return seed * 1_000 + salt


def _uniform(index: pl.Expr, seed: int, salt: int) -> pl.Expr:
    """A uniform float in [0, 1) from the row index (deterministic)."""
    return (index.hash(_seed(seed, salt)) % 1_000_003).cast(pl.Float64) / 1_000_003


def _lognormal(index: pl.Expr, seed: int, salt: int, median: float, sigma: float) -> pl.Expr:
    """Box-Muller on two uniforms, exponentiated."""
    u1 = _uniform(index, seed, salt).clip(1e-9, 1.0)
    u2 = _uniform(index, seed, salt + 1)
    normal = (-2.0 * u1.log()).sqrt() * (2 * math.pi * u2).cos()
    return (normal * sigma).exp() * median


def day_frame(day: date, count: int, first_index: int, seed: int) -> pl.DataFrame:
    """One day's rows, sorted by timestamp, in the store's schema."""
    cum = []
    total = 0.0
    for *_, share, _cache, _reason in MODELS:
        total += share
        cum.append(total)
    model_table = pl.DataFrame(
        {
            "m": list(range(len(MODELS))),
            "provider": [m[0] for m in MODELS],
            "model": [m[1] for m in MODELS],
            "endpoint": [m[2] for m in MODELS],
            "cache": [m[4] for m in MODELS],
            "reasoning_share": [m[5] for m in MODELS],
            "tiered": [m[1] in ("claude-sonnet-4-5-20250929", "gemini-2.5-pro") for m in MODELS],
        },
        schema_overrides={"m": pl.UInt32},
    )
    i = pl.col("i")
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    base = pl.DataFrame({"i": pl.int_range(first_index, first_index + count, eager=True, dtype=pl.UInt64)})
    u_model = base.select(_uniform(i, seed, 1) * total).to_series()
    frame = (
        base.with_columns(m=pl.Series(cum).search_sorted(u_model).cast(pl.UInt32).clip(0, len(MODELS) - 1))
        .join(model_table, on="m", how="left")
        .with_columns(
            # a skewed user population: user-000 is the heaviest
            user=pl.format(
                "user-{}", (_uniform(i, seed, 2).pow(2.2) * USERS).cast(pl.Int64).cast(pl.String).str.zfill(3)
            ),
            # busier in (UTC) working hours
            _sec=((_uniform(i, seed, 3) * 0.55 + _uniform(i, seed, 4) * 0.45) * 86_400).cast(pl.Int64),
            _micro=(i.hash(_seed(seed, 5)) % 1_000_000).cast(pl.Int64),
            stream=_uniform(i, seed, 6) < 0.8,
            _fail=_uniform(i, seed, 7) < 0.01,
            _src=_uniform(i, seed, 8),
            _cached=_uniform(i, seed, 9),
            _long=_uniform(i, seed, 10) < 0.003,
            _input=_lognormal(i, seed, 11, 2_500, 1.3).clip(20, 180_000),
            _output=_lognormal(i, seed, 13, 350, 1.0).clip(1, 32_000),
        )
        .with_columns(
            input_tokens=pl.when(pl.col("tiered") & pl.col("_long"))
            .then(pl.col("_input") + 200_001)
            .otherwise(pl.col("_input"))
            .cast(pl.Int64),
            output_tokens=pl.col("_output").cast(pl.Int64),
            usage_source=pl.when(_uniform(i, seed, 15) < 0.005)
            .then(pl.lit("missing"))
            .when(_uniform(i, seed, 15) < 0.02)
            .then(pl.lit("estimated"))
            .otherwise(pl.lit("reported")),
        )
        .with_columns(
            cache_read_tokens=pl.when(pl.col("cache") == "none")
            .then(0)
            .when(pl.col("_cached") < 0.55)
            .then(pl.col("input_tokens") * (0.5 + pl.col("_cached") * 0.8))
            .otherwise(0)
            .cast(pl.Int64),
            cache_write_tokens=pl.when((pl.col("cache") == "anthropic") & (pl.col("_cached") >= 0.55))
            .then(pl.col("input_tokens") * 0.7)
            .otherwise(0)
            .cast(pl.Int64),
            reasoning_tokens=(pl.col("output_tokens") * pl.col("reasoning_share")).cast(pl.Int64),
        )
        .with_columns(
            cache_write_1h_tokens=pl.when(pl.col("_cached") > 0.9)
            .then(pl.col("cache_write_tokens"))
            .otherwise(0)
            .cast(pl.Int64),
            status=pl.when(~pl.col("_fail"))
            .then(200)
            .when(pl.col("_src") < 0.6)
            .then(429)
            .otherwise(500)
            .cast(pl.Int32),
        )
        .with_columns(
            # failed and usage-less requests carry no tokens
            *(
                pl.when(pl.col("_fail") | (pl.col("usage_source") == "missing"))
                .then(0)
                .otherwise(pl.col(c))
                .alias(c)
                for c in (
                    "input_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                    "cache_write_1h_tokens",
                    "output_tokens",
                    "reasoning_tokens",
                )
            ),
            request_id=pl.concat_str(
                [pl.lit("req_"), i.hash(_seed(seed, 20)).cast(pl.String), pl.lit("-"), i.cast(pl.String)]
            ),
            response_id=pl.concat_str(
                [
                    pl.col("provider").replace_strict(_ID_PREFIX, return_dtype=pl.String),
                    i.hash(_seed(seed, 21)).cast(pl.String),
                ]
            ),
            timestamp=(pl.lit(midnight) + pl.duration(seconds=pl.col("_sec"), microseconds=pl.col("_micro"))),
            complete=~pl.col("_fail") & (pl.col("usage_source") != "missing"),
            source=pl.format(
                "/var/log/llm-proxy/gw-{}-{}.jsonl",
                pl.lit(day.isoformat()),
                (pl.col("_src") * 4).cast(pl.Int64),
            ),
        )
        .sort("timestamp")
        .with_columns(
            source_offset=(pl.col("i").hash(_seed(seed, 22)) % 60_000 + 2_000)
            .cast(pl.Int64)
            .cum_sum()
            .over("source")
            - 2_000
        )
    )
    schema = polars_schema()
    # columns the generator does not vary (service_tier, speed: standard-priced, as a response that does not say)
    unset = [
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns
    ]
    return frame.with_columns(unset).select(schema.names()).cast(dict(schema))


def write_store(root: Path, rows: int, days: int = 365, seed: int = 1, progress=None) -> dict:
    """Write the store (replacing nothing: ``root`` must not hold a store). Returns the exact totals."""
    usage = root / "usage"
    if usage.exists():
        raise FileExistsError(f"{usage} exists")
    counts = day_counts(rows, days)
    first = LAST_DAY - timedelta(days=days - 1)
    totals = {"rows": 0, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0}
    index = 0
    for k, count in enumerate(counts):
        day = first + timedelta(days=k)
        frame = day_frame(day, count, index, seed)
        index += count
        folder = usage / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / ".part.tmp"
        frame.write_parquet(temp, compression="zstd", statistics=True)
        temp.rename(folder / f"part-bench-{seed}-{day:%Y%m%d}.parquet")
        sums = frame.select(pl.len(), pl.col("input_tokens", "output_tokens", "cache_read_tokens").sum()).row(
            0
        )
        for key, value in zip(totals, sums, strict=True):
            totals[key] += int(value)
        if progress is not None:
            progress(k + 1, days)
    return totals
