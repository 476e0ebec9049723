"""The local cache of a remote store's parts, kept under a size cap.

A remote store (``remote``) reads copies of the bucket's parts from its mirror, ``<cache>/usage/``; the parts
are immutable, so a copy is valid for as long as the bucket holds the part. Each time a read brings a day
up to date, the day's copies are marked used (their modification time set to now), and when a command that
fetched parts lets go of the mirror, ``evict`` deletes the least recently used copies until the parts left
add up to at most the cap (``config.cache_max_bytes``), sparing every part that command used: it may hold
more than the cap for as long as it runs, never less than it read. An evicted part is fetched again by the
next read that needs it.

Both run under the mirror's exclusive lock (``locking.store_lock``), which every reader of the mirror holds
while it reads, so two tokmeter processes sharing a cache never delete a part the other is reading. Only
parts are counted and evicted: the ledger's folds and the rollup tables kept beside them are small and
are not copies of anything.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from .scan import PART_GLOB


@dataclass(frozen=True, slots=True)
class CacheUse:
    parts: int
    bytes: int


@dataclass(frozen=True, slots=True)
class _Cached:
    path: Path
    size: int
    used: int  # ns since the epoch: the last time a read brought its day up to date


def mark_used(paths: Iterable[Path]) -> None:
    """Record that a read uses these parts now (their modification time: the cache's LRU clock)."""
    for path in paths:
        try:
            os.utime(path)
        except FileNotFoundError:
            continue


def usage(usage_dir: Path) -> CacheUse:
    """The parts the cache holds and their bytes."""
    parts = _cached(usage_dir)
    return CacheUse(len(parts), sum(part.size for part in parts))


def evict(usage_dir: Path, limit: int, keep: Collection[Path] = ()) -> CacheUse:
    """Delete the least recently used parts until the rest add up to at most ``limit`` bytes, never one of
    ``keep`` (the running command's); returns what was deleted. Hold the mirror's exclusive lock."""
    parts = _cached(usage_dir)
    total = sum(part.size for part in parts)
    count = freed = 0
    for part in sorted(parts, key=lambda p: (p.used, p.path)):
        if total - freed <= limit:
            break
        if part.path in keep:
            continue
        part.path.unlink(missing_ok=True)
        count, freed = count + 1, freed + part.size
    for folder in usage_dir.glob("date=*"):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            continue
    return CacheUse(count, freed)


def _cached(usage_dir: Path) -> list[_Cached]:
    found = []
    for path in usage_dir.glob(PART_GLOB):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append(_Cached(path, stat.st_size, stat.st_mtime_ns))
    return found
