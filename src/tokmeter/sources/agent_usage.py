"""What every coding agent's reader hands to extraction: one capture per model call, its usage already in
tokmeter's token convention (``extract/transcripts.from_agent`` checks and stores it).

The body is ``{"model": ..., "usage": {"input_tokens", "cache_read_tokens", "cache_write_tokens",
"output_tokens", "reasoning_tokens"}}``: input includes cache reads and writes, output includes reasoning,
and a count the agent does not record is None (null in the row), never 0. The meta names the request (the
agent's own message id, so a re-read deduplicates), its time, provider, the agent's project and session,
and the OS user (local logs are the user's own). Never any prompt or completion text.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from ..capture import BadCapture, Capture
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


class BadCount(ValueError):
    """A token count an agent wrote that is no count (negative, fractional, text, ...): its record is set
    aside as a bad capture, never counted as 0 tokens."""


def count(value: Any) -> int | None:
    """A token count an agent wrote: a non-negative whole number (an integral float, or a string of digits
    as OpenTelemetry writes int64 values, is one); None when absent. Raises ``BadCount`` otherwise."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadCount(f"a token count is {_kind(value)}: {NOT_A_COUNT}")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise BadCount(f"a token count is {value!r}: {NOT_A_COUNT}")
    if value < 0:
        raise BadCount(f"a token count is {int(value)}: {NOT_A_COUNT}")
    return int(value)


NOT_A_COUNT = "token counts must be non-negative whole numbers"


def _kind(value: Any) -> str:
    """A bad value described without echoing text (a hostile log may put a prompt anywhere)."""
    if isinstance(value, str):
        return f"a string of {len(value)} character(s)"
    return "true or false" if isinstance(value, bool) else f"a JSON {type(value).__name__}"


def whole(value: Any) -> int | None:
    """A number that is not a token count (a time): a non-negative whole number, else None."""
    try:
        return count(value)
    except BadCount:
        return None


def checked(
    fmt: str, source: str, offset: int, line: int | None, make: Callable[[], Capture | None]
) -> Capture | BadCapture | None:
    """``make()``'s capture of one record, or the record set aside (file, line, reason) when one of its
    token counts is no count."""
    try:
        return make()
    except BadCount as exc:
        return BadCapture(source, offset, str(exc), line, fmt)


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


def earliest_times(path: Path, table: str, key: str, column: str) -> dict[Any, float]:
    """The earliest time (epoch seconds or milliseconds, as stored) in ``column`` of each ``key`` of an
    agent's SQLite ``table``: where its messages say when a session began, for a session whose own start
    time is missing. Empty when the table lacks either column. Raises ``sqlite3.Error``."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if not {key, column} <= present:
            return {}
        # the table and column names are ours, never the file's; text and nonsense times are passed over
        found = db.execute(
            f"SELECT {key}, MIN({column}) FROM {table} WHERE typeof({column}) IN ('integer', 'real') "
            f"AND {column} > 0 GROUP BY {key}"
        ).fetchall()
    return {session: first for session, first in found if session is not None}
