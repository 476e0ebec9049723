"""What is a row: the one rule, and the counts each row adds to an ingest's summary.

A capture becomes a usage row only when it is recognizably a response of a known API, or an error
response:

* **a response of a known API**: a JSON body of a known API's shape (``detect.api_from_body``), or, on a
  path of a known API, a JSON object that carries a response's fields (``id``, ``model``, ``usage`` ...);
  an SSE stream whose API its events or its path name; a Gemini JSON array; a Bedrock event stream; a
  record of a pre-normalized format (token log, agent transcript);
* **an error response**: a non-2xx status (whatever the body, even none), or a JSON body whose ``error``
  is a provider's error object;
* **a response cut short on a known API's path** (a 2xx or no status): a stream cut before its usage
  (the cancelled streams tokmeter exists for), a JSON object cut in transit, an empty body (a recorder that
  kept no content). Its usage is ``missing`` (or estimated) and ``complete`` is false.

Everything else is a bad capture with a reason: no body, a body that is no known API's response, a usage
that is no object or has none of its API's token fields (``base.require_counts``), token counts that are negative, fractional, non-finite or over 10^9
(``base.token_count``). A bad capture is
quarantined, never a row with 0 tokens.

A row whose usage is ``missing`` says why, in a fixed vocabulary (``MISSING_REASONS``), which the ingest
summary counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import orjson

from ..errors import BadCaptureError
from .base import _show as show

# Why a row has no usage (the ingest summary's words, most common first).
STREAM_CUT = "stream cut before usage"
STREAM_WITHOUT_USAGE = "stream ended without usage"
ERROR_RESPONSE = "error response"
BODY_NOT_RECORDED = "body not recorded"
BODY_CUT = "JSON body cut"
NO_USAGE = "response without usage"
NOT_RUN = "batch request not run"  # a canceled or expired batch request
# each reason -> its plural, as the summary says it ("9 streams cut before usage, 3 error responses")
MISSING_REASONS = {
    STREAM_CUT: "streams cut before usage",
    STREAM_WITHOUT_USAGE: "streams ended without usage",
    ERROR_RESPONSE: "error responses",
    BODY_NOT_RECORDED: "bodies not recorded",
    BODY_CUT: "JSON bodies cut",
    NO_USAGE: "responses without usage",
    NOT_RUN: "batch requests not run",
}

NO_BODY = "no body: the capture holds no response body (a 2xx, or no status)"
NOT_A_RESPONSE = "body is not a response of any known API"
# Top-level fields of a response body of any known API (a path names the API, these make it a response).
RESPONSE_FIELDS = frozenset(
    {
        "id",
        "model",
        "usage",
        "usageMetadata",
        "modelVersion",
        "responseId",
        "output",
        "stopReason",
        "choices",
        "candidates",
        "content",
        "object",
        "created",
    }
)


def is_ok(status: int | None) -> bool:
    """A 2xx, or a capture that does not say (read as a success: its body must then be a response)."""
    return status is None or 200 <= status < 300


def is_error_body(doc: Mapping[str, Any]) -> bool:
    """A provider's error body: ``{"error": {...}}`` (OpenAI and compatibles, Gemini, Anthropic's
    ``{"type": "error", "error": {...}}``) or ``{"error": "text"}`` (some compatibles)."""
    error = doc.get("error")
    if isinstance(error, Mapping):
        return any(key in error for key in ("message", "type", "code", "status"))
    return isinstance(error, str) and bool(error)


def looks_like_response(doc: Mapping[str, Any]) -> bool:
    """A JSON object on a known API's path that carries at least one field of a response."""
    return not RESPONSE_FIELDS.isdisjoint(doc)


CUT = "a JSON object cut short"


def json_problem(text: str) -> str | None:
    """Why a body that failed to decode is not JSON: ``CUT`` for an object that fails only at its very
    end (cut in transit), else the decoder's complaint (``not valid JSON: number is infinity ...``)."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and exc.pos >= len(text.rstrip()):
            return CUT
        return f"not valid JSON ({str(exc).split(':', 1)[0][:60]})"
    return None


def check_usage_object(doc: Mapping[str, Any]) -> None:
    """A response's usage is an object of token counts, or absent / null (not reported); anything else
    (``"usage": "lots"``, ``[1, 2]``) is garbled and the capture bad, never a row of 0 tokens."""
    for key in USAGE_KEYS:
        value = doc.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise BadCaptureError(f"{key} is {show(value)}: expected an object of token counts")


USAGE_KEYS = ("usage", "usageMetadata")


def missing_reason(status: int | None, stream: bool, complete: bool, *, error_body: bool, empty: bool) -> str:
    """Why a row's usage is missing (one of ``MISSING_REASONS``)."""
    if not is_ok(status) or error_body:
        return ERROR_RESPONSE
    if empty:
        return BODY_NOT_RECORDED
    if stream:
        return STREAM_WITHOUT_USAGE if complete else STREAM_CUT
    return NO_USAGE if complete else BODY_CUT


@dataclass(slots=True)
class RowNotes:
    """What one row adds to the summary: why its usage is missing, how it was estimated (``full``,
    ``no-prompt`` or ``partial``), whether its request id is the fallback digest."""

    missing: str | None = None
    estimate: str | None = None
    fallback_id: bool = False


@dataclass(slots=True)
class Tally:
    """The counts of an ingest's rows that its summary reports. Built by whoever extracts (a worker
    returns its own) and summed with ``+=``: no process-global state."""

    estimated: int = 0
    estimated_partial: int = 0
    estimated_without_prompt: int = 0
    fallback_ids: int = 0
    missing: Counter[str] = field(default_factory=Counter)

    def add(self, notes: RowNotes) -> None:
        if notes.missing is not None:
            self.missing[notes.missing] += 1
        if notes.estimate is not None:
            self.estimated += 1
            self.estimated_partial += notes.estimate == "partial"
            self.estimated_without_prompt += notes.estimate == "no-prompt"
        self.fallback_ids += notes.fallback_id

    def __iadd__(self, other: Tally) -> Self:
        self.estimated += other.estimated
        self.estimated_partial += other.estimated_partial
        self.estimated_without_prompt += other.estimated_without_prompt
        self.fallback_ids += other.fallback_ids
        self.missing.update(other.missing)
        return self
