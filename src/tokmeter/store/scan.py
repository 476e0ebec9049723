"""The parts of a store as one LazyFrame, and the ranges of UTC dates (the partitions) a read names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from ..schema import polars_schema

PART_GLOB = "date=*/*.parquet"
DayRange = tuple[date | None, date | None]  # UTC dates, first and last inclusive; None: open on that side


def scan_parts(usage_dir: Path, any_parts: bool) -> pl.LazyFrame:
    """The parts under a ``usage`` directory as one LazyFrame (empty, with the schema, when there are none)."""
    schema = polars_schema()
    if not any_parts:
        return pl.LazyFrame(schema={**schema, "date": pl.Date})
    return pl.scan_parquet(
        usage_dir / PART_GLOB,
        hive_partitioning=True,
        hive_schema={"date": pl.Date},
        schema=schema,
        missing_columns="insert",
    )  # older parts lack newer columns: null


def scan_files(files: Sequence[Path]) -> pl.LazyFrame:
    """Some parts (paths ending in ``date=YYYY-MM-DD/<part>``) as one LazyFrame, like ``scan_parts``."""
    schema = polars_schema()
    if not files:
        return pl.LazyFrame(schema={**schema, "date": pl.Date})
    return pl.scan_parquet(
        list(files),
        hive_partitioning=True,
        hive_schema={"date": pl.Date},
        schema=schema,
        missing_columns="insert",
    )


def parts_per_day(files: Iterable[Path]) -> dict[date, int]:
    """How many parts (paths ending in ``date=YYYY-MM-DD/<part>``) each UTC date holds."""
    counts: dict[date, int] = {}
    for path in files:
        day = date.fromisoformat(path.parent.name.split("=", 1)[1])
        counts[day] = counts.get(day, 0) + 1
    return counts


def within(day: date, days: DayRange) -> bool:
    """Whether ``day`` is within ``days`` (either end may be open)."""
    return (days[0] is None or day >= days[0]) and (days[1] is None or day <= days[1])


def in_days(days: DayRange, column: str = "date") -> pl.Expr:
    """Whether a date column is within ``days`` (either end may be open)."""
    first, last = days
    keep = pl.lit(True)
    if first is not None:
        keep &= pl.col(column) >= first
    if last is not None:
        keep &= pl.col(column) <= last
    return keep
