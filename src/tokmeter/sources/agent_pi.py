"""pi (the pi coding agent): ``~/.pi/agent/sessions/<project>/<time>_<session>.jsonl``, a session header
line (``type: "session"``, ``id``, ``cwd``) then one entry per line; an assistant ``message`` entry carries
the usage of one call (``message.usage``: ``input``, ``output``, ``cacheRead``, ``cacheWrite``,
``totalTokens``, ``cost``). Learnt from ccusage's pi adapter.

pi's ``input`` excludes the cache (its AI layer reports cache reads and writes apart), so input = input +
cacheRead + cacheWrite; output as recorded; reasoning not recorded (null), except what ``totalTokens``
counts beyond the parts (``agent_usage.beyond_parts``). Model ``message.model`` and provider
``message.provider`` as recorded; pi's own ``cost`` is not kept. The project is the header's ``cwd`` (else
the folder), the session the header's ``id`` (else the part of the file name after ``_``); the request id
``pi:<session>:<entry id>`` (else the entry's byte offset).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture
from .agent_usage import beyond_parts, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "pi"


def logs(root: Path) -> list[Path]:
    return [root]  # the sessions folder itself


def sniff(path: Path, head: bytes) -> bool:
    del path
    return head.startswith(b'{"type":"session"') and b'"cwd"' in head.split(b"\n", 1)[0]


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    source = str(path)
    stem = path.name.split(".jsonl", 1)[0]
    session, project = stem.split("_", 1)[-1], path.parent.name
    offset = 0
    with opener(path) as handle:
        for number, raw in enumerate(handle, start=1):
            here, offset = offset, offset + len(raw)
            if b'"session"' not in raw and b'"usage"' not in raw:
                continue
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield BadCapture(
                    source, here, f"not valid JSON ({str(exc).split(':', 1)[0][:80]})", number, FORMAT
                )
                continue
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == "session":
                session, project = text(entry.get("id")) or session, text(entry.get("cwd")) or project
                continue
            capture = _capture(entry, session, project, source, here, number, file_time)
            if capture is not None:
                yield capture


def _capture(
    entry: dict[str, Any],
    session: str,
    project: str,
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
    return usage_capture(
        FORMAT,
        source,
        offset,
        request_id=f"pi:{session}:{text(entry.get('id')) or offset}",
        ts=text(entry.get("timestamp")),
        provider=text(message.get("provider")),
        model=text(message.get("model")),
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
