"""Rows and counts of an ingest run, shared by the run (``pipeline``) and its worker processes
(``parallel``): a capture's usage row, rows by column, the report the CLI renders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..capture import BadCapture, Capture, fingerprint
from ..errors import BadCaptureError
from ..extract import KEEP_NOTHING, Keep, Tally, read_capture
from ..schema import COLUMNS, UsageRow, polars_schema
from ..store.local import CommitResult

if TYPE_CHECKING:
    import polars as pl

Columns = dict[str, list[Any]]


@dataclass(slots=True)
class IngestReport:
    files: int = 0
    captures: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    commit: CommitResult = field(default_factory=CommitResult)
    bad: list[BadCapture] = field(default_factory=list)
    unpriced_models: list[tuple[str | None, str | None, int]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)  # rows with estimated or missing usage, fallback ids
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # file_selection.Selection.skipped

    @property
    def rows_written(self) -> int:
        return self.commit.rows_written

    @property
    def duplicates_dropped(self) -> int:
        return self.commit.duplicates_dropped


def empty_columns() -> Columns:
    return {name: [] for name in COLUMNS}


def to_columns(rows: list[UsageRow]) -> Columns:
    """Usage rows by column: the form rows travel in between processes and wait in for a commit.
    Timestamps become microseconds since the epoch (a datetime costs ten times an int to pickle and to
    turn into a polars value)."""
    plain: Sequence[Mapping[str, object]] = rows  # a TypedDict is read by literal keys only
    columns: Columns = {name: [row[name] for row in plain] for name in COLUMNS}
    columns["timestamp"] = [(ts - _EPOCH) // _MICROSECOND for ts in columns["timestamp"]]
    return columns


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def columns_frame(columns: Columns, *, compact: bool = False) -> pl.DataFrame:
    """Rows by column (``to_columns``) as a frame in the schema; ``compact``: the text columns whose values
    repeat from row to row (``REPEATING``) as Categorical, the form rows wait in for a commit (the store
    writes them as String, ``store.batch.stored``)."""
    import polars as pl

    dtypes = polars_schema()
    timestamp, dtypes["timestamp"] = dtypes["timestamp"], pl.Int64()
    if compact:
        dtypes.update(dict.fromkeys(REPEATING, pl.Categorical()))
    frame = pl.DataFrame(columns, schema=dtypes)
    return frame.with_columns(pl.col("timestamp").cast(timestamp))


# Text columns with few distinct values in a batch (a file's path, its session, the model, ...): a
# String column holds 16 bytes a row plus each longer value again, a Categorical 4 bytes a row. Not the
# ids, which differ on every row.
REPEATING = (
    "user",
    "team",
    "project",
    "api_key",
    "session",
    "provider",
    "model",
    "endpoint",
    "usage_source",
    "service_tier",
    "speed",
    "source",
    "host",
)


def unreadable(path: Path, fmt: str, exc: BaseException) -> BadCapture:
    reason = getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__
    return BadCapture(str(path), 0, f"cannot read file: {reason}", None, fmt)


def row_of(item: Capture | BadCapture, report: IngestReport, keep: Keep = KEEP_NOTHING) -> UsageRow | None:
    """The usage row of one capture, counted in ``report`` (and its tally); None (and listed as bad) when
    it has none. ``keep``: what attribution rules read (``ReadOptions.keep``)."""
    report.captures += 1
    report.by_format[item.format] += 1
    if isinstance(item, BadCapture):
        report.bad.append(item)
        return None
    try:
        row, notes = read_capture(item, keep)
    except BadCaptureError as exc:
        report.bad.append(_bad(item, exc.message))
        return None
    report.tally.add(notes)
    return row


def _bad(capture: Capture, reason: str) -> BadCapture:
    return BadCapture(
        capture.source,
        capture.offset,
        reason,
        capture.line,
        capture.format,
        fingerprint(capture.raw),
        None if capture.raw is None else len(capture.raw),
    )


def rows_frame(rows: list[UsageRow]) -> pl.DataFrame:
    """Usage rows as a frame in the schema."""
    import polars as pl

    return pl.DataFrame(rows, schema=polars_schema())
