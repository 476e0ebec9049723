"""The once-only build of a local store's per-session first stored times (``Store.first_session_times``,
``store/sessions.py``) on a synthetic store: N rows in P parts over 300 days, request ids mixing four
prefixes so that Parquet statistics cannot skip a part. Prints wall and CPU seconds of the build.

    PYTHONPATH=src python bench/session_times_build.py /tmp/bigstore 10000000 2000

The store is generated on the first run (kept for the next runs, which time the build again)."""

from __future__ import annotations

import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from tokmeter.schema import polars_schema
from tokmeter.store.local import Store
from tokmeter.store.sessions import TIMES

PREFIXES = ("chatcmpl-", "msg_", "req_", "sha256:")


def generate(root: Path, rows: int, parts: int) -> None:
    per, base = rows // parts, datetime(2026, 1, 1, tzinfo=UTC)
    for part in range(parts):
        day = base + timedelta(days=part % 300)
        frame = pl.DataFrame(
            {
                "request_id": [f"{PREFIXES[i % 4]}{part:05d}_{i:08d}abcdefgh" for i in range(per)],
                "timestamp": [day + timedelta(seconds=i % 86000) for i in range(per)],
            }
        ).with_columns(
            input_tokens=pl.lit(100, pl.Int64),
            output_tokens=pl.lit(10, pl.Int64),
            usage_source=pl.lit("reported"),
            complete=pl.lit(True),
            stream=pl.lit(True),
            source=pl.lit("/x"),
            source_offset=pl.lit(0, pl.Int64),
        )
        names = polars_schema().names()
        frame = frame.select(pl.col(c) if c in frame.columns else pl.lit(None).alias(c) for c in names)
        folder = root / "usage" / f"date={day.date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.cast(polars_schema()).write_parquet(folder / f"part-{uuid.uuid4().hex}.parquet")


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def main() -> None:
    root, rows, parts = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if not (root / "usage").exists():
        generate(root, rows, parts)
    (root / TIMES).unlink(missing_ok=True)
    store = Store(root)
    with store.writing():
        wall, cpu = time.perf_counter(), cpu_seconds()
        found = store.first_session_times()
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"build: {wall:.3f} s wall, {cpu:.3f} CPU-s, {len(found)} sessions, {rows:,} rows in {parts} parts")


if __name__ == "__main__":
    main()
