"""Codex CLI sessions: ``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`` (and
``archived_sessions/``), one ``{"timestamp", "type", "payload"}`` item per line.

* ``session_meta`` names the session (``payload.id``), its project (the working directory,
  ``payload.cwd``) and, in newer versions, the provider (``payload.model_provider``);
* ``turn_context`` sets the model for the turns that follow (``payload.model``);
* ``event_msg`` items whose ``payload.type`` is ``token_count`` carry usage: ``info.last_token_usage``
  (the last request) and ``info.total_token_usage`` (the session's running total). Codex repeats an
  event without new usage (the running total does not move): those count nothing. A turn's usage is
  ``last_token_usage``, else the difference of two running totals. Events with ``info: null`` only
  report rate limits.

A forked session (``codex fork``, a sub-agent spawned with the parent's context) starts with a copy of
its parent's history: after its own ``session_meta`` (which names the parent in ``forked_from_id``, or
``source.subagent.thread_spawn``), Codex writes the parent's lines again, its ``session_meta`` and
``token_count`` events included, re-stamped with the time of the fork. Those turns were counted in the
parent's file, so they count nothing here (their running totals are still the base for the differences
that follow). The copy is the chain of ``token_count`` events that follows the parent's ``session_meta``
(or the fork's own) each within ``REPLAY_GAP`` of the one before, as Codex writes them in one burst; the
fork's first turn of its own comes after a model call. The session is the first ``session_meta``'s.

Everything else (messages, reasoning, tool calls) is skipped silently. Each counted event becomes a
capture named ``codex:<session id>:<byte offset>``, billed to the OS user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .claude_code import Opener, os_user
from .options import ReadOptions

FORMAT = "codex"
USAGE_KEYS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
_INTERESTING = (b'"session_meta"', b'"turn_context"', b'"token_count"')
# Copied history is written in one burst: its token_count events are this close (seconds) to the line before.
REPLAY_GAP = 1.0


@dataclass(slots=True)
class _Session:
    id: str
    provider: str | None = None
    project: str | None = None
    model: str | None = None
    previous_total: dict[str, int] | None = None
    user: str | None = field(default_factory=os_user)
    named: bool = False  # its own session_meta was read (later ones are copied from a parent)
    replay_since: float | None = None  # in copied history: the time of its last line read


def read_codex(
    handle: IO[bytes], path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    """One capture per token_count event that carries new usage, in file order."""
    del opener, options  # a session file stands alone, and names its own user
    source = str(path)
    session = _Session(_session_from_name(path))
    offset = 0
    for number, raw in enumerate(handle, start=1):
        here = offset
        offset += len(raw)
        if not any(mark in raw for mark in _INTERESTING):
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield BadCapture(source, here, invalid_json(exc), number, FORMAT)
            continue
        if isinstance(item, dict) and isinstance(item.get("payload"), dict):
            capture = _apply(item, session, source, here, number, file_time)
            if capture is not None:
                yield capture


def _session_from_name(path: Path) -> str:
    """``rollout-2025-09-12T10-00-00-<uuid>.jsonl`` -> the uuid (the last five dash-separated parts)."""
    stem = path.name.split(".", 1)[0]
    parts = stem.split("-")
    return "-".join(parts[-5:]) if stem.startswith("rollout-") and len(parts) > 5 else stem


def _apply(
    item: dict[str, Any], session: _Session, source: str, offset: int, line: int, file_time: datetime | None
) -> Capture | None:
    kind, payload = item.get("type"), item["payload"]
    if kind == "session_meta":
        _session_meta(payload, _seconds(item.get("timestamp")), session)
    elif kind == "turn_context":
        session.model = _text(payload.get("model")) or session.model
    elif kind == "event_msg" and payload.get("type") == "token_count":
        replayed = _replayed(_seconds(item.get("timestamp")), session)
        usage = _turn_usage(payload.get("info"), session)
        if usage is not None and not replayed:
            model = _text(payload.get("model")) or session.model
            meta = {
                "ts": item.get("timestamp"),
                "request_id": f"codex:{session.id}:{offset}",
                "user": session.user,
                "provider": session.provider or "openai",
                "session": session.id,
                "project": session.project,
                "request": {"model": model, "stream": True},
            }
            return Capture(source, offset, meta, {"usage": usage, "model": model}, line, file_time, FORMAT)
    return None


def _session_meta(payload: dict[str, Any], when: float | None, session: _Session) -> None:
    """The first one names the session; a later one with another id starts a parent's copied history, and
    so does a first one that says the session is a fork."""
    own = _text(payload.get("id"))
    if not session.named:
        session.named = True
        session.id = own or session.id
        session.provider = _text(payload.get("model_provider")) or session.provider
        session.project = _text(payload.get("cwd"))
        if _is_fork(payload):
            session.replay_since = when
    elif own is not None and own != session.id:
        session.replay_since = when


def _is_fork(payload: dict[str, Any]) -> bool:
    source = payload.get("source")
    subagent = source.get("subagent") if isinstance(source, dict) else None
    return bool(_text(payload.get("forked_from_id"))) or (
        isinstance(subagent, dict) and "thread_spawn" in subagent
    )


def _replayed(when: float | None, session: _Session) -> bool:
    """Whether a token_count event belongs to copied history (see the module doc); it ends at the first
    event that does not."""
    if session.replay_since is None or when is None or when - session.replay_since > REPLAY_GAP:
        session.replay_since = None
        return False
    session.replay_since = max(when, session.replay_since)
    return True


def _seconds(value: Any) -> float | None:
    """An ISO 8601 timestamp as epoch seconds (None when it is not one)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _turn_usage(info: Any, session: _Session) -> dict[str, Any] | None:
    """This event's new usage (None when it adds nothing), as ccusage reads it."""
    if not isinstance(info, dict):
        return None
    total = info.get("total_token_usage") if isinstance(info.get("total_token_usage"), dict) else None
    last = info.get("last_token_usage") if isinstance(info.get("last_token_usage"), dict) else None
    advanced = total is None or _numbers(total) != session.previous_total
    usage: dict[str, Any] | None = last if last is not None and advanced else None
    if usage is None and total is not None:
        usage = _difference(_numbers(total), session.previous_total)
    if total is not None:
        session.previous_total = _numbers(total)
    if usage is None or not any(_number(usage.get(key)) for key in USAGE_KEYS):
        return None
    return usage


def _numbers(usage: dict[str, Any]) -> dict[str, int]:
    return {key: _number(usage.get(key)) for key in USAGE_KEYS}


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _difference(total: dict[str, int], previous: dict[str, int] | None) -> dict[str, int]:
    previous = previous or {}
    return {key: max(total[key] - previous.get(key, 0), 0) for key in USAGE_KEYS}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
