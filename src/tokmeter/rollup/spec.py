"""The rollup spec (period, dimensions, time zone), its period arithmetic, and the pure transform from
usage rows (or priced groups) to a rollup table's rows. Shared by the polars tables (``tables``) and the
Spark engine (``spark_engine``), which compute the same table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ..errors import UsageError
from ..pricing.groups import priced_groups, weighted
from ..pricing.memo import PriceMemo
from ..pricing.overrides import PriceOverrides
from . import DEFAULT_DIMS, PERIODS, ROLLUP_DIMS, TAG_DIMENSION, WEEK_STARTS, is_dimension
from .transforms import REPORT_TOKENS, _cost_sum, unknown_counts, unpriced, week_offset


@dataclass(frozen=True, slots=True)
class RollupSpec:
    period: str = "day"
    dims: tuple[str, ...] = DEFAULT_DIMS
    tz: str = "UTC"
    week_start: str = "monday"

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise UsageError(f"unknown period {self.period!r}", hint=f"use one of: {', '.join(PERIODS)}")
        bad = [d for d in self.dims if not is_dimension(d, ROLLUP_DIMS)]
        if bad:
            raise UsageError(
                f"cannot roll up by {bad[0]!r}", hint=f"use any of: {', '.join(ROLLUP_DIMS)}, {TAG_DIMENSION}"
            )
        zone(self.tz)
        check_week_start(self.week_start)

    @property
    def name(self) -> str:
        week = f".{self.week_start}" if self.period == "week" and self.week_start != "monday" else ""
        dims = "+".join(d.replace(":", "-") for d in self.dims)  # tag:env -> tag-env, a safe folder name
        return f"{self.period}{week}.{self.tz.replace('/', '-')}.{dims or 'all'}"


def check_week_start(week_start: str) -> None:
    if week_start not in WEEK_STARTS:
        raise UsageError(f"unknown week start {week_start!r}", hint=f"use one of: {', '.join(WEEK_STARTS)}")


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {tz!r}", hint="use an IANA name such as UTC or Europe/Berlin"
        ) from None


def period_start(day: date, period: str, week_start: str = "monday") -> date:
    if period == "week":
        return day - timedelta(days=(day.weekday() - WEEK_STARTS.index(week_start)) % 7)
    if period == "month":
        return day.replace(day=1)
    return day


def period_end(start: date, period: str) -> date:
    """The first day after the period that starts on ``start``."""
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def periods_of_utc_day(day: date, spec: RollupSpec) -> set[date]:
    """The local periods that the instants of one UTC day fall into."""
    tz = zone(spec.tz)
    first = datetime.combine(day, time(0), UTC).astimezone(tz).date()
    last = (
        (datetime.combine(day + timedelta(days=1), time(0), UTC) - timedelta(microseconds=1))
        .astimezone(tz)
        .date()
    )
    return {
        period_start(first, spec.period, spec.week_start),
        period_start(last, spec.period, spec.week_start),
    }


def utc_days_of_period(start: date, spec: RollupSpec) -> tuple[date, date]:
    """The UTC dates (inclusive) whose partitions can hold rows of the local period."""
    tz = zone(spec.tz)
    begin = datetime.combine(start, time(0), tz).astimezone(UTC).date()
    end = (
        datetime.combine(period_end(start, spec.period), time(0), tz) - timedelta(microseconds=1)
    ).astimezone(UTC)
    return begin, end.date()


# ---- the pure transform -----------------------------------------------------------------------------
def with_period(lf: pl.LazyFrame, spec: RollupSpec) -> pl.LazyFrame:
    """Add ``period``: the first local day (in ``spec.tz``) of the period each row falls in."""
    local = pl.col("timestamp").dt.convert_time_zone(spec.tz).dt.date()
    start = {
        "day": local,
        "week": local - pl.duration(days=week_offset(local, spec.week_start)),
        "month": local.dt.truncate("1mo"),
    }[spec.period]
    return lf.with_columns(period=start)


def rollup_frame(priced: pl.LazyFrame, spec: RollupSpec) -> pl.LazyFrame:
    """Priced usage rows, or priced groups that carry ``period`` (``rollup_rows``), -> one row per
    (period, dims) with requests, failed requests, each token kind, estimated requests and tokens, cost
    (null when every row of the group is unpriced), and the rows lacking each subset count."""
    if "period" not in priced.collect_schema().names():
        priced = with_period(priced, spec)
    return (
        weighted(priced)
        .group_by(["period", *spec.dims])
        .agg(
            pl.col("_n").sum().cast(pl.Int64).alias("requests"),
            pl.col("_n_failed").sum().cast(pl.Int64).alias("failed_requests"),
            *(pl.col(c).sum() for c in (*REPORT_TOKENS, "cache_write_1h_tokens")),
            pl.col("_n_estimated").sum().cast(pl.Int64).alias("estimated_requests"),
            pl.col("_estimated_tokens").sum().alias("estimated_tokens"),
            _cost_sum("cost_usd"),
            unpriced("_n").cast(pl.Int64).alias("unpriced_requests"),
            pl.col("_n_modifier_unknown").sum().cast(pl.Int64).alias("modifier_unknown_requests"),
            *(unpriced(c).alias(f"unpriced_{c}") for c in ("input_tokens", "output_tokens")),
            *unknown_counts(),
        )
        .sort(["period", *spec.dims], nulls_last=True)
    )


def rollup_rows(
    rows: pl.LazyFrame,
    spec: RollupSpec,
    overrides: PriceOverrides | None = None,
    *,
    memo: PriceMemo | None = None,
) -> pl.LazyFrame:
    """The rollup of usage rows, priced per group (``priced_groups``): equal to
    ``rollup_frame(price_rows(rows), spec)``, without pricing each row. ``memo``: see ``priced_groups``."""
    groups = priced_groups(with_period(rows, spec), ["period", *spec.dims], overrides, memo=memo)
    return rollup_frame(groups, spec)
