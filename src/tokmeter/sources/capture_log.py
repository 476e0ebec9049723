"""Capture logs: JSON Lines, one capture record per line, as a proxy appends them."""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from datetime import datetime
from typing import Protocol

import orjson

from ..capture import BadCapture, Capture, EscapedBody, fingerprint
from ..config import settings
from ..extract import accel

FORMAT = "capture-log"
# A line is a capture record when it has at least one of these (unknown fields are ignored).
CAPTURE_FIELDS = frozenset({"body", "request", "provider", "path", "url", "status", "response_headers"})


class LineReader(Protocol):
    """What the reader needs of a file: ``readline`` (an open binary file has it)."""

    def readline(self, limit: int = -1, /) -> bytes: ...


def read_capture_log(
    handle: LineReader, source: str, file_time: datetime | None, start_offset: int = 0, start_line: int = 1
) -> Generator[Capture | BadCapture, None, int]:
    """Yield one ``Capture`` per record line (``BadCapture`` for lines that are not a JSON object);
    return the number of line breaks read.

    Offsets are byte offsets of each line's first byte; line numbers count from 1. Blank lines are
    skipped.
    """
    offset, line_no, breaks = start_offset, start_line, 0
    limit = settings().max_line_bytes  # longer lines are set aside unread: memory stays bounded
    fast = accel.BUILT and not settings().no_accel
    while raw := handle.readline(limit + 1):
        here, number = offset, line_no
        offset += len(raw)
        line_no += 1
        breaks += raw.endswith(b"\n")
        if len(raw) > limit and not raw.endswith(b"\n"):
            digest, size, ended = _skip_rest_of_line(handle, raw)
            offset += size - len(raw)
            breaks += ended
            yield BadCapture(
                source,
                here,
                f"line longer than {limit:,} bytes: set aside unread "
                "(raise TOKMETER_MAX_LINE_BYTES to read it)",
                number,
                FORMAT,
                digest,
                size,
            )
            continue
        if here == 0 and raw.startswith(b"\xef\xbb\xbf"):  # a BOM only at the very start of the file
            raw = raw[3:]
        if not raw.strip():
            continue
        yield parse_record(raw, source, here, number, file_time, fast)
    return breaks


def _skip_rest_of_line(handle: LineReader, head: bytes) -> tuple[str, int, bool]:
    """Read past an over-long line in bounded chunks; its digest, its length and whether it ended in a
    line break."""
    digest, size = hashlib.sha256(head), len(head)
    while chunk := handle.readline(1 << 20):
        digest.update(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            return digest.hexdigest(), size, True
    return digest.hexdigest(), size, False


def parse_record(
    raw: bytes,
    source: str,
    offset: int,
    line: int | None,
    file_time: datetime | None,
    fast: bool = False,
) -> Capture | BadCapture:
    """One record line's capture. ``fast``: through the accelerator (``extract/accel.py``) where it is
    certain of the record, which gives the same capture except that an SSE body is an ``EscapedBody``."""
    if fast and (capture := _accelerated(raw, source, offset, line, file_time)) is not None:
        return capture
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _bad(raw, source, offset, line, f"not valid JSON ({_short(exc)})")
    if not isinstance(record, dict):
        return _bad(
            raw, source, offset, line, f"a capture record must be a JSON object, got {type(record).__name__}"
        )
    if not CAPTURE_FIELDS.intersection(record):
        return _bad(
            raw,
            source,
            offset,
            line,
            f"not a capture record: none of the fields {', '.join(sorted(CAPTURE_FIELDS))}",
        )
    body = record.pop("body", None)
    return Capture(source, offset, record, body, line, file_time, FORMAT, raw)


def _accelerated(
    raw: bytes, source: str, offset: int, line: int | None, file_time: datetime | None
) -> Capture | None:
    """The capture of a record whose body the accelerator checked: the rest of the record is decoded with
    the body cut out (its string left empty), an SSE body it can read stays in the line. None when the
    accelerator is not certain, or the rest is no valid JSON (the whole line is then decoded, and set
    aside as the pure-Python path says)."""
    found = accel.read_body(raw)
    if found is None:
        return None
    start, end, sse = found
    try:
        record = orjson.loads(raw[:start] + raw[end:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.pop("body", None) != "":
        return None
    escaped = EscapedBody(raw, start, end)
    body = escaped if sse else escaped.text()
    return Capture(source, offset, record, body, line, file_time, FORMAT, raw)


def _bad(raw: bytes, source: str, offset: int, line: int | None, reason: str) -> BadCapture:
    return BadCapture(source, offset, reason, line, FORMAT, fingerprint(raw), len(raw))


def _short(exc: Exception) -> str:
    text = str(exc).split(":", 1)[0]
    return text[:80]
