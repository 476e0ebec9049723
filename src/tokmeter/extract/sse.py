"""A server-sent events parser that follows the WHATWG spec closely enough for captured streams.

* lines end in CRLF, LF or CR; a leading BOM is dropped;
* ``field: value`` with or without the single space after the colon; a line without a colon is a
  field with an empty value; lines starting with ``:`` are comments;
* several ``data`` lines of one event are joined with ``\\n``; a blank line dispatches the event;
  an event with no data is not dispatched;
* unlike a live client, the final event of a capture is dispatched even without its blank line
  (captures often lose the trailing newline); ``SSEEvent.terminated`` tells the two apart so a
  cut-off last event can be treated as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str
    id: str | None = None
    terminated: bool = True

    @property
    def is_done(self) -> bool:
        """The OpenAI-style ``data: [DONE]`` sentinel."""
        return self.data.strip() == "[DONE]"


def parse_sse(text: str, *, bom: bool = True) -> Iterator[SSEEvent]:
    """Yield the events of a whole captured stream, in order. ``bom``: the text is the start of the
    stream, where a BOM is dropped (a part of a stream after its start keeps one: it is not a BOM there)."""
    if bom:
        text = text.removeprefix("\ufeff")
    event: str | None = None
    event_id: str | None = None
    data: list[str] = []
    lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
    last = len(lines) - 1
    for index, line in enumerate(lines):
        if not line:
            if index == last:
                break  # the text ended in a line break: nothing is pending on this "line"
            if data:
                yield SSEEvent(event, "\n".join(data), event_id)
            event, data = None, []
            continue
        if line[0] == ":":
            continue
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            event_id = value
    if data:
        yield SSEEvent(event, "\n".join(data), event_id, terminated=False)


def looks_like_sse(text: str) -> bool:
    """True when a body starts like an event stream rather than a JSON document."""
    head = text.lstrip("\ufeff \t\r\n")[:16]
    return head.startswith(("data:", "event:", "id:", "retry:", ":"))


def select_events(text: str, markers: tuple[str, ...]) -> list[SSEEvent] | None:
    """The events of a stream whose block contains one of ``markers``, plus the blocks of its first three
    events (``head_spans``) and its last block, in order: the fast path for streams where only a few
    events carry usage (most bytes are text deltas).

    Blocks are found by plain substring search, so a marker inside text only costs a wasted parse; a
    usage event never goes unseen as long as the markers are literals every such event contains.
    Returns None when the stream uses CR line breaks, or many blocks without events open it (the caller
    then parses everything).
    """
    if "\r" in text:
        return None
    head = head_spans(text)
    if head is None:
        return None
    spans = set(head)
    for marker in markers:
        pos = text.find(marker)
        while pos >= 0:
            span = _block_around(text, pos)
            spans.add(span)
            pos = text.find(marker, span[1])
    spans.add(last_span(text))
    return parse_spans(text, spans)


def last_span(text: str) -> tuple[int, int]:
    """The last block of ``text`` that holds more than line breaks (the first when none does)."""
    end = len(text)
    while end and text[end - 1] == "\n":  # not rstrip: a copy of the whole stream
        end -= 1
    return _block_around(text, max(end - 1, 0))


# API detection reads the first three events of a stream (detect.py), so every selection starts with them
HEAD_EVENTS = 3


def head_spans(text: str, events: int = HEAD_EVENTS, max_blocks: int = 16) -> list[tuple[int, int]] | None:
    """The blocks that hold the first ``events`` events of ``text`` (all its blocks when it has fewer
    events); None when more than ``max_blocks`` blocks (comments, say) come before them."""
    spans: list[tuple[int, int]] = []
    seen, pos = 0, 0
    while pos < len(text) and seen < events:
        if len(spans) == max_blocks:
            return None
        span = _block_around(text, pos)
        spans.append(span)
        seen += _has_data(text[span[0] : span[1]])
        pos = span[1]
    return spans


def _has_data(block: str) -> bool:
    """Whether a block (no CR in it) has a line ``data`` or ``data:...``, so holds an event; a BOM makes
    it say no, which only makes ``head_spans`` take a block more."""
    return (
        block.startswith(("data:", "data\n"))
        or "\ndata:" in block
        or "\ndata\n" in block
        or block == "data"
        or block.endswith("\ndata")
    )


def parse_spans(text: str, spans: set[tuple[int, int]]) -> list[SSEEvent]:
    """The events of the given whole blocks of ``text``, in order; adjacent blocks are parsed together (a
    block ends with its blank line, so the events are the same, except that an event may then carry the
    ``id`` of a block before it, as it would in a parse of the whole text; extraction reads no ``id``)."""
    events: list[SSEEvent] = []
    run_start = run_end = -1
    for start, end in sorted(spans):
        if start == run_end:
            run_end = end
            continue
        if run_end > run_start:
            events += parse_sse(text[run_start:run_end], bom=run_start == 0)
        run_start, run_end = start, end
    if run_end > run_start:
        events += parse_sse(text[run_start:run_end], bom=run_start == 0)
    return events


def _block_around(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n\n", 0, pos + 1)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", pos)
    end = len(text) if end < 0 else end + 2
    return start, end


class SSEStreamParser:
    """Incremental parsing for a stream that arrives in chunks (a file still being written, a socket):
    ``feed`` returns the events completed so far, ``close`` the rest. Any chunking of a stream yields
    exactly the events ``parse_sse`` yields for the whole text."""

    def __init__(self) -> None:
        self._pending = ""
        self._started = False

    def feed(self, chunk: str) -> list[SSEEvent]:
        text = self._pending + chunk
        if not self._started and text:  # the stream's first character: a BOM only there
            text = text.removeprefix("\ufeff")
            self._started = True
        # Everything up to the last complete event (a blank line) can be parsed now. A CR at the very end
        # might be the first half of a CRLF, so it waits for the next chunk.
        cut = _last_event_end(text.removesuffix("\r"))
        if cut <= 0:
            self._pending = text
            return []
        self._pending = text[cut:]
        return [event for event in parse_sse(text[:cut], bom=False) if event.terminated]

    def close(self) -> list[SSEEvent]:
        text, self._pending = self._pending, ""
        return list(parse_sse(text, bom=False))


_EVENT_END = re.compile(r"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


def _last_event_end(text: str) -> int:
    """Index just past the last blank line that ends an event in ``text`` (0 when there is none)."""
    end = 0
    for match in _EVENT_END.finditer(text):
        end = match.end()
    return end
