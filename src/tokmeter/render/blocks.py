"""``tokmeter blocks`` shown: a table (times in the report's time zone) or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from ..ingest.blocks import MINUTE_US, limit_status, time_left
from ..report.blocks import Block, BlocksResult
from .tables import cost_number, cost_text

if TYPE_CHECKING:
    from rich.table import Table


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    moment = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def block_doc(block: Block, result: BlocksResult) -> dict[str, Any]:
    """One block as JSON (tokmeter's names; ccusage's ``blocks --json`` has the same fields in camelCase)."""
    doc: dict[str, Any] = {
        "id": ("gap-" if block.window.gap else "") + (_iso(block.window.start) or ""),
        "start": _iso(block.window.start),
        "end": _iso(block.window.end),
        "actual_end": _iso(block.last),
        "active": block.active,
        "gap": block.window.gap,
        "requests": block.requests,
        **{name: block.tokens.get(name, 0) for name in ("input_tokens", "output_tokens")},
        **{name: block.tokens.get(name, 0) for name in ("cache_read_tokens", "cache_write_tokens")},
        "total_tokens": block.total_tokens,
        "cost_usd": cost_number(block.cost_usd),
        "unpriced_requests": block.unpriced_requests,
        "models": block.models,
        "burn_rate": None,
        "projection": None,
    }
    if block.burn is not None:
        doc["burn_rate"] = {
            "tokens_per_minute": block.burn.tokens_per_minute,
            "cost_per_hour": block.burn.cost_per_hour,
        }
    if block.projection is not None:
        doc["projection"] = {
            "total_tokens": block.projection.tokens,
            "cost_usd": block.projection.cost,
            "remaining_minutes": block.projection.minutes_left,
        }
        doc.update(_limit_docs(block, result))
    return doc


def _limit_docs(block: Block, result: BlocksResult) -> dict[str, Any]:
    assert block.projection is not None
    docs = {}
    pairs = (
        ("token_limit_status", result.limits.tokens, block.projection.tokens),
        ("cost_limit_status", result.limits.cost, block.projection.cost),
    )
    for key, limit, projected in pairs:
        if limit and projected is not None:
            docs[key] = {
                "limit": float(limit) if key == "cost_limit_status" else limit,
                "projected": projected,
                "percent_used": float(projected) / float(limit) * 100,
                "status": limit_status(float(projected), float(limit)),
            }
    return docs


def blocks_json(result: BlocksResult) -> bytes:
    doc = {"blocks": [block_doc(b, result) for b in result.blocks], "session_length_hours": result.hours}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def blocks_table(result: BlocksResult, tz: str) -> Table:
    from rich.table import Table  # not imported for JSON

    table = Table(header_style="bold", title="Usage blocks (5-hour windows)", title_justify="left")
    for column in ("block start", "duration / status", "models", "requests", "tokens"):
        table.add_column(column, justify="right" if column in ("requests", "tokens") else "left")
    if result.limits.tokens:
        table.add_column("% of limit", justify="right")
    table.add_column("cost", justify="right")
    for block in result.blocks:
        table.add_row(*_cells(block, result, tz))
        if block.projection is not None:
            table.add_row(*_projected_cells(block, result))
    return table


def _cells(block: Block, result: BlocksResult, tz: str) -> list[str]:
    start = _local(block.window.start, tz)
    share = [] if not result.limits.tokens else ["-"]
    if block.window.gap:
        hours = (block.window.end - block.window.start) // (60 * MINUTE_US)
        return [f"{start} - {_local(block.window.end, tz)}", f"({hours}h gap)", "-", "-", "-", *share, "-"]
    if result.limits.tokens:
        share = [f"{block.total_tokens / result.limits.tokens * 100:.1f}%"]
    return [
        start,
        _status(block, result.now),
        ", ".join(block.models) or "-",
        f"{block.requests:,}",
        f"{block.total_tokens:,}",
        *share,
        cost_text(block.cost_usd),
    ]


def _status(block: Block, now: int) -> str:
    if block.active:
        elapsed = (now - block.window.start) // MINUTE_US
        burn = f", {block.burn.tokens_per_minute:,.0f} tokens/min" if block.burn else ""
        cost = block.burn.cost_per_hour if block.burn else None
        burn += f", ${cost:,.2f}/h" if cost is not None else ""
        left = time_left((block.window.end - now) // MINUTE_US)
        return f"ACTIVE ({elapsed // 60}h {elapsed % 60}m elapsed, {left}{burn})"
    minutes = ((block.last or block.window.start) - block.window.start) // MINUTE_US
    return f"{minutes // 60}h {minutes % 60}m"


def _projected_cells(block: Block, result: BlocksResult) -> list[str]:
    assert block.projection is not None
    share = []
    if result.limits.tokens:
        share = [f"{block.projection.tokens / result.limits.tokens * 100:.1f}%"]
    cost = block.projection.cost
    return [
        "(at the current burn rate)",
        "PROJECTED to the block's end",
        "",
        "",
        f"{block.projection.tokens:,}",
        *share,
        "unpriced" if cost is None else f"${cost:,.2f}",
    ]


def _local(us: int, tz: str) -> str:
    return datetime.fromtimestamp(us / 1_000_000, tz=ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
