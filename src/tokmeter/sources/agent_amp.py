"""Amp threads: ``~/.local/share/amp/threads/T-<uuid>.json``, one thread per file (``id``, ``messages``,
``usageLedger``, ``env``). Learnt from ccusage's amp adapter (its README and parser).

Usage comes from ``usageLedger.events[]`` when the thread has a ledger: each event (``id``, ``timestamp``,
``model``, ``tokens {input, output, total}``, ``toMessageId``) is one call, with the cache counts of the
assistant message it points to (``messages[].usage.cacheCreationInputTokens`` /
``cacheReadInputTokens``). Without a ledger (the current schema), each assistant message's ``usage``
(``model``, ``timestamp``, ``inputTokens``, ``outputTokens``, ``cacheCreationInputTokens``,
``cacheReadInputTokens``, ``totalTokens``) is one call. Amp's input counts exclude the cache (Anthropic's
convention), so input = input + cache writes + cache reads; output as recorded, reasoning not recorded
(null), except what ``total`` counts beyond the parts (``agent_usage.beyond_parts``). Amp's ``credits`` are not kept.

The session is the thread id; the project the thread's first workspace tree (``env.initial.trees[0].uri``,
a ``file://`` URI), else null; the request id ``amp:<thread>:<event id>`` (ledger) or
``amp:<thread>:<messageId>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import BadCount, beyond_parts, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions

FORMAT = "amp"
_THREAD = re.compile(rb'"id"\s*:\s*"T-[0-9A-Fa-f-]{8,}"')


def logs(root: Path) -> list[Path]:
    return [root / "threads"]


def sniff(path: Path, head: bytes) -> bool:
    del path
    return head.startswith(b"{") and _THREAD.search(head) is not None and b'"messages"' in head


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    source = str(path)
    with opener(path) as handle:
        data = handle.read()
    try:
        thread = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), None, FORMAT)
        return
    thread_id = text(thread.get("id")) if isinstance(thread, dict) else None
    if thread_id is None:
        return
    messages = [
        m for m in _list(thread.get("messages")) if isinstance(m, dict) and m.get("role") == "assistant"
    ]
    ledger = thread.get("usageLedger")
    events = ledger.get("events") if isinstance(ledger, dict) else None
    calls = _ledger_calls(events, messages) if isinstance(events, list) else _message_calls(messages)
    project = _project(thread)
    for key, when, model, counts in calls:
        try:
            usage = _usage(*counts)
        except BadCount as exc:
            yield BadCapture(source, 0, str(exc), None, FORMAT)
            continue
        if usage is None:
            continue
        yield usage_capture(
            FORMAT,
            source,
            0,
            request_id=f"amp:{thread_id}:{key}",
            ts=when,
            provider=None,  # Amp routes to Anthropic, OpenAI or Google models: the model tells pricing
            model=model,
            project=project,
            session=thread_id,
            usage=usage,
            file_time=file_time,
        )


Call = tuple[str, str | None, str | None, tuple[Any, ...]]  # key, time, model, the counts as written


def _ledger_calls(events: list[Any], messages: list[dict[str, Any]]) -> list[Call]:
    caches = {_id(m.get("messageId")): _object(m.get("usage")) for m in messages}
    calls: list[Call] = []
    for number, event in enumerate(events):
        if not isinstance(event, dict) or not text(event.get("model")) or not text(event.get("timestamp")):
            continue
        tokens, cache = _object(event.get("tokens")), caches.get(_id(event.get("toMessageId")), {})
        counts = (
            tokens.get("input"),
            tokens.get("output"),
            cache.get("cacheCreationInputTokens"),
            cache.get("cacheReadInputTokens"),
            tokens.get("total"),
        )
        key = _id(event.get("id")) or f"event-{number}"
        calls.append((key, text(event.get("timestamp")), text(event.get("model")), counts))
    return calls


def _message_calls(messages: list[dict[str, Any]]) -> list[Call]:
    calls: list[Call] = []
    for number, message in enumerate(messages):
        usage_record = _object(message.get("usage"))
        when = text(usage_record.get("timestamp")) or text(message.get("timestamp"))
        model = text(usage_record.get("model")) or text(message.get("model"))
        counts = (
            usage_record.get("inputTokens"),
            usage_record.get("outputTokens"),
            usage_record.get("cacheCreationInputTokens"),
            usage_record.get("cacheReadInputTokens"),
            usage_record.get("totalTokens"),
        )
        if when and model:
            calls.append((_id(message.get("messageId")) or f"message-{number}", when, model, counts))
    return calls


def _usage(given: Any, output: Any, write: Any, read: Any, total: Any) -> dict[str, int | None] | None:
    parts = [count(value) or 0 for value in (given, output, write, read)]
    parts[1], reasoning = beyond_parts(parts[1], sum(parts), total)
    if not any(parts):
        return None
    return {
        "input_tokens": parts[0] + parts[2] + parts[3],
        "cache_read_tokens": parts[3],
        "cache_write_tokens": parts[2],
        "output_tokens": parts[1],
        "reasoning_tokens": reasoning,
    }


def _project(thread: dict[str, Any]) -> str | None:
    initial = _object(_object(thread.get("env")).get("initial"))
    trees = [tree for tree in _list(initial.get("trees")) if isinstance(tree, dict)]
    uri = text(trees[0].get("uri")) if trees else None
    if uri is None:
        return None
    return unquote(urlsplit(uri).path) or None if uri.startswith("file:") else uri


def _id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
