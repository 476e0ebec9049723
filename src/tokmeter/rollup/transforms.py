"""Rollups: pure LazyFrame transforms from priced usage rows, or priced groups of rows
(``priced_groups``: the fast path), to per-group token and cost totals.

A group whose rows are all unpriced has a null cost (never $0); ``unpriced_requests`` counts the
unpriced rows of every group, and ``modifier_unknown_requests`` the rows whose service tier or fast
mode has no known rate (``price_modifiers``: priced at standard rates). Costs are summed as exact
decimals, so a total equals the sum of its rows and, with the cost breakdown, ``cost_usd`` equals the
sum of the per-kind costs. Token sums add the known values (a null count adds 0), and
``unknown_<column>`` counts the rows whose count was unknown (null), for each column that can be.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from ..extract.attribution import key_digest
from ..pricing.groups import weighted
from ..schema import SUBSET_TOKENS
from . import WEEK_STARTS

REPORT_TOKENS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
MEASURES = (
    "requests",
    *REPORT_TOKENS,
    "cost_usd",
    "unpriced_requests",
    "modifier_unknown_requests",
    "estimated_requests",
)
BREAKDOWN = (
    "cost_input_usd",
    "cost_cache_read_usd",
    "cost_cache_write_usd",
    "cost_output_usd",
    "cost_modifier_usd",
)
# measures shown in tables only when some group has them (they flag a problem)
WHEN_NONZERO = ("unpriced_requests", "modifier_unknown_requests")
UNKNOWN_COUNTS = tuple(f"unknown_{c}" for c in SUBSET_TOKENS)  # rows lacking the count, beside the measures


def unknown_counts() -> list[pl.Expr]:
    """``UNKNOWN_COUNTS`` from weighted rows or priced groups (``priced_groups.weighted``)."""
    return [pl.col(f"_{name}").sum().cast(pl.Int64).alias(name) for name in UNKNOWN_COUNTS]


def measures(breakdown: bool = False) -> tuple[str, ...]:
    """The measure columns of a rollup, in order (the cost breakdown right after ``cost_usd``)."""
    if not breakdown:
        return MEASURES
    return ("requests", *REPORT_TOKENS, "cost_usd", *BREAKDOWN, *MEASURES[len(REPORT_TOKENS) + 2 :])


def filter_rows(
    lf: pl.LazyFrame,
    *,
    since: date | None = None,
    until: date | None = None,
    models: Sequence[str] = (),
    users: Sequence[str] = (),
    providers: Sequence[str] = (),
    tz: str = "UTC",
) -> pl.LazyFrame:
    """Rows whose date in ``tz`` is within [since, until] (inclusive) and that match the given values.
    The UTC ``date`` partition column is filtered first (a day wider for other zones), so only the
    partitions that can hold such rows are read."""
    margin = timedelta(days=0 if tz == "UTC" else 1)
    local_date = pl.col("timestamp").dt.convert_time_zone(tz).dt.date()
    if since is not None:
        lf = lf.filter(pl.col("date") >= since - margin)
        lf = lf.filter(local_date >= since) if margin else lf
    if until is not None:
        lf = lf.filter(pl.col("date") <= until + margin)
        lf = lf.filter(local_date <= until) if margin else lf
    for column, values in (("model", models), ("user", users), ("provider", providers)):
        if values:
            lf = lf.filter(selection(column, values))
    return lf


def selection(column: str, values: Sequence[str]) -> pl.Expr:
    """Rows whose ``column`` is one of ``values``; an ``api_key`` matches by its fingerprint's digest (a
    whole fingerprint or its ``sha256:...`` part select the same rows)."""
    if column == "api_key":
        digests = [key_digest(value) or value for value in values]
        return pl.col(column).str.extract(r"(sha256:[0-9a-f]{12})", 1).is_in(digests)
    return pl.col(column).is_in(list(values))


def week_offset(day: pl.Expr, week_start: str = "monday") -> pl.Expr:
    """Days from the start of its week (weeks starting on ``week_start``) to the date ``day``."""
    return (day.dt.weekday() - 1 - WEEK_STARTS.index(week_start)) % 7


def week_label(day: pl.Expr, week_start: str = "monday") -> pl.Expr:
    """A week's label from a date in it: the ISO week ``2026-W45`` for weeks starting on Monday, else the
    date its week starts on, ``2026-11-01`` (a Sunday with ``sunday``)."""
    if week_start == "monday":
        return day.dt.strftime("%G-W%V")
    return (day - pl.duration(days=week_offset(day, week_start))).dt.strftime("%Y-%m-%d")


def with_periods(
    lf: pl.LazyFrame, dims: Sequence[str], tz: str = "UTC", week_start: str = "monday"
) -> pl.LazyFrame:
    """Add the time dimensions asked for, as ISO labels: day ``2026-11-03``, week ``2026-W45`` (or, for
    weeks that start on another day, its first day: ``week_label``), month ``2026-11``, with day
    boundaries in the time zone ``tz``."""
    ts = pl.col("timestamp").dt.convert_time_zone(tz)
    exprs = {
        "day": ts.dt.strftime("%Y-%m-%d"),
        "week": week_label(ts.dt.date(), week_start),
        "month": ts.dt.strftime("%Y-%m"),
    }
    wanted = {dim: exprs[dim] for dim in dims if dim in exprs}
    if not wanted or not set(wanted) - set(lf.collect_schema().names()):
        return lf  # none asked for, or already there (priced groups carry them)
    return lf.with_columns(**wanted)


def _cost_sum(column: str) -> pl.Expr:
    # all-unpriced groups get a null cost, never $0
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum()).alias(column)


def unpriced(column: str) -> pl.Expr:
    """The sum of a weight or token column over the unpriced rows (or groups) only."""
    return pl.col(column).filter(pl.col("cost_usd").is_null()).sum()


def _measures(breakdown: bool) -> list[pl.Expr]:
    # summed over weighted rows or priced groups alike (``priced_groups.weighted``)
    return [
        pl.col("_n").sum().cast(pl.UInt32).alias("requests"),
        *(pl.col(column).sum() for column in REPORT_TOKENS),
        _cost_sum("cost_usd"),
        *(_cost_sum(column) for column in (BREAKDOWN if breakdown else ())),
        unpriced("_n").cast(pl.Int64).alias("unpriced_requests"),
        # rows priced at standard rates because their service tier or speed has no known rate
        pl.col("_n_modifier_unknown").sum().cast(pl.Int64).alias("modifier_unknown_requests"),
        # rows whose usage tokmeter estimated (the stream carried none, or not all of it)
        pl.col("_n_estimated").sum().cast(pl.Int64).alias("estimated_requests"),
        *unknown_counts(),
    ]


def group_usage(
    lf: pl.LazyFrame, dims: Sequence[str], *, breakdown: bool = False, tz: str = "UTC"
) -> pl.LazyFrame:
    """Totals per group of ``dims`` (none: one row), sorted by cost, then requests, descending. With
    ``breakdown`` the rows must carry the per-kind cost columns (``pricing.with_cost(breakdown=True)``).
    ``lf``: priced rows, or priced groups (``priced_groups``) that carry ``dims`` already."""
    lf = weighted(with_periods(lf, dims, tz))
    if not dims:
        return lf.select(_measures(breakdown))
    return (
        lf.group_by(list(dims))
        .agg(_measures(breakdown))
        .sort(["cost_usd", "requests", *dims], descending=[True, True, *[False] * len(dims)], nulls_last=True)
    )


def unpriced_models(lf: pl.LazyFrame, *, seen: bool = False) -> pl.LazyFrame:
    """The models that have no price, with their volume (and with ``seen``, their first and last
    request time)."""
    when = [pl.col("_first_seen").min().alias("first_seen"), pl.col("_last_seen").max().alias("last_seen")]
    return (
        weighted(lf)
        .filter(pl.col("cost_usd").is_null())
        .group_by("provider", "model")
        .agg(
            pl.col("_n").sum().cast(pl.UInt32).alias("requests"),
            *(pl.col(c).sum() for c in ("input_tokens", "output_tokens")),
            *(when if seen else ()),
        )
        .sort(["requests", "provider", "model"], descending=[True, False, False], nulls_last=True)
    )


# What ``report --by session`` shows beside the measures of each group (ccusage's session view)
SESSION_EXTRAS = ("first_activity", "last_activity", "models")


def session_extras(lf: pl.LazyFrame, dims: Sequence[str]) -> pl.LazyFrame:
    """Per group of ``dims``: its first and last request time and the models it used (sorted, joined by
    ``, ``: one text a table, CSV and JSON all hold). ``lf``: priced rows or priced groups."""
    return (
        weighted(lf)
        .group_by(list(dims))
        .agg(
            pl.col("_first_seen").min().alias("first_activity"),
            pl.col("_last_seen").max().alias("last_activity"),
            pl.col("model").drop_nulls().unique().sort().str.join(", ").alias("models"),
        )
    )
