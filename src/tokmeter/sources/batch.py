"""Batch job result files: OpenAI Batch output (and error) files and Anthropic Message Batches results.

Both are JSON Lines, one request's outcome per line, and carry the provider's own response body, which
extraction reads with that provider's reader (``extract/logs.py``), so the token conventions are the
provider's. Every row is ``service_tier = batch`` (priced at batch rates, ``pricing/modifiers.py``).

* **openai-batch**: ``{"id": "batch_req_…", "custom_id", "response": {"status_code", "request_id",
  "body"}, "error"}``. ``request_id`` is ``response.request_id`` (the ``x-request-id`` the API gave the
  request), else the line's ``id``; the status is ``response.status_code``; the endpoint is told by the
  body (``/v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``, ``/v1/completions``). A line of
  the error file (``"response": null``, ``"error": {"code", "message"}``) is a row without usage.
* **anthropic-batch**: ``{"custom_id", "result": {"type": "succeeded", "message": {…}}}``; ``errored``,
  ``canceled`` and ``expired`` results are rows without usage. ``request_id`` is the message id
  (``msg_…``); a result without one is ``<batch>:<custom_id>``, the batch being the ``msgbatch_…`` id in
  the file's name (the results URL's), else the file's name.

Time: the response's own (``created`` / ``created_at`` of an OpenAI body); else ``--batch-time``
(``ReadOptions.batch_time``); else the file's modification time.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .options import ReadOptions
from .records import logged_reader

OPENAI = "openai-batch"
ANTHROPIC = "anthropic-batch"
_BATCH_ID = re.compile(r"msgbatch_[A-Za-z0-9]+")
_OPENAI_PATHS = {
    "chat.completion": "/v1/chat/completions",
    "response": "/v1/responses",
    "list": "/v1/embeddings",
    "text_completion": "/v1/completions",
}
ANTHROPIC_RESULTS = ("succeeded", "errored", "canceled", "expired")


def batch_time(options: ReadOptions) -> str | None:
    """``--batch-time`` as the capture's ``ts`` (None: the file's time decides)."""
    return options.batch_time.isoformat() if options.batch_time is not None else None


read_openai_batch = logged_reader(
    OPENAI, lambda record, _path, options: [(openai_meta(record, options), record)]
)


def openai_meta(record: dict[str, Any], options: ReadOptions) -> dict[str, Any]:
    """The capture fields of one OpenAI batch output line (ValueError: it is not one)."""
    response = record.get("response")
    if "custom_id" not in record or not ("response" in record or "error" in record):
        raise ValueError("not an OpenAI batch output line: expected custom_id and response or error")
    if response is not None and not isinstance(response, dict):
        raise ValueError("response is not an object: expected {status_code, request_id, body}")
    response = response or {}
    body = response.get("body")
    if body is not None and not isinstance(body, dict):
        raise ValueError("response.body is not an object: expected the API's JSON response")
    body = body or {}
    own_time = body.get("created") or body.get("created_at")
    return {
        "ts": own_time if own_time is not None else batch_time(options),
        "request_id": response.get("request_id") or record.get("id"),
        "provider": "openai",
        "path": _OPENAI_PATHS.get(str(body.get("object"))),
        "status": response.get("status_code"),
    }


@functools.lru_cache(maxsize=64)
def batch_of(name: str) -> str:
    """The batch id a results file's name carries (``msgbatch_...``), else the name."""
    found = _BATCH_ID.search(name)
    return found.group() if found else name


read_anthropic_batch = logged_reader(
    ANTHROPIC, lambda record, path, options: [(anthropic_meta(record, batch_of(path.name), options), record)]
)


def anthropic_meta(record: dict[str, Any], batch: str, options: ReadOptions) -> dict[str, Any]:
    """The capture fields of one Anthropic batch result line (ValueError: it is not one)."""
    result = record.get("result")
    if not isinstance(result, dict) or "custom_id" not in record:
        raise ValueError("not an Anthropic batch result: expected custom_id and a result object")
    kind = result.get("type")
    if kind not in ANTHROPIC_RESULTS:
        raise ValueError(f"result.type is not one of {', '.join(ANTHROPIC_RESULTS)}")
    message = result.get("message")
    if kind == "succeeded" and not isinstance(message, dict):
        raise ValueError("a succeeded result without a message object")
    message_id = message.get("id") if isinstance(message, dict) else None
    return {
        "ts": batch_time(options),  # a message carries no time of its own
        "request_id": message_id
        if isinstance(message_id, str) and message_id
        else f"{batch}:{record['custom_id']}",
        "provider": "anthropic",
        "path": "/v1/messages",
        "status": 200 if kind == "succeeded" else None,
    }
