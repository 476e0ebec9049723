"""Qwen Code chat records: ``~/.qwen/projects/<project>/chats/<session>.jsonl``, one ``ChatRecord`` per line
(``uuid``, ``parentUuid``, ``sessionId``, ``timestamp``, ``type``, ``cwd``, ``message``, ``usageMetadata``,
``model``). Learnt from qwen-code's ``chatRecordingService.ts`` and ccusage's qwen adapter.

Each ``type: "assistant"`` record with ``usageMetadata`` is one model call. Qwen Code keeps Gemini's
``usageMetadata`` shape, filled from whichever API it called: ``promptTokenCount`` includes
``cachedContentTokenCount`` (the cache reads); ``thoughtsTokenCount`` is reasoning, which an
OpenAI-compatible API (DashScope, OpenRouter) counts inside ``candidatesTokenCount`` and Gemini does not.
``totalTokenCount`` tells which: when it equals prompt + candidates (+ toolUsePrompt), the candidates
include the thoughts; otherwise they are added. So input = promptTokenCount + toolUsePromptTokenCount,
cache reads = cachedContentTokenCount, cache writes unknown (null: the shape has no such count), output =
candidates (+ thoughts when not included), reasoning = thoughts.

The project is the record's ``cwd`` (else the folder under ``projects/``), the session ``sessionId``, the
request id ``qwen:<uuid>``: ``/branch`` copies records into a new session with their ``uuid``, so a copied
call is one row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import checked, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "qwen"


def logs(root: Path) -> list[Path]:
    return [root / "projects"]


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    source, folder = str(path), _project_folder(path)
    offset = 0
    with opener(path) as handle:
        for number, raw in enumerate(handle, start=1):
            here, offset = offset, offset + len(raw)
            if b'"usageMetadata"' not in raw:
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                reason = invalid_json(exc)
                yield BadCapture(source, here, reason, number, FORMAT)
                continue
            if isinstance(record, dict) and record.get("type") == "assistant":
                make = partial(_capture, record, folder, source, here, number, file_time)
                capture = checked(FORMAT, source, here, number, make)
                if capture is not None:
                    yield capture


def _project_folder(path: Path) -> str | None:
    parts = path.parts
    if len(parts) >= 4 and parts[-2] == "chats" and parts[-4] == "projects":
        return parts[-3]
    return None


def _capture(
    record: dict[str, Any],
    folder: str | None,
    source: str,
    offset: int,
    line: int,
    file_time: datetime | None,
) -> Capture | None:
    metadata = record.get("usageMetadata")
    usage = tokmeter_usage(metadata) if isinstance(metadata, dict) else None
    if usage is None:
        return None
    session = text(record.get("sessionId"))
    key = text(record.get("uuid")) or f"{session or source}:{offset}"
    return usage_capture(
        FORMAT,
        source,
        offset,
        request_id=f"qwen:{key}",
        ts=text(record.get("timestamp")),
        provider=None,  # Qwen Code calls whichever OpenAI-compatible or Gemini endpoint it is set up for
        model=text(record.get("model")),
        project=text(record.get("cwd")) or folder,
        session=session,
        usage=usage,
        line=line,
        file_time=file_time,
    )


def tokmeter_usage(metadata: dict[str, Any]) -> dict[str, int | None] | None:
    """A ``usageMetadata`` in tokmeter's convention (None when it counts nothing)."""
    prompt, cached = (
        count(metadata.get("promptTokenCount")) or 0,
        count(metadata.get("cachedContentTokenCount")) or 0,
    )
    candidates, thoughts = (
        count(metadata.get("candidatesTokenCount")) or 0,
        count(metadata.get("thoughtsTokenCount")) or 0,
    )
    tool, total = count(metadata.get("toolUsePromptTokenCount")) or 0, count(metadata.get("totalTokenCount"))
    included = total is not None and thoughts and total == prompt + tool + candidates
    output = candidates + (0 if included else thoughts)
    if not (prompt or tool or output) and total:
        output = total  # ccusage's rule: a record with only a total counts it as output
    if not (prompt or tool or output):
        return None
    return {
        "input_tokens": prompt + tool,
        "cache_read_tokens": min(cached, prompt + tool),
        "cache_write_tokens": None,
        "output_tokens": output,
        "reasoning_tokens": thoughts,
    }
