"""Kimi CLI: ``~/.kimi/sessions/<work dir hash>/<session id>/wire.jsonl``, the session's wire log; its
``StatusUpdate`` messages carry the usage of one model step (``message.payload.token_usage``:
``input_other``, ``input_cache_read``, ``input_cache_creation``, ``output``, and in some versions
``total``). Learnt from ccusage's kimi adapter.

Input = input_other + input_cache_read + input_cache_creation (Kimi counts the cache apart), output as
recorded, reasoning not recorded (null), except that what ``total`` counts beyond the parts is reasoning
(output when the record counts none, ccusage's rule: ``agent_usage.beyond_parts``). The wire log names no model: it is ``model`` of the data directory's ``config.json``, else
``kimi-for-coding`` (ccusage's default); the provider is ``moonshot``. The session is the folder holding
the log; the project the work directory whose MD5 names the folder above it (from ``kimi.json``'s
``work_dirs``), else that folder's name; the request id ``kimi:<session>:<payload.message_id>`` (else the
byte offset of the line).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import BadCount, beyond_parts, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "kimi"
DEFAULT_MODEL = "kimi-for-coding"
PROVIDER = "moonshot"


def logs(root: Path) -> list[Path]:
    return [root / "sessions"]


def sniff(path: Path, head: bytes) -> bool:
    return head.startswith(b"{") and (path.name == "wire.jsonl" or b'"StatusUpdate"' in head)


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    source, session = str(path), path.parent.name
    root = path.parents[3] if len(path.parents) > 3 else path.parent
    model, project = _model(root), _project(root, path.parent.parent.name)
    offset = 0
    with opener(path) as handle:
        for number, raw in enumerate(handle, start=1):
            here, offset = offset, offset + len(raw)
            if b'"StatusUpdate"' not in raw or b'"token_usage"' not in raw:
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                reason = invalid_json(exc)
                yield BadCapture(source, here, reason, number, FORMAT)
                continue
            message = line.get("message") if isinstance(line, dict) else None
            if not isinstance(message, dict) or message.get("type") != "StatusUpdate":
                continue
            payload: dict[str, Any] = message["payload"] if isinstance(message.get("payload"), dict) else {}
            try:
                usage = tokmeter_usage(payload.get("token_usage"))
            except BadCount as exc:
                yield BadCapture(source, here, str(exc), number, FORMAT)
                continue
            if usage is None:
                continue
            key = text(payload.get("message_id")) or str(here)
            stamp = line.get("timestamp")
            yield usage_capture(
                FORMAT,
                source,
                here,
                request_id=f"kimi:{session}:{key}",
                ts=stamp if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None,
                provider=PROVIDER,
                model=model,
                project=project,
                session=session,
                usage=usage,
                line=number,
                file_time=file_time,
            )


def tokmeter_usage(tokens: Any) -> dict[str, int | None] | None:
    if not isinstance(tokens, dict):
        return None
    other, output = count(tokens.get("input_other")) or 0, count(tokens.get("output")) or 0
    read, write = count(tokens.get("input_cache_read")) or 0, count(tokens.get("input_cache_creation")) or 0
    output, reasoning = beyond_parts(output, other + output + read + write, tokens.get("total"))
    if not (other or output or read or write):
        return None
    return {
        "input_tokens": other + read + write,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
    }


def _json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def _model(root: Path) -> str:
    config = _json(root / "config.json")
    return (text(config.get("model")) if isinstance(config, dict) else None) or DEFAULT_MODEL


def _project(root: Path, folder: str) -> str:
    state = _json(root / "kimi.json")
    work_dirs = state.get("work_dirs") if isinstance(state, dict) else None
    for entry in work_dirs if isinstance(work_dirs, list) else []:
        where = text(entry.get("path")) if isinstance(entry, dict) else None
        if where and hashlib.md5(where.encode()).hexdigest() == folder:  # Kimi names the folder so
            return where
    return folder
