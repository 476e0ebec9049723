"""The fast path: read only the few events of a stream that can carry usage.

Most bytes of a streamed response are text deltas that carry no usage; parsing and decoding every event
is what makes the obvious approach slow. For the three most common APIs the usage-bearing events are
found by substring search (C speed), and only those blocks, plus the blocks of the stream's first three
events (what API detection reads) and its last block, are parsed. The stream readers are unchanged and
see the same usage-bearing events in the same order, so the result is the same as parsing everything;
for Chat Completions, whose usage key also appears as ``null`` in every chunk, the selection is checked
to settle what all chunks would (``_chat_events``). When in doubt (CR line breaks, an API without
markers, a check that fails) the caller parses everything. ``tests/test_fastpath.py`` compares both ways
on every recorded capture and on thousands of mutated streams.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from ..capture import EscapedBody
from . import accel, anthropic, openai
from .base import as_str
from .openai import chunk_finishes, chunk_usage, stream_chunk
from .registry import family
from .sse import SSEEvent, _block_around, head_spans, last_span, parse_sse, select_events

Span = tuple[int, int]

# An API family's fast-path markers (``ApiFamily.markers``, set in its provider module): substrings of every
# event its stream reader uses, as few as find them all, since each is one search through the whole stream
# (about 0.5 us per KB): "message_" finds message_start, message_delta and message_stop (Anthropic's
# reader reads no other event); '"response"' every Responses event that carries a response object, the
# only ones that reader reads. A block picked needlessly costs a parse: readers skip what they do not use.

_NOT_NULL = re.compile(r"\s*:\s*(?!null)")
# For Chat Completions: the last block with each of these keys set to something other than null. (Groq's
# usage under "x_groq" is written "usage" too; a chunk without usage decides nothing but its finish.)
_CHAT_KEYS = ('"usage"', '"finish_reason"')


ENABLED = True  # tests switch it off to compare with the straightforward path


_GUESS_CHARS = 400


def guess_api(text: str, path_api: str | None) -> str | None:
    """The API of a stream, from its path, else from its first event."""
    if path_api is not None:
        return path_api
    head = text[:_GUESS_CHARS]
    if "message_start" in head:
        return anthropic.API
    if "response.created" in head or "response.in_progress" in head:
        return openai.RESPONSES
    if "chat.completion.chunk" in head:
        return openai.CHAT
    return None


def stream_events(text: str, api: str | None) -> list[SSEEvent]:
    """The events the ``api``'s stream reader needs (all of them when there is no fast path)."""
    if ENABLED:
        markers = api_family.markers if (api_family := family(api)) is not None else ()
        if markers:
            selected = select_events(text, markers)  # None for CR line breaks
            if selected is not None:
                return selected
        elif api == openai.CHAT and "\r" not in text and (selected := _chat_events(text)) is not None:
            return selected
    return list(parse_sse(text))


def accelerated_events(body: EscapedBody, path_api: str | None) -> list[SSEEvent] | None:
    """``stream_events`` for an SSE body the accelerator left escaped (``accel.py``), decoding only the
    blocks it reads; None when there is no fast path for it (the caller then decodes it whole and calls
    ``stream_events``)."""
    if not ENABLED:
        return None
    api = path_api if path_api is not None else guess_api(accel.head(body, _GUESS_CHARS), None)
    markers = api_family.markers if (api_family := family(api)) is not None else ()
    if markers:
        return accel.select_events(body, markers)
    if api == openai.CHAT and (picked := accel.chat_spans(body)) is not None:
        head, usage, finish, done, final, first_events = picked
        return _chat_selection(ChatSpans(head, usage, finish, done, final), first_events.__getitem__)
    return None


class ChatSpans(NamedTuple):
    """The blocks ``_chat_events`` reads: the first three events', the last with a non-null usage and
    finish reason, the last ``[DONE]``'s and the stream's last."""

    head: list[Span]
    usage: Span | None
    finish: Span | None
    done: Span | None
    final: Span


def _chat_events(text: str) -> list[SSEEvent] | None:
    """The events the Chat Completions reader needs, or None when the selection cannot be shown to give
    what all events give (the caller then parses everything).

    The reader decodes the first chunk that decodes, every chunk with a non-null usage or
    finish_reason, and notes any ``[DONE]``; from these it keeps the first model and id, the last usage
    and the service tier of the chunk carrying it, and whether anything ended the stream. Selected: the
    first three events, and the last block with each key set (found from the end), and the last
    ``[DONE]``. That selection gives the same row when the first chunk names its model and id, the last
    usage-bearing block does carry a usage, and the stream's end is told by the last ``[DONE]`` (or,
    without one, by the last finish_reason); otherwise None. The searches go from the end and stop at
    the block they look for: a stream whose usage comes last is never searched through.
    """
    spans = _chat_spans(text)
    if spans is None:
        return None
    # one event at most per block (no CR): parsed one by one, so the checks know which is which
    return _chat_selection(
        spans, lambda span: next(parse_sse(text[span[0] : span[1]], bom=span[0] == 0), None)
    )


def _chat_spans(text: str) -> ChatSpans | None:
    head = head_spans(text)
    if head is None:
        return None
    last: dict[str, Span] = {}
    for key in _CHAT_KEYS:
        end = len(text)
        while (pos := text.rfind(key, 0, end)) >= 0:
            if _NOT_NULL.match(text, pos + len(key)):
                last[key] = _block_around(text, pos)
                break
            end = pos
    done = text.rfind("[DONE]")
    done_span = _block_around(text, done) if done >= 0 else None
    return ChatSpans(head, last.get(_CHAT_KEYS[0]), last.get(_CHAT_KEYS[1]), done_span, last_span(text))


def _chat_selection(
    spans: ChatSpans, first_event: Callable[[Span], SSEEvent | None]
) -> list[SSEEvent] | None:
    """The events of the blocks ``spans`` names (``first_event``: a block's first event), or None when
    they do not settle what all events would."""
    keyed = [span for span in (spans.usage, spans.finish) if span is not None]
    every = {*spans.head, spans.final, *keyed}
    if spans.done is not None:
        every.add(spans.done)
    events: dict[Span | None, SSEEvent | None] = {span: first_event(span) for span in sorted(every)}
    if any(events[span] is None for span in keyed):
        return None  # a key in a comment or a field other than data: no chunk says it
    if not _selection_tells_all(
        [events[span] for span in spans.head],
        events.get(spans.usage),
        events.get(spans.finish),
        events.get(spans.done),
        spans.done,
    ):
        return None
    return [event for event in events.values() if event is not None]


def _selection_tells_all(
    head: list[SSEEvent | None],
    usage: SSEEvent | None,
    finish: SSEEvent | None,
    done: SSEEvent | None,
    done_span: tuple[int, int] | None,
) -> bool:
    """Whether the chunks chosen by ``_chat_events`` settle model, id, usage and the end as all chunks would.

    Every chunk with a usage names it with a non-null ``"usage"``, so when the last such block carries
    one it is the reader's last; a ``[DONE]`` or a finish reason anywhere ends the stream, so the last one
    decides only when it is a real one."""
    first = next(
        (chunk for event in head if event is not None and (chunk := stream_chunk(event)) is not None), None
    )
    if first is None or not (as_str(first.get("model")) and as_str(first.get("id"))):
        return False
    if usage is not None and chunk_usage(stream_chunk(usage) or {}) is None:
        return False
    if done_span is not None:
        return done is not None and done.is_done
    return finish is None or chunk_finishes(stream_chunk(finish) or {})
