"""Extraction: one capture in, one usage row (``schema.UsageRow``, the shape of ``schema.COLUMNS``) out.

Provider quirks live in one module per API family; this module reads the capture's metadata, decides
which API produced the body, and assembles the row.

Bodies come in four wire forms, each with its reader table: a JSON document (``_JSON_READERS``), an
SSE stream (``_STREAM_READERS``), a JSON array of chunks (``_ARRAY_READERS``, Gemini) and an AWS
binary event stream (``_EVENTSTREAM_READERS``, Bedrock); ``wire.py`` recognizes the last two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from ..capture import Capture, EscapedBody
from ..errors import BadCaptureError
from ..schema import UsageRow, tag_list
from . import anthropic, bedrock, cohere, estimate, gateways, gemini, logs, openai, otel, rule, transcripts
from .attribution import KEEP_NOTHING, Keep, owner
from .base import Extracted, as_mapping, as_str, service_tier
from .detect import api_from_body, api_from_path, detect_api, infer_provider
from .eventstream import iter_messages
from .fastpath import accelerated_events, guess_api, stream_events
from .registry import family
from .rule import RowNotes, Tally
from .sse import looks_like_sse
from .wire import array_prefix, eventstream_bytes, is_cut_array

__all__ = ["KEEP_NOTHING", "Extracted", "Keep", "RowNotes", "Tally", "extract_row", "read_capture"]

# The providers: importing a provider module registers its API families (registry.py).
PROVIDERS = (anthropic, bedrock, cohere, gemini, openai)
# Logged records (batch results, invocation and gateway logs, OpenTelemetry): each format's reader.
LOGGED = {**logs.READERS, **gateways.READERS, **otel.READERS}


def extract_row(capture: Capture) -> UsageRow:
    """The usage row for one capture. Raises ``BadCaptureError`` (with the reason) when the capture is
    no row (``rule.py`` says what is one)."""
    return read_capture(capture)[0]


def read_capture(capture: Capture, keep: Keep = KEEP_NOTHING) -> tuple[UsageRow, RowNotes]:
    """The usage row for one capture, and what it adds to the ingest summary's counts. ``keep``: the raw
    values attribution rules need, kept as ``rule:`` tags (``attribution.py``)."""
    meta = capture.meta
    request = as_mapping(meta.get("request")) or {}
    status = _status(meta.get("status"))
    path = _path(meta)
    api, ex, is_stream, provider, notes = _reading(capture, path, status, request)
    api_family = family(api)
    if ex.response_id is None and api_family is not None and api_family.response_id_header:
        ex.response_id = _header(meta.get("response_headers"), api_family.response_id_header)
    request_id, notes.fallback_id = _request_id(meta, ex, capture)
    if ex.service_tier is None and api_family is not None and api_family.service_tier_header:
        ex.service_tier = service_tier(_header(meta.get("response_headers"), api_family.service_tier_header))
    who = owner(meta, request, keep)  # request headers are read there, and only derived values kept
    return {
        "request_id": request_id,
        "response_id": ex.response_id,
        "timestamp": _timestamp(meta, capture),
        "user": who.user,
        "team": as_str(meta.get("team")),
        "project": as_str(meta.get("project")),
        "api_key": who.api_key,  # only ever a fingerprint, never a value read as is
        "session": who.session,
        "tags": tag_list(who.tags),
        "provider": provider,
        "model": ex.model or as_str(request.get("model")) or _model_from_path(path),
        "endpoint": path,
        "stream": is_stream or request.get("stream") is True,
        "status": status,
        **ex.tokens(),
        "usage_source": ex.usage_source,
        "complete": ex.complete,
        "service_tier": ex.service_tier,
        "speed": ex.speed,
        "source": capture.source,
        "source_offset": capture.offset,
        "host": None,  # the store's ingester, set when the row is committed
    }, notes


def _reading(
    capture: Capture, path: str | None, status: int | None, request: Mapping[str, Any]
) -> tuple[str | None, Extracted, bool, str | None, RowNotes]:
    """(API, its reading, whether a stream, provider, notes). Pre-normalized records (token logs, agent
    transcripts) are read by their format, response bodies by their shape; a stream that ended
    without usage gets it estimated (``estimate.py``), which only then decodes its text."""
    meta = capture.meta
    if capture.format in transcripts.FORMATS:
        read = transcripts.read(capture)
        notes = RowNotes(missing=rule.NO_USAGE if read.extracted.usage_source == "missing" else None)
        provider = read.provider or infer_provider(meta, path, read.api)
        return read.api, read.extracted, read.stream, provider, notes
    if capture.format in LOGGED:
        logged = logs.read(capture, LOGGED)
        provider = logged.provider or infer_provider(meta, path, logged.api)
        missing = logged.missing if logged.extracted.usage_source == "missing" else None
        return logged.api, logged.extracted, logged.stream, provider, RowNotes(missing=missing)
    api, ex, is_stream, why_missing = _extract(meta, path, capture.body, status)
    provider = infer_provider(meta, path, api)
    notes = RowNotes()
    if is_stream and api is not None and estimate.needed(api, ex, status):
        content_type = _header(meta.get("response_headers"), "content-type")
        body = capture.body.text() if isinstance(capture.body, EscapedBody) else capture.body
        notes.estimate = estimate.fill(ex, api, body, content_type, request, provider)
    notes.missing = why_missing if ex.usage_source == "missing" else None
    return api, ex, is_stream, provider, notes


def _extract(
    meta: Mapping[str, Any], path: str | None, body: Any, status: int | None
) -> tuple[str | None, Extracted, bool, str]:
    """(API, its reading of the body, whether the body is a stream, why its usage would be missing)."""
    binary = eventstream_bytes(body, _header(meta.get("response_headers"), "content-type"))
    if binary is not None:
        bedrock_api, ex = _read_eventstream(meta, path, binary)
        return (
            bedrock_api,
            ex,
            True,
            rule.missing_reason(status, True, ex.complete, error_body=False, empty=False),
        )
    events = accelerated_events(body, api_from_path(path)) if isinstance(body, EscapedBody) else None
    if events is not None:  # an SSE body (the accelerator checked), its few events decoded alone
        body_text, body_doc, is_stream = None, None, True
    else:
        body_text, body_doc = _body(body.text() if isinstance(body, EscapedBody) else body)
        is_stream = body_doc is None and body_text is not None and looks_like_sse(body_text)
        events = (
            stream_events(body_text, guess_api(body_text, api_from_path(path)))
            if is_stream and body_text is not None
            else None
        )
    api = detect_api(meta, path, body_doc, events)
    ex = _read(api, body_doc, events, body_text, status)
    is_array = _reads_chunks(api) and (isinstance(body_doc, list) or is_cut_array(body_doc, body_text))
    stream = is_stream or is_array
    error_body = isinstance(body_doc, Mapping) and rule.is_error_body(body_doc)
    empty = body_doc is None and not stream and not (body_text or "").strip()
    return (
        api,
        ex,
        stream,
        rule.missing_reason(status, stream, ex.complete, error_body=error_body, empty=empty),
    )


def _read(api: str | None, doc: Any, events: list | None, text: str | None, status: int | None) -> Extracted:
    """The body's reading, or ``BadCaptureError`` when the capture is no row (``rule.py``)."""
    ok = rule.is_ok(status)
    api_family = family(api)
    if events is not None:
        if api is None:
            if ok:
                raise BadCaptureError("unrecognized event stream: no known provider's events in it")
            return Extracted(complete=False)
        if api_family is None or api_family.from_stream is None:
            raise BadCaptureError(f"an SSE stream from the {api} API, which does not stream SSE")
        return api_family.from_stream(events)
    if api_family is not None and api_family.from_chunks is not None:
        if isinstance(doc, list):
            return api_family.from_chunks(doc)
        if is_cut_array(doc, text):
            return api_family.from_chunks(array_prefix(text or ""))
    if doc is None:
        return _read_text(api, text, ok)
    if not isinstance(doc, Mapping):
        raise BadCaptureError(f"response body is a JSON {type(doc).__name__}, expected an object")
    if ok and not rule.is_error_body(doc):
        if api is None:
            raise BadCaptureError(f"{rule.NOT_A_RESPONSE}: an object of no known API's shape")
        if api_from_body(doc, None) is None and not rule.looks_like_response(doc):
            raise BadCaptureError(
                f"{rule.NOT_A_RESPONSE}: the path names the {api} API, the body has none "
                "of a response's fields"
            )
        rule.check_usage_object(doc)
    return Extracted() if api_family is None else api_family.from_json(doc)


def _read_text(api: str | None, text: str | None, ok: bool) -> Extracted:
    """A body that is no JSON document: none, empty, cut in transit, or text (an HTML error page)."""
    if not ok:
        return Extracted()  # an error response: its status says what happened, whatever the body
    if text is None:
        raise BadCaptureError(
            rule.NO_BODY, hint="a capture record keeps the response body in its `body` field"
        )
    if api is not None and not text.strip():
        return Extracted(complete=False)  # the recorder kept no content: the response is lost
    problem = rule.json_problem(text)
    if api is not None and problem == rule.CUT:
        return Extracted(complete=False)  # a JSON object cut in transit
    what = "an empty body" if not text.strip() else problem or "text, neither JSON nor an event stream"
    place = f"on the {api} API's path" if api is not None else "on no known API's path"
    raise BadCaptureError(f"{rule.NOT_A_RESPONSE}: {what}, {place}")


def _read_eventstream(meta: Mapping[str, Any], path: str | None, data: bytes) -> tuple[str, Extracted]:
    first = next(iter_messages(data), None)
    event_type = first[0].get(":event-type") if first is not None else None
    api = detect_api(meta, path, None, None, [event_type] if isinstance(event_type, str) else [])
    api_family = family(api)
    if api is None or api_family is None or api_family.from_eventstream is None:
        raise BadCaptureError(
            f"an AWS event stream from the {api or 'unrecognized'} API: only Bedrock streams are read",
            hint="Bedrock paths end in /converse-stream or /invoke-with-response-stream",
        )
    return api, api_family.from_eventstream(data)


def _reads_chunks(api: str | None) -> bool:
    api_family = family(api)
    return api_family is not None and api_family.from_chunks is not None


def _body(body: Any) -> tuple[str | None, Any]:
    """(text, decoded JSON or None) for a capture's body, whatever form it was stored in."""
    if body is None:
        return None, None
    if isinstance(body, Mapping | list):
        return None, body
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadCaptureError(f"response body is not UTF-8 text (byte {exc.start})") from None
    if not isinstance(body, str):
        raise BadCaptureError(f"body is a {type(body).__name__}, expected text or a JSON object")
    if looks_like_sse(body):
        return body, None
    try:
        return body, orjson.loads(body)
    except orjson.JSONDecodeError:
        return body, None


def _status(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadCaptureError(f"status is {value!r}: expected an HTTP status code")
    try:
        status = int(value)
    except ValueError:
        raise BadCaptureError(f"status is {value!r}: expected an HTTP status code") from None
    if not 100 <= status <= 599:
        raise BadCaptureError(f"status is {status}: expected an HTTP status code (100-599)")
    return status


def _path(meta: Mapping[str, Any]) -> str | None:
    path = as_str(meta.get("path"))
    if path is None and (url := as_str(meta.get("url"))) is not None:
        path = urlsplit(url).path or None
    return path.split("?", 1)[0] if path else None


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return as_str(value)
    return None


def _request_id(meta: Mapping[str, Any], ex: Extracted, capture: Capture) -> tuple[str, bool]:
    """(request id, whether it is the fallback digest)."""
    request_id = meta.get("request_id")
    if isinstance(request_id, int) and not isinstance(request_id, bool):
        request_id = str(request_id)
    headers = meta.get("response_headers")
    found = (
        as_str(request_id)
        or _header(headers, "request-id")
        or _header(headers, "x-request-id")
        or _header(headers, "x-amzn-requestid")
        or ex.response_id
    )
    if found:
        return found, False
    return _fallback_id(meta, capture), True


def _fallback_id(meta: Mapping[str, Any], capture: Capture) -> str:
    """Nothing names this response: a digest of the whole capture (its time as recorded, method, URL or
    path, host, body, and its position in its source: byte offset or HAR entry index). The same capture
    read again gives the same id, so re-ingests stay idempotent; two captures differ in one of these."""
    headers = meta.get("response_headers")
    parts = (
        meta.get("ts", meta.get("timestamp")),
        _header(headers, "date"),
        meta.get("method"),
        meta.get("url") or meta.get("path"),
        meta.get("host"),
        capture.offset,
    )
    digest = hashlib.sha256()
    for part in parts:
        digest.update(b"" if part is None else str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(_body_bytes(capture.body))
    return f"sha256:{digest.hexdigest()[:32]}"


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, EscapedBody):
        body = body.text()
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # numbers beyond 64 bits and the like: a stable text form still identifies it
        return repr(body).encode()


def _timestamp(meta: Mapping[str, Any], capture: Capture) -> datetime:
    value = meta.get("ts", meta.get("timestamp"))
    if value is None:
        date_header = _header(meta.get("response_headers"), "date")
        if date_header:
            from email.utils import parsedate_to_datetime

            try:
                return parsedate_to_datetime(date_header).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        if capture.file_time is not None:
            return capture.file_time
        raise BadCaptureError("no timestamp: the capture has no ts, no Date header and no file time")
    return parse_timestamp(value)


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (naive means UTC) or epoch seconds (milliseconds when the number is that large)."""
    if isinstance(value, bool):
        raise BadCaptureError(f"ts is {value!r}: expected ISO 8601 or epoch seconds")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadCaptureError(f"ts is {value!r}: not a representable time") from None
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_timestamp(float(text)) if text.replace(".", "", 1).isdigit() else _iso(text)
        except ValueError:
            pass
    raise BadCaptureError(f"ts is {str(value)[:40]!r}: expected ISO 8601 or epoch seconds")


def _iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _model_from_path(path: str | None) -> str | None:
    """Deployment or model named in the path (Azure deployments, Gemini ``models/NAME:verb``,
    Bedrock ``model/ID/converse``, whose ID is percent-encoded)."""
    if not path:
        return None
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "model":
        return unquote(parts[1]) or None
    for marker in ("deployments", "models"):
        if marker in parts[:-1]:
            return parts[parts.index(marker) + 1].split(":", 1)[0] or None
    return None
