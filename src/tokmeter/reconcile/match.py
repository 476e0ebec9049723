"""Both sides of a reconciliation as frames with one row per group, and the two joined: per UTC day,
provider and model (``models.match_key``), and optionally a column both sides carry (``BY``).

The bill side sums its lines (a usage export gives tokens and requests, a cost export costs, by token kind
when it says); a sum of unknowns stays unknown (null), never 0. The metered side is the store's rows of
the bill's providers and days, priced as reports price them (``priced_groups``, with the cost by kind)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from ..pricing.costs import COST_DTYPE
from ..pricing.groups import priced_groups
from ..pricing.overrides import PriceOverrides
from ..report.queries import Filters
from ..rollup.transforms import group_usage, with_periods
from ..store.protocol import StoreBackend
from .models import match_key, model_name
from .registry import KINDS, BillLine

TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
KIND_COSTS = tuple(f"cost_{kind}_usd" for kind in KINDS)  # cost_input_usd: uncached input (and fees)
MEASURES = ("requests", *TOKENS, "cost_usd", *KIND_COSTS)
_BILL_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "provider": pl.String(),
    "model": pl.String(),
    "service_tier": pl.String(),
    "api_key": pl.String(),
    "project": pl.String(),
    "requests": pl.Int64(),
    **{column: pl.Int64() for column in TOKENS},
    "cost_usd": COST_DTYPE,
    "cost_kind": pl.String(),
}


def _known_sum(column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum()).alias(column)


def keyed(frame: pl.DataFrame, overrides: PriceOverrides | None) -> pl.DataFrame:
    """``frame`` with ``key`` and ``model_name`` for its (provider, model) pairs."""
    pairs = frame.select("provider", "model").unique()
    names = pl.DataFrame(
        [(p, m, match_key(p, m, overrides), model_name(p, m, overrides)) for p, m in pairs.iter_rows()],
        schema={"provider": pl.String, "model": pl.String, "key": pl.String, "model_name": pl.String},
        orient="row",
    )
    return frame.join(names, on=["provider", "model"], how="left", nulls_equal=True)


def bill_groups(
    lines: Sequence[BillLine], by: Sequence[str], overrides: PriceOverrides | None
) -> pl.DataFrame:
    frame = pl.DataFrame(
        [{name: line.get(name) for name in _BILL_SCHEMA} for line in lines], schema=_BILL_SCHEMA
    )
    frame = keyed(_tiers(frame, by), overrides).with_columns(
        day=pl.col("day").dt.strftime("%Y-%m-%d"),
        **{f"cost_{k}_usd": pl.when(pl.col("cost_kind") == k).then(pl.col("cost_usd")) for k in KINDS},
    )
    return frame.group_by("day", "provider", "key", *by).agg(
        pl.col("model_name").drop_nulls().sort().first().alias("billed_model"),
        *(_known_sum(c) for c in MEASURES),
    )


def _tiers(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Matching by tier: a side that does not say is standard (as pricing takes it)."""
    return frame.with_columns(pl.col("service_tier").fill_null("standard")) if "service_tier" in by else frame


def scope(days: Sequence[date], providers: Sequence[str]) -> Filters:
    return Filters(since=min(days), until=max(days), providers=tuple(providers))


def metered_groups(
    store: StoreBackend,
    filters: Filters,
    by: Sequence[str],
    overrides: PriceOverrides | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the metered groups, the rows per provider and UTC day): call under ``store.reading()``."""
    lf = filters.rows(store, by)  # only the date partitions of the bill's days
    dims = list(dict.fromkeys(["day", "provider", "model", "service_tier", *by]))
    groups = priced_groups(with_periods(lf, ["day"]), ["day", *by], overrides, breakdown=True)
    rows = group_usage(groups, dims, breakdown=True).collect().with_columns(pl.col("requests").cast(pl.Int64))
    per_day = rows.group_by("provider", "day").agg(pl.col("requests").sum().alias("rows"))
    measures = [*MEASURES, "estimated_requests", "unpriced_requests"]
    return (
        keyed(_tiers(rows, by), overrides)
        .group_by("day", "provider", "key", *by)
        .agg(
            pl.col("model_name").drop_nulls().sort().first().alias("metered_model"),
            _tiers_seen(by),
            *(pl.col(c).sum() for c in measures if c != "cost_usd"),
            _known_sum("cost_usd"),
            # the modifier's share (flex, batch, priority) of the metered cost, spread over the kinds
            pl.col("cost_modifier_usd").sum(),
        ),
        per_day.select("provider", "day", "rows"),
    )


def _tiers_seen(by: Sequence[str]) -> pl.Expr:
    """The service tiers a group's rows were served at (for its name: ``gpt-5 (flex)``), unless a key."""
    seen = pl.col("service_tier").drop_nulls().unique().sort().str.join(", ")
    return (pl.lit(None, pl.String) if "service_tier" in by else seen).alias("metered_tiers")


def joined(billed: pl.DataFrame, metered: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """One row per group of either side: ``billed_*`` and ``metered_*`` measures side by side."""
    keys = ["day", "provider", "key", *by]
    left = billed.rename({c: f"billed_{c}" for c in MEASURES}).with_columns(on_bill=pl.lit(True))
    right = metered.rename({c: f"metered_{c}" for c in MEASURES}).with_columns(in_store=pl.lit(True))
    both = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
    return both.with_columns(
        model=pl.coalesce("metered_model", "billed_model", "key"),
        on_bill=pl.col("on_bill").fill_null(False),
        in_store=pl.col("in_store").fill_null(False),
    ).sort(keys, nulls_last=True)
