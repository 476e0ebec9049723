"""Usage records that arrive already normalized by someone else: api-proxy token logs, Claude Code
transcripts and Codex CLI sessions. Their sources hand over the record as it was written; what its
numbers mean is decided here, in tokmeter's token convention (input includes the cache).

* **token-log**: ``input_tokens`` is whatever the proxy read from the provider: Anthropic's excludes
  the cache (Messages API), OpenAI's includes it. So for ``provider: anthropic`` or a ``.../messages``
  path, input = input_tokens + cache_read_tokens + cache_write_tokens; for the others input_tokens
  stands, unless the cache counts exceed it (then it cannot have included them, and they are added).
  ``output_tokens`` includes reasoning; ``reasoning_tokens`` (optional) is a subset. What a record does
  not carry is unknown (null), not 0: the gh-aw-firewall api-proxy always writes input, output, cache
  read and cache write, never reasoning (its schema lists the field, its writer never sets it), and no
  record splits cache writes by TTL. A subset of a zero total is known, though: 0.
* **claude-code**: ``message.usage`` is an Anthropic Messages usage object, read by ``anthropic.py``
  (cache added to input, 1-hour writes, compaction iterations), with the providers' convention: what
  the usage object does not report is 0 (Anthropic reports no reasoning count). The provider is
  Anthropic, unless the model id names Bedrock (``anthropic.`` / region prefix) or Vertex (``@``
  version).
* **codex**: OpenAI usage of one turn: ``input_tokens`` includes ``cached_input_tokens``;
  ``output_tokens`` includes ``reasoning_output_tokens``. Codex writes every field of its usage struct
  (older versions a null for what the API did not report): the providers' convention, 0.
* **the other coding agents** (``capture.AGENTS``): each agent's reader (``sources/agent_*.py``) has put
  its usage in tokmeter's convention already (``sources/agent_usage.py``); a count it does not record is
  None (unknown) and stays so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..capture import AGENTS, Capture
from ..errors import BadCaptureError
from . import anthropic, openai
from .base import Extracted, as_mapping, as_str, service_tier, speed, token_count
from .detect import api_from_path

ANTHROPIC_STYLE_PROVIDERS = frozenset({"anthropic", "claude"})
_BEDROCK_MODEL = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.|^arn:aws:bedrock:")


@dataclass(slots=True)
class TranscriptRead:
    """What a pre-normalized record says: its API (for provider inference), usage, whether it was a
    stream, and the provider when the record implies one."""

    api: str | None
    extracted: Extracted
    stream: bool
    provider: str | None = None


def read(capture: Capture) -> TranscriptRead:
    """The reading of one token-log, claude-code or codex capture."""
    body = as_mapping(capture.body)
    if body is None:
        raise BadCaptureError(f"a {capture.format} record must be a JSON object")
    return READERS[capture.format](body)


def from_token_log(record: Mapping[str, Any]) -> TranscriptRead:
    path = as_str(record.get("path"))
    provider = (as_str(record.get("provider")) or "").lower()
    ex = Extracted(model=_model(record.get("model")), response_id=as_str(record.get("response_id")))
    given, output = (
        token_count(record, "input_tokens", "record"),
        token_count(record, "output_tokens", "record"),
    )
    cache_read, cache_write = _carried(record, "cache_read_tokens"), _carried(record, "cache_write_tokens")
    cache = (cache_read or 0) + (cache_write or 0)
    excludes_cache = provider in ANTHROPIC_STYLE_PROVIDERS or bool(
        path and path.split("?")[0].endswith("/messages")
    )
    ex.input_tokens = given + (cache if excludes_cache or cache > given else 0)
    ex.cache_read_tokens = _part(cache_read, ex.input_tokens)
    ex.cache_write_tokens = _part(cache_write, ex.input_tokens)
    ex.cache_write_1h_tokens = _part(None, ex.cache_write_tokens)  # no record has the TTL split
    ex.output_tokens = output
    ex.reasoning_tokens = _part(_carried(record, "reasoning_tokens"), output)
    ex.usage_source = (
        "reported"
        if ex.input_tokens or output or ex.reasoning_tokens or _ok(record.get("status"))
        else "missing"
    )
    ex.service_tier, ex.speed = (
        service_tier(record.get("service_tier")),
        speed(record.get("speed")),
    )  # if it says
    return TranscriptRead(api_from_path(path), ex, record.get("streaming") is True)


def _carried(record: Mapping[str, Any], key: str) -> int | None:
    """A token-log count, or None when the record does not carry it (absent or null)."""
    return None if record.get(key) is None else token_count(record, key, "record")


def _part(count: int | None, whole: int | None) -> int | None:
    """A subset count as the row stores it: the record's, else unknown (None), except that a subset of
    nothing is known to be 0 (no reasoning in an empty output, no 1-hour writes without writes)."""
    return count if count is not None else 0 if whole == 0 else None


def from_claude_code(record: Mapping[str, Any]) -> TranscriptRead:
    message = as_mapping(record.get("message")) or {}
    usage = as_mapping(message.get("usage"))
    if usage is None:
        raise BadCaptureError("message.usage is missing: expected an Anthropic usage object")
    ex = anthropic.from_json({"id": message.get("id"), "model": message.get("model"), "usage": usage})
    return TranscriptRead(anthropic.API, ex, True, claude_code_provider(ex.model))


def claude_code_provider(model: str | None) -> str:
    """Where Claude Code sent the request, as its model id tells: Bedrock ids are ``anthropic.…``
    (with a region prefix) or ARNs, Vertex ids carry an ``@`` version; anything else is Anthropic."""
    if model and _BEDROCK_MODEL.search(model):
        return "bedrock"
    if model and "@" in model:
        return "google-vertex"
    return "anthropic"


def from_codex(record: Mapping[str, Any]) -> TranscriptRead:
    usage = as_mapping(record.get("usage"))
    if usage is None:
        raise BadCaptureError("token_count event without usage")
    where = "info.last_token_usage"
    ex = Extracted(model=_model(record.get("model")))
    ex.input_tokens = token_count(usage, "input_tokens", where)
    cached = token_count(usage, "cached_input_tokens", where) or token_count(
        usage, "cache_read_input_tokens", where
    )
    ex.cache_read_tokens = min(cached, ex.input_tokens)
    ex.cache_write_tokens = min(
        token_count(usage, "cache_write_input_tokens", where), ex.input_tokens - ex.cache_read_tokens
    )
    ex.output_tokens = token_count(usage, "output_tokens", where)
    ex.reasoning_tokens = token_count(usage, "reasoning_output_tokens", where)
    ex.usage_source = "reported"
    return TranscriptRead(openai.RESPONSES, ex, True)


def from_agent(record: Mapping[str, Any]) -> TranscriptRead:
    """A coding agent's model call, already in tokmeter's convention by its reader
    (``sources/agent_usage.py``): a count it does not record stays None (unknown)."""
    usage = as_mapping(record.get("usage"))
    if usage is None:
        raise BadCaptureError("an agent record without usage")
    where = "usage"
    ex = Extracted(model=_model(record.get("model")))
    ex.input_tokens = token_count(usage, "input_tokens", where)
    ex.output_tokens = token_count(usage, "output_tokens", where)
    ex.cache_read_tokens = _part(_carried(usage, "cache_read_tokens"), ex.input_tokens)
    ex.cache_write_tokens = _part(_carried(usage, "cache_write_tokens"), ex.input_tokens)
    ex.cache_write_1h_tokens = _part(None, ex.cache_write_tokens)
    ex.reasoning_tokens = _part(_carried(usage, "reasoning_tokens"), ex.output_tokens)
    cache = (ex.cache_read_tokens or 0) + (ex.cache_write_tokens or 0)
    if cache > ex.input_tokens or (ex.reasoning_tokens or 0) > ex.output_tokens:
        raise BadCaptureError("an agent record whose cache or reasoning counts exceed input or output")
    ex.usage_source = "reported"
    return TranscriptRead(None, ex, True)


def _model(value: Any) -> str | None:
    model = as_str(value)
    return None if model is None or model.strip().lower() == "unknown" else model


def _ok(status: Any) -> bool:
    return status is None or (
        isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 300
    )


READERS: dict[str, Callable[[Mapping[str, Any]], TranscriptRead]] = {
    "token-log": from_token_log,
    "claude-code": from_claude_code,
    "codex": from_codex,
    **{name: from_agent for name in AGENTS if name not in ("claude-code", "codex")},
}
FORMATS = frozenset(READERS)
