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
    return doc if isinstance(doc, dict) and doc.get("version") == VERSION and _well_formed(doc) else None


def _well_formed(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` has the shape ``write_summary`` writes (a file edited or damaged by hand is no
    summary: the status line must not fail on it)."""
    number = (int, float)
    quarters = doc.get("quarters")
    sessions = doc.get("sessions")
    block = doc.get("block")
    return (
        isinstance(doc.get("written_us"), int)
        and isinstance(quarters, list)
        and all(
            isinstance(q, list)
            and len(q) == 2
            and isinstance(q[0], int)
            and isinstance(q[1], (*number, type(None)))
            for q in quarters
        )
        and isinstance(sessions, dict)
        and all(isinstance(s, dict) and isinstance(s.get("cost"), number) for s in sessions.values())
        and (block is None or _well_formed_block(block))
    )


def _well_formed_block(block: Any) -> bool:
    ints = ("start_us", "end_us", "first_us", "last_us", "tokens")
    return (
        isinstance(block, dict)
        and all(isinstance(block.get(key), int) for key in ints)
        and isinstance(block.get("cost"), (int, float))
    )


def write_summary(root: Path, doc: dict[str, Any]) -> None:
    """Replace the summary whole (a reader sees the old one or the new one, never half)."""
    from ..store.atomic import replace_file  # start-up time: the status line only reads (uuid, platform)

    data = orjson.dumps({"version": VERSION, **doc})
    replace_file(summary_path(root), lambda temp: temp.write_bytes(data), mode=0o600)
