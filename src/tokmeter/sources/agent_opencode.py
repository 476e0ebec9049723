"""OpenCode: the ``message`` table of ``~/.local/share/opencode/opencode.db`` (SQLite; ``opencode-<channel>.db``
for other channels) and, from older versions, ``storage/message/<session>/<message>.json`` files: one JSON
message each (the table keeps the same JSON in its ``data`` column). Learnt from OpenCode's
``Session.getUsage`` and ccusage's opencode adapter, which reads ``SELECT id, session_id, data FROM
message``.

An assistant message with ``tokens`` is one model call. OpenCode stores ``tokens.input`` without the
cache (it subtracts ``cache.read`` and ``cache.write`` when the provider counted them in), ``cache.read``,
``cache.write``, ``output`` and ``reasoning``. So input = input + cache.read + cache.write. Whether
``output`` includes ``reasoning`` changed between versions; ``total`` tells (total = input + cache +
output + reasoning: it does not, and is added), and without a ``total`` that tells, reasoning is taken as
not included. The model is ``modelID``, the provider ``providerID``; ``cost`` (OpenCode's own price) is not
kept. The project is ``path.root`` (else ``path.cwd``), the session ``sessionID`` (the table's
``session_id``), the request id ``opencode:<message id>`` (the same in the database and a JSON file, so the
store keeps one).

Kilo CLI, an OpenCode fork, keeps the same ``message`` table in ``~/.local/share/kilo/kilo.db``: read the
same way, as agent ``kilo`` (request id ``kilo:<message id>``). Its gateway's rows (``providerID: kilo``,
OpenRouter's ``vendor/model`` ids) get provider ``openrouter``, whose prices it charges.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import checked, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "opencode"
SQLITE_HEADER = b"SQLite format 3\x00"


def logs(root: Path) -> list[Path]:
    """The database (``opencode.db``, else the first ``opencode-<channel>.db``) and the legacy folder."""
    databases = (
        [root / "opencode.db"] if (root / "opencode.db").is_file() else sorted(root.glob("opencode-*.db"))
    )
    return [*databases[:1], root / "storage" / "message"]


def sniff(path: Path, head: bytes) -> bool:
    if head.startswith(SQLITE_HEADER):
        return path.name.startswith("opencode") and path.suffix == ".db"
    return head.startswith(b"{") and b'"providerID"' in head and b'"sessionID"' in head


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions, fmt: str = FORMAT
) -> Iterator[Capture | BadCapture]:
    """One capture per assistant message with usage, of a database or a JSON message file; ``fmt``: the
    agent (Kilo CLI, an OpenCode fork, stores the same table in ``kilo.db``)."""
    del options
    source = str(path)
    if path.suffix == ".db":
        yield from _read_database(path, file_time, fmt)
        return
    with opener(path) as handle:
        data = handle.read()
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), None, fmt)
        return
    if isinstance(message, dict):
        make = partial(_capture, message, None, None, source, 0, None, file_time, fmt)
        capture = checked(fmt, source, 0, None, make)
        if capture is not None:
            yield capture


def _read_database(path: Path, file_time: datetime | None, fmt: str) -> Iterator[Capture | BadCapture]:
    source = str(path)
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT rowid, id, session_id, data FROM message ORDER BY rowid").fetchall()
    except sqlite3.Error as exc:
        yield BadCapture(source, 0, f"cannot read the message table ({exc})", None, fmt)
        return
    for rowid, message_id, session_id, data in rows:
        try:
            message = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError):
            yield BadCapture(source, rowid, "message.data is not valid JSON", rowid, fmt)
            continue
        if isinstance(message, dict):
            make = partial(
                _capture, message, text(message_id), text(session_id), source, rowid, rowid, file_time, fmt
            )
            capture = checked(fmt, source, rowid, rowid, make)
            if capture is not None:
                yield capture


def _capture(
    message: dict[str, Any],
    message_id: str | None,
    session_id: str | None,
    source: str,
    offset: int,
    line: int | None,
    file_time: datetime | None,
    fmt: str,
) -> Capture | None:
    tokens = message.get("tokens")
    message_id = message_id or text(message.get("id"))
    usage = tokmeter_usage(tokens) if isinstance(tokens, dict) else None
    if usage is None or message_id is None:
        return None
    where = _object(message.get("path"))
    created = _object(message.get("time")).get("created")
    return usage_capture(
        fmt,
        source,
        offset,
        request_id=f"{fmt}:{message_id}",
        ts=created if isinstance(created, int | float) and not isinstance(created, bool) else None,
        provider=_provider(text(message.get("providerID")), text(message.get("modelID"))),
        model=text(message.get("modelID")),
        project=text(where.get("root")) or text(where.get("cwd")),
        session=session_id or text(message.get("sessionID")),
        usage=usage,
        line=line,
        file_time=file_time,
    )


def tokmeter_usage(tokens: dict[str, Any]) -> dict[str, int | None] | None:
    """OpenCode's ``tokens`` in tokmeter's convention (None when it counts nothing)."""
    cache = _object(tokens.get("cache"))
    given, output = count(tokens.get("input")) or 0, count(tokens.get("output")) or 0
    read, write = count(cache.get("read")) or 0, count(cache.get("write")) or 0
    reasoning, total = count(tokens.get("reasoning")) or 0, count(tokens.get("total"))
    if total is not None and reasoning and total == given + read + write + output:
        output -= min(reasoning, output)  # this version counted reasoning in output
    known = given + read + write + output + reasoning
    if total is not None and total > known:  # ccusage's rule: what the parts miss is output
        output += total - known
    if not (given + read + write + output + reasoning):
        return None
    return {
        "input_tokens": given + read + write,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": output + reasoning,
        "reasoning_tokens": reasoning,
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def kilo_logs(root: Path) -> list[Path]:
    return [root / "kilo.db"]


def kilo_sniff(path: Path, head: bytes) -> bool:
    return head.startswith(SQLITE_HEADER) and path.name == "kilo.db"


def read_kilo(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    return read(path, file_time, opener, options, "kilo")


def _provider(provider: str | None, model: str | None) -> str | None:
    """Kilo's gateway (``providerID: kilo``) serves OpenRouter's ``vendor/model`` ids at OpenRouter's prices:
    those rows are priced as OpenRouter's."""
    return "openrouter" if provider == "kilo" and model and "/" in model else provider
