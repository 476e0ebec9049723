"""LiteLLM proxy logs: the ``StandardLoggingPayload`` LiteLLM hands its logging callbacks, as its S3, GCS
bucket and other file loggers write it (one JSON object per line; the S3 and GCS loggers write one per
object, ``.json``).

The capture's body is the payload (its usage is read by ``extract/gateways.py``); its metadata says:

* ``request_id``: ``id``, the id of the response LiteLLM returned (``chatcmpl-…``), which is what a
  capture proxy in front of LiteLLM keeps when no request id header names the request;
* ``ts``: ``startTime`` (epoch seconds, or the ``YYYY-MM-DD HH:MM:SS.ffffff`` text some callbacks write,
  read as UTC); ``provider``: ``custom_llm_provider`` (``vertex_ai`` is google-vertex); ``path``: the
  OpenAI-style path of the ``call_type`` (``/v1/chat/completions``, ``/v1/responses``,
  ``/v1/embeddings``, ``/v1/messages``); ``status``: the HTTP code of a failure's
  ``error_information.error_code``, when it is one;
* attribution: ``user`` is ``end_user`` (the request's ``user``), else ``metadata.user_api_key_user_email``,
  else ``metadata.user_api_key_user_id``; ``team`` is ``metadata.user_api_key_team_alias``, else
  ``user_api_key_team_id``; ``tags``: ``key_alias`` (``metadata.user_api_key_alias``, the virtual key's
  name: never its hash) and ``request_tags`` (the request's tags, comma-separated).
"""

from __future__ import annotations

from typing import Any

from .records import logged_reader

FORMAT = "litellm"
_PATHS = {
    "completion": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embedding": "/v1/embeddings",
    "anthropic_messages": "/v1/messages",
    "text_completion": "/v1/completions",
}
_PROVIDERS = {
    "vertex_ai": "google-vertex",
    "vertex_ai_beta": "google-vertex",
    "text-completion-openai": "openai",
}


read_litellm = logged_reader(FORMAT, lambda record, _path, _options: [(litellm_meta(record), record)])


def litellm_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The capture fields of one StandardLoggingPayload (ValueError: it is not one)."""
    call_type = record.get("call_type")
    if not isinstance(call_type, str):
        raise ValueError("not a LiteLLM StandardLoggingPayload: call_type is missing or not a string")
    found = record.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    provider = _text(record.get("custom_llm_provider"))
    return {
        "ts": record.get("startTime"),
        "request_id": record.get("id"),
        "provider": _PROVIDERS.get(provider, provider) if provider else None,
        "path": _PATHS.get(call_type.removeprefix("a")) or _PATHS.get(call_type),
        "status": _status(record),
        "user": _first(
            record.get("end_user"),
            metadata.get("user_api_key_user_email"),
            metadata.get("user_api_key_user_id"),
        ),
        "team": _first(metadata.get("user_api_key_team_alias"), metadata.get("user_api_key_team_id")),
        "tags": _tags(metadata, record.get("request_tags")),
        "request": {"stream": record.get("stream") is True},
    }


def _status(record: dict[str, Any]) -> int | None:
    if record.get("status") != "failure":
        return None
    info = record.get("error_information")
    code = info.get("error_code") if isinstance(info, dict) else None
    text = str(code) if isinstance(code, int | str) else ""
    return int(text) if text.isdigit() and 400 <= int(text) <= 599 else None


def _tags(metadata: dict[str, Any], request_tags: Any) -> dict[str, str]:
    tags = {"key_alias": _text(metadata.get("user_api_key_alias"))}
    if isinstance(request_tags, list):
        tags["request_tags"] = (
            ",".join(sorted(str(tag) for tag in request_tags if isinstance(tag, str))) or None
        )
    return {key: value for key, value in tags.items() if value}


def _first(*values: Any) -> str | None:
    return next((value for value in values if isinstance(value, str) and value), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
