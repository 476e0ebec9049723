"""Goose: the ``sessions`` table of ``sessions.db`` (SQLite) under ``~/.local/share/goose/sessions/`` (macOS
``~/Library/Application Support/goose/sessions/``, or ``$GOOSE_PATH_ROOT/data/sessions/``). Learnt from
ccusage's goose adapter, which reads ``id, model_config_json, provider_name, created_at`` and the token
columns of rows whose ``model_config_json`` is set.

Goose keeps no per-call usage: each session is one row with its running totals
(``accumulated_input_tokens`` / ``accumulated_output_tokens`` / ``accumulated_total_tokens``, else the
plain ``input_tokens`` / ``output_tokens`` / ``total_tokens`` of older versions), stamped with the
session's ``created_at`` as ccusage stamps it (Goose fills it when it creates the session); without one,
with its earliest message's ``created_timestamp`` (ccusage passes such a session over), and with neither,
the file's time (the store keeps the row at the time of its first stored copy: ``store/sessions.py``).
Input as recorded (it includes any cache; the split is not recorded: cache columns null), output as
recorded plus what the total counts beyond input and output: that is reasoning (as ccusage reads it: a
Gemini-style API counts thinking apart from the output), and where there is none, reasoning is unknown
(null: an OpenAI-style output includes it uncounted). Model
``model_config_json.model_name``, provider ``provider_name``; project the session's ``working_dir``;
session its ``id``; request id ``goose:<session id>`` (``session_total_id``): a session read again after
it grew replaces its row, whatever day it was stored on (the store keeps the copy with the larger total).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, session_total_id
from .agent_opencode import SQLITE_HEADER
from .agent_usage import checked, count, earliest_times, table_rows, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "goose"
HOMES = (".local/share/goose", "Library/Application Support/goose", ".local/share/Block/goose")
_COLUMNS = (
    "id",
    "model_config_json",
    "provider_name",
    "created_at",
    "working_dir",
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "accumulated_total_tokens",
    "accumulated_input_tokens",
    "accumulated_output_tokens",
)


def logs(root: Path) -> list[Path]:
    """Under a data directory (a default one, or ``$GOOSE_PATH_ROOT``): its sessions database."""
    return [root / "sessions" / "sessions.db", root / "data" / "sessions" / "sessions.db"]


def sniff(path: Path, head: bytes) -> bool:
    return head.startswith(SQLITE_HEADER) and path.name == "sessions.db"


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del opener, options
    source = str(path)
    try:
        rows = table_rows(path, "sessions", _COLUMNS)
        started = _message_starts(path, rows)
    except sqlite3.Error as exc:
        yield BadCapture(source, 0, f"cannot read the sessions table ({exc})", None, FORMAT)
        return
    for row in rows:
        rowid = row["rowid"]
        row["created_at"] = _created(row["created_at"]) or started.get(row["id"])
        make = partial(_capture, row, source, rowid, file_time)
        capture = checked(FORMAT, source, rowid, rowid, make)
        if capture is not None:
            yield capture


def _capture(row: dict[str, Any], source: str, rowid: int, file_time: datetime | None) -> Capture | None:
    session, model = text(row["id"]), _model(row["model_config_json"])
    given = count(row["accumulated_input_tokens"]) or count(row["input_tokens"]) or 0
    output = count(row["accumulated_output_tokens"]) or count(row["output_tokens"]) or 0
    total = count(row["accumulated_total_tokens"]) or count(row["total_tokens"]) or 0
    beyond = max(total - given - output, 0)  # thinking a Gemini-style API counts apart from the output
    output += beyond
    if session is None or model is None or not (given or output):
        return None
    return usage_capture(
        FORMAT,
        source,
        rowid,
        request_id=session_total_id(FORMAT, session),
        ts=row["created_at"],
        provider=text(row["provider_name"]),
        model=model,
        project=text(row["working_dir"]),
        session=session,
        usage={
            "input_tokens": given,
            "cache_read_tokens": None,
            "cache_write_tokens": None,
            "output_tokens": output,
            "reasoning_tokens": beyond or None,
        },
        line=rowid,
        file_time=file_time,
    )


def _model(config: Any) -> str | None:
    try:
        parsed = orjson.loads(config) if isinstance(config, str | bytes) else None
    except orjson.JSONDecodeError:
        return None
    return text(parsed.get("model_name")) if isinstance(parsed, dict) else None


def _created(value: Any) -> Any:
    """A session's ``created_at`` as a time tokmeter reads (Goose writes ``YYYY-MM-DD HH:MM:SS``, UTC);
    None when it is empty."""
    if isinstance(value, str):
        return value.strip().replace(" ", "T") or None
    return value


def _message_starts(path: Path, rows: list[dict[str, Any]]) -> dict[Any, float]:
    """Each session's earliest message time, read only when some session lacks its ``created_at``."""
    if all(_created(row["created_at"]) is not None for row in rows):
        return {}
    return earliest_times(path, "messages", "session_id", "created_timestamp")
