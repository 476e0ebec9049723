"""Folding new parts into a rollup table without reading the parts it already holds.

On object storage a commit only adds parts (``StoreBackend.added_part_files``; merges of older parts are
left out), so an incremental rollup need not fetch every part of the periods a commit touched: the rollup of
old and new rows together is the table's rows plus the rollup of the new rows, group by group (every
measure is a sum), as long as no new row is a copy of a row the table already holds. Deduplication
(``dedup.best_nearby``) matches copies of a request id at most a day apart, so that is what is checked:
the table keeps, per UTC date, a hash of the request id of every row it has read, and a new row whose id is
held on its own date or the day on either side sends the run back to recomputing the periods from all their
rows (``RollupTable``), which then stays correct whatever the copies are.

The ids: ``<table>/_ids/date=YYYY-MM-DD/ids.parquet``, one column ``h`` (the 64-bit hash of ``ID_HASH``),
distinct, sorted; about 8 bytes per stored row. They only ever grow (a superset is safe: it can only send
a run to the slower path), and are written before the periods they cover, so a run that stops half-way is
followed by a recompute. ``_state.json``'s ``ids`` names the hash; a table whose ``ids`` is another (a
table built by an older tokmeter, or polars changed its hash) is rebuilt in full by its next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from ..store.atomic import replace_file
from ..store.scan import scan_files

IDS = "_ids"
_SEED = 0x70C3E7E2
ID_HASH = f"polars {pl.__version__} hash {_SEED:#x}"  # polars' hash is stable within a version only
_DAYS_PER_READ = 31  # a full rebuild hashes the rows a month at a time (memory)


def id_hashes(lf: pl.LazyFrame) -> pl.LazyFrame:
    """(date, h): the UTC date and request-id hash of every row of some parts (copies included)."""
    return lf.select("date", h=pl.col("request_id").hash(_SEED))


def holds_copies(table: Path, new: pl.DataFrame) -> bool:
    """Whether any of ``new``'s ids (``id_hashes``) is held on its date or the day on either side."""
    days = {d + timedelta(days=k) for d in new["date"].unique().to_list() for k in (-1, 0, 1)}
    files = [_file(table, day) for day in sorted(days) if _file(table, day).exists()]
    if not files:
        return False
    held = pl.scan_parquet(files, hive_partitioning=True, hive_schema={"date": pl.Date}).rename(
        {"date": "_held"}
    )
    near = (pl.col("date") - pl.col("_held")).dt.total_days().abs() <= 1
    return new.lazy().join(held, on="h").filter(near).select(pl.len()).collect().item() > 0


def add_ids(table: Path, hashes: pl.DataFrame) -> None:
    """Add ``hashes`` (``id_hashes``) to the ids held, date by date."""
    for (day,), group in hashes.group_by("date"):
        path = _file(table, day)
        ids = group.select("h")
        if path.exists():
            ids = pl.concat([pl.read_parquet(path, hive_partitioning=False), ids])
        _write(path, ids.unique().sort("h"))


def hold_ids_of(table: Path, files: Sequence[Path]) -> None:
    """Add the ids of the rows of some parts (paths ending in ``date=YYYY-MM-DD/<part>``)."""
    by_day: dict[str, list[Path]] = {}
    for path in files:
        by_day.setdefault(path.parent.name, []).append(path)
    days = sorted(by_day)
    for start in range(0, len(days), _DAYS_PER_READ):
        chunk = [path for day in days[start : start + _DAYS_PER_READ] for path in by_day[day]]
        add_ids(table, id_hashes(scan_files(chunk)).collect())


def holds_ids(table: Path) -> bool:
    """Whether the table holds any ids (one whose ``_ids`` was deleted cannot fold rows in)."""
    return next((table / IDS).glob("date=*/*.parquet"), None) is not None


def drop_ids(table: Path) -> None:
    """Forget every id held (a full rebuild starts again)."""
    for path in (table / IDS).glob("date=*/*.parquet"):
        path.unlink()


def merged(old: pl.DataFrame, new: pl.DataFrame, dims: Sequence[str]) -> pl.DataFrame:
    """Two rollups of one period (``spec.rollup_frame``'s columns) as one: each group's measures added (a
    cost stays null only where both are), in ``rollup_frame``'s order."""
    keys = ["period", *dims]
    measures = [c for c in new.columns if c not in keys]
    sums = [
        pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).alias(c)
        if c == "cost_usd"
        else pl.col(c).sum()
        for c in measures
    ]
    both = pl.concat([old.select(new.columns).cast(new.schema), new])
    return both.group_by(keys).agg(sums).select(new.columns).cast(new.schema).sort(keys, nulls_last=True)


def _write(path: Path, frame: pl.DataFrame) -> None:
    replace_file(path, frame.write_parquet)


def _file(table: Path, day: date) -> Path:
    return table / IDS / f"date={day.isoformat()}" / "ids.parquet"
