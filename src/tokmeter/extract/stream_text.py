"""The text a stream delivered, per API: read only for streams that ended without usage, to estimate it
(``estimate.py``). Nothing here is kept: the pieces are counted and dropped.

Visible output is the text deltas, refusals and tool-call names and arguments; reasoning is the
thinking text a provider streams (Anthropic ``thinking_delta``, DeepSeek-style ``reasoning_content``,
Gemini ``thought`` parts, Bedrock ``reasoningContent``). Hidden reasoning (OpenAI o-series and GPT-5,
Gemini without ``includeThoughts``) never reaches the stream and cannot be counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .base import as_mapping, as_str, loads_or_none
from .registry import family
from .sse import SSEEvent, parse_sse


@dataclass(slots=True)
class StreamText:
    """The pieces of text a stream carried, and whether usage arrived after its first event."""

    output: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    final_usage_seen: bool = False

    def add(self, value: Any, *, reasoning: bool = False) -> None:
        if isinstance(value, str) and value:
            (self.reasoning if reasoning else self.output).append(value)

    @property
    def empty(self) -> bool:
        return not self.output and not self.reasoning


def _docs(events: Iterable[SSEEvent]) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    for event in events:
        if event.is_done:
            continue
        doc = as_mapping(loads_or_none(event.data))
        if doc is not None:
            yield event.event or as_str(doc.get("type")), doc


def openai_chat(events: Iterable[SSEEvent]) -> StreamText:
    found = StreamText()
    for _, chunk in _docs(events):
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping):
                continue
            found.add(choice.get("text"))  # legacy completions
            delta = as_mapping(choice.get("delta")) or {}
            found.add(delta.get("content"))
            found.add(delta.get("refusal"))
            found.add(delta.get("reasoning_content"), reasoning=True)
            found.add(delta.get("reasoning"), reasoning=True)
            for call in delta.get("tool_calls") or ():
                function = as_mapping((as_mapping(call) or {}).get("function")) or {}
                found.add(function.get("name"))
                found.add(function.get("arguments"))
    return found


_RESPONSES_OUTPUT = (
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
)


def openai_responses(events: Iterable[SSEEvent]) -> StreamText:
    found = StreamText()
    for kind, doc in _docs(events):
        if kind in _RESPONSES_OUTPUT:
            found.add(doc.get("delta"))
        elif kind == "response.reasoning_text.delta":
            found.add(doc.get("delta"), reasoning=True)
        elif kind == "response.output_item.added":
            found.add((as_mapping(doc.get("item")) or {}).get("name"))
    return found


def anthropic_messages(events: Iterable[SSEEvent]) -> StreamText:
    found = StreamText()
    for kind, doc in _docs(events):
        if kind == "content_block_start":
            block = as_mapping(doc.get("content_block")) or {}
            found.add(block.get("text"))
            found.add(block.get("name"))
            found.add(block.get("thinking"), reasoning=True)
        elif kind == "content_block_delta":
            delta = as_mapping(doc.get("delta")) or {}
            found.add(delta.get("text"))
            found.add(delta.get("partial_json"))
            found.add(delta.get("thinking"), reasoning=True)
        elif kind == "message_delta" and as_mapping(doc.get("usage")) is not None:
            found.final_usage_seen = True
    return found


def cohere_chat(events: Iterable[SSEEvent]) -> StreamText:
    found = StreamText()
    for kind, doc in _docs(events):
        message = as_mapping((as_mapping(doc.get("delta")) or {}).get("message")) or {}
        if kind == "content-delta":
            found.add((as_mapping(message.get("content")) or {}).get("text"))
        elif kind == "tool-plan-delta":
            found.add(message.get("tool_plan"))
        elif kind in ("tool-call-start", "tool-call-delta"):
            function = as_mapping((as_mapping(message.get("tool_calls")) or {}).get("function")) or {}
            found.add(function.get("name"))
            found.add(function.get("arguments"))
    return found


def gemini_chunks(chunks: Iterable[Any]) -> StreamText:
    found = StreamText()
    for item in chunks:
        chunk = as_mapping(item) or {}
        for candidate in chunk.get("candidates") or ():
            content = as_mapping((as_mapping(candidate) or {}).get("content")) or {}
            for part in content.get("parts") or ():
                part = as_mapping(part) or {}
                found.add(part.get("text"), reasoning=part.get("thought") is True)
                call = as_mapping(part.get("functionCall"))
                if call is not None:
                    found.add(as_str(call.get("name")))
                    found.add(orjson.dumps(call.get("args") or {}).decode())
    return found


def gemini(events: Iterable[SSEEvent]) -> StreamText:
    return gemini_chunks(doc for _, doc in _docs(events))


def bedrock_converse(messages: Iterable[tuple[Mapping[str, Any], bytes]]) -> StreamText:
    found = StreamText()
    for headers, payload in messages:
        if headers.get(":event-type") != "contentBlockDelta":
            continue
        delta = as_mapping((as_mapping(loads_or_none(payload)) or {}).get("delta")) or {}
        found.add(delta.get("text"))
        found.add((as_mapping(delta.get("toolUse")) or {}).get("input"))
        found.add((as_mapping(delta.get("reasoningContent")) or {}).get("text"), reasoning=True)
    return found


def from_sse(api: str, text: str) -> StreamText | None:
    """The text of a whole SSE body (parsed again in full: only streams without usage get here)."""
    api_family = family(api)
    reader = api_family.stream_text if api_family is not None else None
    return reader(parse_sse(text)) if reader is not None else None
