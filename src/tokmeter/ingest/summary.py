"""The summary an ingest keeps for the status line: ``STORE/summary.json``, rewritten atomically after
each ingest (and each commit of a follower) that wrote rows, so ``tokmeter statusline`` reads one small
file and never the store (no polars: this module imports nothing heavy).

It covers the last ``RECENT_DAYS`` days of rows, priced::

    {"version": 1, "written_us": ..., "since_us": ...,
     "quarters": [[start_us, cost], ...],             # cost per quarter hour (any zone's midnight is on one)
     "sessions": {"<id>": {"cost": ..., "tokens": ..., "last_us": ...}},
     "block": {"start_us", "end_us", "first_us", "last_us", "tokens", "cost", "requests"} | null,
     "unpriced_requests": n}

Times are epoch microseconds, costs USD floats (unpriced rows count 0, and ``unpriced_requests`` says
how many), ``block`` the latest usage block (``blocks.py``): whether it is still active is decided when
the file is read. A session's figures are its rows of those days only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

SUMMARY = "summary.json"
VERSION = 1
RECENT_DAYS = 2
QUARTER_US = 15 * 60_000_000


def summary_path(root: Path) -> Path:
    return root / SUMMARY


def read_summary(root: Path) -> dict[str, Any] | None:
    """The store's summary, or None when there is none (or it is not one this version reads)."""
    try:
        doc = orjson.loads(summary_path(root).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == VERSION else None


def write_summary(root: Path, doc: dict[str, Any]) -> None:
    """Replace the summary whole (a reader sees the old one or the new one, never half)."""
    from ..store.atomic import replace_file  # start-up time: the status line only reads (uuid, platform)

    data = orjson.dumps({"version": VERSION, **doc})
    replace_file(summary_path(root), lambda temp: temp.write_bytes(data), mode=0o600)
