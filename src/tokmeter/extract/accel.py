"""The optional accelerator: capture-log records read without decoding or searching whole bodies in
Python.

``_accel.c`` is compiled when tokmeter is installed where a C compiler and Python's headers are found
(``hatch_build.py``); without it, or with ``$TOKMETER_NO_ACCEL=1``, everything runs in Python, which stays
the reference. Each native function is the exact counterpart of Python code (``tests/test_accel.py``
compares both on every capture we have and 1,500 mutated ones) and answers None when it is not
certain, so the Python code decides:

* ``read_body``: where a record line's top-level ``body`` string lies, checked to be what orjson accepts
  (the rest of the record is decoded by orjson with the body cut out), and whether it is an SSE stream
  the functions below can read as it is, escaped (``capture.EscapedBody``);
* ``select_events``: ``sse.select_events`` on the escaped body: only the few blocks that can carry usage
  are decoded and parsed (by a native ``sse.parse_sse`` for text without CR, making ``SSEEvent``s);
* ``chat_spans``: the blocks ``fastpath._chat_events`` reads, with their first events;
* ``head``: the body's first characters (API detection reads 400).
"""

from __future__ import annotations

import importlib
from typing import Any

from ..capture import EscapedBody
from .sse import SSEEvent

try:
    # by name: a compiled module (its interface in _accel.pyi) that imports nothing
    _accel: Any = importlib.import_module(f"{__package__}._accel")
    _accel.set_event_type(SSEEvent)  # the events it parses are made of this class
except ImportError:  # not built (no compiler at install): the pure-Python path
    _accel = None

Span = tuple[int, int]
ChatSpans = tuple[list[Span], Span | None, Span | None, Span | None, Span, dict[Span, SSEEvent | None]]

BUILT = _accel is not None


def status(no_accel: bool) -> str:
    """Whether capture logs are read with the accelerator, for ``--version``."""
    if not BUILT:
        return "accelerator not built"
    return "accelerator off ($TOKMETER_NO_ACCEL)" if no_accel else "accelerator on"


def read_body(line: bytes) -> tuple[int, int, bool] | None:
    """(start, end, sse): ``line[start:end]`` is the content of the record's top-level ``body`` string,
    valid; ``sse``: an event stream the functions below read. None when not built or not certain (the
    caller decodes the whole line)."""
    if _accel is None:
        return None
    found: tuple[int, int, bool] | None = _accel.read_body(line)
    return found


def head(body: EscapedBody, count: int) -> str:
    """``body.text()[:count]``."""
    if _accel is None:
        return body.text()[:count]
    text: str = _accel.head(body.line, body.start, body.end, count)
    return text


def select_events(body: EscapedBody, markers: tuple[str, ...]) -> list[SSEEvent] | None:
    """``sse.select_events(body.text(), markers)``: the blocks chosen, decoded and parsed (as
    ``sse.parse_sse``, which the native parser follows for text without CR)."""
    if _accel is None:
        return None
    events: list[SSEEvent] | None = _accel.select(body.line, body.start, body.end, markers)
    return events


def chat_spans(body: EscapedBody) -> ChatSpans | None:
    """``fastpath._chat_spans(body.text())`` (in other offsets, in the same order) and the first event of
    each block it names (None for a block without one)."""
    if _accel is None:
        return None
    picked: ChatSpans | None = _accel.chat_spans(body.line, body.start, body.end)
    return picked
