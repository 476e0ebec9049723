"""Queries over the store that the ``report``, ``rows`` and ``prices check`` commands show: collect
happens here, once. Costs are computed here, at read time, from the stored tokens and the price data
in use (genai-prices and an optional price file), so a corrected price file reprices history; every
result records that price data (``pricing.price_data``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from ..attribution import Attribution, attributed, tag_names
from ..errors import UsageError
from ..extract.attribution import as_fingerprint
from ..pricing.groups import priced_groups
from ..pricing.overrides import PriceOverrides
from ..pricing.resolve import price_data
from ..pricing.table import price_rows
from ..pricing.unpriced import with_reasons, with_row_reasons
from ..rollup import DIMENSIONS, TAG_DIMENSION, TIME_DIMENSIONS, is_dimension
from ..rollup.tables import find_tables, table_answers, table_report
from ..rollup.transforms import (
    SESSION_EXTRAS,
    filter_rows,
    group_usage,
    measures,
    selection,
    session_extras,
    unpriced_models,
    with_periods,
)
from ..store.protocol import StoreBackend
from ..store.scan import DayRange


@dataclass(slots=True)
class Filters:
    since: date | None = None
    until: date | None = None
    models: Sequence[str] = ()
    users: Sequence[str] = ()
    providers: Sequence[str] = ()
    tz: str = "UTC"
    week_start: str = "monday"  # the first day of a --by week week (not a filter: it travels with tz)
    teams: Sequence[str] = ()
    projects: Sequence[str] = ()
    api_keys: Sequence[str] = ()
    sessions: Sequence[str] = ()
    tags: Sequence[tuple[str, str]] = ()  # (name, value): --tag name=value
    attribution: Attribution | None = None  # the rules owners are read with (applied before filtering)

    def __post_init__(self) -> None:
        # --api-key takes a fingerprint; a key given instead is fingerprinted here, so it selects its rows
        # and is never shown again (in a message, the HTML report's filters, ...)
        self.api_keys = tuple(as_fingerprint(v) for v in self.api_keys)

    def selected(self) -> dict[str, Sequence[str]]:
        """The columns filtered on (``tag:NAME`` for a tag) and the values each may take."""
        chosen: dict[str, list[str]] = {}
        for column, values in self._owner_values():
            if values:
                chosen[column] = list(values)
        for name, value in self.tags:
            chosen.setdefault(f"tag:{name}", []).append(value)
        return dict(chosen)

    def _owner_values(self) -> tuple[tuple[str, Sequence[str]], ...]:
        return (
            ("model", self.models),
            ("user", self.users),
            ("provider", self.providers),
            ("team", self.teams),
            ("project", self.projects),
            ("api_key", self.api_keys),
            ("session", self.sessions),
        )

    def check(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise UsageError(
                f"--since {self.since} is after --until {self.until}",
                hint="both dates are inclusive; swap them",
            )

    def active(self) -> bool:
        return bool(self.since or self.until or self.selected())

    def describe(self) -> str:
        """The filters as the options that set them, e.g. ``--since 2026-11-01 --user alice``."""
        parts = [f"--since {self.since}"] if self.since else []
        parts += [f"--until {self.until}"] if self.until else []
        for column, values in self._owner_values():
            parts += [f"--{column.replace('_', '-')} {value}" for value in values]
        parts += [f"--tag {name}={value}" for name, value in self.tags]
        zone = [f"--tz {self.tz}"] if self.tz != "UTC" and (self.since or self.until) else []
        return " ".join(parts + zone)

    def utc_days(self) -> DayRange | None:
        """The UTC dates (the store's partitions) that can hold rows within ``since``/``until`` in ``tz``
        (a day wider on each side for other zones), or None when the filters do not bound the dates: what
        a store reads (``StoreBackend.scan(days=...)``)."""
        if self.since is None and self.until is None:
            return None
        margin = timedelta(days=0 if self.tz == "UTC" else 1)
        return (
            self.since - margin if self.since else None,
            self.until + margin if self.until else None,
        )

    def rows(self, store: StoreBackend, dims: Sequence[str] = ()) -> pl.LazyFrame:
        """The store's rows within the filters (``apply``), reading only the date partitions they can be in."""
        return self.apply(store.scan(days=self.utc_days()), dims)

    def apply(self, lf: pl.LazyFrame, dims: Sequence[str] = ()) -> pl.LazyFrame:
        """Stored rows, attributed (the rules, and a ``tag:NAME`` column per tag in ``dims`` or the
        filters), then filtered."""
        selected = self.selected()
        lf = filter_rows(
            attributed(lf, self.attribution, tag_names([*dims, *selected])),
            since=self.since,
            until=self.until,
            tz=self.tz,
        )
        for column, values in selected.items():
            lf = lf.filter(selection(column, values))
        return lf


@dataclass(slots=True)
class Report:
    dims: list[str]
    rows: pl.DataFrame
    totals: pl.DataFrame
    unpriced: pl.DataFrame
    filters: Filters = field(default_factory=Filters)
    measures: tuple[str, ...] = measures()
    price_data: dict[str, str | None] = field(default_factory=price_data)
    source: str = "rows"  # or "rollups": where the figures were read from
    extras: tuple[str, ...] = ()  # columns beside the dimensions (``SESSION_EXTRAS`` with --by session)


def check_dims(dims: Sequence[str]) -> list[str]:
    """The dimensions asked for, once each, tag names lower-cased (``tag:Env`` is ``tag:env``)."""
    dims = [f"tag:{d[4:].strip().lower()}" if d.startswith("tag:") else d for d in dims]
    unknown = [d for d in dims if not is_dimension(d)]
    if unknown:
        raise UsageError(
            f"unknown --by value {unknown[0]!r}", hint=f"use any of: {', '.join(DIMENSIONS)}, {TAG_DIMENSION}"
        )
    return list(dict.fromkeys(dims))


SORTS = ("period", "cost", "requests", "tokens", "name")


def check_sort(dims: Sequence[str], sort: str | None) -> str:
    """The order of a report's rows: ``sort``, else by period when a time dimension is asked for, else by
    cost."""
    periods = [d for d in dims if d in TIME_DIMENSIONS]
    key = sort or ("period" if periods else "cost")
    if key not in SORTS:
        raise UsageError(f"unknown --sort value {key!r}", hint=f"use any of: {', '.join(SORTS)}")
    if key == "period" and not periods:
        raise UsageError(
            "--sort period needs a time dimension",
            hint="add --by day, --by week or --by month, or sort by cost, requests, tokens or name",
        )
    return key


def sort_rows(rows: pl.DataFrame, dims: Sequence[str], sort: str) -> pl.DataFrame:
    """``period``: oldest first, then by cost within a period; ``cost``, ``requests``, ``tokens`` (input +
    output): largest first; ``name``: by the dimensions in order. Ties go by the dimensions in order."""
    if not dims:
        return rows
    periods = [d for d in dims if d in TIME_DIMENSIONS]
    tokens = (pl.col("input_tokens") + pl.col("output_tokens")).alias("_tokens")
    first: dict[str, list[pl.Expr]] = {
        "period": [pl.col(p) for p in periods],
        "name": [],
        "cost": [pl.col("cost_usd")],
        "requests": [pl.col("requests")],
        "tokens": [tokens],
    }
    keys = first[sort] + ([pl.col("cost_usd"), pl.col("requests")] if sort in ("period", "tokens") else [])
    keys += [pl.col("cost_usd")] if sort == "requests" else []
    descending = [sort != "period" or i >= len(periods) for i in range(len(keys))]
    return rows.sort(
        [*keys, *map(pl.col, dims)],
        descending=[*descending, *[False] * len(dims)],
        nulls_last=True,
        maintain_order=True,
    )


def build_report(
    store: StoreBackend,
    dims: Sequence[str],
    filters: Filters,
    overrides: PriceOverrides | None = None,
    *,
    breakdown: bool = False,
    use_rollups: bool = True,
    sort: str | None = None,
) -> Report:
    """Tokens and cost per group of ``dims``, the totals, and the unpriced models with their volume and
    the reason they are unpriced (``unpriced.reason``), the groups in the order of ``sort`` (``check_sort``). Answered from an up-to-date rollup table when one
    can answer it (same results, see ``report_from_rollups``), else from the rows."""
    dims = check_dims(dims)
    order = check_sort(dims, sort)
    filters.check()
    with store.reading():
        from_rollups = (
            report_from_rollups(store, dims, filters, overrides) if use_rollups and not breakdown else None
        )
        if from_rollups is not None:
            rows, totals, unpriced = from_rollups
        else:
            rows, totals, unpriced = report_from_rows(
                filters.rows(store, dims), dims, filters.tz, overrides, breakdown, filters.week_start
            )
    return Report(
        dims,
        sort_rows(rows, dims, order),
        totals,
        with_reasons(unpriced, overrides),
        filters,
        measures(breakdown),
        price_data(overrides),
        source="rollups" if from_rollups is not None else "rows",
        extras=SESSION_EXTRAS if "session" in dims else (),
    )


def report_from_rows(
    lf: pl.LazyFrame,
    dims: Sequence[str],
    tz: str,
    overrides: PriceOverrides | None,
    breakdown: bool,
    week_start: str = "monday",
) -> tuple[pl.DataFrame, ...]:
    """(rows, totals, unpriced models) from usage rows: grouped by ``dims`` and price key first, each
    group priced once (``priced_groups``), then added up; equal to pricing each row."""
    periods = with_periods(lf, dims, tz, week_start)
    groups = priced_groups(periods, dims, overrides, breakdown=breakdown).collect()
    rows = group_usage(groups.lazy(), dims, breakdown=breakdown)
    if "session" in dims:  # when and with what each session ran
        rows = rows.join(session_extras(groups.lazy(), dims), on=list(dims), how="left", nulls_equal=True)
    return tuple(
        pl.collect_all(
            [
                rows,
                group_usage(groups.lazy(), [], breakdown=breakdown),
                unpriced_models(groups.lazy()),
            ]
        )
    )


def report_from_rollups(
    store: StoreBackend, dims: Sequence[str], filters: Filters, overrides: PriceOverrides | None
) -> tuple[pl.DataFrame, ...] | None:
    """The report from a fresh rollup table that covers the dimensions, filters and time zone asked for,
    or None. Call under ``store.reading()``."""
    for table in find_tables(store, attribution=filters.attribution):
        if (
            table.spec.tz == filters.tz
            and table_answers(table.spec, dims, filters)
            and table.is_fresh(overrides)
        ):
            rows = table.scan()
            return table_report(rows, dims, filters) if rows is not None else None
    return None


def select_rows(
    store: StoreBackend, filters: Filters, overrides: PriceOverrides | None = None
) -> pl.DataFrame:
    """The stored rows themselves (one per request), priced, oldest first; ``unpriced_reason`` says why a
    row has no cost."""
    filters.check()
    with store.reading():
        lf = price_rows(filters.rows(store).select(pl.exclude("^tag:.*$")), overrides)
        return with_row_reasons(lf.sort("timestamp", "request_id").drop("date").collect(), overrides)


def check_unpriced(
    store: StoreBackend, filters: Filters, overrides: PriceOverrides | None = None
) -> pl.DataFrame:
    """Every model in the store (within ``filters``) that has no price, with its volume, the first and
    last time it was seen and the reason; empty when everything is priced."""
    filters.check()
    with store.reading():
        groups = priced_groups(filters.rows(store), [], overrides)
        return with_reasons(unpriced_models(groups, seen=True).collect(), overrides)
