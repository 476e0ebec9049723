"""The usage as OpenTelemetry series: per (provider, model, operation, dimensions) the token-count
histogram of each token type (``gen_ai.client.token.usage``) and the cost, totals over the whole store.

Attributes follow the GenAI semantic conventions: ``gen_ai.provider.name`` (tokmeter's provider mapped to
the conventions' names where they have one), ``gen_ai.request.model`` (the model as stored),
``gen_ai.operation.name`` (from the endpoint path, when there is one) and ``gen_ai.token.type``
(``input``: the whole prompt, cache included, as the conventions count it; ``output``: reasoning
included); tokmeter's other dimensions are ``tokmeter.<dimension>``. A null value leaves its attribute out.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..pricing.groups import priced_groups
from ..pricing.overrides import PriceOverrides
from ..rollup import DIMENSIONS, TIME_DIMENSIONS
from ..rollup.transforms import group_usage
from ..store.protocol import StoreBackend

# The GenAI conventions' recommended buckets for gen_ai.client.token.usage.
BOUNDS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens"}
PROVIDER_NAMES = {  # tokmeter's provider -> gen_ai.provider.name
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "google": "gcp.gemini",
    "google-vertex": "gcp.vertex_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
}
OPERATION = "_operation"


def attribute_dims() -> tuple[str, ...]:
    """tokmeter's dimensions sent as ``tokmeter.<name>`` attributes: all but periods, provider, model."""
    return tuple(d for d in DIMENSIONS if d not in TIME_DIMENSIONS and d not in ("provider", "model"))


def series_keys() -> list[str]:
    return ["provider", "model", OPERATION, *attribute_dims()]


def with_operation(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``gen_ai.operation.name`` from the endpoint path: embeddings, generate_content (Gemini),
    text_completion (legacy completions), else chat; null without a path."""
    path = pl.col("endpoint").str.to_lowercase()
    return lf.with_columns(
        pl.when(path.is_null())
        .then(pl.lit(None, pl.String))
        .when(path.str.contains("embed"))
        .then(pl.lit("embeddings"))
        .when(path.str.contains("generatecontent"))
        .then(pl.lit("generate_content"))
        .when(path.str.ends_with("/completions") & ~path.str.contains("chat"))
        .then(pl.lit("text_completion"))
        .otherwise(pl.lit("chat"))
        .alias(OPERATION)
    )


@dataclass(frozen=True, slots=True)
class Series:
    tokens: pl.DataFrame  # keys, token_type, count, sum, min, max, bucket_counts (list)
    costs: pl.DataFrame  # keys, cost_usd (priced series only)


def usage_series(store: StoreBackend, overrides: PriceOverrides | None = None) -> Series:
    """Every series' totals over the store. Call under ``store.reading()``."""
    rows = with_operation(store.scan())
    keys = series_keys()
    tokens = pl.concat([_histograms(rows, keys, kind, column) for kind, column in TOKEN_TYPES.items()])
    groups = priced_groups(rows, keys, overrides)
    costs = group_usage(groups, keys).filter(pl.col("cost_usd").is_not_null()).select(*keys, "cost_usd")
    collected = pl.collect_all([tokens, costs])
    return Series(collected[0], collected[1])


def _histograms(rows: pl.LazyFrame, keys: list[str], kind: str, column: str) -> pl.LazyFrame:
    value = pl.col(column)
    bucket = pl.sum_horizontal([(value > bound).cast(pl.UInt32) for bound in BOUNDS]).alias("_bucket")
    per_bucket = rows.group_by(*keys, bucket).agg(
        pl.len().alias("_n"), value.sum().alias("_sum"), value.min().alias("_min"), value.max().alias("_max")
    )
    return (
        per_bucket.group_by(keys)
        .agg(
            pl.col("_n").sum().alias("count"),
            pl.col("_sum").sum().alias("sum"),
            pl.col("_min").min().alias("min"),
            pl.col("_max").max().alias("max"),
            pl.struct("_bucket", "_n").alias("_buckets"),
        )
        .with_columns(
            pl.lit(kind).alias("token_type"),
            pl.col("count").cast(pl.Int64),
            pl.col("sum").cast(pl.Int64),
            pl.col("min").cast(pl.Int64),
            pl.col("max").cast(pl.Int64),
        )
    )


def bucket_counts(buckets: list[dict]) -> list[int]:
    """The ``_buckets`` list of (bucket index, rows) -> one count per bucket, len(BOUNDS) + 1 of them."""
    counts = [0] * (len(BOUNDS) + 1)
    for item in buckets:
        counts[item["_bucket"]] += item["_n"]
    return counts


def attributes(row: dict) -> dict[str, str]:
    """A series' OpenTelemetry attributes from its keys (nulls left out)."""
    found = {
        "gen_ai.provider.name": PROVIDER_NAMES.get(row["provider"], row["provider"]),
        "gen_ai.request.model": row["model"],
        "gen_ai.operation.name": row[OPERATION],
        **{f"tokmeter.{dim}": row[dim] for dim in attribute_dims()},
    }
    return {key: str(value) for key, value in found.items() if value is not None}
