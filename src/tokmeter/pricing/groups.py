"""Pricing groups of rows instead of every row: how reports and rollups are computed.

Cost is linear within one price and one context tier (see ``pricing``). So the rows are grouped by the
columns a result needs plus their price key (provider, model, UTC day, and the minute of day for the few
models priced by time of day) and tier, summing the token counts and the priced token leaves; each group
is then priced once, with the same exact coefficients as a single row. A year of 100M rows becomes a few
hundred thousand groups before any decimal arithmetic runs.

The groups carry *weights* beside their sums (``_n`` rows, ``_n_failed``, ``_n_estimated``,
``_estimated_tokens``, the rows whose subset counts are unknown (``_unknown_<column>``), first and last
timestamp); ``weighted`` gives single rows the same columns, so
``rollup.group_usage`` and ``rollup_tables.rollup_frame`` add up rows and groups alike, and the results
are equal to pricing each row (``tests/test_rollup.py`` compares both ways).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import polars as pl

from ..schema import SUBSET_TOKENS, TOKEN_COLUMNS
from .costs import PRICE_HELPERS, PRICE_KEY, cost_columns, join_prices
from .memo import PriceMemo
from .modifiers import UNKNOWN
from .overrides import PriceOverrides
from .resolve import _capped_columns
from .table import _longest

UNKNOWN_WEIGHTS = tuple(f"_unknown_{c}" for c in SUBSET_TOKENS)  # rows whose count is null (unknown)
WEIGHTS = (
    "_n",
    "_n_failed",
    "_n_estimated",
    "_estimated_tokens",
    *UNKNOWN_WEIGHTS,
    "_first_seen",
    "_last_seen",
    "_n_modifier_unknown",
)
_LEAVES = ("_p_cache_read", "_p_cache_write", "_p_cache_write_1h", "_p_cache_write_5m", "_p_reasoning")


def _failed() -> pl.Expr:
    return pl.col("status").is_not_null() & ~pl.col("status").is_between(200, 299)


def _estimated() -> pl.Expr:
    return pl.col("usage_source") == "estimated"


def weighted(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Single (priced) rows with the weight columns of a group of one (``_n_modifier_unknown``: 1 when its
    ``priced_as`` says a modifier's rate was unknown)."""
    names = lf.collect_schema().names()
    if "_n" in names:
        return lf
    unknown = (
        pl.col("priced_as").str.contains(UNKNOWN, literal=True).fill_null(False)
        if "priced_as" in names
        else pl.lit(False)
    )
    return lf.with_columns(
        _n_modifier_unknown=unknown.cast(pl.Int64),
        _n=pl.lit(1, dtype=pl.Int64),
        _n_failed=_failed().cast(pl.Int64),
        _n_estimated=_estimated().cast(pl.Int64),
        _estimated_tokens=pl.when(_estimated())
        .then(pl.col("input_tokens") + pl.col("output_tokens"))
        .otherwise(0),
        **{f"_unknown_{c}": pl.col(c).is_null().cast(pl.Int64) for c in SUBSET_TOKENS},
        _first_seen=pl.col("timestamp"),
        _last_seen=pl.col("timestamp"),
    )


def priced_groups(
    lf: pl.LazyFrame,
    by: Sequence[str],
    overrides: PriceOverrides | None = None,
    *,
    breakdown: bool = False,
    memo: PriceMemo | None = None,
) -> pl.LazyFrame:
    """Usage rows -> one priced row per (``by`` columns, provider, model, price, tier): the weights, the
    sums of every token column, ``cost_usd`` (null when unpriced) and, with ``breakdown``, the cost by
    token kind. ``by`` names columns of ``lf`` (add time periods first).

    One pass groups the rows by ``by``, provider, model and a bucket of the input count between the tier
    thresholds that exist. A model whose price is the same over all its rows' dates is priced from that;
    the rows of the few models whose price changes in that span, or with the time of day, are grouped
    again with their UTC day (and minute) in a second, filtered pass. No join runs over the rows.

    Prices come through the price memo (``price_memo``): ``memo`` to share one between calls (the caller
    saves it), else this call loads the memo and saves what it learned."""
    own_memo = memo is None
    memo = PriceMemo.load(overrides) if memo is None else memo
    cuts = memo.tier_cuts()
    groups = _grouped(lf, by, cuts, minute_models=None).collect()
    minute_pairs, special = _special_models(groups, overrides, memo)
    if special:
        again = _grouped(
            lf.filter(pl.col("model").is_in(special)),
            by,
            cuts,
            minute_models=sorted({m for _p, m in minute_pairs}),
        )
        groups = pl.concat(
            [groups.filter(~pl.col("model").is_in(special).fill_null(False)), again.collect()], how="diagonal"
        )
        groups = _minute_only_for(groups, minute_pairs)
    table = memo.price_table(groups.select(PRICE_KEY).unique(), overrides)
    if own_memo:
        memo.save()
    thresholds = set().union(*map(set, table["_thresholds"].to_list())) if table.height else set()
    if not thresholds <= set(cuts):
        raise ArithmeticError(f"tier thresholds {sorted(thresholds - set(cuts))} are not among {cuts}")
    priced = join_prices(_tiered(groups.lazy(), table, cuts), table)
    unknown = pl.when(pl.col("_modifier_unknown")).then(pl.col("_n")).otherwise(0)
    priced = priced.with_columns(**cost_columns(breakdown, n=pl.col("_n")), _n_modifier_unknown=unknown)
    return priced.drop([c for c in (*PRICE_HELPERS, "_bucket") if c not in by])


def _grouped(
    lf: pl.LazyFrame, by: Sequence[str], cuts: tuple[int, ...], *, minute_models: list[str] | None
) -> pl.LazyFrame:
    """The rows grouped by ``by``, provider, model and input bucket; with ``minute_models`` (the second
    pass) also by UTC day and, for those models, minute of day. Without, ``_price_day`` is the day of the
    group's first row (the price is the same on all its days)."""
    utc = pl.col("timestamp").dt.convert_time_zone("UTC")
    keyed = lf.with_columns(
        _bucket=pl.sum_horizontal([(pl.col("input_tokens") > cut).cast(pl.Int32) for cut in cuts])
        if cuts
        else pl.lit(0, dtype=pl.Int32),
    ).pipe(_capped_columns)
    extra: list[str] = []
    if minute_models is not None:
        minute = utc.dt.hour().cast(pl.Int32) * 60 + utc.dt.minute().cast(pl.Int32)
        keyed = keyed.with_columns(
            _price_day=utc.dt.date(),
            _price_minute=pl.when(pl.col("model").is_in(minute_models)).then(minute)
            if minute_models
            else pl.lit(None, dtype=pl.Int32),
        )
        extra = ["_price_day", "_price_minute"]
    keys = list(dict.fromkeys([*by, "provider", "model", "service_tier", "speed", *extra, "_bucket"]))
    grouped = (
        weighted(keyed)
        .group_by(keys)
        .agg(  # plain sums of row-level columns: the fast path
            *(
                pl.col(c).sum()
                for c in ("_n", "_n_failed", "_n_estimated", "_estimated_tokens", *TOKEN_COLUMNS, *_LEAVES)
            ),
            # the unknown weights as null counts: summing row-level 0/1 columns made a group-by 77% slower
            *(pl.col(c).null_count().cast(pl.Int64).alias(f"_unknown_{c}") for c in SUBSET_TOKENS),
            pl.col("_first_seen").min(),
            pl.col("_last_seen").max(),
        )
    )
    if minute_models is None:
        grouped = grouped.with_columns(
            _price_day=pl.col("_first_seen").dt.convert_time_zone("UTC").dt.date(),
            _price_minute=pl.lit(None, dtype=pl.Int32),
        )
    return grouped


def _special_models(
    groups: pl.DataFrame, overrides: PriceOverrides | None, memo: PriceMemo
) -> tuple[set[tuple], list[str]]:
    """(the (provider, model) pairs priced by time of day, the model names whose rows need a day or
    minute key: priced by time of day, or with a price that changes between their first and last day)."""
    spans = groups.group_by("provider", "model").agg(pl.col("_first_seen").min(), pl.col("_last_seen").max())
    minute_pairs: set[tuple] = set()
    special: set[str] = set()
    for provider, model, first, last in spans.iter_rows():
        if not model:
            continue
        if memo.by_minute(provider, model, overrides):
            minute_pairs.add((provider, model))
            special.add(model)
        elif not memo.same_price(
            provider, model, first.astimezone(UTC).date(), last.astimezone(UTC).date(), overrides
        ):
            special.add(model)
    return minute_pairs, sorted(special)


def _minute_only_for(groups: pl.DataFrame, minute_pairs: set[tuple]) -> pl.DataFrame:
    """Null the minute of groups whose (provider, model) is not priced by time of day (a model name can
    be, under one provider, and not under another)."""
    flags = pl.DataFrame(
        [(p, m, True) for p, m in minute_pairs],
        orient="row",
        schema={"provider": pl.String, "model": pl.String, "_by_minute": pl.Boolean},
    )
    return (
        groups.join(flags, on=["provider", "model"], how="left", nulls_equal=True, maintain_order="left")
        .with_columns(_price_minute=pl.when(pl.col("_by_minute")).then(pl.col("_price_minute")))
        .drop("_by_minute")
    )


def _tiered(groups: pl.LazyFrame, table: pl.DataFrame, cuts: tuple[int, ...]) -> pl.LazyFrame:
    """Groups with their tier: how many of their price's thresholds lie below their input bucket."""
    bucket_cut = pl.DataFrame(
        {"_bucket": range(len(cuts) + 1), "_cut": [-1, *cuts]}, schema={"_bucket": pl.Int32, "_cut": pl.Int64}
    )
    thresholds = table.select(*PRICE_KEY, "_thresholds").unique(subset=PRICE_KEY)
    depth = _longest(thresholds["_thresholds"])
    tier = (
        pl.sum_horizontal(
            [
                (pl.col("_thresholds").list.get(i, null_on_oob=True) <= pl.col("_cut"))
                .fill_null(False)
                .cast(pl.Int32)
                for i in range(depth)
            ]
        )
        if depth
        else pl.lit(0)
    )
    return (
        groups.join(bucket_cut.lazy(), on="_bucket", how="left")
        .join(thresholds.lazy(), on=PRICE_KEY, how="left", nulls_equal=True)
        .with_columns(_tier=tier.cast(pl.Int32))
        .drop("_cut", "_thresholds")
    )
