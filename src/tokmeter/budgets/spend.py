"""A budget's spend per local day: from a fresh day rollup table that has the budget's dimensions (fast:
a few small files per day), else from the stored rows, priced per group. Both give the same figures.

``where`` filters: a dimension column is one of the values; ``tag:NAME`` looks NAME up in the ``tags``
column (a struct with a field per tag, or a key/value map as Parquet stores one: a list of key/value
structs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from ..attribution import Attribution, attributed, tag_names
from ..errors import ConfigError
from ..pricing.groups import priced_groups
from ..pricing.memo import PriceMemo
from ..pricing.overrides import PriceOverrides
from ..rollup.tables import RollupTable, find_tables
from ..rollup.transforms import filter_rows, group_usage, selection, with_periods
from ..store.protocol import StoreBackend
from .definitions import TAG_PREFIX

Where = Mapping[str, tuple[str, ...]]
DAILY_SCHEMA = {"day": pl.Date, "cost_usd": pl.Float64, "unpriced_requests": pl.Int64}


@dataclass(frozen=True, slots=True)
class DailySpend:
    """Spend per local day in [since, until] (days without spend are absent), and where it was read."""

    days: pl.DataFrame  # day (Date), cost_usd (Float64, priced rows only), unpriced_requests
    source: str  # "rollups" or "rows"


def tag_filter(name: str, values: tuple[str, ...], dtype: pl.DataType) -> pl.Expr:
    """Rows whose tag ``name`` is one of ``values``, for the two shapes a ``tags`` column can have."""
    if isinstance(dtype, pl.Struct):
        if name not in {f.name for f in dtype.fields}:
            return pl.lit(False)
        return pl.col("tags").struct.field(name).is_in(list(values)).fill_null(False)
    element = pl.element().struct
    return (
        pl.col("tags")
        .list.eval((element.field("key") == name) & element.field("value").is_in(list(values)))
        .list.any()
        .fill_null(False)
    )


def where_filter(lf: pl.LazyFrame, where: Where, budget: str) -> pl.LazyFrame:
    """``lf`` restricted to the rows (or rollup rows) ``where`` selects."""
    schema = lf.collect_schema()
    for key, values in where.items():
        # a rollup table by tag:NAME has the tag as a column of its own; stored rows keep it in tags
        column = "tags" if key.startswith(TAG_PREFIX) and key not in schema else key
        if column not in schema:
            raise ConfigError(
                f"budget {budget!r}: where.{key}: the store has no {column} column",
                hint="store rows that carry it, or remove the key from the budget",
            )
        if column == "tags":
            lf = lf.filter(tag_filter(key.removeprefix(TAG_PREFIX), values, schema["tags"]))
        else:
            lf = lf.filter(selection(column, values))  # an api_key by its fingerprint's digest
    return lf


class SpendReader:
    """Reads the budgets' daily spend for one evaluation over ``span`` (the union of every budget's days):
    the fresh day tables in ``tz`` are found once, and each table's rows of the span are read once and
    shared by every budget it answers. Use under ``store.reading()``."""

    def __init__(
        self,
        store: StoreBackend,
        tz: str,
        span: tuple[date, date],
        overrides: PriceOverrides | None = None,
        memo: PriceMemo | None = None,
        attribution: Attribution | None = None,
    ) -> None:
        self.store, self.tz, self.span, self.overrides, self.memo = store, tz, span, overrides, memo
        self.attribution = attribution  # owners as its rules say, as report reads them
        self.tables = [
            t
            for t in find_tables(store, attribution=attribution)
            if t.spec.period == "day" and t.spec.tz == tz and t.is_fresh(overrides)
        ]
        self._rows: dict[str, pl.DataFrame] = {}

    def table_for(self, where: Where) -> RollupTable | None:
        """A fresh day table that has every ``where`` key as a dimension, or None."""
        return next((t for t in self.tables if set(where) <= set(t.spec.dims)), None)

    def _table_rows(self, table: RollupTable) -> pl.DataFrame:
        key = str(table.dir)
        if key not in self._rows:
            scan = table.scan()
            self._rows[key] = (
                pl.DataFrame()
                if scan is None
                else scan.filter(pl.col("period").is_between(*self.span))
                .select("period", *table.spec.dims, "cost_usd", "unpriced_requests")
                .collect()
            )
        return self._rows[key]

    def daily(self, where: Where, span: tuple[date, date], budget: str = "") -> DailySpend:
        """The spend per local day of ``span`` (inclusive, within the reader's) of the rows ``where`` selects."""
        since, until = span
        table = self.table_for(where)
        if table is not None:
            rows = self._table_rows(table)
            if rows.is_empty():
                return DailySpend(pl.DataFrame(schema=DAILY_SCHEMA), "rollups")
            lf = where_filter(rows.lazy().filter(pl.col("period").is_between(since, until)), where, budget)
            days = lf.group_by(pl.col("period").alias("day")).agg(
                pl.col("cost_usd").sum(), pl.col("unpriced_requests").sum()
            )
            return DailySpend(_shaped(days), "rollups")
        margin = timedelta(days=0 if self.tz == "UTC" else 1)  # the UTC partitions local days can reach
        stored = self.store.scan(days=(since - margin, until + margin))  # a remote store fetches these only
        scan = filter_rows(
            attributed(stored, self.attribution, tag_names(where)),
            since=since,
            until=until,
            tz=self.tz,
        )
        groups = priced_groups(
            with_periods(where_filter(scan, where, budget), ["day"], self.tz),
            ["day"],
            self.overrides,
            memo=self.memo,
        )
        days = group_usage(groups, ["day"]).select(
            pl.col("day").str.to_date(), "cost_usd", "unpriced_requests"
        )
        return DailySpend(_shaped(days), "rows")


def _shaped(days: pl.LazyFrame) -> pl.DataFrame:
    return (
        days.select(
            pl.col("day").cast(pl.Date),
            pl.col("cost_usd").cast(pl.Float64).fill_null(0.0),
            pl.col("unpriced_requests").cast(pl.Int64).fill_null(0),
        )
        .sort("day")
        .collect()
    )
