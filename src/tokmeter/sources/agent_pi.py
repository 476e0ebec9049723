"""pi (the pi coding agent): ``~/.pi/agent/sessions/<project>/<time>_<session>.jsonl``, a session header
line (``type: "session"``, ``id``, ``cwd``) then one entry per line; an assistant ``message`` entry carries
the usage of one call (``message.usage``: ``input``, ``output``, ``cacheRead``, ``cacheWrite``,
``totalTokens``, ``cost``). Learnt from ccusage's pi adapter.

pi's ``input`` excludes the cache (its AI layer reports cache reads and writes apart), so input = input +
cacheRead + cacheWrite; output as recorded; reasoning not recorded (null), except what ``totalTokens``
counts beyond the parts (``agent_usage.beyond_parts``). Model ``message.model`` and provider
``message.provider`` as recorded; pi's own ``cost`` is not kept. The project is the header's ``cwd`` (else
the folder), the session the header's ``id`` (else the part of the file name after ``_``); the request id
``pi:<session>:<entry id>`` (else the entry's byte offset). A message without its model takes the last
``model_change`` entry's.

OpenClaw (``~/.openclaw``, formerly ``~/.clawdbot``, ``~/.moltbot``, ``~/.moldbot``) writes pi's sessions, and
also model snapshots (``type: "custom"``, ``customType: "model-snapshot"``) and set-aside copies
(``<session>.jsonl.deleted.<time>``, ``.reset.<time>``): read the same way, as agent ``openclaw`` (its
folder tells it from pi; request id ``openclaw:<session>:<entry id>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import beyond_parts, checked, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "pi"
_INTERESTING = (b'"session"', b'"usage"', b'"model_change"', b'"model-snapshot"')


def logs(root: Path) -> list[Path]:
    return [root]  # the sessions folder itself


def sniff(path: Path, head: bytes) -> bool:
    del path
    return head.startswith(b'{"type":"session"') and b'"cwd"' in head.split(b"\n", 1)[0]


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions, fmt: str = FORMAT
) -> Iterator[Capture | BadCapture]:
    """One capture per assistant message with usage; ``fmt``: the agent (OpenClaw writes pi's format)."""
    del options
    source = str(path)
    stem = path.name.split(".jsonl", 1)[0]
    session, project = stem.split("_", 1)[-1], path.parent.name
    model: dict[str, str | None] = {"model": None, "provider": None}
    offset = 0
    with opener(path) as handle:
        for number, raw in enumerate(handle, start=1):
            here, offset = offset, offset + len(raw)
            if not any(mark in raw for mark in _INTERESTING):
                continue
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield BadCapture(source, here, invalid_json(exc), number, fmt)
                continue
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == "session":
                session, project = text(entry.get("id")) or session, text(entry.get("cwd")) or project
                continue
            if _model_change(entry, model):
                continue
            make = partial(_capture, entry, (fmt, session, project), model, source, here, number, file_time)
            capture = checked(fmt, source, here, number, make)
            if capture is not None:
                yield capture


def _model_change(entry: dict[str, Any], model: dict[str, str | None]) -> bool:
    """A ``model_change`` entry (or OpenClaw's ``model-snapshot``): the model of the messages that follow."""
    snapshot = entry.get("type") == "custom" and entry.get("customType") == "model-snapshot"
    if entry.get("type") != "model_change" and not snapshot:
        return False
    data = entry["data"] if isinstance(entry.get("data"), dict) else entry
    model["model"] = text(data.get("modelId")) or text(data.get("model")) or model["model"]
    model["provider"] = text(data.get("provider")) or model["provider"]
    return True


def _capture(
    entry: dict[str, Any],
    where: tuple[str, str, str],
    model: dict[str, str | None],
    source: str,
    offset: int,
    line: int,
    file_time: datetime | None,
) -> Capture | None:
    message = entry.get("message")
    if entry.get("type", "message") != "message" or not isinstance(message, dict):
        return None
    usage = message.get("usage")
    if message.get("role") != "assistant" or not isinstance(usage, dict):
        return None
    given, output = count(usage.get("input")) or 0, count(usage.get("output")) or 0
    read, write = count(usage.get("cacheRead")) or 0, count(usage.get("cacheWrite")) or 0
    output, reasoning = beyond_parts(output, given + output + read + write, usage.get("totalTokens"))
    if not (given or output or read or write):
        return None
    fmt, session, project = where
    stamp = message.get("timestamp") if isinstance(message.get("timestamp"), int | float) else None
    return usage_capture(
        fmt,
        source,
        offset,
        request_id=f"{fmt}:{session}:{text(entry.get('id')) or offset}",
        ts=text(entry.get("timestamp")) or stamp,
        provider=text(message.get("provider")) or model["provider"],
        model=text(message.get("modelId")) or text(message.get("model")) or model["model"],
        project=project,
        session=session,
        usage={
            "input_tokens": given + read + write,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
            "output_tokens": output,
            "reasoning_tokens": reasoning,
        },
        line=line,
        file_time=file_time,
    )


def openclaw_logs(root: Path) -> list[Path]:
    """OpenClaw's data directory, and the sessions it set aside (``*.jsonl.deleted.<time>``,
    ``*.jsonl.reset.<time>``, which are no capture names: listed one by one)."""
    aside = [
        p for p in sorted(root.rglob("*.jsonl.*")) if ".jsonl.deleted." in p.name or ".jsonl.reset." in p.name
    ]
    return [root, *aside]


def read_openclaw(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    return read(path, file_time, opener, options, "openclaw")
