"""OpenTelemetry: OTLP JSON as the Collector's file exporter writes it (one ``ExportTraceServiceRequest``
or ``ExportLogsServiceRequest`` per line: ``{"resourceSpans": [...]}``, ``{"resourceLogs": [...]}``).

Each line holds many spans and log records; those that are model calls become captures, the rest (agent,
tool and HTTP spans, other events, metrics lines) are skipped without a word:

* a span or log record with GenAI usage (``gen_ai.usage.input_tokens`` / ``output_tokens``, or the older
  ``prompt_tokens`` / ``completion_tokens``) whose ``gen_ai.operation.name`` is not an agent's or a tool's
  (``invoke_agent``, ``create_agent``, ``execute_tool``: their usage, where given, sums their model calls);
* a Claude Code ``api_request`` event (a log record whose ``event.name`` is ``api_request`` or whose body
  is ``claude_code.api_request``).

The capture's body is the record decoded: ``{"kind", "name", "attributes", "resource"}`` with OTLP's typed
values (``{"intValue": "12"}``, ``{"stringValue": …}``) turned into plain ones; ``extract/otel.py``
reads its usage. Its metadata: ``ts`` the span's start (``startTimeUnixNano``) or the record's time
(``timeUnixNano``, else ``observedTimeUnixNano``); ``request_id`` ``gen_ai.response.id`` (the response id
an instrumented client saw; a span and an inference event of the same call share it), else a
``request_id`` attribute, else ``otel:<trace id>:<span id>`` for a span,
``claude-code:<session.id>:<event.sequence>`` for a Claude Code event (its events carry no API request
id: the same call read from a transcript too is a second row), else none (the capture's digest); ``user``
``user.email`` / ``enduser.id`` / ``user.id``; ``session`` ``session.id`` or ``gen_ai.conversation.id``;
``tags`` ``service`` (the resource's ``service.name``) and, for Claude Code, ``organization_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .records import logged_reader

FORMAT = "otel"
NOT_MODEL_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool"})
USAGE_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
)
CLAUDE_CODE_EVENT = "claude_code.api_request"
# (list key, scope list key, item list key, kind) for traces and logs
_SIGNALS = (
    ("resourceSpans", "scopeSpans", "spans", "span"),
    ("resourceLogs", "scopeLogs", "logRecords", "log"),
)


read_otel = logged_reader(
    FORMAT, lambda record, _path, _options: [(otel_meta(body), body) for body in model_calls(record)]
)


def model_calls(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The model calls of one OTLP export request, decoded (ValueError: it is no OTLP request)."""
    if not any(key in request for key in ("resourceSpans", "resourceLogs", "resourceMetrics")):
        raise ValueError("not an OTLP JSON export: expected resourceSpans, resourceLogs or resourceMetrics")
    found = []
    for resources_key, scopes_key, items_key, kind in _SIGNALS:
        for resource_entry in _list(request.get(resources_key), resources_key):
            resource = attributes((_dict(resource_entry).get("resource") or {}).get("attributes"))
            for scope in _list(_dict(resource_entry).get(scopes_key), scopes_key):
                for item in _list(_dict(scope).get(items_key), items_key):
                    call = _decoded(_dict(item), kind, resource)
                    if is_model_call(call):
                        found.append(call)
    return found


def _decoded(item: dict[str, Any], kind: str, resource: dict[str, Any]) -> dict[str, Any]:
    body = item.get("body")
    return {
        "kind": kind,
        "name": item.get("name") if kind == "span" else value_of(body) if isinstance(body, dict) else None,
        "time": item.get("startTimeUnixNano") or item.get("timeUnixNano") or item.get("observedTimeUnixNano"),
        "trace_id": item.get("traceId"),
        "span_id": item.get("spanId"),
        "attributes": attributes(item.get("attributes")),
        "resource": resource,
    }


def is_model_call(call: dict[str, Any]) -> bool:
    attrs = call["attributes"]
    if is_claude_code(call):
        return True
    return (
        any(key in attrs for key in USAGE_KEYS) and attrs.get("gen_ai.operation.name") not in NOT_MODEL_CALLS
    )


def is_claude_code(call: dict[str, Any]) -> bool:
    attrs = call["attributes"]
    return call["kind"] == "log" and (
        call["name"] == CLAUDE_CODE_EVENT
        or (attrs.get("event.name") == "api_request" and "input_tokens" in attrs)
    )


def otel_meta(call: dict[str, Any]) -> dict[str, Any]:
    attrs, resource = call["attributes"], call["resource"]
    tags = {"service": _text(resource.get("service.name"))}
    if is_claude_code(call):
        tags["organization_id"] = _text(attrs.get("organization.id"))
    return {
        "ts": _nanos(call["time"]) or attrs.get("event.timestamp"),
        "request_id": _text(attrs.get("gen_ai.response.id"))
        or _text(attrs.get("request_id"))
        or _own_id(call),
        "user": _first(attrs, resource, "user.email", "enduser.id", "user.id"),
        "session": _first(attrs, resource, "session.id", "gen_ai.conversation.id"),
        "tags": {key: value for key, value in tags.items() if value},
    }


def _own_id(call: dict[str, Any]) -> str | None:
    """An id for a call that names none: its span, or a Claude Code event's session and sequence number."""
    attrs = call["attributes"]
    if call["kind"] == "span" and call["trace_id"] and call["span_id"]:
        return f"otel:{call['trace_id']}:{call['span_id']}"
    session, sequence = attrs.get("session.id"), attrs.get("event.sequence")
    if is_claude_code(call) and _text(session) and isinstance(sequence, int | str) and str(sequence):
        return f"claude-code:{session}:{sequence}"
    return None


def attributes(entries: Any) -> dict[str, Any]:
    """OTLP's ``[{"key", "value": {"stringValue": …}}]`` as a plain mapping."""
    found: dict[str, Any] = {}
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            value = entry.get("value")
            found[entry["key"]] = value_of(value) if isinstance(value, dict) else None
    return found


def value_of(value: dict[str, Any]) -> Any:
    """One OTLP ``AnyValue`` as a plain value (``intValue`` is a string in OTLP JSON: a number here)."""
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        number = value["intValue"]
        try:
            return int(number) if isinstance(number, str | int) and not isinstance(number, bool) else number
        except ValueError:
            return number
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") if isinstance(value["arrayValue"], dict) else None
        return [value_of(item) for item in items or () if isinstance(item, dict)]
    if "kvlistValue" in value:
        return attributes(
            (value["kvlistValue"] or {}).get("values") if isinstance(value["kvlistValue"], dict) else None
        )
    return None


def _nanos(value: Any) -> Any:
    """Unix nanoseconds (a string in OTLP JSON) as ISO 8601; None when absent or 0 (unset); anything else
    as it is (extraction reports a time it cannot read)."""
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return value
    if nanos <= 0:
        return None
    try:
        return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return value


def _first(attrs: dict[str, Any], resource: dict[str, Any], *keys: str) -> str | None:
    for source in (attrs, resource):
        for key in keys:
            if text := _text(source.get(key)):
                return text
    return None


def _list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key} is not a list")
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
