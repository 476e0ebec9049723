"""Google Gemini API and Vertex AI ``generateContent`` / ``streamGenerateContent``.

Usage (``usageMetadata``): ``promptTokenCount`` is the prompt and ``toolUsePromptTokenCount`` the
tool results fed back to the model (code execution, search), so input = promptTokenCount +
toolUsePromptTokenCount; ``cachedContentTokenCount`` is the cache-read part of the prompt.
``candidatesTokenCount`` excludes thinking, so output = candidatesTokenCount + thoughtsTokenCount
and reasoning = thoughtsTokenCount; ``serviceTier`` (standard, flex, priority) the tier that served it
(also sent as the ``x-gemini-service-tier`` header, read by ``extract_row`` when the body is silent).
Gemini reports no cache writes (context caches are created by a separate call). The model is ``modelVersion``, the response id ``responseId``.

Streams come as SSE (``?alt=sse``) or, without it, as one JSON array of chunks. Every chunk's
``usageMetadata`` is a running total, so the last one counts. A stream is complete once a candidate
carries a ``finishReason`` (or the prompt was blocked: ``promptFeedback.blockReason``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import stream_text
from .base import Extracted, as_mapping, as_str, loads_or_none, service_tier, token_count
from .registry import ApiFamily, register
from .sse import SSEEvent

API = "gemini"


def usage_into(usage: Mapping[str, Any], ex: Extracted, where: str = "usageMetadata") -> None:
    prompt = token_count(usage, "promptTokenCount", where)
    tool_use = token_count(usage, "toolUsePromptTokenCount", where)
    thoughts = token_count(usage, "thoughtsTokenCount", where)
    ex.input_tokens = prompt + tool_use
    ex.cache_read_tokens = token_count(usage, "cachedContentTokenCount", where)
    ex.output_tokens = token_count(usage, "candidatesTokenCount", where) + thoughts
    ex.reasoning_tokens = thoughts
    ex.usage_source = "reported"
    ex.service_tier = service_tier(usage.get("serviceTier"))


def from_json(doc: Mapping[str, Any]) -> Extracted:
    """A whole ``generateContent`` response (or an error body, which carries no usage)."""
    ex = Extracted(model=as_str(doc.get("modelVersion")), response_id=as_str(doc.get("responseId")))
    usage = as_mapping(doc.get("usageMetadata"))
    if usage is not None:
        usage_into(usage, ex)
    return ex


def from_chunks(chunks: Iterable[Any]) -> Extracted:
    """A stream as decoded chunks (the elements of a JSON-array stream, or SSE events' data)."""
    ex = Extracted(complete=False)
    usage: Mapping[str, Any] | None = None
    for item in chunks:
        chunk = as_mapping(item)
        if chunk is None:
            continue
        ex.model = as_str(chunk.get("modelVersion")) or ex.model
        ex.response_id = ex.response_id or as_str(chunk.get("responseId"))
        usage = as_mapping(chunk.get("usageMetadata")) or usage
        if _finished(chunk):
            ex.complete = True
    if usage is not None:
        usage_into(usage, ex)
    return ex


def from_stream(events: Iterable[SSEEvent]) -> Extracted:
    """An ``alt=sse`` stream: one chunk per event; a cut-off last event is skipped."""
    return from_chunks(_decoded(events))


def _decoded(events: Iterable[SSEEvent]) -> Iterator[Any]:
    for event in events:
        if event.data.lstrip().startswith("{"):
            yield loads_or_none(event.data)


def _finished(chunk: Mapping[str, Any]) -> bool:
    feedback = as_mapping(chunk.get("promptFeedback"))
    if feedback is not None and feedback.get("blockReason"):
        return True
    candidates = chunk.get("candidates")
    if not isinstance(candidates, list):
        return False
    return any(isinstance(c, Mapping) and c.get("finishReason") for c in candidates)


register(
    ApiFamily(
        API,
        "google",
        from_json,
        from_stream,
        from_chunks=from_chunks,
        stream_text=stream_text.gemini,
        service_tier_header="x-gemini-service-tier",
    )
)
