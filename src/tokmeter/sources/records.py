"""JSON Lines of someone else's records (batch results, cloud invocation logs, gateway logs, OpenTelemetry
exports): the line loop they share, and ``logged_reader``, which makes each format's reader from what it
reads in one record: the captures of its model calls (or ``ValueError`` with the reason it is not one of
the format's records).

A line that is not JSON, not an object, longer than ``$TOKMETER_MAX_LINE_BYTES`` or not a record of the
format is a ``BadCapture`` naming the line (with the SHA-256 of its bytes, never the bytes); the lines
beside it are read on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from ..capture import BadCapture, Capture, fingerprint, invalid_json
from ..config import settings
from .capture_log import LineReader
from .options import ReadOptions

_LIMIT_ENV = "TOKMETER_MAX_LINE_BYTES"
# (record, source, offset, line) -> the capture(s) of one record; ValueError: not a record of the format
ToCaptures = Callable[[dict[str, Any], str, int, int], Iterator[Capture]]
# (record, the file's path, read options) -> (capture fields, body) of each model call the record holds;
# ValueError: it is not a record of the format
Calls = Callable[[dict[str, Any], Path, ReadOptions], Iterable[tuple[dict[str, Any], Any]]]


class LoggedReader(Protocol):
    """A reader of a logged-record format's file, from its start or from a checkpoint."""

    def __call__(
        self,
        handle: IO[bytes],
        path: Path,
        file_time: datetime | None,
        opener: Callable[[Path], IO[bytes]],
        options: ReadOptions,
        start_offset: int = 0,
        start_line: int = 1,
    ) -> Iterator[Capture | BadCapture]: ...


def logged_reader(fmt: str, calls: Calls, strip: re.Pattern[bytes] | None = None) -> LoggedReader:
    """The reader of ``fmt``'s JSON Lines: ``read_records``' line loop, each record's captures from
    ``calls`` (``strip``: as ``read_records``)."""

    def read(
        handle: IO[bytes],
        path: Path,
        file_time: datetime | None,
        opener: Callable[[Path], IO[bytes]],
        options: ReadOptions,
        start_offset: int = 0,
        start_line: int = 1,
    ) -> Iterator[Capture | BadCapture]:
        def to_captures(record: dict[str, Any], source: str, offset: int, line: int) -> Iterator[Capture]:
            for meta, body in calls(record, path, options):
                yield Capture(source, offset, meta, body, line, file_time, fmt)

        return read_records(
            handle, str(path), fmt, to_captures, strip=strip, start=(start_offset, start_line)
        )

    return read


def read_records(
    handle: LineReader,
    source: str,
    fmt: str,
    to_captures: ToCaptures,
    strip: re.Pattern[bytes] | None = None,
    start: tuple[int, int] = (0, 1),
) -> Iterator[Capture | BadCapture]:
    """Every capture of a JSON Lines file of ``fmt`` records, in file order; bad lines as ``BadCapture``.
    ``strip``: a prefix some lines carry before their JSON (a CloudWatch Logs export's event time).
    ``start``: the byte offset and line number of the handle's first byte (a followed file read on from
    its checkpoint, like a capture log)."""
    offset, number = start[0], start[1] - 1
    limit = settings().max_line_bytes
    while raw := handle.readline(limit + 1):
        here = offset
        offset += len(raw)
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            digest, size = _skip(handle, raw)
            offset += size - len(raw)
            reason = f"line longer than {limit:,} bytes: set aside unread (raise {_LIMIT_ENV} to read it)"
            yield BadCapture(source, here, reason, number, fmt, digest, size)
            continue
        if here == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if strip is not None and (found := strip.match(raw)) is not None:
            raw = raw[found.end() :]
        if raw.strip():
            yield from _line(raw, source, here, number, fmt, to_captures)


def _line(
    raw: bytes, source: str, offset: int, number: int, fmt: str, to_captures: ToCaptures
) -> Iterator[Capture | BadCapture]:
    def bad(reason: str) -> BadCapture:
        return BadCapture(source, offset, reason, number, fmt, fingerprint(raw), len(raw))

    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        yield bad(invalid_json(exc))
        return
    if not isinstance(record, dict):
        yield bad(f"a {fmt} record must be a JSON object, got {type(record).__name__}")
        return
    try:
        captures = list(to_captures(record, source, offset, number))
    except ValueError as exc:
        yield bad(str(exc))
        return
    for capture in captures:
        capture.raw = raw
        yield capture


def _skip(handle: LineReader, head: bytes) -> tuple[str, int]:
    digest, size = hashlib.sha256(head), len(head)
    while chunk := handle.readline(1 << 20):
        digest.update(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return digest.hexdigest(), size
