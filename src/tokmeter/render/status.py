"""``tokmeter status`` as people and programs read it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from rich.table import Table

from ..ingest.checkpoints import SourceStatus
from ..store.protocol import StoreBackend


def _when(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if epoch
        else ""
    )


def follower_line(following: bool) -> str:
    if following:
        return "a follower (ingest --follow / --resume) is running on this store"
    return (
        "no follower is running on this store: tokmeter ingest PATH --follow resumes where each source stands"
    )


def status_table(store: StoreBackend, sources: list[SourceStatus], following: bool) -> Table:
    table = Table(
        title=f"sources checkpointed in {store.location}",
        title_justify="left",
        caption=follower_line(following),
        caption_justify="left",
    )
    for name in ("source", "state"):
        table.add_column(name, overflow="fold")
    for name in ("offset", "size", "lag bytes", "lag s", "line"):
        table.add_column(name, justify="right")
    table.add_column("committed (UTC)")
    for item in sources:
        cp = item.checkpoint
        table.add_row(
            cp.path + (" (compressed)" if cp.compressed else ""),
            item.state,
            f"{cp.offset:,}",
            "" if item.size is None else f"{item.size:,}",
            "" if item.lag_bytes is None else f"{item.lag_bytes:,}",
            "" if item.lag_seconds is None else f"{item.lag_seconds:,.1f}",
            f"{cp.line:,}",
            _when(cp.updated),
        )
    return table


def no_sources(store: StoreBackend) -> str:
    return (
        f"No sources checkpointed in {store.location}: no checkpoints yet "
        "(tokmeter ingest PATH --follow, or --resume)."
    )


def status_json(store: StoreBackend, sources: list[SourceStatus], following: bool) -> str:
    doc = {
        "store": store.location,
        "follower_running": following,
        "sources": [
            {
                "path": s.checkpoint.path,
                "name": s.checkpoint.name,
                "state": s.state,
                "compressed": s.checkpoint.compressed,
                "offset": s.checkpoint.offset,
                "line": s.checkpoint.line,
                "size": s.size,
                "lag_bytes": s.lag_bytes,
                "lag_seconds": s.lag_seconds,
                "committed": _when(s.checkpoint.updated),
            }
            for s in sources
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
