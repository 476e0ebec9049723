"""The two body forms beside JSON documents and SSE: JSON arrays of stream chunks (Gemini without
``alt=sse``) and AWS binary event streams (Bedrock). Both are recognized here before any provider
module reads them.

* A JSON array that does not parse was cut off in transit; its whole leading elements still count.
* Event stream bytes are sniffed by their first frame's prelude CRC, so a capture needs no headers;
  text (a JSON capture log cannot hold bytes) counts only as base64 under the event stream's
  Content-Type.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .eventstream import CONTENT_TYPE, looks_like_eventstream

_WHITESPACE_AND_COMMA = " \t\r\n,"


def is_cut_array(doc: Any, text: str | None) -> bool:
    """True when the body is text that starts like a JSON array but did not parse."""
    return doc is None and text is not None and text.lstrip("\ufeff \t\r\n").startswith("[")


def array_prefix(text: str) -> list[Any]:
    """The whole elements of a JSON array that was cut off in transit."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE_AND_COMMA:
            pos += 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return items
        items.append(item)


def eventstream_bytes(body: Any, content_type: str | None) -> bytes | None:
    """The body as AWS event stream bytes, or None when it is not one."""
    declared = (content_type or "").split(";", 1)[0].strip().lower() == CONTENT_TYPE
    if isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
        if looks_like_eventstream(data) or (declared and not data.lstrip().startswith((b"{", b"<"))):
            return data
        return None
    if declared and isinstance(body, str):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
        return data if looks_like_eventstream(data) or not data else None
    return None
