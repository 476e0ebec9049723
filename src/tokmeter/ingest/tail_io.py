"""What the tailer hands on and the small reads it is made of: ``Chunk`` (complete records of one
file), whole lines from an offset, a last line that is already a whole record, and the watchdog
handler that marks the paths touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from watchdog.events import FileSystemEventHandler

from ..sources import BadCapture, Capture
from .checkpoints import Checkpoint

READ_BYTES = 256 * 1024
_IGNORED_EVENTS = {"opened", "closed_no_write"}

Item = Capture | BadCapture


@dataclass(slots=True)
class Chunk:
    """Complete records from one file, in file order. ``checkpoint`` (capture logs only) is a copy of
    the file's checkpoint just past them; None for single-response files."""

    path: str
    items: list[Item]
    checkpoint: Checkpoint | None
    first_read: bool
    read_at: float
    nbytes: int = 0


class WatchHandler(FileSystemEventHandler):
    """watchdog event handler: note the paths touched and wake the reader."""

    def __init__(self, mark: Callable[..., None]) -> None:
        super().__init__()
        self.mark = mark

    def dispatch(self, event: Any) -> None:
        if event.event_type in _IGNORED_EVENTS:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        self.mark(*(os.fsdecode(p) for p in paths if p))


def skip(handle: Any, count: int) -> int:
    """Read and drop up to ``count`` bytes; how many there were."""
    skipped = 0
    while skipped < count:
        block = handle.read(min(READ_BYTES, count - skipped))
        if not block:
            break
        skipped += len(block)
    return skipped


def ended_early(exc: BaseException) -> bool:
    """The compressed stream stops before its end-of-stream marker: written still, or truncated."""
    return isinstance(exc, EOFError) or "end-of-stream" in str(exc)


def signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def complete_lines(fd: int, offset: int, end: int) -> bytes | None:
    """Up to ``READ_BYTES`` (more for one longer line) of whole lines from ``offset``; None when the
    bytes there are not yet one whole line."""
    size = min(READ_BYTES, end - offset)
    while True:
        data = os.pread(fd, size, offset)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return data[: cut + 1]
        if offset + len(data) >= end or len(data) < size:
            return None
        size = min(size * 2, end - offset)


def whole_record(tail: bytes) -> bool:
    """An unterminated last line that is already one whole JSON object (a proper prefix of a JSON
    object never is one, so a half-written line never passes)."""
    try:
        return isinstance(orjson.loads(tail), dict)
    except orjson.JSONDecodeError:
        return False
