"""Codebuff: ``~/.config/manicode/projects/<project>/chats/<chat id>/chat-messages.json`` (also the
``manicode-dev`` and ``manicode-staging`` channels), a JSON array of the chat's messages. Learnt from
ccusage's codebuff adapter.

An assistant message (``variant`` or ``role``: ``ai``, ``agent``, ``assistant``) with usage is one call:
``metadata.usage``, each count missing there taken from ``metadata.codebuff.usage`` (camelCase or
snake_case names; ``inputTokens`` / ``promptTokens``, ``outputTokens`` / ``completionTokens``,
``cacheReadInputTokens``, ``cacheCreationInputTokens``, ``totalTokens``). An Anthropic-style count
(``cacheReadInputTokens``) is apart from the input, an OpenAI-style one (``promptTokensDetails.cachedTokens``)
inside it; input = input + the cache counts apart from it; reasoning null, except what ``totalTokens``
counts beyond the parts (``agent_usage.beyond_parts``). The usage ccusage digs out of
``metadata.runState`` (the agent's message history) is not read, nor messages with credits and no
tokens. Model ``metadata.model``; provider ``openrouter`` for its ``vendor/model`` ids (OpenRouter's ids: priced
as OpenRouter's), else not recorded (null); project the project folder's name;
session ``<channel>/<project>/<chat id>``; time the message's ``timestamp`` (else ``createdAt``, else the
chat id, a time); request id ``codebuff:<session>:<message id>`` (else its position).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..capture import BadCapture, Capture, invalid_json
from .agent_usage import BadCount, beyond_parts, count, text, usage_capture
from .claude_code import Opener
from .options import ReadOptions
from .single_file import plain_name

FORMAT = "codebuff"
NAME = "chat-messages.json"
HOMES = (".config/manicode", ".config/manicode-dev", ".config/manicode-staging")
_KEYS = {
    "input": ("inputTokens", "input_tokens", "promptTokens", "prompt_tokens"),
    "output": ("outputTokens", "output_tokens", "completionTokens", "completion_tokens"),
    "read": ("cacheReadInputTokens", "cache_read_input_tokens"),
    "write": ("cacheCreationInputTokens", "cache_creation_input_tokens", "cacheCreationTokens"),
    "total": ("totalTokens", "total_tokens", "total"),
}


def logs(root: Path) -> list[Path]:
    return [root if root.name == "projects" else root / "projects"]


def sniff(path: Path, head: bytes) -> bool:
    return plain_name(path.name) == NAME and head.startswith(b"[")


def read(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    del options
    if plain_name(path.name) != NAME:
        return  # the chat's other files (run state, ...) hold no usage of their own
    source = str(path)
    with opener(path) as handle:
        data = handle.read()
    try:
        messages = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadCapture(source, 0, invalid_json(exc), None, FORMAT)
        return
    chat, project = path.parent.name, path.parent.parent.parent.name
    channel = path.parents[4].name if len(path.parents) > 4 else "manicode"
    session = f"{channel}/{project}/{chat}"
    for ordinal, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or (
            text(message.get("variant")) or text(message.get("role"))
        ) not in (
            "ai",
            "agent",
            "assistant",
        ):
            continue
        metadata = _object(message.get("metadata"))
        try:
            usage = tokmeter_usage(
                _object(metadata.get("usage")), _object(_object(metadata.get("codebuff")).get("usage"))
            )
        except BadCount as exc:
            yield BadCapture(source, ordinal, str(exc), None, FORMAT)
            continue
        if usage is None:
            continue
        yield usage_capture(
            FORMAT,
            source,
            ordinal,
            request_id=f"codebuff:{session}:{text(message.get('id')) or ordinal}",
            ts=message.get("timestamp")
            or message.get("createdAt")
            or metadata.get("timestamp")
            or _chat_time(chat),
            provider="openrouter" if "/" in (text(metadata.get("model")) or "") else None,
            model=text(metadata.get("model")),
            project=project,
            session=session,
            usage=usage,
            file_time=file_time,
        )


def tokmeter_usage(first: dict[str, Any], fallback: dict[str, Any]) -> dict[str, int | None] | None:
    """``metadata.usage`` (each missing count from ``metadata.codebuff.usage``) in tokmeter's convention."""
    got = {name: _pick(first, keys) or _pick(fallback, keys) for name, keys in _KEYS.items()}
    inside = max(_nested(first), _nested(fallback))  # OpenAI-style: cached prompt tokens, inside the input
    given, output, apart, write = got["input"], got["output"], got["read"], got["write"]
    output, reasoning = beyond_parts(output, given + output + apart + write, got["total"])
    if not (given or output or apart or write):
        return None
    return {
        "input_tokens": given + apart + write,
        "cache_read_tokens": apart + min(inside, given),
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
    }


def _pick(record: dict[str, Any], keys: tuple[str, ...]) -> int:
    return next((value for key in keys if (value := count(record.get(key)))), 0)


def _nested(record: dict[str, Any]) -> int:
    camel, snake = _object(record.get("promptTokensDetails")), _object(record.get("prompt_tokens_details"))
    return max(count(camel.get("cachedTokens")) or 0, count(snake.get("cached_tokens")) or 0)


def _chat_time(chat: str) -> str | None:
    """A chat id is its start time, ``2026-11-15T10-30-00.000Z``: as ISO 8601."""
    date, _, time = chat.partition("T")
    return f"{date}T{time.replace('-', ':', 2)}" if time else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
