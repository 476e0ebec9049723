"""A commit's rows before they are stored: in the schema, the preferred copy of each request id chosen
(``dedup.best_rows``) and the copies dropped counted (``CommitResult``), then cut into one part per UTC
day. Shared by the local and the object-storage store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import polars as pl

from ..schema import polars_schema
from .dedup import best_rows, usage_signature


@dataclass(slots=True)
class CommitResult:
    rows_written: int = 0
    duplicates_dropped: int = 0
    duplicates_disagreeing: int = 0
    estimated_dropped: int = 0  # copies with estimated usage among the duplicates dropped (not written)

    def __iadd__(self, other: CommitResult) -> CommitResult:
        self.rows_written += other.rows_written
        self.duplicates_dropped += other.duplicates_dropped
        self.duplicates_disagreeing += other.duplicates_disagreeing
        self.estimated_dropped += other.estimated_dropped
        return self


def kept_of_batch(rows: pl.DataFrame, result: CommitResult) -> tuple[pl.DataFrame, pl.Series | None]:
    """A commit's rows in the schema, and which of them are the preferred copy of their request id
        (``dedup.best_rows``: None, all of them); the copies dropped are counted in ``result``. Text columns may
    be Categorical (the compact form rows wait in); they stay so until ``day_parts``."""
    batch = rows.select(polars_schema().names()).cast(
        {name: dtype for name, dtype in polars_schema().items() if rows.schema[name] != pl.Categorical}
    )
    keep = best_rows(batch)
    if keep is not None:
        copies = batch["request_id"].is_duplicated()  # a request read once is kept and agrees with itself
        count_dropped(batch.filter(copies).lazy(), batch.filter(keep & copies), result)
        result.estimated_dropped += int(((batch["usage_source"] == "estimated") & ~keep).sum())
    return batch, keep


def day_parts(batch: pl.DataFrame, keep: pl.Series | None) -> Iterator[tuple[date, pl.DataFrame]]:
    """The kept rows of ``batch`` by UTC day, each day's in time order: one part at a time, gathered from
    the batch (only the day, time and row number are sorted)."""
    order = batch.select(
        _day=pl.col("timestamp").dt.date(),
        _at=pl.col("timestamp"),
        _row=pl.int_range(pl.len(), dtype=pl.UInt32),
    )
    if keep is not None:
        order = order.filter(keep)
    order = order.sort("_day", "_at", maintain_order=True)
    for (day,), rows in order.group_by("_day", maintain_order=True):
        yield day, stored(batch[rows["_row"]])


def stored(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows as the store holds them: text columns that waited as Categorical (``ingest.rows.REPEATING``)
    as String again."""
    return rows.with_columns(pl.col(pl.Categorical).cast(pl.String))


def estimated(rows: pl.DataFrame) -> int:
    return int((rows["usage_source"] == "estimated").sum())


def count_dropped(all_rows: pl.LazyFrame, kept: pl.DataFrame, result: CommitResult) -> None:
    kept_sig = kept.lazy().select("request_id", _kept=usage_signature())
    counts = (
        all_rows.with_columns(_sig=usage_signature())
        .join(kept_sig, on="request_id")
        .select(n=pl.len(), differ=(pl.col("_sig") != pl.col("_kept")).sum())
        .collect()
    )
    result.duplicates_dropped += counts["n"][0] - kept.height
    result.duplicates_disagreeing += counts["differ"][0]
