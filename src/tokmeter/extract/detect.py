"""Which API produced a body (from the path, else the body's shape) and which provider served it
(from the capture's ``provider``, else the host, else the API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .base import as_str
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
_API_DEFAULT_PROVIDER = {
    "openai_chat": "openai",
    "openai_responses": "openai",
    "anthropic_messages": "anthropic",
}


def detect_api(
    meta: Mapping[str, Any], path: str | None, doc: Any, events: Sequence[SSEEvent] | None
) -> str | None:
    """``openai_chat`` | ``openai_responses`` | ``anthropic_messages`` | None (unrecognized)."""
    return _api_from_body(doc, events) or _api_from_path(path)


def _api_from_path(path: str | None) -> str | None:
    if not path:
        return None
    if path.endswith("/chat/completions"):
        return "openai_chat"
    if "/responses" in path:
        return "openai_responses"
    if path.endswith("/messages"):
        return "anthropic_messages"
    return None


def _api_from_body(doc: Any, events: Sequence[SSEEvent] | None) -> str | None:
    if isinstance(doc, Mapping):
        kind = doc.get("object") or doc.get("type")
        if kind in ("chat.completion", "chat.completion.chunk"):
            return "openai_chat"
        if kind == "response" or (kind and str(kind).startswith("response.")):
            return "openai_responses"
        if kind == "message" and "usage" in doc or kind == "message_start":
            return "anthropic_messages"
        if "choices" in doc:
            return "openai_chat"
        return None
    if events:
        for event in events[:3]:
            name = event.event or _type_of(event.data)
            if name in ("message_start", "message_delta", "content_block_start", "ping"):
                return "anthropic_messages"
            if name and name.startswith("response."):
                return "openai_responses"
            if name is None and '"chat.completion.chunk"' in event.data:
                return "openai_chat"
    return None


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
        for suffix, provider in HOST_PROVIDERS.items():
            if host == suffix or host.endswith("." + suffix):
                return provider
    return _API_DEFAULT_PROVIDER.get(api or "")
