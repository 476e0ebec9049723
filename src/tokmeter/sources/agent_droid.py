"""Factory Droid: ``~/.factory/sessions/<project>/<session>.settings.json``, one file per session whose
``tokenUsage`` (``inputTokens``, ``outputTokens``, ``cacheCreationTokens``, ``cacheReadTokens``,
``thinkingTokens``, ``totalTokens``) is the session's running total. Learnt from ccusage's droid adapter.

Each session is one row, stamped with ``providerLockTimestamp`` as ccusage stamps it; without one, with the
``timestamp`` of the first message of the session's transcript beside it (``<session>.jsonl``, whose
``message`` lines Droid stamps), a time a re-read after the session grew does not move (ccusage takes the
file's modification time there); with neither, the file's time (the store then keeps the row at the time
of its first stored copy: ``store/sessions.py``). Droid counts input without the cache and thinking apart
from the output (ccusage adds it to the output it prices): input = input + cache writes + cache reads,
output = output + thinking, reasoning = thinking; what ``totalTokens`` counts beyond the parts is reasoning
too (``agent_usage.beyond_parts``). Model ``model`` as recorded, provider ``providerLock``; project the
folder holding the file; session the file's name; request id ``droid:<session>`` (``session_total_id``: a
session read again after it grew replaces its row, whatever day it was stored on).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json, session_total_id
from ..errors import BadCaptureError, TokmeterError
from ..extract import parse_timestamp
from .agent_usage import beyond_parts, checked, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions
from .single_file import plain_name

FORMAT = "droid"
SUFFIX = ".settings.json"
TRANSCRIPT_LINES = 200  # how far into a transcript its first stamped message is looked for


def logs(root: Path) -> list[Path]:
    return [root / "sessions"]


def sniff(path: Path, head: bytes) -> bool:
    return head.startswith(b"{") and plain_name(path.name).endswith(SUFFIX) and b'"tokenUsage"' in head


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    if not plain_name(path.name).endswith(SUFFIX):
        return  # the session's transcript beside it (<session>.jsonl) holds no usage
    source = str(path)
    with opener(path) as handle:
        data = handle.read()
    try:
        settings = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), None, FORMAT)
        return
    found = checked(FORMAT, source, 0, None, partial(_capture, settings, path, file_time, opener))
    if found is not None:
        yield found


def _capture(settings: Any, path: Path, file_time: datetime | None, opener: Opener) -> Capture | None:
    tokens = settings.get("tokenUsage") if isinstance(settings, dict) else None
    if not isinstance(tokens, dict):
        return None
    given, output = count(tokens.get("inputTokens")) or 0, count(tokens.get("outputTokens")) or 0
    write, read_ = count(tokens.get("cacheCreationTokens")) or 0, count(tokens.get("cacheReadTokens")) or 0
    thinking = count(tokens.get("thinkingTokens")) or 0
    output, beyond = beyond_parts(
        output, given + output + write + read_ + thinking, tokens.get("totalTokens")
    )
    reasoning = thinking + (beyond or 0)
    if not (given or output or write or read_ or reasoning):
        return None
    session = plain_name(path.name)[: -len(SUFFIX)]
    return usage_capture(
        FORMAT,
        str(path),
        0,
        request_id=session_total_id(FORMAT, session),
        ts=text(settings.get("providerLockTimestamp")) or transcript_start(path, session, opener),
        provider=text(settings.get("providerLock")),
        model=text(settings.get("model")),
        project=path.parent.name if path.parent.name != "sessions" else None,
        session=session,
        usage={
            "input_tokens": given + write + read_,
            "cache_read_tokens": read_,
            "cache_write_tokens": write,
            "output_tokens": output + thinking,
            "reasoning_tokens": reasoning,
        },
        file_time=file_time,
    )


def transcript_start(settings: Path, session: str, opener: Opener) -> str | None:
    """The ``timestamp`` of the first stamped ``message`` line of the session's transcript beside its
    settings (``<session>.jsonl``, or compressed as the settings are), within its first lines; None when
    there is no transcript or no stamped message in it."""
    suffix = settings.name[len(plain_name(settings.name)) :]
    for name in dict.fromkeys((f"{session}.jsonl{suffix}", f"{session}.jsonl")):
        try:
            with opener(settings.with_name(name)) as handle:
                stamps = (
                    _message_time(line) for _, line in zip(range(TRANSCRIPT_LINES), handle, strict=False)
                )
                found = next((stamp for stamp in stamps if stamp is not None), None)
        except (OSError, EOFError, ValueError, TokmeterError):  # none there, or cut short or unreadable
            continue
        if found is not None:
            return found
    return None


def _message_time(line: bytes) -> str | None:
    if b'"timestamp"' not in line:
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    stamp = (
        text(record.get("timestamp"))
        if isinstance(record, dict) and record.get("type") == "message"
        else None
    )
    try:
        return stamp if stamp is not None and parse_timestamp(stamp) else None
    except BadCaptureError:
        return None
