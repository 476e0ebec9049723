"""Which API produced a body (from the path, else the body's shape) and which provider served it
(from the capture's ``provider``, else the host, else the API)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from . import anthropic, bedrock, cohere, gemini, openai
from .base import as_str
from .registry import family
from .sse import SSEEvent

# Host suffix -> provider name as stored (pricing maps names to genai-prices' ids itself).
HOST_PROVIDERS: dict[str, str] = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "openai.azure.com": "azure",
    "services.ai.azure.com": "azure",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral",
    "api.deepseek.com": "deepseek",
    "openrouter.ai": "openrouter",
    "api.x.ai": "xai",
    "api.cerebras.ai": "cerebras",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "generativelanguage.googleapis.com": "google",
    "aiplatform.googleapis.com": "google-vertex",
    "amazonaws.com": "bedrock",
    "api.cohere.com": "cohere",
    "api.cohere.ai": "cohere",
    "router.huggingface.co": "huggingface",
}
# Hosts that a suffix cannot name (a region inside the name) -> provider.
HOST_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"bedrock-runtime(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com"), "bedrock"),
    (re.compile(r"bedrock-mantle\.[a-z0-9-]+\.api\.aws"), "bedrock"),
    (re.compile(r"[a-z0-9-]+-aiplatform\.googleapis\.com"), "google-vertex"),
)
# Spellings users put in the capture's `provider` field -> our ids.
PROVIDER_ALIASES: dict[str, str] = {
    "x-ai": "xai",
    "grok": "xai",
    "azure-openai": "azure",
    "azure_openai": "azure",
    "gemini": "google",
    "vertex": "google-vertex",
    "vertex-ai": "google-vertex",
    "vertexai": "google-vertex",
    "aws": "bedrock",
    "aws-bedrock": "bedrock",
    "amazon-bedrock": "bedrock",
    "claude": "anthropic",
}
_BEDROCK_PATH = re.compile(r"/model/[^/]+/(converse-stream|converse|invoke-with-response-stream|invoke)$")
_BEDROCK_APIS = {
    "converse": bedrock.CONVERSE,
    "converse-stream": bedrock.CONVERSE,
    "invoke": bedrock.INVOKE,
    "invoke-with-response-stream": bedrock.INVOKE,
}
_COHERE_EVENTS = ("message-start", "content-start", "content-delta", "tool-plan-delta", "tool-call-start")


def detect_api(
    meta: Mapping[str, Any],
    path: str | None,
    doc: Any,
    events: Sequence[SSEEvent] | None,
    frame_types: Sequence[str] | None = None,
) -> str | None:
    """``openai_chat`` | ``openai_responses`` | ``anthropic_messages`` | ``gemini`` |
    ``bedrock_converse`` | ``bedrock_invoke`` | ``cohere_chat`` | None (unrecognized).

    ``frame_types`` (None unless the body is an AWS event stream) lists its messages' event types, the
    last resort for Bedrock: ``chunk`` events come from InvokeModel, anything else from Converse."""
    return api_from_body(doc, events) or api_from_path(path) or _api_from_frames(frame_types)


def api_from_path(path: str | None) -> str | None:
    """The API an endpoint path (without query string) belongs to, or None."""
    if not path:
        return None
    if path.endswith("/chat/completions"):
        return openai.CHAT
    if "/responses" in path:
        return openai.RESPONSES
    if path.endswith("/messages"):
        return anthropic.API
    if path.endswith((":generateContent", ":streamGenerateContent")):
        return gemini.API
    if (match := _BEDROCK_PATH.search(path)) is not None:
        return _BEDROCK_APIS[match.group(1)]
    if path.endswith("/v2/chat"):
        return cohere.API
    return None


def _api_from_frames(frame_types: Sequence[str] | None) -> str | None:
    if frame_types is None:
        return None
    return bedrock.INVOKE if frame_types and frame_types[0] == "chunk" else bedrock.CONVERSE


def api_from_body(doc: Any, events: Sequence[SSEEvent] | None) -> str | None:
    if isinstance(doc, Mapping):
        kind = doc.get("object") or doc.get("type")
        if kind in ("chat.completion", "chat.completion.chunk"):
            return openai.CHAT
        if kind == "response" or (kind and str(kind).startswith("response.")):
            return openai.RESPONSES
        if (kind == "message" and "usage" in doc) or kind == "message_start":
            return anthropic.API
        if "choices" in doc:
            return openai.CHAT
        return _untyped_api_from_body(doc)
    if isinstance(doc, list) and doc and isinstance(doc[0], Mapping) and _is_gemini(doc[0]):
        return gemini.API
    if events:
        for event in events[:3]:
            name = event.event or _type_of(event.data)
            if name in ("message_start", "message_delta", "content_block_start", "ping"):
                return anthropic.API
            if name and name.startswith("response."):
                return openai.RESPONSES
            if name is None and '"chat.completion.chunk"' in event.data:
                return openai.CHAT
            if name in _COHERE_EVENTS:
                return cohere.API
            if '"candidates"' in event.data or '"usageMetadata"' in event.data:
                return gemini.API
    return None


def _untyped_api_from_body(doc: Mapping[str, Any]) -> str | None:
    """Gemini, Bedrock Converse and Cohere v2 bodies, which name no object type."""
    if _is_gemini(doc):
        return gemini.API
    usage = doc.get("usage")
    if not isinstance(usage, Mapping):
        return None
    if "inputTokens" in usage or "outputTokens" in usage:
        return bedrock.CONVERSE
    if "tokens" in usage or "billed_units" in usage:
        return cohere.API
    return None


def _is_gemini(doc: Mapping[str, Any]) -> bool:
    return "usageMetadata" in doc or "candidates" in doc or "promptFeedback" in doc


def _type_of(data: str) -> str | None:
    marker = data.find('"type"')
    if marker < 0:
        return None
    start = data.find('"', data.find(":", marker) + 1)
    end = data.find('"', start + 1)
    return data[start + 1 : end] if 0 <= start < end else None


def infer_provider(meta: Mapping[str, Any], path: str | None, api: str | None) -> str | None:
    named = as_str(meta.get("provider"))
    if named:
        named = named.strip().lower()
        return PROVIDER_ALIASES.get(named, named)
    host = as_str(meta.get("host"))
    if host is None and (url := as_str(meta.get("url"))):
        host = urlsplit(url).hostname
    if host:
        host = host.lower().split(":", 1)[0]
        for pattern, provider in HOST_PATTERNS:
            if pattern.fullmatch(host):
                return provider
        for suffix, provider in HOST_PROVIDERS.items():
            if host == suffix or host.endswith("." + suffix):
                return provider
    api_family = family(api)
    return api_family.provider if api_family is not None else None
