"""The price table of some rows and the pure transforms that price them: each distinct price key
(provider, model, service tier, speed, UTC day, and the minute of day for the few models priced by time of
day) resolved once (``resolve``), its coefficients per context tier in one small frame, and rows priced
by joining it (``with_cost``); ``resolve.py`` says why this is exact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

import polars as pl

from .checks import PriceProblem
from .costs import (
    COEFFICIENTS,
    COST_DTYPE,
    PRICE_HELPERS,
    PRICE_KEY,
    STANDARD,
    cost_columns,
    join_prices,
)
from .overrides import PriceOverrides
from .resolve import (
    DAY_KEY,
    ResolvedPrice,
    _capped_columns,
    is_priced_by_minute,
    resolve,
)


# ---- the price table and the pure transform ------------------------------------------------------
def price_keys(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The columns a row is priced by: UTC day and minute of day (prices change by date, and a few
    by time of day), plus the raw input count for the tier."""
    ts = pl.col("timestamp").dt.convert_time_zone("UTC")
    return lf.with_columns(
        _price_day=ts.dt.date(),
        _price_minute=(ts.dt.hour().cast(pl.Int32) * 60 + ts.dt.minute().cast(pl.Int32)),
    )


def build_price_table(keys: pl.DataFrame, overrides: PriceOverrides | None = None) -> pl.DataFrame:
    """For the distinct ``PRICE_KEY`` (provider, model, service_tier, speed, _price_day, _price_minute) of
    the rows to price, one row per key and ``_tier`` with the coefficients (and ``STANDARD`` ones), the tier
    thresholds to assign ``_tier``, what priced it (``_priced_as``) and whether a modifier was unknown
    (``_modifier_unknown``). Unpriced keys are absent: no price, or a price
    that cannot be applied (a ``PriceProblem``: price data never raises here). ``_price_minute`` is kept only for models whose
    genai-prices price depends on the time of day."""
    out: list[dict[str, Any]] = []
    by_minute: dict[tuple[str | None, str], bool] = {}
    seen: set[tuple[Any, ...]] = set()
    for provider, model, tier, speed, day, minute in keys.select(PRICE_KEY).iter_rows():
        if not model:
            continue
        if (provider, model) not in by_minute:
            by_minute[(provider, model)] = is_priced_by_minute(provider, model, overrides)
        minute_key = minute if by_minute[(provider, model)] else None
        if (provider, model, tier, speed, day, minute_key) in seen:
            continue
        seen.add((provider, model, tier, speed, day, minute_key))
        at = datetime.combine(day, time(0), UTC) + timedelta(minutes=minute_key or 0)
        price = applicable(provider, model, at, overrides, service_tier=tier, speed=speed)
        if price is None:
            continue
        for level in range(len(price.thresholds) + 1):
            standard = price.standard_coefficients(level)
            out.append(
                {
                    "provider": provider,
                    "model": model,
                    "service_tier": tier,
                    "speed": speed,
                    "_price_day": day,
                    "_price_minute": minute_key,
                    "_tier": level,
                    "_thresholds": list(price.thresholds),
                    "_priced_as": price.priced_as,
                    "_modifier_unknown": bool(price.modifier and not price.modifier.known),
                    **price.coefficients(level),
                    **{STANDARD[name]: value for name, value in standard.items()},
                }
            )
    return price_frame(out)


def applicable(
    provider: str | None,
    model: str,
    at: datetime,
    overrides: PriceOverrides | None = None,
    *,
    service_tier: str | None = None,
    speed: str | None = None,
) -> ResolvedPrice | None:
    """``resolve``, or None also when the price cannot be applied at some tier (a ``PriceProblem``, whose
    reason ``unpriced.reason`` gives): what the price table holds."""
    try:
        price = resolve(provider, model, at, overrides, service_tier=service_tier, speed=speed)
        if price is not None:
            for level in range(len(price.thresholds) + 1):
                price.coefficients(level)
                price.standard_coefficients(level)
    except PriceProblem:
        return None
    return price


def price_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "provider": pl.String,
        "model": pl.String,
        "service_tier": pl.String,
        "speed": pl.String,
        "_price_day": pl.Date,
        "_price_minute": pl.Int32,
        "_tier": pl.Int32,
        "_thresholds": pl.List(pl.Int64),
        "_priced_as": pl.String,
        "_modifier_unknown": pl.Boolean,
        "_c_request": COST_DTYPE,
        **{c: COST_DTYPE for c in COEFFICIENTS.values()},
        **{c: COST_DTYPE for c in STANDARD.values()},
    }
    return pl.DataFrame(rows, schema=schema)


def _longest(lists: pl.Series) -> int:
    """The length of the longest list in a column of lists (0 for none)."""
    longest = lists.list.len().max() if lists.len() else None
    return longest if isinstance(longest, int) else 0


def with_tier(lf: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
    """Add each row's price key (``_price_day``; ``_price_minute`` only for the models ``table`` prices by
    time of day, else null) and its context tier ``_tier`` (how many of its price's thresholds its
    input exceeds)."""
    period = PRICE_KEY
    depth = _longest(table["_thresholds"])
    minute_models = table.filter(pl.col("_price_minute").is_not_null()).select("provider", "model").unique()
    keyed = (
        price_keys(lf)
        .join(
            minute_models.lazy().with_columns(_by_minute=pl.lit(True)),
            on=["provider", "model"],
            how="left",
            maintain_order="left",
            nulls_equal=True,
        )
        .with_columns(_price_minute=pl.when(pl.col("_by_minute")).then(pl.col("_price_minute")))
        .drop("_by_minute")
    )
    if not depth:
        return keyed.with_columns(_tier=pl.lit(0, dtype=pl.Int32))
    thresholds = (
        table.lazy()
        .unique(subset=period)
        .select(
            *period,
            *(pl.col("_thresholds").list.get(i, null_on_oob=True).alias(f"_t{i}") for i in range(depth)),
        )
    )
    tier = pl.sum_horizontal(
        [(pl.col("input_tokens") > pl.col(f"_t{i}")).fill_null(False).cast(pl.Int32) for i in range(depth)]
    )
    return (
        keyed.join(thresholds, on=period, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(_tier=tier.cast(pl.Int32))
        .drop(f"_t{i}" for i in range(depth))
    )


def with_cost(lf: pl.LazyFrame, table: pl.DataFrame, *, breakdown: bool = False) -> pl.LazyFrame:
    """Add ``cost_usd`` (Decimal, null when unpriced) and ``priced_as`` (what priced the row) to usage
    rows; with ``breakdown``, also ``BREAKDOWN_COLUMNS``, which sum to ``cost_usd`` exactly."""
    keyed = join_prices(with_tier(lf, table), table).pipe(_capped_columns)
    return keyed.with_columns(**cost_columns(breakdown), priced_as=pl.col("_priced_as")).drop(PRICE_HELPERS)


def price_rows(
    lf: pl.LazyFrame,
    overrides: PriceOverrides | None = None,
    *,
    breakdown: bool = False,
    memo: PriceFacts | None = None,
) -> pl.LazyFrame:
    """``with_cost`` with the price table built for exactly the rows of ``lf`` (collects their
    distinct price keys once: a small query); through ``memo`` when given."""
    return with_cost(lf, price_table_for(lf, overrides, memo), breakdown=breakdown)


def price_table_for(
    lf: pl.LazyFrame, overrides: PriceOverrides | None = None, memo: PriceFacts | None = None
) -> pl.DataFrame:
    """``build_price_table`` for exactly the price keys of ``lf``'s rows: their distinct (provider, model,
    UTC day), and the minute of day only for the few models priced by time of day (two small queries;
    keying every model by minute would make millions of keys out of a year of rows). ``memo`` (the price
    memo) answers what it knows without genai-prices."""
    keyed = price_keys(lf)

    def minutes_of(pairs: pl.DataFrame) -> pl.DataFrame:
        return (
            keyed.join(pairs.lazy(), on=["provider", "model"], how="semi", nulls_equal=True)
            .select(PRICE_KEY)
            .unique()
            .collect()
        )

    days = keyed.select(DAY_KEY).unique().collect()
    return price_table_from_days(days, minutes_of, overrides, memo)[0]


class PriceFacts(Protocol):
    """What a price table is built from, answered from somewhere kept (``memo.PriceMemo``)."""

    def by_minute(self, provider: str | None, model: str, overrides: PriceOverrides | None) -> bool: ...

    def price_table(self, keys: pl.DataFrame, overrides: PriceOverrides | None) -> pl.DataFrame: ...


def price_table_from_days(
    days: pl.DataFrame,
    minutes_of: Callable[[pl.DataFrame], pl.DataFrame],
    overrides: PriceOverrides | None = None,
    memo: PriceFacts | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``build_price_table`` from the distinct ``DAY_KEY`` (provider, model, modifiers, day) of some rows; for the
    (provider, model) pairs priced by time of day, ``minutes_of(pairs)`` gives those rows' distinct
    ``PRICE_KEY`` values with their minute. Returns the table and those pairs. Whatever engine holds the
    rows (polars here, Spark in ``spark_engine``) answers the two small queries. ``memo`` answers the
    price data's part from what it keeps."""
    by_minute_of = memo.by_minute if memo is not None else is_priced_by_minute
    pairs = days.select("provider", "model").unique()
    by_minute = pairs.filter(
        pl.Series([bool(m) and by_minute_of(p, m, overrides) for p, m in pairs.iter_rows()], dtype=pl.Boolean)
    )
    keys = days.join(by_minute, on=["provider", "model"], how="anti", nulls_equal=True).with_columns(
        _price_minute=pl.lit(None, dtype=pl.Int32)
    )
    if by_minute.height:
        keys = pl.concat([keys, minutes_of(by_minute).select(keys.columns).cast(keys.schema)])
    table = memo.price_table(keys, overrides) if memo is not None else build_price_table(keys, overrides)
    return table, by_minute
