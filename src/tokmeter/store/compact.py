"""Compaction: merge the many small parts a follower writes into one part per date partition.

Each partition is rewritten in one store transaction (its own journal): the merged part is added and the
parts it replaces are removed together, and the ledger records both, so ``verify`` still holds. Rows are
deduplicated by request id on the way (the preferred copy, as at ingest), so totals are exactly those of
the one-row-per-request view.

On a remote store (``remote_store``) the same holds without a lock: the merged part is written, the
ledger records it, then the parts it replaces are deleted. Parts that ingesters write meanwhile are not
among those listed, so they are left alone: a compaction running beside ingesters loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .local import merge_parts
from .protocol import StoreBackend


@dataclass(slots=True)
class CompactResult:
    partitions: list[date] = field(default_factory=list)
    parts_before: int = 0
    parts_after: int = 0
    rows: int = 0
    duplicates_dropped: int = 0
    ledger_folded: int = 0  # ledger objects folded away (a remote store's, see remote_ledger)


def compact(store: StoreBackend, *, min_parts: int = 2, wait: bool = True) -> CompactResult:
    """Rewrite every partition holding at least ``min_parts`` parts as a single part."""
    result = CompactResult()
    if not store.holds_store():  # nothing ingested yet, or a mistyped --store: create nothing there,
        return result  # so a report on that location still says it holds no store
    with store.compacting(wait=wait):
        # counted first (on a bucket: one listing), so only the days to merge are fetched
        for day, count in sorted(store.parts_per_day().items()):
            parts = store.part_files({day}) if count >= min_parts else []
            if len(parts) < min_parts:
                continue
            merged, before = merge_parts(parts)
            store.replace_parts(day, merged, parts)
            result.partitions.append(day)
            result.parts_before += len(parts)
            result.parts_after += 1
            result.rows += merged.height
            result.duplicates_dropped += before - merged.height
        result.ledger_folded = store.fold_ledger()
    return result
