"""Claude Code transcripts: ``~/.claude/projects/<project>/<session>.jsonl`` (and the sub-agent files
under ``<session>/subagents/``), one JSON object per line.

Only assistant lines carry usage (``message.usage``, the Anthropic Messages usage of one API call; the
request id in ``requestId``, the message id in ``message.id``). User, summary, snapshot and tool lines
are skipped silently, and so are ``<synthetic>`` messages (Claude Code writes them itself, no API call
made them). A sub-agent's messages can also arrive wrapped in a ``progress`` line
(``data.message.message.usage``).

One API response is often written as several lines (one per content block) that repeat its ids, with
usage growing as the stream went on. Like a stream folded into one row, these lines are folded into one
capture per response, with the rule ``ccusage`` uses, so the totals agree with it:

* lines with the same ``message.id`` and ``requestId`` are one response; a ``/btw`` side-chain line
  that replays a main-chain message of the same session under a new request id is that message too;
* of the copies, a main-chain one beats a side-chain one, then the larger token total wins, then the
  first.

Replays in a ``<session>/subagents/*.jsonl`` file are matched against ``<session>.jsonl`` beside that
directory. Copies in other files (a resumed session repeats earlier messages) become rows with the
same request id, which the store deduplicates.

The user is ``ReadOptions.claude_code_user`` (the CLI's ``--claude-code-user``, else
``$TOKMETER_CLAUDE_CODE_USER``), else the OS user; the project is the directory under ``projects/``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .options import ReadOptions

FORMAT = "claude-code"
SYNTHETIC_MODEL = "<synthetic>"
_USAGE_MARK = b'"usage"'
# What is kept of a line with usage (the rest, content included, is dropped as soon as it is read).
_RECORD_KEYS = ("timestamp", "sessionId", "requestId", "isSidechain", "version", "cwd")
_MESSAGE_KEYS = ("id", "model", "usage", "stop_reason")

Opener = Callable[[Path], IO[bytes]]


def transcript_user(options: ReadOptions) -> str | None:
    """The user the options name, else the OS user."""
    return options.claude_code_user or os_user()


def os_user() -> str | None:
    """The login name of whoever runs tokmeter (the owner of local agent transcripts)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no USER variable
        return None


@dataclass(slots=True)
class _Line:
    offset: int
    number: int
    record: dict[str, Any]
    message_id: str | None
    request_id: str | None
    session: str
    sidechain: bool
    total: int


def read_claude_code(
    handle: IO[bytes], path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    """One capture per API response in the transcript (see the module doc), in file order."""
    source = str(path)
    session = _session_of(path)
    replays = _parent_main_chain(path, opener)
    fold = _Fold()
    for item in _usage_lines(handle, source, session):
        if isinstance(item, BadCapture):
            yield item
        elif not _is_replay(item, replays):
            fold.add(item)
    meta = {"user": transcript_user(options), "project": project_of(path)}
    for line in fold.lines:
        yield from _captures(line, source, file_time, meta)


def project_of(path: Path) -> str | None:
    """The directory right under ``projects/`` (Claude Code's encoding of the working directory)."""
    parts = path.parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "projects" and index + 1 < len(parts) - 1:
            return parts[index + 1]
    return path.parent.name or None


def _session_of(path: Path) -> str:
    if path.parent.name == "subagents":
        return path.parent.parent.name
    name = path.name
    return name.split(".", 1)[0]


def _usage_lines(handle: IO[bytes], source: str, session: str) -> Iterator[_Line | BadCapture]:
    offset = 0
    for number, raw in enumerate(handle, start=1):
        here = offset
        offset += len(raw)
        if _USAGE_MARK not in raw:
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield BadCapture(source, here, invalid_json(exc), number, FORMAT)
            continue
        record = _usage_record(doc)
        if record is not None:
            yield _line(record, here, number, session)


def _usage_record(doc: Any) -> dict[str, Any] | None:
    """The line's assistant record (unwrapping ``progress`` lines), whole; None when the line carries no
    API usage. (The line is cut to what is read, ``_slim``, once the fold keeps it.)"""
    if type(doc) is not dict:
        return None
    record = doc
    if type(doc.get("message")) is not dict:
        data = doc.get("data")
        nested = data.get("message") if type(data) is dict else None
        if type(nested) is not dict or type(nested.get("message")) is not dict:
            return None
        record = {**nested, "sessionId": nested.get("sessionId") or doc.get("sessionId")}
    message = record["message"]
    if type(message.get("usage")) is not dict or message.get("model") == SYNTHETIC_MODEL:
        return None
    return record


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What is read of a line (the rest, content included, is dropped as soon as the line is kept)."""
    slim = {key: record[key] for key in _RECORD_KEYS if key in record}
    message = record["message"]
    slim["message"] = {key: message[key] for key in _MESSAGE_KEYS if key in message}
    return slim


def _line(record: dict[str, Any], offset: int, number: int, session: str) -> _Line:
    message = record["message"]
    message_id, request_id, line_session = message.get("id"), record.get("requestId"), record.get("sessionId")
    return _Line(
        offset,
        number,
        record,
        message_id if type(message_id) is str and message_id else None,
        request_id if type(request_id) is str and request_id else None,
        line_session if type(line_session) is str and line_session else session,
        record.get("isSidechain") is True,
        _total(message["usage"]),
    )


def _total(usage: dict[str, Any]) -> int:
    """input + output + cache writes + cache reads, as ccusage ranks copies (its cache-write count
    is the sum of the TTL buckets when ``cache_creation`` is present)."""
    buckets = usage.get("cache_creation")
    counts: tuple[Any, ...]
    if type(buckets) is dict:
        counts = (buckets.get("ephemeral_5m_input_tokens"), buckets.get("ephemeral_1h_input_tokens"))
    else:
        counts = (usage.get("cache_creation_input_tokens"),)
    counts += (usage.get("input_tokens"), usage.get("output_tokens"), usage.get("cache_read_input_tokens"))
    # a positive int counts (bool is a subclass of int, not int itself)
    return sum(value for value in counts if type(value) is int and value > 0)


class _Fold:
    """The copies of each response, folded to the one kept (in order of first appearance)."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self._exact: dict[tuple[str, str | None], int] = {}
        self._by_message: dict[tuple[str, str], list[int]] = {}

    def add(self, line: _Line) -> None:
        if line.message_id is None:
            self._keep(line, len(self.lines))
            return
        index = self._find(line, line.message_id)
        if index is None:
            index = len(self.lines)
            self._keep(line, index)
            self._by_message.setdefault((line.session, line.message_id), []).append(index)
        elif _better(line, self.lines[index]):
            self._keep(line, index)
        self._exact.setdefault((line.message_id, line.request_id), index)

    def _keep(self, line: _Line, index: int) -> None:
        line.record = _slim(line.record)
        if index == len(self.lines):
            self.lines.append(line)
        else:
            self.lines[index] = line

    def _find(self, line: _Line, message_id: str) -> int | None:
        index = self._exact.get((message_id, line.request_id))
        if index is not None:
            return index
        for candidate in self._by_message.get((line.session, message_id), ()):
            if line.sidechain or self.lines[candidate].sidechain:
                return candidate
        return None


def _better(new: _Line, kept: _Line) -> bool:
    if new.sidechain != kept.sidechain:
        return kept.sidechain
    return new.total > kept.total


def _is_replay(line: _Line, parent: dict[str, frozenset[str | None]]) -> bool:
    """A side-chain line that repeats a main-chain message of the parent session under a new request id."""
    if not line.sidechain or line.message_id is None:
        return False
    request_ids = parent.get(line.message_id)
    return request_ids is not None and line.request_id not in request_ids


def _parent_main_chain(path: Path, opener: Opener) -> dict[str, frozenset[str | None]]:
    """For a ``<session>/subagents/*.jsonl`` file: message id -> request ids of the main-chain
    messages in ``<session>.jsonl``; empty for other files."""
    if path.parent.name != "subagents":
        return {}
    session_dir = path.parent.parent
    parent = session_dir.parent / f"{session_dir.name}.jsonl"
    try:
        stat = parent.stat()
    except OSError:
        return {}
    return _main_chain_ids(parent, stat.st_mtime_ns, stat.st_size, opener)


@lru_cache(maxsize=32)
def _main_chain_ids(path: Path, _mtime: int, _size: int, opener: Opener) -> dict[str, frozenset[str | None]]:
    found: dict[str, set[str | None]] = {}
    try:
        with opener(path) as handle:
            for item in _usage_lines(handle, str(path), path.stem):
                if isinstance(item, _Line) and not item.sidechain and item.message_id is not None:
                    found.setdefault(item.message_id, set()).add(item.request_id)
    except (OSError, EOFError):
        return {}
    return {key: frozenset(value) for key, value in found.items()}


def _captures(
    line: _Line, source: str, file_time: datetime | None, shared: dict[str, Any]
) -> Iterator[Capture]:
    """The response's capture, then one per ``advisor_message`` iteration (another model's call, billed
    on its own, as ccusage counts it)."""
    record = line.record
    meta = {
        **shared,
        "ts": record.get("timestamp"),
        "request_id": line.request_id,
        "session": line.session,
        "request": {"model": record["message"].get("model"), "stream": True},
    }
    yield Capture(source, line.offset, meta, record, line.number, file_time, FORMAT)
    for index, iteration in _advisor_iterations(record["message"]["usage"]):
        suffix = f":advisor:{index}"
        message = {
            "id": line.message_id + suffix if line.message_id else None,
            "model": iteration["model"],
            "usage": {k: v for k, v in iteration.items() if k not in ("type", "model")},
        }
        advisor_meta = {
            **meta,
            "request_id": line.request_id + suffix if line.request_id else None,
            "request": {"model": iteration["model"], "stream": True},
        }
        yield Capture(
            source, line.offset, advisor_meta, {**record, "message": message}, line.number, file_time, FORMAT
        )


def _advisor_iterations(usage: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    iterations = usage.get("iterations")
    if not isinstance(iterations, list):
        return
    advisors = (
        item for item in iterations if isinstance(item, dict) and item.get("type") == "advisor_message"
    )
    yield from enumerate(item for item in advisors if isinstance(item.get("model"), str) and item["model"])
