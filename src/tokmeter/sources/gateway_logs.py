"""AI gateway logs: Kong AI Gateway (its file-log / http-log entries) and Cloudflare AI Gateway (its logs as
Logpush and the logs API give them). Both are JSON Lines of the gateway's own records, whose usage sums
``extract/gateways.py`` reads.

**kong**: Kong's log serializer entry (``request``, ``response``, ``latencies``, ``started_at``,
``consumer``, ...). Its ``ai`` object holds one entry per AI plugin that called a model (``ai.proxy`` since
Kong 3.8, ``ai.ai-proxy`` and other plugin names before), each with ``usage`` and ``meta``; each is one
capture (an entry of a route without AI plugins is none). ``request_id`` of the proxied call: the
upstream provider's id from the response headers (``x-request-id``, ``request-id``, ``x-amzn-requestid``:
what a capture proxy between Kong and the provider keys on), else Kong's ``request.id``; another AI
plugin's call (``ai-request-transformer``, ...) is ``<that id>:<plugin>``. ``ts``: ``started_at`` (epoch
milliseconds). ``user``: the consumer's ``username``, else its ``custom_id``, else its ``id``. ``tags``:
``service``, ``route`` (their names) and ``workspace``.

**cloudflare-ai-gateway**: ``{"id", "created_at", "provider", "model", "tokens_in", "tokens_out",
"cached", "success", "status_code", "metadata", ...}``. ``request_id``: ``id`` (the log id AI Gateway
also returns in the ``cf-aig-log-id`` header); ``ts``: ``created_at``. ``metadata`` (the request's
``cf-aig-metadata``: an object, or its JSON text) becomes tags, its ``user`` / ``user_id`` the user and
its ``team`` / ``project`` those columns.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from .records import logged_reader

KONG = "kong"
CLOUDFLARE = "cloudflare-ai-gateway"
_PROXY_PLUGINS = ("proxy", "ai-proxy", "ai-proxy-advanced")
_UPSTREAM_IDS = ("x-request-id", "request-id", "x-amzn-requestid")
_CLOUDFLARE_PROVIDERS = {
    "google-ai-studio": "google",
    "google-vertex-ai": "google-vertex",
    "perplexity-ai": "perplexity",
    "workers-ai": "cloudflare",
}


read_kong = logged_reader(
    KONG,
    lambda record, _path, _options: [
        (meta, {"plugin": plugin, "entry": record}) for plugin, meta in kong_calls(record)
    ],
)


def kong_calls(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(plugin name, capture fields) of each AI plugin's model call in one Kong log entry."""
    if not ({"started_at", "latencies"} & record.keys() or "ai" in record):
        raise ValueError("not a Kong log entry: expected started_at and latencies")
    ai = record.get("ai")
    if ai is None:
        return []
    if not isinstance(ai, dict):
        raise ValueError("ai is not an object: expected one entry per AI plugin")
    plugins = sorted(
        (
            name
            for name, entry in ai.items()
            if isinstance(entry, dict) and ("usage" in entry or "meta" in entry)
        ),
        key=lambda name: name not in _PROXY_PLUGINS,  # the proxied call first: the upstream id is its
    )
    request, response = _dict(record.get("request")), _dict(record.get("response"))
    headers = _dict(response.get("headers"))
    upstream = next((_text(_header(headers, name)) for name in _UPSTREAM_IDS if _header(headers, name)), None)
    own = _text(request.get("id"))
    consumer = _dict(record.get("consumer"))
    tags = {
        "service": _text(_dict(record.get("service")).get("name")),
        "route": _text(_dict(record.get("route")).get("name")),
        "workspace": _text(record.get("workspace_name")),
    }
    base = upstream or own
    calls = []
    for index, plugin in enumerate(plugins):
        calls.append(
            (
                plugin,
                {
                    "ts": record.get("started_at"),
                    "request_id": base if index == 0 or base is None else f"{base}:{plugin}",
                    "status": response.get("status"),
                    "path": _uri_path(request),
                    "method": request.get("method"),
                    "user": _text(consumer.get("username"))
                    or _text(consumer.get("custom_id"))
                    or _text(consumer.get("id")),
                    "tags": {key: value for key, value in tags.items() if value},
                },
            )
        )
    return calls


read_cloudflare = logged_reader(
    CLOUDFLARE, lambda record, _path, _options: [(cloudflare_meta(record), record)]
)


def cloudflare_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The capture fields of one AI Gateway log record (ValueError: it is not one)."""
    if "tokens_in" not in record and "tokens_out" not in record:
        raise ValueError("not an AI Gateway log record: expected tokens_in and tokens_out")
    metadata = _metadata(record.get("metadata"))
    provider = _text(record.get("provider"))
    return {
        "ts": record.get("created_at"),
        "request_id": record.get("id"),
        "provider": _CLOUDFLARE_PROVIDERS.get(provider, provider) if provider else None,
        "path": "/" + path.lstrip("/") if (path := _text(record.get("path"))) else None,
        "status": record.get("status_code"),
        "user": _text(metadata.get("user")) or _text(metadata.get("user_id")),
        "team": _text(metadata.get("team")),
        "project": _text(metadata.get("project")),
        "tags": {
            key: str(value) for key, value in metadata.items() if isinstance(value, str | int | float | bool)
        },
    }


def _metadata(value: Any) -> dict[str, Any]:
    """``metadata``: an object, or its JSON text (the logs API gives text)."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _uri_path(request: dict[str, Any]) -> str | None:
    uri = _text(request.get("uri")) or _text(request.get("url"))
    return (urlsplit(uri).path or None) if uri else None


def _header(headers: dict[str, Any], name: str) -> Any:
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value[0] if isinstance(value, list) and value else value
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
