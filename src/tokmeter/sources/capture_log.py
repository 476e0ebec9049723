"""Capture logs: JSON Lines, one capture record per line, as a proxy appends them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO

import orjson

from .capture import BadCapture, Capture

FORMAT = "capture-log"
# A line is a capture record when it has at least one of these (unknown fields are ignored).
CAPTURE_FIELDS = frozenset({"body", "request", "provider", "path", "url", "status", "response_headers"})


def read_capture_log(
    handle: IO[bytes], source: str, file_time: datetime | None, start_offset: int = 0, start_line: int = 1
) -> Iterator[Capture | BadCapture]:
    """Yield one ``Capture`` per record line (``BadCapture`` for lines that are not a JSON object).

    Offsets are byte offsets of each line's first byte; line numbers count from 1. Blank lines are
    skipped.
    """
    offset, line_no = start_offset, start_line
    for raw in handle:
        here, number = offset, line_no
        offset += len(raw)
        line_no += 1
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        yield parse_record(raw, source, here, number, file_time)


def parse_record(
    raw: bytes, source: str, offset: int, line: int | None, file_time: datetime | None
) -> Capture | BadCapture:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return BadCapture(source, offset, f"not valid JSON ({_short(exc)})", line, FORMAT)
    if not isinstance(record, dict):
        return BadCapture(source, offset, f"a capture record must be a JSON object, got {type(record).__name__}",
                          line, FORMAT)
    if not CAPTURE_FIELDS.intersection(record):
        return BadCapture(source, offset, "not a capture record: none of the fields "
                          f"{', '.join(sorted(CAPTURE_FIELDS))}", line, FORMAT)
    body = record.pop("body", None)
    return Capture(source, offset, record, body, line, file_time, FORMAT)


def _short(exc: Exception) -> str:
    text = str(exc).split(":", 1)[0]
    return text[:80]
