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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


READERS: dict[str, Callable[[Mapping[str, Any]], LogRead]] = {
    "litellm": from_litellm,
}
