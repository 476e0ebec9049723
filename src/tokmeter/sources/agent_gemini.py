"""Gemini CLI chat recordings: ``~/.gemini/tmp/<project>/chats/session-*.json`` (one ``ConversationRecord``:
``sessionId``, ``projectHash``, ``startTime``, ``messages``) and, in newer versions, ``session-*.jsonl`` (a
metadata line, then one message per line, a message rewritten under the same ``id`` as it grows, ``$set``
and ``$rewindTo`` lines). Learnt from gemini-cli's ``chatRecordingTypes.ts`` and ccusage's gemini adapter.

Each ``type: "gemini"`` message with ``tokens`` is one model call. ``tokens`` copies the API's
``usageMetadata``: ``input`` = promptTokenCount (which includes ``cached``, the cache reads), ``tool`` =
toolUsePromptTokenCount, ``output`` = candidatesTokenCount (without ``thoughts``), ``total``. So input =
input + tool, output = output + thoughts, reasoning = thoughts, cache reads = cached, cache writes 0 (the API
reports none), as ``extract/gemini.py`` reads a response. As ccusage does, ``input`` is taken to exclude
``cached`` when ``total`` says so (total = input + cached + output + thoughts + tool); a message whose
counts are all 0 but ``total`` counts ``total`` as output.

The project is the folder's ``.project_root`` (the working directory, written by newer versions), else the
record's ``projectHash``; the session is ``sessionId``; the request id ``gemini:<session>:<message id>``.
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

FORMAT = "gemini"
PROVIDER = "google"


def sniff(path: Path, head: bytes) -> bool:
    """A chat recording starts with ``sessionId`` and ``projectHash`` (its first line, in JSON Lines)."""
    del path
    return head.startswith(b"{") and b'"projectHash"' in head[:2048] and b'"sessionId"' in head[:2048]


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    """One capture per model call of a session file (a file that is no session yields nothing)."""
    del options
    with opener(path) as handle:
        data = handle.read()
    source = str(path)
    try:
        records = None if ".jsonl" in path.suffixes else [orjson.loads(data)]
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), None, FORMAT)
        return
    if records is None:
        records = _lines(data)
    session = _Session(path.stem.split(".")[0], _project(path))
    messages: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            continue
        session.note(record)
        for message in record.get("messages") or [record]:
            if isinstance(message, dict) and message.get("type") == "gemini":
                key = text(message.get("id")) or f"#{number}:{len(messages)}"
                messages[key] = (number, message)  # a later copy of a message replaces it
    for key, (number, message) in messages.items():
        make = partial(_capture, message, key, session, source, number, file_time)
        capture = checked(FORMAT, source, number, number, make)
        if capture is not None:
            yield capture


class _Session:
    def __init__(self, name: str, project: str | None) -> None:
        self.id, self.project = name, project
        self.hash: str | None = None
        self.start: str | None = None
        self.model: str | None = None

    def note(self, record: dict[str, Any]) -> None:
        self.id = text(record.get("sessionId")) or self.id
        self.hash = text(record.get("projectHash")) or self.hash
        self.start = text(record.get("startTime")) or self.start
        if record.get("type") != "gemini":
            self.model = text(record.get("model")) or self.model


def _lines(data: bytes) -> list[Any]:
    records: list[Any] = []
    for raw in data.splitlines():
        try:
            records.append(orjson.loads(raw) if raw.strip() else None)
        except orjson.JSONDecodeError:
            records.append(None)  # a line cut by a crash: the message is written again whole later
    return records


def _project(path: Path) -> str | None:
    marker = path.parent.parent / ".project_root" if path.parent.name == "chats" else None
    try:
        return text(marker.read_text(encoding="utf-8")) if marker is not None and marker.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _capture(
    message: dict[str, Any], key: str, session: _Session, source: str, line: int, file_time: datetime | None
) -> Capture | None:
    tokens = message.get("tokens")
    if not isinstance(tokens, dict):
        return None
    usage = tokmeter_usage(tokens)
    if usage is None:
        return None
    model = text(message.get("model")) or session.model
    return usage_capture(
        FORMAT,
        source,
        line,
        request_id=f"gemini:{session.id}:{key}",
        ts=text(message.get("timestamp")) or session.start,
        provider=PROVIDER,
        model=model,
        project=session.project or session.hash,
        session=session.id,
        usage=usage,
        line=line,
        file_time=file_time,
    )


def tokmeter_usage(tokens: dict[str, Any]) -> dict[str, int | None] | None:
    """A ``TokensSummary`` in tokmeter's convention (None when it counts nothing)."""
    given, cached = count(tokens.get("input")) or 0, count(tokens.get("cached")) or 0
    output, thoughts = count(tokens.get("output")) or 0, count(tokens.get("thoughts")) or 0
    tool, total = count(tokens.get("tool")) or 0, count(tokens.get("total"))
    inclusive = given + output + thoughts + tool
    if cached and total != inclusive:  # ccusage's rule: input did not include the cache
        given += cached
    if not (given or output or thoughts or tool) and total:
        output = total
    if not (given or output or thoughts or tool):
        return None
    return {
        "input_tokens": given + tool,
        "cache_read_tokens": min(cached, given),
        "cache_write_tokens": 0,
        "output_tokens": output + thoughts,
        "reasoning_tokens": thoughts,
    }
