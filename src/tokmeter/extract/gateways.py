"""Usage in gateway logs: LiteLLM's StandardLoggingPayload, Kong AI Gateway and Cloudflare AI Gateway logs
(their sources: ``sources/litellm.py``, ``sources/gateway_logs.py``). ``logs.py`` says what a logged
record is and how rows come of it; this module reads each gateway's fields.

**litellm**: the ``response`` LiteLLM returned, in OpenAI's shape, read as OpenAI's (``openai.py``):
input is ``prompt_tokens`` with the cache reads in it, ``prompt_tokens_details.cached_tokens`` the
reads, ``completion_tokens_details.reasoning_tokens`` the reasoning. For an Anthropic-style provider
(Anthropic, Bedrock, Vertex: the usage carries ``cache_creation_input_tokens``) LiteLLM's own sums are
undone: input = the provider's ``input_tokens`` (``prompt_tokens_details.text_tokens``) + the cache reads
(``cache_read_input_tokens``) + writes (``cache_creation_input_tokens``); LiteLLM versions that do not
write ``text_tokens`` are taken to have summed all three into ``prompt_tokens`` (some summed the reads
only: their input is then short of the writes). Their ``reasoning_tokens`` is LiteLLM's estimate from the
thinking text, not a count the provider reported: unknown (null). Without a response (a callback that
drops it, a response logged as text) the payload's own ``prompt_tokens`` / ``completion_tokens`` are the
usage (the same sums; cache and reasoning unknown). A ``failure`` is a row without usage.

**kong**: ``ai.<plugin>.usage.prompt_tokens`` / ``completion_tokens`` (``prompt_token`` /
``completion_token`` in Kong's older documentation) are what the provider reported as its input and
output: OpenAI's input includes the cache reads, Anthropic's does not (Kong's Anthropic driver copies
``input_tokens``), and Kong logs no cache counts, so the cache is unknown (null) and an Anthropic call's
input is short of its cached part. The model is ``meta.response_model``, else ``meta.request_model``
(``UNSPECIFIED`` is none); the provider ``meta.provider_name``. Kong's ``usage.cost`` is not used.

**cloudflare-ai-gateway**: ``tokens_in`` / ``tokens_out`` as AI Gateway read them from the provider's
response (the same conventions: OpenAI's input with the cache, Anthropic's without), cache and reasoning
unknown (null). A response AI Gateway served from its own cache (``cached: true``) reached no provider and
is billed by none: 0 tokens. ``success: false`` without tokens is an error row.

Both are ``usage_source`` reported (the gateway's sums, not a response tokmeter read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BadCaptureError
from . import openai, rule
from .base import Extracted, as_mapping, as_str, token_count
from .logs import LogRead, embeddings_usage


def from_litellm(record: Mapping[str, Any]) -> LogRead:
    response = as_mapping(record.get("response"))
    stream = record.get("stream") is True
    if response is not None and response.get("usage") is not None:
        rule.check_usage_object(response)
        api, ex = _litellm_response(response)
        ex.model = as_str(response.get("model")) or as_str(record.get("model"))
        return LogRead(api, ex, stream)
    if record.get("status") == "failure":
        return LogRead(
            None, Extracted(model=as_str(record.get("model"))), stream, missing=rule.ERROR_RESPONSE
        )
    ex = Extracted(model=as_str(record.get("model")))
    ex.input_tokens = token_count(record, "prompt_tokens", "payload")
    ex.output_tokens = token_count(record, "completion_tokens", "payload")
    ex.cache_read_tokens = ex.cache_write_tokens = ex.cache_write_1h_tokens = None  # the sums do not say
    ex.reasoning_tokens = None if ex.output_tokens else 0
    ex.usage_source = "reported"
    return LogRead(None, ex, stream)


def _litellm_response(response: Mapping[str, Any]) -> tuple[str | None, Extracted]:
    kind = response.get("object")
    if kind == "response":
        return openai.RESPONSES, openai.responses_from_json(response)
    if kind == "list":
        return None, embeddings_usage(response)
    ex = openai.chat_from_json(response)
    usage = as_mapping(response.get("usage")) or {}
    if "cache_creation_input_tokens" in usage:
        _undo_litellm_sums(usage, ex)
    return openai.CHAT, ex


def _undo_litellm_sums(usage: Mapping[str, Any], ex: Extracted) -> None:
    """An Anthropic-style provider's usage as LiteLLM reshaped it, back in tokmeter's convention."""
    details = as_mapping(usage.get("prompt_tokens_details")) or {}
    read = token_count(usage, "cache_read_input_tokens")
    write = token_count(usage, "cache_creation_input_tokens")
    if details.get("text_tokens") is not None:
        ex.input_tokens = token_count(details, "text_tokens", "usage.prompt_tokens_details") + read + write
    else:
        ex.input_tokens = max(ex.input_tokens, read + write)
    ex.cache_read_tokens, ex.cache_write_tokens = read, write
    by_ttl = as_mapping(details.get("cache_creation_token_details"))
    one_hour = by_ttl.get("ephemeral_1h_input_tokens") if by_ttl else None
    ex.cache_write_1h_tokens = (
        token_count(
            by_ttl, "ephemeral_1h_input_tokens", "usage.prompt_tokens_details.cache_creation_token_details"
        )
        if by_ttl and one_hour is not None
        else None
        if write
        else 0
    )
    ex.reasoning_tokens = None if ex.output_tokens else 0  # LiteLLM's estimate, not the provider's count


def from_kong(record: Mapping[str, Any]) -> LogRead:
    entry = as_mapping(record.get("entry")) or {}
    call = as_mapping((as_mapping(entry.get("ai")) or {}).get(str(record.get("plugin")))) or {}
    usage = as_mapping(call.get("usage"))
    meta = as_mapping(call.get("meta")) or {}
    if call.get("usage") is not None and usage is None:
        raise BadCaptureError("ai usage is not an object: expected prompt_tokens and completion_tokens")
    usage = usage or {}
    given = _first_count(usage, "prompt_tokens", "prompt_token")
    output = _first_count(usage, "completion_tokens", "completion_token")
    model = next((m for m in (meta.get("response_model"), meta.get("request_model")) if _named(m)), None)
    status = as_mapping(entry.get("response")) or {}
    return _gateway_sums(given, output, model, _named(meta.get("provider_name")), status.get("status"))


def from_cloudflare(record: Mapping[str, Any]) -> LogRead:
    given = _first_count(record, "tokens_in")
    output = _first_count(record, "tokens_out")
    if record.get("cached") is True:
        given = output = 0  # served from AI Gateway's cache: no provider call
    failed = record.get("success") is False
    return _gateway_sums(
        given, output, as_str(record.get("model")), None, 500 if failed else record.get("status_code")
    )


def _gateway_sums(given: int, output: int, model: Any, provider: str | None, status: Any) -> LogRead:
    """A gateway's own input and output counts: cache and reasoning unknown; an error without tokens is
    a row without usage."""
    ex = Extracted(model=as_str(model))
    failed = isinstance(status, int) and not isinstance(status, bool) and not 200 <= status < 300
    if failed and not given and not output:
        return LogRead(None, ex, provider=provider, missing=rule.ERROR_RESPONSE)
    ex.input_tokens, ex.output_tokens = given, output
    ex.cache_read_tokens = ex.cache_write_tokens = ex.cache_write_1h_tokens = None if given else 0
    ex.reasoning_tokens = None if output else 0
    ex.usage_source = "reported"
    return LogRead(None, ex, provider=provider)


def _first_count(container: Mapping[str, Any], *keys: str) -> int:
    key = next((k for k in keys if container.get(k) is not None), keys[0])
    return token_count(container, key, "usage")


def _named(value: Any) -> str | None:
    text = as_str(value)
    return None if text is None or text.upper() == "UNSPECIFIED" else text


READERS: dict[str, Callable[[Mapping[str, Any]], LogRead]] = {
    "litellm": from_litellm,
    "kong": from_kong,
    "cloudflare-ai-gateway": from_cloudflare,
}
