"""Compaction: merge the many small parts a follower writes into one part per date partition.

Each partition is rewritten in one store transaction (its own journal): the merged part is added and the
parts it replaces are removed together, and the ledger records both, so ``verify`` still holds. Rows are
deduplicated by request id on the way (the preferred copy, as at ingest), so totals are exactly those of
the one-row-per-request view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from .dedup import best_per_request
from .schema import polars_schema
from .store import Store, _part_name, _Transaction


@dataclass(slots=True)
class CompactResult:
    partitions: list[date] = field(default_factory=list)
    parts_before: int = 0
    parts_after: int = 0
    rows: int = 0
    duplicates_dropped: int = 0


def compact(store: Store, *, min_parts: int = 2, wait: bool = True) -> CompactResult:
    """Rewrite every partition holding at least ``min_parts`` parts as a single part."""
    result = CompactResult()
    with store.writing(wait=wait):
        by_day: dict[str, list] = {}
        for part in store.part_files():
            by_day.setdefault(part.parent.name, []).append(part)
        for name, parts in sorted(by_day.items()):
            if len(parts) < min_parts:
                continue
            frame = pl.read_parquet(parts, schema=polars_schema())
            merged = best_per_request(frame.lazy()).collect().sort("timestamp", "request_id")
            txn = _Transaction(store.root)
            txn.stage_part(parts[0].with_name(_part_name()), merged)
            for part in parts:
                txn.stage_remove(part)
            txn.commit()
            result.partitions.append(date.fromisoformat(name.split("=", 1)[1]))
            result.parts_before += len(parts)
            result.parts_after += 1
            result.rows += merged.height
            result.duplicates_dropped += frame.height - merged.height
    return result
