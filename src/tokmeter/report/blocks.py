"""``tokmeter blocks``: Claude's 5-hour usage windows over the stored rows (the rule is
``ingest/blocks.py``'s, ccusage's), each with its requests, tokens, cost and models; the active one with
its burn rate, its projection to the block's end and the limits' status.

Rows are priced and cut to what a block needs (``block_entries``, a LazyFrame transform), collected once
oldest first; the blocks are then found in one pass over their times (each block's start depends on the
one before, so it is a scan, not a grouping) and their totals summed by polars, costs as exact decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ..errors import UsageError
from ..ingest.blocks import (
    BLOCK_HOURS,
    HOUR_US,
    Burn,
    Projection,
    Window,
    assign_blocks,
    burn_rate,
    is_active,
    limit_status,
    project,
)
from ..pricing.overrides import PriceOverrides
from ..pricing.table import price_rows
from ..store.protocol import StoreBackend
from .queries import Filters

MAX_HOURS = 24 * 366  # --session-length: a block of at most a year
TOKEN_SUMS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


@dataclass(slots=True)
class Block:
    window: Window
    requests: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: Decimal | None = None
    unpriced_requests: int = 0
    models: list[str] = field(default_factory=list)
    first: int | None = None  # epoch µs of its first and last request
    last: int | None = None
    active: bool = False
    burn: Burn | None = None
    projection: Projection | None = None

    @property
    def total_tokens(self) -> int:
        """input (cache included) + output: ccusage's total."""
        return self.tokens.get("input_tokens", 0) + self.tokens.get("output_tokens", 0)


@dataclass(slots=True)
class Limits:
    tokens: int | None = None  # --token-limit (``max``: resolved to the largest past block's tokens)
    cost: Decimal | None = None  # --cost-limit


@dataclass(slots=True)
class BlocksResult:
    blocks: list[Block]
    limits: Limits
    hours: float
    now: int  # epoch µs the active block was judged at


def block_entries(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Priced rows cut to what a block needs, oldest first: epoch µs, tokens, cost, model."""
    return lf.select(
        pl.col("timestamp").dt.epoch("us").alias("_us"),
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in TOKEN_SUMS),
        "cost_usd",
        "model",
    ).sort("_us", maintain_order=True)


def parse_token_limit(value: str | None) -> int | str | None:
    """``--token-limit``: a positive whole number of tokens, or ``max`` (the largest past block)."""
    if value is None or value == "max":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise UsageError(
        f"--token-limit {value!r} is not a number of tokens", hint="e.g. --token-limit 500000, or max"
    )


def build_blocks(
    store: StoreBackend,
    filters: Filters,
    overrides: PriceOverrides | None = None,
    *,
    hours: float = BLOCK_HOURS,
    token_limit: int | str | None = None,
    cost_limit: Decimal | None = None,
    now: datetime | None = None,
) -> BlocksResult:
    """The blocks of the rows ``filters`` select (the model, user and provider filters choose the rows;
    --since and --until the blocks, by their start's date in ``filters.tz``), oldest first."""
    if not 0 < hours <= MAX_HOURS:  # also NaN and infinity, which no clock can step through
        raise UsageError(
            f"--session-length {hours} is not a positive number of hours",
            hint=f"e.g. 5 (at most {MAX_HOURS})",
        )
    if cost_limit is not None and not (cost_limit.is_finite() and cost_limit >= 0):
        raise UsageError(f"--cost-limit {cost_limit} is not an amount of USD", hint="e.g. --cost-limit 20")
    filters.check()
    moment = int((now or datetime.now(UTC)).timestamp() * 1_000_000)
    rows_filter = replace(filters, since=None, until=None)
    with store.reading():
        entries = block_entries(price_rows(rows_filter.apply(store.scan()), overrides)).collect()
    blocks = _blocks(entries, int(hours * HOUR_US), moment)
    blocks = [b for b in blocks if _within(b.window.start, filters)]
    past = [b.total_tokens for b in blocks if not b.window.gap and not b.active]
    tokens = (max(past) if past else None) if token_limit == "max" else token_limit
    return BlocksResult(
        blocks, Limits(tokens if isinstance(tokens, int) else None, cost_limit), hours, moment
    )


def _blocks(entries: pl.DataFrame, length: int, now: int) -> list[Block]:
    ids, windows = assign_blocks(entries["_us"].to_list(), length)
    totals = (
        entries.with_columns(_block=pl.Series(ids, dtype=pl.Int64))
        .group_by("_block")
        .agg(
            pl.len().alias("requests"),
            *(pl.col(c).sum() for c in TOKEN_SUMS),
            pl.when(pl.col("cost_usd").is_not_null().any()).then(pl.col("cost_usd").sum()).alias("cost_usd"),
            pl.col("cost_usd").is_null().sum().alias("unpriced_requests"),
            pl.col("model").drop_nulls().unique(maintain_order=True).alias("models"),
            pl.col("_us").min().alias("first"),
            pl.col("_us").max().alias("last"),
        )
    )
    by_block = {row["_block"]: row for row in totals.iter_rows(named=True)}
    return [_block(window, by_block.get(index), now) for index, window in enumerate(windows)]


def _block(window: Window, row: dict[str, Any] | None, now: int) -> Block:
    if row is None:  # a gap
        return Block(window)
    block = Block(
        window,
        row["requests"],
        {c: row[c] for c in TOKEN_SUMS},
        row["cost_usd"],
        row["unpriced_requests"],
        row["models"],
        row["first"],
        row["last"],
    )
    block.active = is_active(window, row["last"], now)
    if block.active:
        cost = float(block.cost_usd) if block.cost_usd is not None else None
        block.burn = burn_rate(row["first"], row["last"], block.total_tokens, cost)
        if block.burn is not None:
            block.projection = project(window, block.burn, block.total_tokens, cost, now)
    return block


def _within(start: int, filters: Filters) -> bool:
    if filters.since is None and filters.until is None:
        return True
    day = _local_date(start, filters.tz)
    return (filters.since is None or day >= filters.since) and (filters.until is None or day <= filters.until)


def _local_date(us: int, tz: str) -> date:
    return datetime.fromtimestamp(us / 1_000_000, tz=ZoneInfo(tz)).date()


def warnings(result: BlocksResult) -> list[str]:
    """What the active block's projection says against the limits: one line per limit it passes (or
    nears, above 80 %)."""
    lines = []
    for block in result.blocks:
        if block.projection is None:
            continue
        limits: list[tuple[str, float, float | None, str]] = []
        if result.limits.tokens:
            limits.append(("token", float(result.limits.tokens), float(block.projection.tokens), "tokens"))
        if result.limits.cost:
            limits.append(("cost", float(result.limits.cost), block.projection.cost, "USD"))
        for name, limit, projected, unit in limits:
            if projected is None:
                continue
            status = limit_status(projected, limit)
            if status != "ok":
                verb = "exceeds" if status == "exceeds" else "nears (above 80 % of)"
                lines.append(
                    f"The active block's projection ({_amount(projected, unit)}) {verb} the {name} limit "
                    f"({_amount(limit, unit)})"
                )
    return lines


def _amount(value: float, unit: str) -> str:
    return f"${value:,.2f}" if unit == "USD" else f"{round(value):,} tokens"
