"""Hermes Agent: the ``sessions`` table of ``~/.hermes/state.db`` (SQLite; ``$HERMES_HOME/state.db``). Learnt
from ccusage's hermes adapter, which reads ``id, model, billing_provider, started_at`` and the token
columns of the rows that name a model.

Hermes keeps per-session totals only: each session is one row at its ``started_at`` (epoch seconds), as
ccusage stamps it (Hermes fills it when it creates the session); without one, at its earliest message's
``timestamp`` (ccusage passes such a session over), and with neither, at the file's time (the store keeps
the row at the time of its first stored copy: ``store/sessions.py``). Its input excludes the cache and its
reasoning is counted apart from the output (ccusage adds it to its totals): input = input_tokens +
cache_read_tokens + cache_write_tokens, output = output_tokens + reasoning_tokens, reasoning =
reasoning_tokens. Model ``model``, provider ``billing_provider``; Hermes' own cost columns are not kept. The
project is the session's ``cwd`` when the table has one (else null), the session its ``id``, the request id
``hermes:<id>`` (``session_total_id``: a session read again after it grew replaces its row, whatever day it
was stored on).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..capture import BadCapture, Capture, session_total_id
from .agent_opencode import SQLITE_HEADER
from .agent_usage import BadCount, count, earliest_times, table_rows, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "hermes"
_COLUMNS = (
    "id",
    "model",
    "billing_provider",
    "started_at",
    "cwd",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def logs(root: Path) -> list[Path]:
    return [root / "state.db"]


def sniff(path: Path, head: bytes) -> bool:
    return head.startswith(SQLITE_HEADER) and path.name == "state.db"


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del opener, options
    source = str(path)
    try:
        rows = table_rows(path, "sessions", _COLUMNS)
        started = (
            {}
            if all(_started(row) for row in rows)
            else earliest_times(path, "messages", "session_id", "timestamp")
        )
    except sqlite3.Error as exc:
        yield BadCapture(source, 0, f"cannot read the sessions table ({exc})", None, FORMAT)
        return
    for row in rows:
        session, model = text(row["id"]), text(row["model"])
        try:
            given, output = count(row["input_tokens"]) or 0, count(row["output_tokens"]) or 0
            read_, write = count(row["cache_read_tokens"]) or 0, count(row["cache_write_tokens"]) or 0
            reasoning = count(row["reasoning_tokens"]) or 0
        except BadCount as exc:
            yield BadCapture(source, row["rowid"], str(exc), row["rowid"], FORMAT)
            continue
        if session is None or model is None or not (given or output or read_ or write or reasoning):
            continue
        yield usage_capture(
            FORMAT,
            source,
            row["rowid"],
            request_id=session_total_id(FORMAT, session),
            ts=_started(row) or started.get(row["id"]),
            provider=text(row["billing_provider"]),
            model=model,
            project=text(row["cwd"]),
            session=session,
            usage={
                "input_tokens": given + read_ + write,
                "cache_read_tokens": read_,
                "cache_write_tokens": write,
                "output_tokens": output + reasoning,
                "reasoning_tokens": reasoning,
            },
            line=row["rowid"],
            file_time=file_time,
        )


def _started(row: dict) -> float | None:
    """The session's ``started_at`` (epoch seconds), None when it is missing or no time."""
    started = row["started_at"]
    return (
        started
        if isinstance(started, int | float) and not isinstance(started, bool) and started > 0
        else None
    )
