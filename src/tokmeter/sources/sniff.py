"""Telling the JSON Lines flavours apart: capture logs, api-proxy token logs, Claude Code transcripts
and Codex CLI sessions all end in ``.jsonl``.

The first non-empty lines decide (a line is looked at only in its first ``HEAD_BYTES`` bytes: Claude
Code lines can be megabytes long, and their distinctive keys come first):

* ``token-log``: a ``"_schema": "token-usage/v..."`` record (the api-proxy sidecar's usage log);
* ``codex``: a ``{"timestamp": ..., "type": "session_meta" | "turn_context" | "event_msg" |
  "response_item", "payload": ...}`` rollout line;
* ``claude-code``: a line with ``parentUuid`` / ``isSidechain`` / ``leafUuid``, or a ``summary``,
  ``file-history-snapshot`` or ``queue-operation`` line;
* otherwise ``capture-log``.

When no line decides (an empty file, lines of unknown kinds), the path does: a file under a
``.claude/projects`` (or ``claude/projects``) directory is a Claude Code transcript, one under
``.codex/sessions`` (or a ``rollout-*.jsonl``) a Codex session.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

HEAD_BYTES = 4096
SNIFF_LINES = 8

_TOKEN_LOG = re.compile(rb'"_schema"\s*:\s*"token-usage/')
_CODEX = re.compile(rb'"type"\s*:\s*"(?:session_meta|turn_context|event_msg|response_item|compacted)"')
_CODEX_PAYLOAD = re.compile(rb'"payload"\s*:')
_CLAUDE = re.compile(
    rb'"(?:parentUuid|isSidechain|leafUuid)"\s*:'
    rb'|"type"\s*:\s*"(?:summary|file-history-snapshot|queue-operation)"'
)


def sniff_line(head: bytes) -> str | None:
    """The flavour one line's head shows, or None when it shows none."""
    if not head.lstrip().startswith(b"{"):
        return None
    if _TOKEN_LOG.search(head):
        return "token-log"
    if _CODEX.search(head) and _CODEX_PAYLOAD.search(head):
        return "codex"
    if _CLAUDE.search(head):
        return "claude-code"
    return None


def sniff_lines(heads: Iterable[bytes]) -> str | None:
    """The flavour of the first line (of the first ``SNIFF_LINES`` non-empty ones) that shows one."""
    for count, head in enumerate(heads):
        if count >= SNIFF_LINES:
            break
        found = sniff_line(head)
        if found is not None:
            return found
    return None


def flavour_from_path(path: PurePath) -> str | None:
    """The flavour a file's location implies (only consulted when its lines do not tell)."""
    parts = [part.lower() for part in path.parts]
    for index, part in enumerate(parts[:-1]):
        if part == "projects" and index and parts[index - 1] in (".claude", "claude"):
            return "claude-code"
        if part in ("sessions", "archived_sessions") and index and parts[index - 1] == ".codex":
            return "codex"
    if path.name.startswith("rollout-") and ".jsonl" in path.name:
        return "codex"
    return None
