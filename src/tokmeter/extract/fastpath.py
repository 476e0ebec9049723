"""The fast path: read only the few events of a stream that can carry usage.

Most bytes of a streamed response are text deltas that carry no usage; parsing and decoding every event
is what makes the obvious approach slow. For the three most common APIs the usage-bearing events are
found by substring search (C speed), and only those blocks, plus the stream's first and last block, are
parsed. The stream readers are unchanged and see the same usage-bearing events in the same order, so the
result is the same as parsing everything (``tests/test_fastpath.py`` checks it on every recorded
capture); when in doubt (CR line breaks, an API without markers) the caller parses everything.
"""

from __future__ import annotations

import re

from .sse import SSEEvent, _block_around, parse_spans, parse_sse, select_events

# Event names (or types) that carry usage, the model and the end of the stream.
_MARKERS = {
    "anthropic_messages": ("message_start", "message_delta", "message_stop", '"error"'),
    "openai_responses": ("response.created", "response.in_progress", "response.completed",
                         "response.incomplete", "response.failed", '"error"'),
}
_NOT_NULL = re.compile(r'\s*:\s*(?!null)')
# For Chat Completions: the last block with each of these keys set to something other than null.
_CHAT_KEYS = ('"usage"', '"x_groq"', '"finish_reason"')


ENABLED = True  # tests switch it off to compare with the straightforward path


def guess_api(text: str, path_api: str | None) -> str | None:
    """The API of a stream, from its path, else from its first event."""
    if path_api is not None:
        return path_api
    head = text[:400]
    if "message_start" in head:
        return "anthropic_messages"
    if "response.created" in head or "response.in_progress" in head:
        return "openai_responses"
    if "chat.completion.chunk" in head:
        return "openai_chat"
    return None


def stream_events(text: str, api: str | None) -> list[SSEEvent]:
    """The events the ``api``'s stream reader needs (all of them when there is no fast path)."""
    if ENABLED and "\r" not in text:
        if api == "openai_chat":
            return _chat_events(text)
        if api in _MARKERS:
            selected = select_events(text, _MARKERS[api])
            if selected is not None:
                return selected
    return list(parse_sse(text))


def _chat_events(text: str) -> list[SSEEvent]:
    spans = {_block_around(text, 0), _block_around(text, max(len(text.rstrip("\n")) - 1, 0))}
    done = text.rfind("[DONE]")
    if done >= 0:
        spans.add(_block_around(text, done))
    for key in _CHAT_KEYS:
        end = len(text)
        while (pos := text.rfind(key, 0, end)) >= 0:
            if _NOT_NULL.match(text, pos + len(key)):
                spans.add(_block_around(text, pos))
                break
            end = pos
    # A non-null value earlier than the last one matters only for usage (the reader keeps the last
    # chunk that had usage, x_groq included), and the last one of each key is already in.
    return parse_spans(text, spans)
