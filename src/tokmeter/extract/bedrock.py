"""AWS Bedrock Runtime: Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream.

Converse usage: ``inputTokens`` excludes the cache, so input = inputTokens + cacheReadInputTokens +
cacheWriteInputTokens (older bodies spell them ``cacheReadInputTokenCount`` /
``cacheWriteInputTokenCount``); output = ``outputTokens``; ``cacheDetails`` lists the writes by TTL
(``"1h"`` ones are the 1-hour part). Bedrock reports no reasoning count and no response id.

ConverseStream is an AWS event stream (see ``eventstream.py``): ``messageStart``, content events,
``messageStop`` (the proper end), then ``metadata`` carrying the usage. An ``exception`` message
ends the stream early. ``serviceTier`` (``{"type": "priority"}``: default, priority, flex, reserved),
in a Converse body or the stream's ``metadata``, is the tier that served it.

InvokeModel passes the model's own body through: Anthropic models answer with an Anthropic Messages
body (read by ``anthropic.py``); Amazon Nova with the Converse usage shape. The stream variant sends
``chunk`` events whose payload is ``{"bytes": base64}`` holding one Anthropic stream event; the last
chunk also carries ``amazon-bedrock-invocationMetrics`` (Bedrock's own counts, used when the model's
events carry no usage).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

from . import anthropic
from .base import Extracted, as_mapping, as_str, loads_or_none, service_tier, token_count
from .eventstream import EventStream, HeaderValue
from .registry import ApiFamily, register
from .sse import SSEEvent

CONVERSE = "bedrock_converse"
INVOKE = "bedrock_invoke"

_METRICS_KEY = "amazon-bedrock-invocationMetrics"


def usage_into(usage: Mapping[str, Any], ex: Extracted, where: str = "usage") -> None:
    """Converse-shaped usage (also Nova's InvokeModel body) into ``ex``."""
    read = token_count(usage, "cacheReadInputTokens", where) or token_count(
        usage, "cacheReadInputTokenCount", where
    )
    write = token_count(usage, "cacheWriteInputTokens", where) or token_count(
        usage, "cacheWriteInputTokenCount", where
    )
    ex.cache_read_tokens = read
    ex.cache_write_tokens = write
    ex.cache_write_1h_tokens = _one_hour_writes(usage.get("cacheDetails"), where)
    ex.input_tokens = token_count(usage, "inputTokens", where) + read + write
    ex.output_tokens = token_count(usage, "outputTokens", where)
    ex.usage_source = "reported"


def _one_hour_writes(details: Any, where: str) -> int:
    if not isinstance(details, list):
        return 0
    return sum(
        token_count(item, "inputTokens", f"{where}.cacheDetails[{index}]")
        for index, item in enumerate(details)
        if isinstance(item, Mapping) and item.get("ttl") == "1h"
    )


def from_json(doc: Mapping[str, Any]) -> Extracted:
    """A Converse response (or an error body such as ``{"message": ...}``, which has no usage)."""
    ex = Extracted(service_tier=service_tier(doc.get("serviceTier")))
    usage = as_mapping(doc.get("usage"))
    if usage is not None:
        usage_into(usage, ex)
    return ex


def invoke_from_json(doc: Mapping[str, Any]) -> Extracted:
    """An InvokeModel response: an Anthropic body, a Nova body, or an error without usage."""
    usage = as_mapping(doc.get("usage")) or {}
    if doc.get("type") == "message" or "input_tokens" in usage:
        return anthropic.from_json(doc)
    return from_json(doc)


def from_eventstream(data: bytes) -> Extracted:
    """A ConverseStream body. Complete when ``messageStop`` arrived and nothing was cut or failed."""
    ex = Extracted(complete=False)
    stream = EventStream(data)
    stopped = failed = False
    for headers, payload in stream:
        kind = _kind(headers)
        if kind is None:
            failed = True
            ex.notes.append(f"stream error: {_error_name(headers)}")
        elif kind == "messageStop":
            stopped = True
        elif kind == "metadata":
            metadata = as_mapping(loads_or_none(payload)) or {}
            ex.service_tier = service_tier(metadata.get("serviceTier")) or ex.service_tier
            usage = as_mapping(metadata.get("usage"))
            if usage is not None:
                usage_into(usage, ex, "metadata.usage")
    ex.complete = stopped and not failed and not stream.truncated
    return ex


def invoke_from_eventstream(data: bytes) -> Extracted:
    """An InvokeModelWithResponseStream body carrying Anthropic stream events."""
    stream = EventStream(data)
    metrics: list[Mapping[str, Any]] = []
    failed: list[str] = []
    ex = anthropic.from_stream(_anthropic_events(stream, metrics, failed))
    if ex.usage_source != "reported" and metrics:
        _metrics_into(metrics[-1], ex)
    ex.complete = (ex.complete or bool(metrics)) and not failed and not stream.truncated
    ex.notes += [f"stream error: {name}" for name in failed]
    return ex


def _anthropic_events(
    stream: EventStream, metrics: list[Mapping[str, Any]], failed: list[str]
) -> Iterator[SSEEvent]:
    """The Anthropic events inside ``chunk`` messages; collects invocation metrics and errors."""
    for headers, payload in stream:
        kind = _kind(headers)
        if kind is None:
            failed.append(_error_name(headers))
            continue
        if kind != "chunk":
            continue
        text = _chunk_text(payload)
        if text is None:
            continue
        if _METRICS_KEY in text:  # only the last chunk: skip decoding the others twice
            event = as_mapping(loads_or_none(text)) or {}
            if (found := as_mapping(event.get(_METRICS_KEY))) is not None:
                metrics.append(found)
        yield SSEEvent(None, text)


def _chunk_text(payload: bytes) -> str | None:
    wrapper = as_mapping(loads_or_none(payload))
    encoded = as_str(wrapper.get("bytes")) if wrapper else None
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _metrics_into(metrics: Mapping[str, Any], ex: Extracted) -> None:
    where = _METRICS_KEY
    read = token_count(metrics, "cacheReadInputTokenCount", where)
    write = token_count(metrics, "cacheWriteInputTokenCount", where)
    ex.cache_read_tokens, ex.cache_write_tokens = read, write
    ex.input_tokens = token_count(metrics, "inputTokenCount", where) + read + write
    ex.output_tokens = token_count(metrics, "outputTokenCount", where)
    ex.usage_source = "reported"


def _kind(headers: Mapping[str, HeaderValue]) -> str | None:
    """The event type of a message, or None when it is an exception or error message."""
    if headers.get(":message-type", "event") != "event":
        return None
    kind = headers.get(":event-type")
    return kind if isinstance(kind, str) else ""


def _error_name(headers: Mapping[str, HeaderValue]) -> str:
    name = headers.get(":exception-type") or headers.get(":error-code") or headers.get(":message-type")
    return str(name)


register(
    ApiFamily(
        CONVERSE,
        "bedrock",
        from_json,
        from_eventstream=from_eventstream,
        response_id_header="x-amzn-requestid",
    )
)
register(
    ApiFamily(
        INVOKE,
        "bedrock",
        invoke_from_json,
        from_eventstream=invoke_from_eventstream,
        response_id_header="x-amzn-requestid",
        estimate_when_cut=True,
    )
)
