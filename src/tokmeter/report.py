"""Queries over the store that the ``report`` and ``rows`` commands show: collect happens here, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from .errors import UsageError
from .pricing import price_rows
from .rollup import DIMENSIONS, filter_rows, group_usage, unpriced_models
from .store import Store


@dataclass(slots=True)
class Filters:
    since: date | None = None
    until: date | None = None
    models: Sequence[str] = ()
    users: Sequence[str] = ()
    providers: Sequence[str] = ()

    def check(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise UsageError(f"--since {self.since} is after --until {self.until}",
                             hint="both dates are inclusive; swap them")

    def apply(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        return filter_rows(lf, since=self.since, until=self.until, models=self.models, users=self.users,
                           providers=self.providers)


@dataclass(slots=True)
class Report:
    dims: list[str]
    rows: pl.DataFrame
    totals: pl.DataFrame
    unpriced: pl.DataFrame
    filters: Filters = field(default_factory=Filters)


def check_dims(dims: Sequence[str]) -> list[str]:
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise UsageError(f"unknown --by value {unknown[0]!r}", hint=f"use any of: {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys(dims))


def build_report(store: Store, dims: Sequence[str], filters: Filters) -> Report:
    dims = check_dims(dims)
    filters.check()
    with store.reading():
        lf = price_rows(filters.apply(store.scan()))
        rows, totals, unpriced = pl.collect_all([group_usage(lf, dims), group_usage(lf, []), unpriced_models(lf)])
    return Report(dims, rows, totals, unpriced, filters)


def select_rows(store: Store, filters: Filters) -> pl.DataFrame:
    """The stored rows themselves (one per request), priced, oldest first."""
    filters.check()
    with store.reading():
        return price_rows(filters.apply(store.scan())).sort("timestamp", "request_id").drop("date").collect()
