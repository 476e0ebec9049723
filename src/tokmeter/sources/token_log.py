"""api-proxy token logs: JSON Lines written by an LLM proxy sidecar, one normalized usage record per
response (``"_schema": "token-usage/v<version>"``, as the gh-aw-firewall api-proxy writes
``token-usage.jsonl``).

A record becomes a capture whose metadata uses the capture-record names (``ts``, ``request_id``,
``provider``, ``path``, ``status``, ``user``, ``request``) and whose body is the record itself: what
its token fields mean depends on the provider, and that is for extraction to decide
(``extract/transcripts.py``). The record's ``timestamp`` is when the call *completed*; the request
time is that minus ``duration_ms``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson

from ..capture import BadCapture, Capture, invalid_json

FORMAT = "token-log"


def read_token_log(
    handle: IO[bytes], source: str, file_time: datetime | None, start_offset: int = 0, start_line: int = 1
) -> Iterator[Capture | BadCapture]:
    """One capture per record line; blank lines are skipped, anything else is a bad capture. Like a
    capture log, it can be read from a checkpoint (``start_offset`` / ``start_line``)."""
    offset = start_offset
    for number, raw in enumerate(handle, start=start_line):
        here = offset
        offset += len(raw)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.strip():
            yield _parse(raw, source, here, number, file_time)


def _parse(
    raw: bytes, source: str, offset: int, line: int, file_time: datetime | None
) -> Capture | BadCapture:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return BadCapture(source, offset, invalid_json(exc), line, FORMAT)
    if not isinstance(record, dict):
        return BadCapture(
            source,
            offset,
            f"a token-log record must be a JSON object, got {type(record).__name__}",
            line,
            FORMAT,
        )
    schema = record.get("_schema")
    if not (isinstance(schema, str) and schema.startswith("token-usage/")):
        return BadCapture(
            source, offset, f"not a token-usage record (_schema is {str(schema)[:40]!r})", line, FORMAT
        )
    return Capture(source, offset, _meta(record), record, line, file_time, FORMAT)


def _meta(record: dict[str, Any]) -> dict[str, Any]:
    model = record.get("model") if record.get("model") != "unknown" else None  # the proxy's "no model seen"
    request: dict[str, Any] = {"model": model, "stream": record.get("streaming") is True}
    return {
        "ts": _started(record.get("timestamp"), record.get("duration_ms")),
        "request_id": record.get("request_id"),
        "user": record.get("user"),
        "provider": record.get("provider") if record.get("provider") != "unknown" else None,
        "path": record.get("path"),
        "status": record.get("status"),
        "request": request,
    }


def _started(timestamp: Any, duration_ms: Any) -> Any:
    """The request time: the completion ``timestamp`` less ``duration_ms`` when both are usable; else
    the timestamp as it is (extraction reports an unusable one)."""
    if (
        not isinstance(timestamp, str)
        or isinstance(duration_ms, bool)
        or not isinstance(duration_ms, int | float)
    ):
        return timestamp
    try:
        done = datetime.fromisoformat(timestamp.strip())
        started = done - timedelta(milliseconds=max(duration_ms, 0))
    except (ValueError, OverflowError):
        return timestamp
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return started.isoformat()
