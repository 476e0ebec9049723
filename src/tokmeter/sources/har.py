"""HAR 1.2 files (browser devtools, mitmproxy, Charles, Proxyman exports): one capture per LLM API entry.

An entry is an LLM API call when its URL path is one tokmeter knows (``/chat/completions``,
``/responses``, ``/messages``, ``:generateContent``, Bedrock ``/model/ID/converse`` ...); every other
entry (pages, scripts, telemetry, CORS preflights) is skipped silently.

From each entry: ``startedDateTime`` -> ``ts``; ``request.method`` / ``request.url``;
``response.status`` (0, a browser's aborted request, becomes unknown); ``response.headers`` ->
``response_headers`` (a dict of lower-cased names, repeats joined with ``", "``);
``response.content.text`` -> the body, as bytes when ``content.encoding`` is ``base64`` (Bedrock's
binary event streams), empty when the recorder kept no content (mitmproxy's ``stream_large_bodies``, a
browser's aborted request): the entry still records a response. The request body (``postData.text``) is read as JSON for ``model``, ``user``,
``stream``, ``stream_options``, ``safety_identifier`` and ``metadata`` only. Request headers go to
extraction as ``request_headers`` (it derives attribution from them: Helicone / Portkey / LiteLLM
headers, those rules name) without the credential and cookie ones: an API key becomes its fingerprint
(``api_key``) here, so no capture holds a key; credential and cookie response headers are dropped too.

HAR is one JSON document without lines, so a capture's ``offset`` is its index in ``log.entries``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from ..capture import BadCapture, Capture, invalid_json
from ..extract.attribution import header_key
from ..extract.detect import api_from_path

FORMAT = "har"
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)
_REQUEST_FIELDS = ("model", "user", "stream", "stream_options", "safety_identifier")
_SKIPPED_METHODS = ("OPTIONS", "HEAD", "CONNECT")


def read_har(handle: IO[bytes], source: str, file_time: datetime | None) -> Iterator[Capture | BadCapture]:
    """Yield one ``Capture`` per LLM API entry; a file that is not HAR yields one ``BadCapture``."""
    try:
        doc = orjson.loads(handle.read())
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), format=FORMAT)
        return
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        yield BadCapture(source, 0, "not a HAR file: no log.entries list", format=FORMAT)
        return
    for index, entry in enumerate(entries):
        item = _capture(entry, index, source, file_time)
        if item is not None:
            yield item


def _capture(entry: Any, index: int, source: str, file_time: datetime | None) -> Capture | BadCapture | None:
    if not isinstance(entry, Mapping):
        return BadCapture(source, index, f"log.entries[{index}] is not an object", format=FORMAT)
    request = _mapping(entry.get("request"))
    response = _mapping(entry.get("response"))
    url, method = request.get("url"), request.get("method")
    if not isinstance(url, str) or not _is_llm_call(url, method):
        return None
    try:
        body = _body(_mapping(response.get("content")))
    except ValueError as exc:
        return BadCapture(source, index, f"log.entries[{index}]: {exc}", format=FORMAT)
    meta: dict[str, Any] = {"url": url, "method": method, "status": _status(response.get("status"))}
    if isinstance(started := entry.get("startedDateTime"), str):
        meta["ts"] = started
    meta["response_headers"] = _headers(response.get("headers"))
    request_headers = _headers(request.get("headers"), keep_secrets=True)
    if (key := header_key(request_headers)) is not None:
        meta["api_key"] = key  # the fingerprint: the key itself goes no further
    meta["request_headers"] = {k: v for k, v in request_headers.items() if k not in _SECRET_HEADERS}
    if fields := _request_fields(_mapping(request.get("postData")).get("text")):
        meta["request"] = fields
    return Capture(source, index, meta, body, None, file_time, FORMAT)


def _is_llm_call(url: str, method: Any) -> bool:
    if isinstance(method, str) and method.upper() in _SKIPPED_METHODS:
        return False
    return api_from_path(urlsplit(url).path) is not None


def _body(content: Mapping[str, Any]) -> str | bytes:
    text = content.get("text")
    if not isinstance(text, str):
        return ""
    if content.get("encoding") != "base64":
        return text
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("response.content.text is marked base64 but does not decode") from None


def _status(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _headers(raw: Any, *, keep_secrets: bool = False) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        name = name.lower()
        if name in _SECRET_HEADERS and not keep_secrets:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _request_fields(text: Any) -> dict[str, Any]:
    """The request body's fields that tokmeter uses; nothing else of the prompt is kept."""
    if not isinstance(text, str):
        return {}
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(body, dict):
        return {}
    fields = {key: body[key] for key in _REQUEST_FIELDS if key in body}
    metadata = body.get("metadata")
    if isinstance(metadata, dict):  # attribution: user_id, and what body: rules name
        fields["metadata"] = metadata
    return fields


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
