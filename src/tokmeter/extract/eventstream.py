"""A decoder for AWS ``application/vnd.amazon.eventstream`` bodies (Bedrock's streaming responses).

Each message is one binary frame, all integers big-endian::

    total length (4) | headers length (4) | prelude CRC32 (4) | headers | payload | message CRC32 (4)

The prelude CRC covers the first 8 bytes; the message CRC covers everything before it. A header is
a 1-byte name length, the name, a 1-byte value type and the value (types 0-9: true, false, byte,
short, int, long, bytes, string, timestamp, uuid). Bedrock's headers are ``:message-type`` (``event``,
``exception`` or ``error``), ``:event-type`` / ``:exception-type`` and ``:content-type``.

A frame whose CRCs do not match is corruption, not a cut: it raises ``BadCaptureError``. A capture
that ends inside its last frame is a stream cut off in transit: the frames before it are yielded and
``EventStream.truncated`` is set.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

from ..errors import BadCaptureError

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
HeaderValue = bool | int | bytes | str | datetime | uuid.UUID
Message = tuple[dict[str, HeaderValue], bytes]

_PRELUDE = struct.Struct(">III")
_MIN_FRAME = _PRELUDE.size + 4
# fixed-size value types -> struct format (8, a timestamp, is epoch milliseconds)
_FIXED: Final[dict[int, str]] = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


class EventStream:
    """The messages of one captured event stream, as ``(headers, payload)`` pairs.

    Iterate it once; afterwards ``truncated`` tells whether the capture ended inside a frame.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.truncated = False

    def __iter__(self) -> Iterator[Message]:
        data, offset = self.data, 0
        while offset < len(data):
            if len(data) - offset < _PRELUDE.size:
                self.truncated = True
                return
            total, headers_len = _check_prelude(data, offset)
            if len(data) - offset < total:
                self.truncated = True
                return
            yield _decode_frame(data, offset, total, headers_len)
            offset += total


def iter_messages(data: bytes) -> Iterator[Message]:
    """``(headers, payload)`` for each whole frame of ``data`` (a cut-off last frame is dropped)."""
    return iter(EventStream(data))


def looks_like_eventstream(data: bytes) -> bool:
    """True when ``data`` starts with a valid frame prelude (its CRC matches)."""
    if len(data) < _PRELUDE.size:
        return False
    total, headers_len, crc = _PRELUDE.unpack_from(data, 0)
    return bool(total >= _MIN_FRAME + headers_len and zlib.crc32(data[:8]) == crc)


def _check_prelude(data: bytes, offset: int) -> tuple[int, int]:
    total, headers_len, crc = _PRELUDE.unpack_from(data, offset)
    if zlib.crc32(data[offset : offset + 8]) != crc:
        raise BadCaptureError(f"event stream frame at byte {offset}: prelude CRC mismatch (corrupt stream)")
    if total < _MIN_FRAME + headers_len:
        raise BadCaptureError(
            f"event stream frame at byte {offset}: length {total} too small for {headers_len} header bytes"
        )
    return total, headers_len


def _decode_frame(data: bytes, offset: int, total: int, headers_len: int) -> Message:
    end = offset + total
    (crc,) = struct.unpack_from(">I", data, end - 4)
    if zlib.crc32(data[offset : end - 4]) != crc:
        raise BadCaptureError(f"event stream frame at byte {offset}: message CRC mismatch (corrupt stream)")
    start = offset + _PRELUDE.size
    headers = _decode_headers(data[start : start + headers_len], offset)
    return headers, bytes(data[start + headers_len : end - 4])


def _decode_headers(raw: bytes, frame_at: int) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    try:
        while pos < len(raw):
            name_len = raw[pos]
            name_raw = raw[pos + 1 : pos + 1 + name_len]
            if len(name_raw) != name_len:
                raise ValueError("header name runs past the headers")
            name = name_raw.decode("utf-8")
            value, pos = _decode_value(raw, pos + 1 + name_len)
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        raise BadCaptureError(f"event stream frame at byte {frame_at}: malformed headers") from None
    return headers


def _decode_value(raw: bytes, pos: int) -> tuple[HeaderValue, int]:
    kind = raw[pos]
    pos += 1
    if kind in (0, 1):
        return kind == 0, pos
    if kind in _FIXED:
        fmt = _FIXED[kind]
        (number,) = struct.unpack_from(fmt, raw, pos)
        pos += struct.calcsize(fmt)
        return (datetime.fromtimestamp(number / 1000, UTC) if kind == 8 else number), pos
    if kind in (6, 7):
        (length,) = struct.unpack_from(">H", raw, pos)
        value = raw[pos + 2 : pos + 2 + length]
        if len(value) != length:
            raise ValueError("header value runs past the headers")
        return (value.decode("utf-8") if kind == 7 else bytes(value)), pos + 2 + length
    if kind == 9:
        if len(raw) < pos + 16:
            raise ValueError("uuid header runs past the headers")
        return uuid.UUID(bytes=bytes(raw[pos : pos + 16])), pos + 16
    raise ValueError(f"unknown header value type {kind}")
