"""The status line's summary (``summary.py``) built from the store: the last days' rows, priced, cut to
quarter-hour costs, per-session figures and the latest usage block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from ..config import Settings
from ..pricing.memo import PriceMemo
from ..pricing.overrides import PriceOverrides, load_overrides
from ..pricing.table import price_rows
from ..store.protocol import StoreBackend
from .blocks import BLOCK_HOURS, HOUR_US, assign_blocks
from .summary import QUARTER_US, RECENT_DAYS, read_summary, write_summary


def recent_entries(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Priced rows -> epoch µs, tokens (input + output), cost (a float, unpriced: null), session; oldest
    first."""
    return lf.select(
        pl.col("timestamp").dt.epoch("us").alias("us"),
        (pl.col("input_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0))
        .cast(pl.Int64)
        .alias("tokens"),
        pl.col("cost_usd").cast(pl.Float64).alias("cost"),
        "session",
    ).sort("us", maintain_order=True)


def build_summary(
    store: StoreBackend, overrides: PriceOverrides | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The summary of the last ``RECENT_DAYS`` days (UTC partitions) of ``store`` at ``now``. Call under
    ``store.reading()`` or ``store.writing()``."""
    moment = now or datetime.now(UTC)
    since = moment - timedelta(days=RECENT_DAYS)
    lf = store.scan((since.date(), moment.date() + timedelta(days=1)))
    lf = lf.filter(pl.col("timestamp") >= since)
    memo = PriceMemo.load(overrides)  # the last days' prices, known after the first ingest: no genai-prices
    entries = recent_entries(price_rows(lf, overrides, memo=memo)).collect()
    memo.save()
    return {
        "written_us": int(moment.timestamp() * 1_000_000),
        "since_us": int(since.timestamp() * 1_000_000),
        "quarters": _quarters(entries),
        "sessions": _sessions(entries),
        "block": _latest_block(entries),
        "unpriced_requests": entries["cost"].null_count(),
    }


def _quarters(entries: pl.DataFrame) -> list[list[Any]]:
    quarters = (
        entries.group_by((pl.col("us") - pl.col("us") % QUARTER_US).alias("start"))
        .agg(pl.col("cost").sum())
        .sort("start")
    )
    return [list(row) for row in quarters.iter_rows()]


def _sessions(entries: pl.DataFrame) -> dict[str, dict[str, Any]]:
    sessions = (
        entries.filter(pl.col("session").is_not_null())
        .group_by("session")
        .agg(pl.col("cost").sum(), pl.col("tokens").sum(), pl.col("us").max().alias("last_us"))
    )
    return {row.pop("session"): row for row in sessions.iter_rows(named=True)}


def _latest_block(entries: pl.DataFrame) -> dict[str, Any] | None:
    if not entries.height:
        return None
    ids, windows = assign_blocks(entries["us"].to_list(), int(BLOCK_HOURS * HOUR_US))
    window = windows[ids[-1]]
    rows = entries.filter(pl.Series(ids) == ids[-1])
    return {
        "start_us": window.start,
        "end_us": window.end,
        "first_us": rows["us"].min(),
        "last_us": rows["us"].max(),
        "tokens": int(rows["tokens"].sum()),
        "cost": float(rows["cost"].sum()),
        "requests": rows.height,
    }


SUMMARY_EVERY = 30.0  # seconds: a follower rewrites the summary at most this often (it prices 2 days of rows)


def refresh_summary(store: StoreBackend, rows_written: int) -> None:
    """Rewrite the store's summary after a commit that wrote rows (or when there is none yet), priced with
    the price file in force (``$TOKMETER_PRICES``, else the config file's). A summary that cannot be
    written leaves the ingest as it was: the status line then says how old its figures are."""
    if not rows_written and read_summary(store.root) is not None:
        return
    settings = Settings.resolve()
    overrides = load_overrides(settings.prices, settings.prices_from) if settings.prices else None
    try:
        write_summary(store.root, build_summary(store, overrides))
    except OSError:
        return
