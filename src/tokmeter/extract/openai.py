"""OpenAI Chat Completions and Responses API, and the OpenAI-compatible family's usage quirks.

Chat usage: ``prompt_tokens`` (whole prompt), ``prompt_tokens_details.cached_tokens`` (else DeepSeek
``prompt_cache_hit_tokens``, Mistral ``num_cached_tokens``, Hugging Face top-level ``cached_tokens``),
``prompt_tokens_details.cache_write_tokens``, ``completion_tokens`` (reasoning included) and
``completion_tokens_details.reasoning_tokens``. Streams carry usage on a final chunk only when the
request set ``stream_options.include_usage`` (``"usage": null`` on the other chunks); Groq puts it in
``x_groq.usage``.

Responses usage: ``input_tokens`` / ``output_tokens`` with ``input_tokens_details.cached_tokens`` /
``cache_write_tokens`` and ``output_tokens_details.reasoning_tokens``; streams end with
``response.completed``, ``response.incomplete`` or ``response.failed`` carrying the whole response.

Both say the tier that served them in ``service_tier`` (default, flex, priority, scale; a request's
"auto" is resolved in the response): top level, on every chat chunk (read from the first chunk and
the one carrying the usage), and in a stream's final response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import stream_text
from .base import Extracted, as_mapping, as_str, loads_or_none, require_counts, service_tier, token_count
from .registry import ApiFamily, register
from .sse import SSEEvent

CHAT = "openai_chat"
RESPONSES = "openai_responses"

# A chunk worth decoding: one that names a non-null usage or finish_reason. Other chunks only carry
# text deltas; skipping them is what keeps extraction fast. (A quote inside text is escaped as \",
# so text cannot fake the unescaped key.)
_CHAT_INTERESTING = re.compile(r'"(?:usage|finish_reason|x_groq)"\s*:\s*(?!null)')
# The only events the Responses reader reads: those whose data names a "response" (one search through a
# stream finds them all; a key spelled with escapes is not read, by either path).
_RESPONSE_KEY = '"response"'
_RESPONSES_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_RESPONSES_TYPE = re.compile(
    r'"type"\s*:\s*"(response\.(?:created|in_progress|completed|incomplete|failed)|error)"'
)


def chat_usage(usage: Mapping[str, Any], ex: Extracted, where: str = "usage") -> None:
    require_counts(usage, ("prompt_tokens", "completion_tokens", "total_tokens"), where)
    prompt_details = as_mapping(usage.get("prompt_tokens_details"))
    completion_details = as_mapping(usage.get("completion_tokens_details"))
    ex.input_tokens = token_count(usage, "prompt_tokens", where)
    ex.output_tokens = token_count(usage, "completion_tokens", where)
    cached = token_count(prompt_details, "cached_tokens", f"{where}.prompt_tokens_details")
    if not cached:
        cached = (
            token_count(usage, "prompt_cache_hit_tokens", where)
            or token_count(usage, "num_cached_tokens", where)
            or token_count(usage, "cached_tokens", where)
        )
    ex.cache_read_tokens = cached
    ex.cache_write_tokens = token_count(
        prompt_details, "cache_write_tokens", f"{where}.prompt_tokens_details"
    )
    ex.reasoning_tokens = token_count(
        completion_details, "reasoning_tokens", f"{where}.completion_tokens_details"
    )
    ex.usage_source = "reported"


def responses_usage(usage: Mapping[str, Any], ex: Extracted, where: str = "usage") -> None:
    require_counts(usage, ("input_tokens", "output_tokens", "total_tokens"), where)
    input_details = as_mapping(usage.get("input_tokens_details"))
    output_details = as_mapping(usage.get("output_tokens_details"))
    ex.input_tokens = token_count(usage, "input_tokens", where)
    ex.output_tokens = token_count(usage, "output_tokens", where)
    ex.cache_read_tokens = token_count(input_details, "cached_tokens", f"{where}.input_tokens_details")
    ex.cache_write_tokens = token_count(input_details, "cache_write_tokens", f"{where}.input_tokens_details")
    ex.reasoning_tokens = token_count(output_details, "reasoning_tokens", f"{where}.output_tokens_details")
    ex.usage_source = "reported"


def chat_from_json(doc: Mapping[str, Any]) -> Extracted:
    ex = Extracted(
        model=as_str(doc.get("model")),
        response_id=as_str(doc.get("id")),
        service_tier=service_tier(doc.get("service_tier")),
    )
    usage = as_mapping(doc.get("usage")) or as_mapping((as_mapping(doc.get("x_groq")) or {}).get("usage"))
    if usage is not None:
        chat_usage(usage, ex)
    return ex


def chat_from_stream(events: Iterable[SSEEvent]) -> Extracted:
    ex = Extracted(complete=False)
    usage: Mapping[str, Any] | None = None
    first = True
    # the service tier is the one of the (last) chunk carrying the usage, else the first chunk's
    first_tier = usage_tier = None
    for event in events:
        if event.is_done:
            ex.complete = True
            continue
        if not first and not _CHAT_INTERESTING.search(event.data):
            continue
        chunk = stream_chunk(event)
        if chunk is None:
            continue
        if first:
            first_tier = chunk.get("service_tier")
        first = False
        ex.model = ex.model or as_str(chunk.get("model"))
        ex.response_id = ex.response_id or as_str(chunk.get("id"))
        found = chunk_usage(chunk)
        if found is not None:
            usage, usage_tier = found, chunk.get("service_tier")
        if chunk_finishes(chunk):
            ex.complete = True
    if usage is not None:
        chat_usage(usage, ex)
    ex.service_tier = service_tier(usage_tier or first_tier)
    return ex


def stream_chunk(event: SSEEvent) -> Mapping[str, Any] | None:
    """A stream event's chunk: its data decoded as an object (None for ``[DONE]`` and anything else)."""
    return None if event.is_done else as_mapping(loads_or_none(event.data))


def chunk_usage(chunk: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A stream chunk's usage (Groq's under ``x_groq``), or None."""
    return as_mapping(chunk.get("usage")) or as_mapping((as_mapping(chunk.get("x_groq")) or {}).get("usage"))


def chunk_finishes(chunk: Mapping[str, Any]) -> bool:
    """Whether a stream chunk gives a choice its finish reason."""
    return any(
        isinstance(choice, Mapping) and choice.get("finish_reason") for choice in chunk.get("choices") or ()
    )


def responses_from_json(doc: Mapping[str, Any]) -> Extracted:
    response = as_mapping(doc.get("response")) or doc
    ex = Extracted(
        model=as_str(response.get("model")),
        response_id=as_str(response.get("id")),
        service_tier=service_tier(response.get("service_tier")),
    )
    usage = as_mapping(response.get("usage"))
    if usage is not None:
        responses_usage(usage, ex)
    return ex


def responses_from_stream(events: Iterable[SSEEvent]) -> Extracted:
    ex = Extracted(complete=False)
    final: Mapping[str, Any] | None = None
    for event in events:
        kind = event.event
        if kind is None:
            match = _RESPONSES_TYPE.search(event.data)
            kind = match.group(1) if match else None
        if kind is None or not ((kind.startswith("response.") and "." not in kind[9:]) or kind == "error"):
            continue
        if _RESPONSE_KEY not in event.data:  # read only what carries a response, as the fast path finds it
            continue
        doc = as_mapping(loads_or_none(event.data))
        if doc is None:
            continue
        response = as_mapping(doc.get("response"))
        if response is None:
            continue
        ex.model = as_str(response.get("model")) or ex.model
        ex.response_id = as_str(response.get("id")) or ex.response_id
        if kind in _RESPONSES_TERMINAL:
            final = response
            ex.complete = True
    if final is not None and (usage := as_mapping(final.get("usage"))) is not None:
        responses_usage(usage, ex)
    if final is not None:
        ex.service_tier = service_tier(final.get("service_tier"))  # response.created says what was asked
    return ex


register(ApiFamily(CHAT, "openai", chat_from_json, chat_from_stream, stream_text=stream_text.openai_chat))
register(
    ApiFamily(
        RESPONSES,
        "openai",
        responses_from_json,
        responses_from_stream,
        stream_text=stream_text.openai_responses,
        markers=(_RESPONSE_KEY,),
    )
)
