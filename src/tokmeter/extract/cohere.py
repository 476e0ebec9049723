"""Cohere v2 Chat (``POST /v2/chat``), streaming and not.

Usage: ``usage.tokens`` counts every token the model processed and generated (the input includes
the prompt scaffolding Cohere adds); ``usage.billed_units`` is the smaller count Cohere bills.
tokmeter counts tokens processed, so ``usage.tokens`` is read and ``billed_units`` only stands in
when ``tokens`` is absent. ``usage.cached_tokens``, when present, is the cache-read part of the
input; Cohere reports no cache writes or reasoning counts. The response id is ``id``; the body does
not name the model.

Streams: ``message-start`` carries the id, ``message-end`` the ``finish_reason`` and the usage in
``delta.usage`` (the proper end). Event names come as SSE ``event:`` lines and as ``"type"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import stream_text
from .base import Extracted, as_mapping, as_str, loads_or_none, token_count
from .registry import ApiFamily, register
from .sse import SSEEvent

API = "cohere_chat"

_TYPE = re.compile(r'"type"\s*:\s*"(message-start|message-end)"')


def usage_into(usage: Mapping[str, Any], ex: Extracted, where: str = "usage") -> None:
    tokens = as_mapping(usage.get("tokens"))
    key = "tokens"
    if tokens is None:
        tokens, key = as_mapping(usage.get("billed_units")), "billed_units"
    ex.input_tokens = token_count(tokens, "input_tokens", f"{where}.{key}")
    ex.output_tokens = token_count(tokens, "output_tokens", f"{where}.{key}")
    ex.cache_read_tokens = token_count(usage, "cached_tokens", where)
    ex.usage_source = "reported"


def from_json(doc: Mapping[str, Any]) -> Extracted:
    ex = Extracted(model=as_str(doc.get("model")), response_id=as_str(doc.get("id")))
    usage = as_mapping(doc.get("usage"))
    if usage is not None:
        usage_into(usage, ex)
    return ex


def from_stream(events: Iterable[SSEEvent]) -> Extracted:
    ex = Extracted(complete=False)
    for event in events:
        kind = event.event
        if kind not in ("message-start", "message-end"):
            match = _TYPE.search(event.data) if kind is None else None
            if match is None:
                continue
            kind = match.group(1)
        doc = as_mapping(loads_or_none(event.data))
        if doc is None:
            continue
        ex.response_id = ex.response_id or as_str(doc.get("id"))
        if kind == "message-end":
            delta = as_mapping(doc.get("delta")) or {}
            ex.complete = True
            if (usage := as_mapping(delta.get("usage"))) is not None:
                usage_into(usage, ex, "message-end.delta.usage")
    return ex


register(ApiFamily(API, "cohere", from_json, from_stream, stream_text=stream_text.cohere_chat))
