"""GitHub Copilot CLI: its OpenTelemetry file export, ``~/.copilot/otel/*.jsonl`` (or the file
``$COPILOT_OTEL_FILE_EXPORTER_PATH`` names), one span or log record per line with GenAI semantic-convention
attributes. Learnt from ccusage's copilot adapter and the OpenTelemetry GenAI conventions.

A model call is a ``chat`` span (``gen_ai.operation.name: chat``, or a name ``chat <model>``). Copilot also
writes the same usage as an inference log record (``gen_ai.client.inference.operation.details``), an agent
turn log record (``copilot_chat.agent.turn``) and an ``invoke_agent`` summary span; as ccusage does, those are
read only for a trace (or response id) that no record of a finer kind covers, so each call counts once.

``gen_ai.usage.input_tokens`` includes the cache (the conventions say so for
``gen_ai.usage.cache_read.input_tokens`` and ``cache_creation.input_tokens``; a count smaller than its cache
parts did not, and they are added); ``gen_ai.usage.output_tokens`` is the API's output count, which
includes ``gen_ai.usage.reasoning.output_tokens`` (added only when larger than the output). Model ``gen_ai.response.model`` (else the request's, else the trace's), provider
``gen_ai.provider.name`` / ``gen_ai.system`` (else null); session the conversation id
(``gen_ai.conversation.id``, ``session.id``, ...); project not recorded (null). The request id is
``copilot:<trace id>:<span id>`` (a turn log: its turn index), stable across re-reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import checked, count, text, usage_capture, whole
from .claude_code import Opener
from .options import ReadOptions
from .sniff import top_level_keys

FORMAT = "copilot"
CHAT, INFERENCE, TURN, SUMMARY = range(4)  # finest first: a coarser record counts only where none finer does
MODEL_ATTRS = ("gen_ai.response.model", "gen_ai.request.model")
SESSION_ATTRS = (
    "gen_ai.conversation.id",
    "copilot_chat.session_id",
    "copilot_chat.chat_session_id",
    "session.id",
    "github.copilot.interaction_id",
    "gen_ai.response.id",
)


def logs(root: Path) -> list[Path]:
    return [root] if root.is_file() else [root / "otel"]


def sniff(path: Path, head: bytes) -> bool:
    """An OpenTelemetry record: top-level ``attributes`` and a trace (``traceId``, ``spanContext``), with
    GenAI attributes; a capture record never has those keys."""
    del path
    keys = set(top_level_keys(head.split(b"\n", 1)[0]))
    return "attributes" in keys and bool(keys & {"traceId", "spanContext"}) and b'"gen_ai.' in head


@dataclass(slots=True)
class _Call:
    kind: int
    record: dict[str, Any]
    attrs: dict[str, Any]
    line: int
    offset: int
    trace: str | None
    response: str | None


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    source = str(path)
    calls: list[_Call] = []
    traces: dict[str | None, dict[str, str]] = {}
    offset = 0
    with opener(path) as handle:
        for number, raw in enumerate(handle, start=1):
            here, offset = offset, offset + len(raw)
            if b'"attributes"' not in raw:
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield BadCapture(source, here, invalid_json(exc), number, FORMAT)
                continue
            call = _call(record, number, here)
            if call is not None:
                _note_trace(traces, call)
                calls.append(call)
    covered = {
        kind: {c.trace for c in calls if c.kind == kind} | {c.response for c in calls if c.kind == kind}
        for kind in range(4)
    }
    for call in calls:
        finer = set().union(*(covered[kind] for kind in range(call.kind)))
        if call.kind == CHAT or not ({call.trace, call.response} - {None}) & finer:
            trace = traces.get(call.trace, {})
            make = partial(_capture, call, trace, source, file_time)
            capture = checked(FORMAT, source, call.offset, call.line, make)
            if capture is not None:
                yield capture


def _call(record: Any, line: int, offset: int) -> _Call | None:
    if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict):
        return None
    attrs = record["attributes"]
    span = _is_span(record)
    operation, name = text(attrs.get("gen_ai.operation.name")), text(record.get("name")) or ""
    event, body = text(attrs.get("event.name")), text(record.get("body")) or text(record.get("_body")) or ""
    if span and (operation == "chat" or name.startswith("chat ")):
        kind = CHAT
    elif not span and (
        event == "gen_ai.client.inference.operation.details" or body.startswith("GenAI inference:")
    ):
        kind = INFERENCE
    elif not span and (event == "copilot_chat.agent.turn" or body.startswith("copilot_chat.agent.turn")):
        kind = TURN
    elif span and (operation == "invoke_agent" or name.startswith("invoke_agent ")):
        kind = SUMMARY
    else:
        kind = -1
    trace = text(record.get("traceId")) or _nested(record, "traceId")
    call = _Call(kind, record, attrs, line, offset, trace, text(attrs.get("gen_ai.response.id")))
    return call if kind >= 0 or trace is not None else None


def _note_trace(traces: dict[str | None, dict[str, str]], call: _Call) -> None:
    """What a trace's records say of its model and session, for its records that do not say it."""
    if call.trace is None:
        return
    known = traces.setdefault(call.trace, {})
    model = next((text(call.attrs.get(key)) for key in MODEL_ATTRS if text(call.attrs.get(key))), None)
    session = next(
        (text(call.attrs.get(key)) for key in SESSION_ATTRS[:4] if text(call.attrs.get(key))), None
    )
    if model and "model" not in known:
        known["model"] = model
    if session and "session" not in known:
        known["session"] = session


def _is_span(record: dict[str, Any]) -> bool:
    if isinstance(record.get("type"), str):
        return bool(record["type"] == "span")
    return text(record.get("name")) is not None and any(
        key in record for key in ("spanId", "traceId", "startTime", "endTime", "duration", "kind")
    )


def _nested(record: dict[str, Any], key: str) -> str | None:
    context = record.get("spanContext")
    return text(context.get(key)) if isinstance(context, dict) else None


def _capture(call: _Call, trace: dict[str, str], source: str, file_time: datetime | None) -> Capture | None:
    if call.kind < 0:
        return None
    usage = tokmeter_usage(call.attrs)
    if usage is None:
        return None
    attrs = call.attrs
    model = next((text(attrs.get(key)) for key in MODEL_ATTRS if text(attrs.get(key))), None) or trace.get(
        "model"
    )
    session = next((text(attrs.get(key)) for key in SESSION_ATTRS if text(attrs.get(key))), None)
    span = text(call.record.get("spanId")) or _nested(call.record, "spanId")
    turn = attrs.get("turn.index", attrs.get("copilot_chat.turn.index"))
    key = f"{call.trace}:turn-{turn}" if call.kind == TURN and call.trace else f"{call.trace}:{span}"
    if call.trace is None or (call.kind != TURN and span is None):
        key = f"{source}:{call.offset}"
    return usage_capture(
        FORMAT,
        source,
        call.offset,
        request_id=f"copilot:{key}",
        ts=_time(call.record),
        provider=text(attrs.get("gen_ai.provider.name")) or text(attrs.get("gen_ai.system")),
        model=model,
        project=None,
        session=trace.get("session") or session or call.trace,
        usage=usage,
        line=call.line,
        file_time=file_time,
    )


def _time(record: dict[str, Any]) -> Any:
    """The record's end (else start) time: ``[seconds, nanoseconds]`` or a number (s, ms, µs or ns)."""
    for key in ("endTime", "startTime", "hrTime", "_hrTime", "time"):
        value = record.get(key)
        if isinstance(value, list) and len(value) == 2 and all(whole(part) is not None for part in value):
            return value[0] + value[1] / 1e9
    for key in ("timestamp", "observedTimestamp", "timeUnixNano"):
        raw = whole(record.get(key))
        if raw:
            return raw / 1e9 if raw >= 1e17 else raw / 1e6 if raw >= 1e14 else raw
    return None


def tokmeter_usage(attrs: dict[str, Any]) -> dict[str, int | None] | None:
    """The GenAI usage attributes in tokmeter's convention (None when they count nothing)."""
    given, output = (
        count(attrs.get("gen_ai.usage.input_tokens")) or 0,
        count(attrs.get("gen_ai.usage.output_tokens")) or 0,
    )
    read = count(attrs.get("gen_ai.usage.cache_read.input_tokens")) or 0
    write = _first(attrs, "gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens")
    reasoning = _first(attrs, "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")
    total = _first(attrs, "gen_ai.usage.total_tokens", "gen_ai.usage.total.token_count")
    given += read if given < read else 0
    given += write if given < read + write else 0
    output += reasoning if reasoning > output else 0  # else a part of the output, as the API counted it
    if not (given or output) and total:
        output = total  # ccusage's rule: only a total counts as output
    if not (given or output):
        return None
    return {
        "input_tokens": given,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
    }


def _first(attrs: dict[str, Any], *keys: str) -> int:
    return next((value for key in keys if (value := count(attrs.get(key)))), 0)
