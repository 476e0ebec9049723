"""Anthropic Messages API, streaming and not.

Usage: ``input_tokens`` excludes the cache, so input = input_tokens + cache_read_input_tokens +
cache_creation_input_tokens; ``cache_creation.ephemeral_1h_input_tokens`` is the 1-hour part of the
writes; reasoning is ``output_tokens_details.thinking_tokens`` when reported. ``usage.service_tier``
(standard, priority, batch) and ``usage.speed`` (fast mode: "fast") say how it was served.

Streams: ``message_start`` carries the first usage; each ``message_delta`` carries **cumulative**
usage whose non-null fields replace what came before (never sum them: with server tools even the
input grows during the stream). ``message_stop`` is the proper end.

``usage.iterations`` (context compaction): the top-level counts cover the final ``message``
iteration only, so ``compaction`` iterations are added back in; ``advisor_message`` iterations ran on
another model at other rates and are left out of this row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import stream_text
from .base import (
    Extracted,
    as_mapping,
    as_str,
    loads_or_none,
    require_counts,
    service_tier,
    speed,
    token_count,
)
from .registry import ApiFamily, register
from .sse import SSEEvent

API = "anthropic_messages"

_USAGE_EVENTS = ("message_start", "message_delta", "message_stop", "error")
_TYPE = re.compile(r'"type"\s*:\s*"(message_start|message_delta|message_stop|error)"')
_RAW_KEYS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)


def _raw_counts(usage: Mapping[str, Any], where: str) -> dict[str, int]:
    counts = {key: token_count(usage, key, where) for key in _RAW_KEYS}
    counts["cache_1h"] = token_count(
        as_mapping(usage.get("cache_creation")), "ephemeral_1h_input_tokens", f"{where}.cache_creation"
    )
    counts["thinking"] = token_count(
        as_mapping(usage.get("output_tokens_details")), "thinking_tokens", f"{where}.output_tokens_details"
    )
    return counts


def _apply(counts: Mapping[str, int], ex: Extracted) -> None:
    ex.cache_read_tokens = counts["cache_read_input_tokens"]
    ex.cache_write_tokens = counts["cache_creation_input_tokens"]
    ex.cache_write_1h_tokens = counts["cache_1h"]
    ex.input_tokens = counts["input_tokens"] + ex.cache_read_tokens + ex.cache_write_tokens
    ex.output_tokens = counts["output_tokens"]
    ex.reasoning_tokens = counts["thinking"]
    ex.usage_source = "reported"


def _add_compaction(usage: Mapping[str, Any], counts: dict[str, int]) -> None:
    iterations = usage.get("iterations")
    if not isinstance(iterations, list):
        return
    for index, item in enumerate(iterations):
        if isinstance(item, Mapping) and item.get("type") == "compaction":
            extra = _raw_counts(item, f"usage.iterations[{index}]")
            for key, value in extra.items():
                counts[key] += value


def from_json(doc: Mapping[str, Any]) -> Extracted:
    # error bodies carry no message id, only the request_id that support asks for
    ex = Extracted(
        model=as_str(doc.get("model")), response_id=as_str(doc.get("id")) or as_str(doc.get("request_id"))
    )
    usage = as_mapping(doc.get("usage"))
    if usage is not None:
        require_counts(usage, _RAW_KEYS)
        counts = _raw_counts(usage, "usage")
        _add_compaction(usage, counts)
        _apply(counts, ex)
        _served(usage, ex)
    return ex


def _served(usage: Mapping[str, Any], ex: Extracted) -> None:
    """How the response was served (``usage.service_tier``, ``usage.speed``): a usage that says
    replaces what an earlier one said."""
    ex.service_tier = service_tier(usage.get("service_tier")) or ex.service_tier
    ex.speed = speed(usage.get("speed")) or ex.speed


def from_stream(events: Iterable[SSEEvent]) -> Extracted:
    ex = Extracted(complete=False)
    counts: dict[str, int] | None = None
    last_usage: Mapping[str, Any] | None = None
    for event in events:
        kind = event.event
        if kind is None or kind not in _USAGE_EVENTS:
            match = _TYPE.search(event.data) if kind is None else None
            if match is None:
                continue
            kind = match.group(1)
        if kind == "message_stop":
            ex.complete = True
            continue
        doc = as_mapping(loads_or_none(event.data))
        if doc is None:
            continue
        if kind == "message_start":
            message = as_mapping(doc.get("message")) or {}
            ex.model = as_str(message.get("model")) or ex.model
            ex.response_id = as_str(message.get("id")) or ex.response_id
            usage = as_mapping(message.get("usage"))
            if usage is not None:
                counts, last_usage = _raw_counts(usage, "message_start.usage"), usage
                _served(usage, ex)
        elif kind == "message_delta" and (usage := as_mapping(doc.get("usage"))) is not None:
            delta = _raw_counts(usage, "message_delta.usage")
            counts = counts or dict.fromkeys(delta, 0)
            for key, value in delta.items():
                if _present(usage, key):
                    counts[key] = value
            last_usage = usage
            _served(usage, ex)
    if counts is not None and last_usage is not None:
        _add_compaction(last_usage, counts)
        _apply(counts, ex)
    return ex


def _present(usage: Mapping[str, Any], key: str) -> bool:
    if key == "cache_1h":
        return as_mapping(usage.get("cache_creation")) is not None
    if key == "thinking":
        return as_mapping(usage.get("output_tokens_details")) is not None
    return usage.get(key) is not None


register(
    ApiFamily(
        API,
        "anthropic",
        from_json,
        from_stream,
        stream_text=stream_text.anthropic_messages,
        markers=("message_",),  # message_start, message_delta, message_stop: all the reader uses
        estimate_when_cut=True,
    )
)
