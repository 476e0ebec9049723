"""Cost: prices from the ``genai-prices`` package data (offline), at each request's timestamp.

Vectorized and exact. Within one price (a model's prices in force at a moment) and one context tier,
genai-prices' cost is linear in the token counts: it splits usage into leaf counts by subtraction
(input minus cache reads minus cache writes, output minus reasoning, ...) and multiplies each by a
rate. So tokmeter resolves each distinct (provider, model, price period, tier) once, asks
genai-prices itself for the cost of a few probe usages, derives one exact coefficient per token
column from them, and prices every row with a join and a sum of products in polars ``Decimal``.
No Python runs per row, and each row's cost equals ``genai_prices.calc_price`` for that row
(``tests/test_pricing.py`` proves it over thousands of rows).

A model genai-prices does not know gets a null cost (unpriced), never $0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import polars as pl

COST_DTYPE = pl.Decimal(38, 18)
_SCALE = Decimal(1).scaleb(-18)
# our token column -> the coefficient column that prices it
COEFFICIENTS = {
    "input_tokens": "_c_input",
    "_p_cache_read": "_c_cache_read",
    "_p_cache_write_5m": "_c_cache_write_5m",
    "_p_cache_write_1h": "_c_cache_write_1h",
    "output_tokens": "_c_output",
    "_p_reasoning": "_c_reasoning",
}
_KEY = ["provider", "model", "_price_day", "_price_minute", "_tier"]


def genai_usage(row: dict[str, Any]):  # noqa: ANN201 - genai_prices.Usage, imported lazily
    """A usage row as the ``genai_prices.Usage`` it is priced as: every key explicit (so genai-prices
    never has to infer one), and subsets capped at what contains them. A provider that reports more
    reasoning than output (it happens) has the excess priced as output, not rejected."""
    from genai_prices import Usage

    cache_read = min(row["cache_read_tokens"], row["input_tokens"])
    cache_write = min(row["cache_write_tokens"], row["input_tokens"] - cache_read)
    cache_write_1h = min(row["cache_write_1h_tokens"], cache_write)
    return Usage(
        input_tokens=row["input_tokens"],
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_5m_tokens=cache_write - cache_write_1h,
        cache_write_1h_tokens=cache_write_1h,
        output_tokens=row["output_tokens"],
        output_reasoning_tokens=min(row["reasoning_tokens"], row["output_tokens"]),
    )


def _capped_columns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The same caps as ``genai_usage``, as columns."""
    cache_read = pl.min_horizontal("cache_read_tokens", "input_tokens")
    lf = lf.with_columns(_p_cache_read=cache_read)
    cache_write = pl.min_horizontal(pl.col("cache_write_tokens"), pl.col("input_tokens") - pl.col("_p_cache_read"))
    lf = lf.with_columns(_p_cache_write=cache_write)
    cache_write_1h = pl.min_horizontal("cache_write_1h_tokens", "_p_cache_write")
    return lf.with_columns(
        _p_cache_write_1h=cache_write_1h,
        _p_cache_write_5m=pl.col("_p_cache_write") - cache_write_1h,
        _p_reasoning=pl.min_horizontal("reasoning_tokens", "output_tokens"),
    )


def price_data_version() -> str:
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


# ---- resolving prices ------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _model_info(provider: str | None, model: str):  # noqa: ANN202
    """(provider, ModelInfo) from genai-prices, or None when it does not know the pair."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        return snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        return None


def _has_time_of_day_prices(info: Any) -> bool:
    from genai_prices.types import TimeOfDateConstraint

    prices = info.prices
    return isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices)


def _thresholds(model_price: Any) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices

    starts = {tier.start for value in vars(model_price).values() if isinstance(value, TieredPrices)
              for tier in value.tiers}
    return tuple(sorted(starts))


def is_priced(provider: str | None, model: str | None) -> bool:
    """Whether genai-prices knows this model (for this provider)."""
    return bool(model) and _model_info(provider, model) is not None


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    provider_id: str
    model_id: str
    model_price: Any
    thresholds: tuple[int, ...]


def resolve(provider: str | None, model: str | None, at: datetime) -> ResolvedPrice | None:
    """The genai-prices price in force for a model at a moment (None: unpriced)."""
    if not model:
        return None
    found = _model_info(provider, model)
    if found is None:
        return None
    prov, info = found
    model_price = info.get_prices(at)
    return ResolvedPrice(prov.id, info.id, model_price, _thresholds(model_price))


_COEFFICIENT_CACHE: dict[tuple[int, int], tuple[Any, dict[str, Decimal]]] = {}


def _coefficients(model_price: Any, level: int, thresholds: tuple[int, ...]) -> dict[str, Decimal]:
    """Exact per-token coefficients (and the per-request constant ``_c_request``) for one price and
    tier level, measured with genai-prices' own arithmetic on probe usages inside that tier."""
    key = (id(model_price), level)
    cached = _COEFFICIENT_CACHE.get(key)
    if cached is not None and cached[0] is model_price:
        return cached[1]
    coefficients = _probe(model_price, level, thresholds)
    _COEFFICIENT_CACHE[key] = (model_price, coefficients)  # holding the object keeps its id unique
    return coefficients


def _probe(model_price: Any, level: int, thresholds: tuple[int, ...]) -> dict[str, Decimal]:
    from genai_prices import Usage

    t = thresholds[level - 1] + 1 if level else 1

    def cost(**extra: int) -> Decimal:
        counts = dict(input_tokens=t, cache_read_tokens=0, cache_write_tokens=0, cache_write_5m_tokens=0,
                      cache_write_1h_tokens=0, output_tokens=0, output_reasoning_tokens=0)
        counts.update(extra)
        return model_price.calc_price(Usage(**counts))["total_price"]

    base = cost()
    per_input = cost(input_tokens=t + 1) - base
    per_output = cost(output_tokens=1) - base
    coefficients = {
        "_c_request": base - per_input * t,
        "_c_input": per_input,
        "_c_cache_read": cost(cache_read_tokens=1) - base,
        "_c_cache_write_5m": cost(cache_write_tokens=1, cache_write_5m_tokens=1) - base,
        "_c_cache_write_1h": cost(cache_write_tokens=1, cache_write_1h_tokens=1) - base,
        "_c_output": per_output,
        "_c_reasoning": cost(output_tokens=1, output_reasoning_tokens=1) - base - per_output,
    }
    for name, value in coefficients.items():
        if value.quantize(_SCALE) != value:
            raise ArithmeticError(f"price coefficient {name}={value} needs more than 18 decimal places")
    return coefficients


# ---- the price table and the pure transform ------------------------------------------------------
def price_keys(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The columns a row is priced by: UTC day and minute of day (prices change by date, and a few
    by time of day), plus the raw input count for the tier."""
    ts = pl.col("timestamp").dt.convert_time_zone("UTC")
    return lf.with_columns(
        _price_day=ts.dt.date(),
        _price_minute=(ts.dt.hour().cast(pl.Int32) * 60 + ts.dt.minute().cast(pl.Int32)),
    )


def build_price_table(keys: pl.DataFrame) -> pl.DataFrame:
    """For the distinct (provider, model, _price_day, _price_minute, max input) of the rows to price,
    one row per (provider, model, _price_day, _price_minute, _tier) with the coefficients, the tier
    thresholds to assign ``_tier``, and which genai-prices model priced it. Unknown models are absent."""
    out: list[dict[str, Any]] = []
    time_of_day: dict[tuple[str | None, str], bool] = {}
    seen: set[tuple] = set()
    for provider, model, day, minute in keys.select("provider", "model", "_price_day", "_price_minute").iter_rows():
        found = _model_info(provider, model) if model else None
        if found is None:
            continue
        if (provider, model) not in time_of_day:
            time_of_day[(provider, model)] = _has_time_of_day_prices(found[1])
        minute_key = minute if time_of_day[(provider, model)] else None
        key = (provider, model, day, minute_key)
        if key in seen:
            continue
        seen.add(key)
        at = datetime.combine(day, time(0), UTC) + timedelta(minutes=minute_key or 0)
        price = resolve(provider, model, at)
        if price is None:
            continue
        for level in range(len(price.thresholds) + 1):
            out.append({
                "provider": provider, "model": model, "_price_day": day, "_price_minute": minute_key,
                "_tier": level, "_thresholds": list(price.thresholds),
                "_priced_as": f"{price.provider_id}:{price.model_id}",
                **_coefficients(price.model_price, level, price.thresholds),
            })
    return _price_frame(out)


def _price_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "provider": pl.String, "model": pl.String, "_price_day": pl.Date, "_price_minute": pl.Int32,
        "_tier": pl.Int32, "_thresholds": pl.List(pl.Int64), "_priced_as": pl.String,
        "_c_request": COST_DTYPE, **{c: COST_DTYPE for c in COEFFICIENTS.values()},
    }
    return pl.DataFrame(rows, schema=schema)


def with_cost(lf: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
    """Add ``cost_usd`` (Decimal, null when unpriced) and ``priced_as`` (the genai-prices
    ``provider:model`` that priced the row) to usage rows."""
    period = ["provider", "model", "_price_day", "_price_minute"]
    depth = int(table["_thresholds"].list.len().max() or 0) if table.height else 0
    thresholds = (
        table.lazy()
        .unique(subset=period)
        .select(*period, *(pl.col("_thresholds").list.get(i, null_on_oob=True).alias(f"_t{i}") for i in range(depth)))
    )
    minute_models = table.filter(pl.col("_price_minute").is_not_null()).select("provider", "model").unique()
    tier = pl.sum_horizontal(
        [(pl.col("input_tokens") > pl.col(f"_t{i}")).fill_null(False).cast(pl.Int32) for i in range(depth)]
    ) if depth else pl.lit(0, dtype=pl.Int32)
    keyed = (
        price_keys(lf)
        .join(minute_models.lazy().with_columns(_by_minute=pl.lit(True)), on=["provider", "model"], how="left", maintain_order="left",
              nulls_equal=True)
        .with_columns(_price_minute=pl.when(pl.col("_by_minute")).then(pl.col("_price_minute")))
        .join(thresholds, on=period, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(_tier=tier.cast(pl.Int32))
        .join(table.lazy().drop("_thresholds"), on=_KEY, how="left", nulls_equal=True, maintain_order="left")
        .pipe(_capped_columns)
    )
    cost = pl.col("_c_request")
    for column, coefficient in COEFFICIENTS.items():
        cost = cost + pl.col(column).cast(pl.Decimal(38, 0)) * pl.col(coefficient)
    helpers = ["_price_day", "_price_minute", "_by_minute", "_tier", "_priced_as", "_p_cache_read", "_p_cache_write",
               "_p_cache_write_1h", "_p_cache_write_5m", "_p_reasoning",
               "_c_request", *COEFFICIENTS.values(), *(f"_t{i}" for i in range(depth))]
    return keyed.with_columns(cost_usd=cost.cast(COST_DTYPE), priced_as=pl.col("_priced_as")).drop(helpers)


def price_rows(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``with_cost`` with the price table built for exactly the rows of ``lf`` (collects their
    distinct price keys once: a small query)."""
    keys = price_keys(lf).select("provider", "model", "_price_day", "_price_minute").unique().collect()
    return with_cost(lf, build_price_table(keys))
