"""What every coding agent's reader hands to extraction: one capture per model call, its usage already in
tokmeter's token convention (``extract/transcripts.from_agent`` checks and stores it).

The body is ``{"model": ..., "usage": {"input_tokens", "cache_read_tokens", "cache_write_tokens",
"output_tokens", "reasoning_tokens"}}``: input includes cache reads and writes, output includes reasoning,
and a count the agent does not record is None (null in the row), never 0. The meta names the request (the
agent's own message id, so a re-read deduplicates), its time, provider, the agent's project and session,
and the OS user (local logs are the user's own). Never any prompt or completion text.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from ..capture import Capture
from .claude_code import os_user

USAGE_KEYS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def usage_capture(
    fmt: str,
    source: str,
    offset: int,
    *,
    request_id: str,
    ts: Any,
    provider: str | None,
    model: str | None,
    project: str | None,
    session: str | None,
    usage: dict[str, int | None],
    line: int | None = None,
    file_time: datetime | None = None,
) -> Capture:
    """One model call of an agent's log, as a capture of format ``fmt`` (the agent's name)."""
    meta = {
        "ts": ts,
        "request_id": request_id,
        "user": os_user(),
        "provider": provider,
        "project": project,
        "session": session,
        "request": {"model": model, "stream": True},
    }
    body = {"model": model, "usage": {key: usage.get(key) for key in USAGE_KEYS}}
    return Capture(source, offset, meta, body, line, file_time, fmt)


def count(value: Any) -> int | None:
    """A token count an agent wrote: a non-negative whole number (None when absent or not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return max(int(value), 0)


def text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def beyond_parts(output: int, parts: int, total: Any) -> tuple[int, int | None]:
    """(output, reasoning) when a record's ``total`` counts more than its parts: the difference is output
    when the record counts none (ccusage's rule), else reasoning the output count left out (ccusage counts
    it in its totals only); reasoning is otherwise not recorded (None)."""
    beyond = max((count(total) or 0) - parts, 0)
    if not beyond:
        return output, None
    return (output + beyond, beyond) if output else (beyond, None)


def table_rows(path: Path, table: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of an agent's SQLite table, opened read-only (the agent may be writing it), as dicts of
    ``columns`` (those the table lacks read as None). Raises ``sqlite3.Error``."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        # the table and column names are ours, never the file's
        chosen = ", ".join(name if name in present else f"NULL AS {name}" for name in columns)
        found = db.execute(f"SELECT rowid, {chosen} FROM {table} ORDER BY rowid").fetchall()
    return [{"rowid": rowid, **dict(zip(columns, values, strict=True))} for rowid, *values in found]
