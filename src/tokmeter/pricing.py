"""Cost: prices from the ``genai-prices`` package data (offline) and an optional price file, at each
request's timestamp.

Vectorized and exact. Within one price (a model's prices in force at a moment) and one context tier,
genai-prices' cost is linear in the token counts: it splits usage into leaf counts by subtraction
(input minus cache reads minus cache writes, output minus reasoning, ...) and multiplies each by a
rate. So tokmeter resolves each distinct (provider, model, price period, tier) once, asks
genai-prices itself for the cost of a few probe usages, derives one exact coefficient per token
column from them, and prices every row with a join and a sum of products in polars ``Decimal``.
No Python runs per row, and each row's cost equals ``genai_prices.calc_price`` for that row
(``tests/test_pricing.py`` proves it over thousands of rows).

Overrides (``price_overrides.PriceOverrides``) enter the same table: an alias changes the model a
stored (provider, model) is looked up as; a custom price in force on the row's UTC date is built as
a genai-prices ``ModelPrice`` and probed the same way (it wins over genai-prices); a discount
multiplies every coefficient of that price by (1 - percent/100), rounded to 18 decimal places.

A model without a price gets a null cost (unpriced), never $0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

import polars as pl

from .price_overrides import RATE_KEYS, CustomPrice, PriceOverrides
from .schema import SUBSET_TOKENS

COST_DTYPE = pl.Decimal(38, 18)
BREAKDOWN_COLUMNS = ("cost_input_usd", "cost_cache_read_usd", "cost_cache_write_usd", "cost_output_usd")
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
PRICE_KEY = ["provider", "model", "_price_day", "_price_minute"]  # a price in force; with _tier, one rate set
_KEY = [*PRICE_KEY, "_tier"]


def genai_usage(row: dict[str, Any]):  # noqa: ANN201 - genai_prices.Usage, imported lazily
    """A usage row as the ``genai_prices.Usage`` it is priced as: every key explicit (so genai-prices
    never has to infer one), and subsets capped at what contains them. A provider that reports more
    reasoning than output (it happens) has the excess priced as output, not rejected. An unknown (null)
    subset is priced as 0, as genai-prices prices an absent field."""
    from genai_prices import Usage

    cache_read = min(row["cache_read_tokens"] or 0, row["input_tokens"])
    cache_write = min(row["cache_write_tokens"] or 0, row["input_tokens"] - cache_read)
    cache_write_1h = min(row["cache_write_1h_tokens"] or 0, cache_write)
    return Usage(
        input_tokens=row["input_tokens"],
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_5m_tokens=cache_write - cache_write_1h,
        cache_write_1h_tokens=cache_write_1h,
        output_tokens=row["output_tokens"],
        output_reasoning_tokens=min(row["reasoning_tokens"] or 0, row["output_tokens"]),
    )


def _capped_columns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The same caps as ``genai_usage``, as columns; an unknown (null) subset is 0 here, as there
    (``min_horizontal`` would skip a null and take the whole)."""
    known = {c: pl.col(c).fill_null(0) for c in SUBSET_TOKENS}
    cache_read = pl.min_horizontal(known["cache_read_tokens"], "input_tokens")
    lf = lf.with_columns(_p_cache_read=cache_read)
    cache_write = pl.min_horizontal(known["cache_write_tokens"], pl.col("input_tokens") - pl.col("_p_cache_read"))
    lf = lf.with_columns(_p_cache_write=cache_write)
    cache_write_1h = pl.min_horizontal(known["cache_write_1h_tokens"], "_p_cache_write")
    return lf.with_columns(
        _p_cache_write_1h=cache_write_1h,
        _p_cache_write_5m=pl.col("_p_cache_write") - cache_write_1h,
        _p_reasoning=pl.min_horizontal(known["reasoning_tokens"], "output_tokens"),
    )


def price_data(overrides: PriceOverrides | None = None) -> dict[str, str | None]:
    """Which price data produced a cost: the genai-prices version, and the price file (path and
    sha256 of its content) or None. Reports and exports record this next to their figures."""
    return {"genai_prices": _genai_prices_version(), "overrides": overrides.label if overrides else None}


def price_data_version(overrides: PriceOverrides | None = None) -> str:
    """``price_data`` as one line, e.g. ``genai-prices 0.2.3 + prices.toml sha256:...``."""
    data = price_data(overrides)
    text = f"genai-prices {data['genai_prices']}"
    return f"{text} + {data['overrides']}" if data["overrides"] else text


@lru_cache(maxsize=1)
def _genai_prices_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


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


def is_priced(provider: str | None, model: str | None, overrides: PriceOverrides | None = None) -> bool:
    """Whether the model has a price: a custom one (after aliases) or genai-prices'."""
    if not model:
        return False
    lookup_provider, lookup_model = overrides.alias(provider, model) if overrides else (provider, model)
    if overrides and overrides.has_custom_price(lookup_provider, lookup_model):
        return True
    return _model_info(lookup_provider, lookup_model) is not None


def is_priced_by_minute(provider: str | None, model: str, overrides: PriceOverrides | None) -> bool:
    """Whether the genai-prices price of this (aliased) model depends on the time of day."""
    found = _model_info(*overrides.alias(provider, model)) if overrides else _model_info(provider, model)
    return found is not None and _has_time_of_day_prices(found[1])


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    """The price in force for one model at one moment, where it comes from, and its discount. The dates
    and schedule are filled in only when resolved with ``describe=True`` (they are for people)."""

    priced_as: str  # "openai:gpt-4o" (genai-prices) or "custom:house-llm" (price file), "-15%" if discounted
    source: str  # "genai-prices 0.2.3" or the price file's label
    model_price: Any  # a genai_prices ModelPrice (custom prices are built as one)
    thresholds: tuple[int, ...]  # context tiers: input token counts above which a tier applies
    effective_from: date | None = None  # None: from the start of the data
    until: date | None = None  # the date the next price starts (exclusive), None: no change known
    schedule: str | None = None  # for time-of-day prices: "daily 00:30-16:30 UTC" or "outside daily ..."
    discount: Decimal = Decimal(0)  # percent off
    discount_key: str | None = None  # "model gpt-4o" or "provider openai"

    def coefficients(self, level: int) -> dict[str, Decimal]:
        return _discounted(_coefficients(self.model_price, level, self.thresholds), self.discount)


def resolve(provider: str | None, model: str | None, at: datetime, overrides: PriceOverrides | None = None,
            *, describe: bool = False) -> ResolvedPrice | None:
    """The price in force for a stored (provider, model) at a moment (None: unpriced). Aliases are
    applied first; a custom price in force wins over genai-prices; then the discount. ``describe``
    also finds since when the price is in force, until when, and its time-of-day window."""
    if not model:
        return None
    lookup = overrides.alias(provider, model) if overrides else (provider, model)
    found = _base_price(*lookup, at, overrides, describe)
    if found is None or overrides is None:
        return found[0] if found else None
    price, priced_provider, priced_model = found
    if describe:
        changes = [d for d in (price.until, overrides.next_change(*lookup, at.astimezone(UTC).date())) if d]
        price = replace(price, until=min(changes, default=None))
    percent, key = overrides.discount((provider, lookup[0], priced_provider), (model, lookup[1], priced_model))
    if not percent:
        return price
    label = f"{price.priced_as} -{percent.normalize():f}%"
    return replace(price, discount=percent, discount_key=key, priced_as=label)


def _base_price(provider: str | None, model: str, at: datetime, overrides: PriceOverrides | None,
                describe: bool) -> tuple[ResolvedPrice, str | None, str] | None:
    """The custom price in force, else genai-prices', before any discount, with the (provider, model)
    that priced it."""
    custom = overrides.custom_price(provider, model, at.astimezone(UTC).date()) if overrides else None
    if custom is not None and overrides is not None:
        price = ResolvedPrice(priced_as=f"custom:{custom.model}", source=overrides.label,
                              model_price=_custom_model_price(custom), thresholds=(),
                              effective_from=custom.effective_from)
        return price, custom.provider, custom.model
    found = _model_info(provider, model)
    if found is None:
        return None
    info, model_price = found[1], found[1].get_prices(at)
    source = f"genai-prices {_genai_prices_version()}"
    price = ResolvedPrice(priced_as=f"{found[0].id}:{info.id}", source=source, model_price=model_price,
                          thresholds=_thresholds(model_price))
    return (_described(price, info, at) if describe else price), found[0].id, info.id


def _described(price: ResolvedPrice, info: Any, at: datetime) -> ResolvedPrice:
    """A genai-prices price with the dated (or time-of-day) condition that selected it at ``at``."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    conditions = [p.constraint for p in info.prices] if isinstance(info.prices, list) else []
    active = next((c for c in reversed(conditions) if c is None or c.active(at)), None)
    starts = [c.start_date for c in conditions if isinstance(c, StartDateConstraint)]
    windows = ", ".join(f"{c.start_time:%H:%M}-{c.end_time:%H:%M}" for c in conditions
                        if isinstance(c, TimeOfDateConstraint))
    inside = isinstance(active, TimeOfDateConstraint)
    day = at.astimezone(UTC).date()
    return replace(
        price,
        effective_from=active.start_date if isinstance(active, StartDateConstraint) else None,
        until=min((d for d in starts if d > day), default=None),
        schedule=(f"{'daily' if inside else 'outside daily'} {windows} UTC") if windows else None,
    )


@lru_cache(maxsize=1024)
def _custom_model_price(custom: CustomPrice) -> Any:  # a genai_prices ModelPrice, imported lazily
    """A custom price as a genai-prices ``ModelPrice``: priced with the same arithmetic and fallbacks."""
    from genai_prices.types import ModelPrice

    rates = {f"{name}_mtok": getattr(custom, name) for name in RATE_KEYS}
    return ModelPrice(**{key: rate for key, rate in rates.items() if rate is not None})


def _discounted(coefficients: dict[str, Decimal], percent: Decimal) -> dict[str, Decimal]:
    """Coefficients times (1 - percent/100), rounded half-even to 18 decimal places (1e-18 USD)."""
    if not percent:
        return coefficients
    factor = 1 - percent / 100
    return {name: (value * factor).quantize(_SCALE, rounding=ROUND_HALF_EVEN)
            for name, value in coefficients.items()}


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


def build_price_table(keys: pl.DataFrame, overrides: PriceOverrides | None = None) -> pl.DataFrame:
    """For the distinct (provider, model, _price_day, _price_minute) of the rows to price, one row per
    (provider, model, _price_day, _price_minute, _tier) with the coefficients, the tier thresholds to
    assign ``_tier``, and what priced it (``_priced_as``). Unpriced models are absent. ``_price_minute``
    is kept only for models whose genai-prices price depends on the time of day."""
    out: list[dict[str, Any]] = []
    by_minute: dict[tuple[str | None, str], bool] = {}
    seen: set[tuple[Any, ...]] = set()
    for provider, model, day, minute in keys.select("provider", "model", "_price_day", "_price_minute").iter_rows():
        if not model:
            continue
        if (provider, model) not in by_minute:
            by_minute[(provider, model)] = is_priced_by_minute(provider, model, overrides)
        minute_key = minute if by_minute[(provider, model)] else None
        if (provider, model, day, minute_key) in seen:
            continue
        seen.add((provider, model, day, minute_key))
        at = datetime.combine(day, time(0), UTC) + timedelta(minutes=minute_key or 0)
        price = resolve(provider, model, at, overrides)
        if price is None:
            continue
        for level in range(len(price.thresholds) + 1):
            out.append({
                "provider": provider, "model": model, "_price_day": day, "_price_minute": minute_key,
                "_tier": level, "_thresholds": list(price.thresholds), "_priced_as": price.priced_as,
                **price.coefficients(level),
            })
    return price_frame(out)


def price_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "provider": pl.String, "model": pl.String, "_price_day": pl.Date, "_price_minute": pl.Int32,
        "_tier": pl.Int32, "_thresholds": pl.List(pl.Int64), "_priced_as": pl.String,
        "_c_request": COST_DTYPE, **{c: COST_DTYPE for c in COEFFICIENTS.values()},
    }
    return pl.DataFrame(rows, schema=schema)


def with_tier(lf: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
    """Add each row's price key (``_price_day``; ``_price_minute`` only for the models ``table`` prices by
    time of day, else null) and its context tier ``_tier`` (how many of its price's thresholds its
    input exceeds)."""
    period = PRICE_KEY
    depth = int(table["_thresholds"].list.len().max() or 0) if table.height else 0
    minute_models = table.filter(pl.col("_price_minute").is_not_null()).select("provider", "model").unique()
    keyed = (
        price_keys(lf)
        .join(minute_models.lazy().with_columns(_by_minute=pl.lit(True)), on=["provider", "model"], how="left",
              maintain_order="left", nulls_equal=True)
        .with_columns(_price_minute=pl.when(pl.col("_by_minute")).then(pl.col("_price_minute")))
        .drop("_by_minute")
    )
    if not depth:
        return keyed.with_columns(_tier=pl.lit(0, dtype=pl.Int32))
    thresholds = (
        table.lazy()
        .unique(subset=period)
        .select(*period, *(pl.col("_thresholds").list.get(i, null_on_oob=True).alias(f"_t{i}") for i in range(depth)))
    )
    tier = pl.sum_horizontal([(pl.col("input_tokens") > pl.col(f"_t{i}")).fill_null(False).cast(pl.Int32)
                              for i in range(depth)])
    return (keyed.join(thresholds, on=period, how="left", nulls_equal=True, maintain_order="left")
            .with_columns(_tier=tier.cast(pl.Int32)).drop(f"_t{i}" for i in range(depth)))


def join_prices(lf: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
    """Join the coefficients (and ``_priced_as``) of each row's or group's price key and tier."""
    return lf.join(table.lazy().drop("_thresholds"), on=_KEY, how="left", nulls_equal=True, maintain_order="left")


PRICE_HELPERS = ("_price_day", "_price_minute", "_tier", "_priced_as", "_p_cache_read", "_p_cache_write",
                 "_p_cache_write_1h", "_p_cache_write_5m", "_p_reasoning", "_c_request", *COEFFICIENTS.values())


def cost_columns(breakdown: bool, n: pl.Expr | None = None) -> dict[str, pl.Expr]:
    """``cost_usd`` (and with ``breakdown`` the per-kind costs) from joined coefficients, for one row
    or, with ``n`` (its row count), for a group whose token columns hold sums: cost is linear within
    one price and tier, so pricing the sums equals summing the rows' costs exactly."""
    costs = {"cost_usd": _total_cost(n), **(_cost_by_kind(n) if breakdown else {})}
    return {name: expr.cast(COST_DTYPE) for name, expr in costs.items()}


def with_cost(lf: pl.LazyFrame, table: pl.DataFrame, *, breakdown: bool = False) -> pl.LazyFrame:
    """Add ``cost_usd`` (Decimal, null when unpriced) and ``priced_as`` (what priced the row) to usage
    rows; with ``breakdown``, also ``BREAKDOWN_COLUMNS``, which sum to ``cost_usd`` exactly."""
    keyed = join_prices(with_tier(lf, table), table).pipe(_capped_columns)
    return keyed.with_columns(**cost_columns(breakdown), priced_as=pl.col("_priced_as")).drop(PRICE_HELPERS)


def _tokens(column: str | pl.Expr) -> pl.Expr:
    return (pl.col(column) if isinstance(column, str) else column).cast(pl.Decimal(38, 0))


def _request_fees(n: pl.Expr | None) -> pl.Expr:
    return pl.col("_c_request") if n is None else pl.col("_c_request") * n.cast(pl.Decimal(38, 0))


def _total_cost(n: pl.Expr | None = None) -> pl.Expr:
    cost = _request_fees(n)
    for column, coefficient in COEFFICIENTS.items():
        cost = cost + _tokens(column) * pl.col(coefficient)
    return cost


def _cost_by_kind(n: pl.Expr | None = None) -> dict[str, pl.Expr]:
    """The cost split by token kind. The coefficients of cache and reasoning columns are differences
    from the input / output rate (those tokens are subsets), so each kind is priced at its own rate
    here: uncached input at the input rate (plus the per-request fee, if any), cache reads at
    input + cache-read coefficient, and so on. Algebraically the same sum as ``_total_cost``."""
    c_input, c_output = pl.col("_c_input"), pl.col("_c_output")
    uncached = pl.col("input_tokens") - pl.col("_p_cache_read") - pl.col("_p_cache_write")
    return {
        "cost_input_usd": _request_fees(n) + _tokens(uncached) * c_input,
        "cost_cache_read_usd": _tokens("_p_cache_read") * (c_input + pl.col("_c_cache_read")),
        "cost_cache_write_usd": _tokens("_p_cache_write_5m") * (c_input + pl.col("_c_cache_write_5m"))
        + _tokens("_p_cache_write_1h") * (c_input + pl.col("_c_cache_write_1h")),
        "cost_output_usd": _tokens(pl.col("output_tokens") - pl.col("_p_reasoning")) * c_output
        + _tokens("_p_reasoning") * (c_output + pl.col("_c_reasoning")),
    }


def price_rows(lf: pl.LazyFrame, overrides: PriceOverrides | None = None, *,
               breakdown: bool = False) -> pl.LazyFrame:
    """``with_cost`` with the price table built for exactly the rows of ``lf`` (collects their
    distinct price keys once: a small query)."""
    return with_cost(lf, price_table_for(lf, overrides), breakdown=breakdown)


def price_table_for(lf: pl.LazyFrame, overrides: PriceOverrides | None = None) -> pl.DataFrame:
    """``build_price_table`` for exactly the price keys of ``lf``'s rows: their distinct (provider, model,
    UTC day), and the minute of day only for the few models priced by time of day (two small queries;
    keying every model by minute would make millions of keys out of a year of rows)."""
    keyed = price_keys(lf)

    def minutes_of(pairs: pl.DataFrame) -> pl.DataFrame:
        return keyed.join(pairs.lazy(), on=["provider", "model"], how="semi", nulls_equal=True) \
            .select(PRICE_KEY).unique().collect()

    days = keyed.select("provider", "model", "_price_day").unique().collect()
    return price_table_from_days(days, minutes_of, overrides)[0]


def price_table_from_days(days: pl.DataFrame, minutes_of: Callable[[pl.DataFrame], pl.DataFrame],
                          overrides: PriceOverrides | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``build_price_table`` from the distinct (provider, model, ``_price_day``) of some rows; for the
    (provider, model) pairs priced by time of day, ``minutes_of(pairs)`` gives those rows' distinct
    ``PRICE_KEY`` values with their minute. Returns the table and those pairs. Whatever engine holds the
    rows (polars here, Spark in ``spark_engine``) answers the two small queries."""
    pairs = days.select("provider", "model").unique()
    by_minute = pairs.filter(pl.Series([bool(m) and is_priced_by_minute(p, m, overrides) for p, m in pairs.iter_rows()],
                                       dtype=pl.Boolean))
    keys = days.join(by_minute, on=["provider", "model"], how="anti", nulls_equal=True) \
        .with_columns(_price_minute=pl.lit(None, dtype=pl.Int32))
    if by_minute.height:
        keys = pl.concat([keys, minutes_of(by_minute).select(keys.columns).cast(keys.schema)])
    return build_price_table(keys, overrides), by_minute
