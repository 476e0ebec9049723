"""Telling the JSON Lines flavours apart: capture logs, api-proxy token logs, Claude Code transcripts
and Codex CLI sessions all end in ``.jsonl``.

The first non-empty lines decide (a line is looked at only in its first ``HEAD_BYTES`` bytes: Claude
Code lines can be megabytes long, and their distinctive keys come first):

* ``token-log``: a ``"_schema": "token-usage/v..."`` record (the api-proxy sidecar's usage log);
* ``codex``: a ``{"timestamp": ..., "type": "session_meta" | "turn_context" | "event_msg" |
  "response_item", "payload": ...}`` rollout line;
* ``pi``: a pi session header, ``{"type": "session", ..., "cwd": ...}``;
* ``qwen``: a Qwen Code chat record, ``{"uuid": ..., "parentUuid": ...}`` (its first two keys);
* ``claude-code``: a line with ``parentUuid`` / ``isSidechain`` / ``leafUuid``, or a ``summary``,
  ``file-history-snapshot`` or ``queue-operation`` line; also, as older Claude Code versions (and
  ccusage's fixtures) write them without those, a line with a top-level ``message`` and one of Claude
  Code's own fields (``sessionId``, ``requestId``, ``uuid``, ...), or a whole line
  ``{"timestamp", "message": {"usage": {...}}}``;
* ``capture-log``: a line with a capture-record field (``capture_log.CAPTURE_FIELDS``) at its top level.

When no line decides, the caller asks the location: where the file was found (``--claude-code``,
``--codex``), then its path (see ``flavour_from_path``). A file whose lines are JSON objects of none of
these kinds is of no known format (``Sniffed.fields`` names the first one's fields).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

import orjson

from .capture_log import CAPTURE_FIELDS

HEAD_BYTES = 4096
SNIFF_LINES = 8

_TOKEN_LOG = re.compile(rb'"_schema"\s*:\s*"token-usage/')
_CODEX = re.compile(rb'"type"\s*:\s*"(?:session_meta|turn_context|event_msg|response_item|compacted)"')
_CODEX_PAYLOAD = re.compile(rb'"payload"\s*:')
_CLAUDE = re.compile(
    rb'"(?:parentUuid|isSidechain|leafUuid)"\s*:'
    rb'|"type"\s*:\s*"(?:summary|file-history-snapshot|queue-operation)"'
)
# Qwen Code chat records start {"uuid": ..., "parentUuid": ...} (Claude Code's lines start with parentUuid).
_QWEN = re.compile(rb'^\s*\{"uuid"\s*:\s*"[^"]*"\s*,\s*"parentUuid"\s*:')
# pi sessions start with their header {"type":"session", ..., "cwd": ...} (later lines look like bare usage).
_PI = re.compile(rb'^\s*\{"type"\s*:\s*"session"\s*,.*"cwd"\s*:')
# Fields only Claude Code writes beside a top-level "message" (a line without parentUuid / isSidechain).
CLAUDE_FIELDS = frozenset(
    {"sessionId", "requestId", "uuid", "userType", "costUSD", "isApiErrorMessage", "gitBranch"}
)
# A JSON string, or a bracket or colon outside one: enough to find the top-level keys of a line's head.
# A string the head cuts short runs to its end (possessive, so a long cut string is one linear match: a
# 4 KB head cut inside a capture's body cost 40 ms to tokenize, backtracking from every quote in it).
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[{}\[\]:]')
# A CloudWatch Logs export's line: the event's time, a space, then the event (a logged record).
EXPORT_TIME = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z (?=\{)")
SHOWN_FIELDS = 6  # at most this many field names in the reason of a file of no known format


@dataclass(slots=True)
class Sniffed:
    """What the first lines of a JSON Lines file show."""

    flavour: str | None = None  # token-log, codex or claude-code, as a line told
    capture: bool = False  # a line has a capture-record field at its top level
    undecided: bool = False  # a line too long to see whole showed no such field in its head
    fields: list[str] | None = None  # the top-level fields of the first whole line that fits no format

    @property
    def fits_nothing(self) -> bool:
        """Its lines are JSON objects, and none is of a known kind (nor may be, past its head)."""
        return self.fields is not None and not (self.flavour or self.capture or self.undecided)


def sniff_line(head: bytes) -> str | None:
    """The flavour one line's head shows, or None when it shows none."""
    if not head.lstrip().startswith(b"{"):
        return None
    if _TOKEN_LOG.search(head):
        return "token-log"
    if _CODEX.search(head) and _CODEX_PAYLOAD.search(head):
        return "codex"
    if _QWEN.search(head):
        return "qwen"
    if _PI.search(head):
        return "pi"
    if _CLAUDE.search(head):
        return "claude-code"
    return None


def sniff_lines(heads: Iterable[bytes]) -> Sniffed:
    """What the first ``SNIFF_LINES`` non-empty lines show; the first line that tells a flavour decides."""
    seen = Sniffed()
    for count, head in enumerate(heads):
        if count >= SNIFF_LINES:
            break
        if (stamp := EXPORT_TIME.match(head)) is not None:
            head = head[stamp.end() :]  # a CloudWatch Logs export's line: the event's time, then the event
        seen.flavour = sniff_line(head) or _sniff_fields(head, seen)
        if seen.flavour is not None:
            return seen
    return seen


def _sniff_fields(head: bytes, seen: Sniffed) -> str | None:
    """Read a line's top-level fields: claude-code when they say so; else note what they show in ``seen``."""
    if not head.lstrip().startswith(b"{"):
        return None
    keys = set(top_level_keys(head))
    if (logged := log_flavour(keys, head)) is not None:
        return logged
    if keys & CAPTURE_FIELDS:
        seen.capture = True
        return None
    if "message" in keys and keys & CLAUDE_FIELDS:
        return "claude-code"
    if len(head) >= HEAD_BYTES and not head.endswith(b"\n"):
        seen.undecided = True
        return None
    try:
        record = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    message = record.get("message") if isinstance(record, dict) else None
    if isinstance(message, dict) and isinstance(message.get("usage"), dict):
        return "claude-code"  # a bare usage line, as ccusage reads one
    if isinstance(record, dict) and seen.fields is None:
        seen.fields = sorted(record)
    return None


def log_flavour(keys: set[str], head: bytes) -> str | None:
    """The format of a record other systems log, as its top-level keys tell (``LOG_FLAVOURS``); a line
    with a ``body`` is a capture record, whatever else it carries."""
    if "body" in keys:
        return None
    for name, test in LOG_FLAVOURS.items():
        if test(keys, head):
            return name
    return None


# Logged records (issue #20), each told by its top-level keys; checked before the capture-record fields,
# which some of them share (a gateway log's "request", a LiteLLM payload's "status").
LOG_FLAVOURS: dict[str, Callable[[set[str], bytes], bool]] = {
    "anthropic-batch": lambda keys, _head: {"custom_id", "result"} <= keys,
    "openai-batch": lambda keys, _head: "custom_id" in keys and bool(keys & {"response", "error"}),
    "bedrock-invocation-log": lambda keys, head: "schemaType" in keys and b'"ModelInvocationLog"' in head,
    "litellm": lambda keys, _head: (
        "call_type" in keys and bool(keys & {"startTime", "response_cost", "status"})
    ),
    "otel": lambda keys, _head: bool(keys & {"resourceSpans", "resourceLogs", "resourceMetrics"}),
    "kong": lambda keys, _head: {"started_at", "latencies"} <= keys or {"ai", "started_at"} <= keys,
    "cloudflare-ai-gateway": lambda keys, _head: {"tokens_in", "tokens_out"} <= keys,
}


def top_level_keys(head: bytes) -> list[str]:
    """The keys of a JSON object's head (it may be cut short), in order, never their values."""
    keys: list[str] = []
    depth, last = 0, None
    for match in _TOKENS.finditer(head):
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
        elif token == b":" and depth == 1 and last is not None:
            keys.append(_key(last))
        last = token if token.startswith(b'"') else None
    return keys


def _key(token: bytes) -> str:
    try:
        return str(orjson.loads(token))
    except orjson.JSONDecodeError:
        return token[1:-1].decode("utf-8", "replace")


def no_known_format(fields: list[str]) -> str:
    """Why a file is of no known format, naming a few of its records' fields (names only, cut short)."""
    if not fields:
        return "no known capture format; records are empty objects"
    shown = [name[:40] for name in fields[:SHOWN_FIELDS]]
    more = len(fields) - len(shown)
    return (
        "no known capture format; records have fields "
        + ", ".join(shown)
        + (f" and {more} more" if more else "")
    )


def flavour_from_path(path: PurePath) -> str | None:
    """The flavour a file's location implies (only consulted when its lines do not tell)."""
    parts = [part.lower() for part in path.parts]
    for index, part in enumerate(parts[:-1]):
        if part == "projects" and index and parts[index - 1] in (".claude", "claude"):
            return "claude-code"
        if part in ("sessions", "archived_sessions") and index and parts[index - 1] == ".codex":
            return "codex"
        if part == "sessions" and index and parts[index - 1] == ".factory":
            return "droid"  # its session transcripts (<session>.jsonl) beside the totals: no usage in them
    if path.name.startswith("rollout-") and ".jsonl" in path.name:
        return "codex"
    return None
