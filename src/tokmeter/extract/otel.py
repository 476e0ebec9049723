"""Usage in OpenTelemetry records (their source: ``sources/otel.py``, which hands over each model call's
span or log record with its attributes decoded).

* **GenAI spans and events** (semantic conventions for generative AI): ``gen_ai.usage.input_tokens``
  (else the older ``gen_ai.usage.prompt_tokens``) is the input *with* the cache, as the conventions say
  it SHOULD be; an instrumentation whose cache counts exceed it cannot have included them, and they are
  added. Cache reads are ``gen_ai.usage.cache_read.input_tokens`` (the conventions' spelling) or
  ``gen_ai.usage.cache_read_input_tokens`` (OpenLLMetry's and others'), writes
  ``gen_ai.usage.cache_creation.input_tokens`` or ``gen_ai.usage.cache_creation_input_tokens``;
  reasoning ``gen_ai.usage.reasoning.output_tokens``, within ``gen_ai.usage.output_tokens``. What a
  span does not carry is unknown (null), not 0: most instrumentations report no cache and no reasoning.
  The model is ``gen_ai.response.model``, else ``gen_ai.request.model``; the provider
  ``gen_ai.provider.name``, else the older ``gen_ai.system``, in tokmeter's names (``aws.bedrock`` is
  bedrock, ``gcp.vertex_ai`` google-vertex, ``gcp.gemini`` google, ``azure.ai.openai`` azure).
* **Claude Code ``api_request`` events**: ``input_tokens`` is the Messages API's (without the cache), so
  input = ``input_tokens`` + ``cache_read_tokens`` + ``cache_creation_tokens``; ``output_tokens``;
  ``model``; ``speed``. Claude Code writes its numbers as strings; they are read as numbers. Its
  ``cost_usd`` (Claude Code's own estimate) is not used: tokmeter prices the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BadCaptureError
from . import anthropic
from .base import Extracted, as_mapping, as_str, speed, token_count
from .logs import LogRead
from .transcripts import claude_code_provider

_PROVIDERS = {
    "aws.bedrock": "bedrock",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google-vertex",
    "vertex_ai": "google-vertex",
    "mistral_ai": "mistral",
    "x_ai": "xai",
}
_CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
_CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")


def from_otel(record: Mapping[str, Any]) -> LogRead:
    attrs = as_mapping(record.get("attributes"))
    if attrs is None:
        raise BadCaptureError("an OpenTelemetry record without attributes")
    if record.get("kind") == "log" and ("input_tokens" in attrs and "gen_ai.usage.input_tokens" not in attrs):
        return _claude_code(attrs)
    return _gen_ai(attrs)


def _gen_ai(attrs: Mapping[str, Any]) -> LogRead:
    ex = Extracted(
        model=as_str(attrs.get("gen_ai.response.model")) or as_str(attrs.get("gen_ai.request.model")),
        response_id=as_str(attrs.get("gen_ai.response.id")),
    )
    given = _count(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens") or 0
    output = _count(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens") or 0
    read, write = _count(attrs, *_CACHE_READ), _count(attrs, *_CACHE_WRITE)
    cache = (read or 0) + (write or 0)
    ex.input_tokens = given + (cache if cache > given else 0)
    ex.output_tokens = output
    ex.cache_read_tokens = _known(read, ex.input_tokens)
    ex.cache_write_tokens = _known(write, ex.input_tokens)
    ex.cache_write_1h_tokens = _known(None, ex.cache_write_tokens)
    ex.reasoning_tokens = _known(_count(attrs, "gen_ai.usage.reasoning.output_tokens"), output)
    ex.usage_source = "reported"
    named = as_str(attrs.get("gen_ai.provider.name")) or as_str(attrs.get("gen_ai.system"))
    provider = _PROVIDERS.get(named.lower(), named.lower()) if named else None
    return LogRead(None, ex, attrs.get("gen_ai.request.stream") is True, provider)


def _claude_code(attrs: Mapping[str, Any]) -> LogRead:
    read = _count(attrs, "cache_read_tokens") or 0
    write = _count(attrs, "cache_creation_tokens") or 0
    ex = Extracted(model=as_str(attrs.get("model")), speed=speed(attrs.get("speed")))
    ex.input_tokens = (_count(attrs, "input_tokens") or 0) + read + write
    ex.output_tokens = _count(attrs, "output_tokens") or 0
    ex.cache_read_tokens, ex.cache_write_tokens = read, write
    ex.cache_write_1h_tokens = _known(None, write)  # the event does not split writes by TTL
    ex.reasoning_tokens = _known(None, ex.output_tokens)  # nor say how much was thinking
    ex.usage_source = "reported"
    return LogRead(anthropic.API, ex, True, claude_code_provider(ex.model))


def _count(attrs: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` present, as a token count (numbers written as strings read as numbers);
    None when none is."""
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        return token_count({key: value}, key, "attributes")
    return None


def _known(count: int | None, whole: int | None) -> int | None:
    """A subset count: the record's, else unknown (None), except that a subset of nothing is 0."""
    return count if count is not None else 0 if whole == 0 else None


READERS: dict[str, Callable[[Mapping[str, Any]], LogRead]] = {"otel": from_otel}
