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


def parse_sse(text: str) -> Iterator[SSEEvent]:
    """Yield the events of a whole captured stream, in order."""
    if text.startswith("\ufeff"):
        text = text[1:]
    event: str | None = None
    event_id: str | None = None
    data: list[str] = []
    lines = _LINE_BREAK.split(text)
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
