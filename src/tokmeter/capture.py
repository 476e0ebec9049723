"""The unit that flows from capture sources into extraction: one response with its metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

FORMATS: tuple[str, ...]  # the formats below, then the logs other systems write (``LOGGED_FORMATS``)

# Every input format a source can read (``sources``: one reader module each), and ``auto``: the names of
# ``--format`` and of ``Capture.format``. Light on purpose: the CLI builds its choices from it at start-up.
AUTO = "auto"
# Every coding agent whose local logs tokmeter reads (``sources/agents.py``, ``ingest --agent NAME``); each
# name is also the input format of its files.
AGENTS = (
    "claude-code",
    "codex",
    "gemini",
    "opencode",
    "qwen",
    "copilot",
    "amp",
    "goose",
    "kimi",
    "droid",
    "kilo",
    "pi",
    "openclaw",
    "hermes",
    "codebuff",
)
FORMATS = (AUTO, "capture-log", "sse", "json", "har", "token-log", *AGENTS)
# The agents that record no per-call usage, only each session's running total: a session is one row, its
# request id ``session_total_id(agent, session)``, which a read after the session grew replaces. Declared
# here, where the store reads it: it keeps such a row at the time of its first stored copy
# (``store/sessions.py``), so a re-read on any later day replaces the row instead of counting it again.
SESSION_TOTAL_AGENTS = ("droid", "goose", "hermes")


def session_total_id(agent: str, session: str) -> str:
    """The request id of one session's running total (``<agent>:<session>``), for an agent of
    ``SESSION_TOTAL_AGENTS``."""
    if agent not in SESSION_TOTAL_AGENTS:
        raise ValueError(f"{agent!r} does not record per-session totals (capture.SESSION_TOTAL_AGENTS)")
    return f"{agent}:{session}"


def session_total_prefixes() -> tuple[str, ...]:
    """What the request ids of ``session_total_id`` begin with, one per agent."""
    return tuple(f"{agent}:" for agent in SESSION_TOTAL_AGENTS)


@dataclass(slots=True)
class Capture:
    """One captured response: the metadata fields of a capture record and the raw response body.

    ``meta`` holds the capture-record fields (``ts``, ``request_id``, ``user``, ``provider``,
    ``method``, ``path`` / ``url``, ``host``, ``status``, ``request``, ``request_headers``,
    ``response_headers``); ``body`` is the response body as text (an SSE stream or a JSON document),
    or an already-decoded JSON value, or (capture logs read with the accelerator) an ``EscapedBody``.
    """

    source: str
    offset: int
    meta: dict[str, Any]
    body: Any
    line: int | None = None
    file_time: datetime | None = None
    format: str = "capture-log"
    raw: bytes | None = field(
        default=None, repr=False
    )  # the bytes it was read from, to fingerprint it if bad

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


def invalid_json(exc: ValueError) -> str:
    """A bad capture's reason for text that is not JSON: the decoder's reason without its position, which
    may quote the text (``orjson.JSONDecodeError``)."""
    return f"not valid JSON ({str(exc).split(':', 1)[0][:80]})"


@dataclass(frozen=True, slots=True)
class EscapedBody:
    """A capture log's SSE body left as it is in its record's line: ``line[start:end]`` is the content of
    the record's ``body`` string, still escaped, which the accelerator checked to be valid JSON string
    content (``extract/accel.py``). Extraction decodes only the few events it reads; ``text`` decodes the
    whole of it when something needs it, exactly as decoding the record would."""

    line: bytes
    start: int
    end: int

    def text(self) -> str:
        text: str = orjson.loads(self.line[self.start - 1 : self.end + 1])  # the string with its quotes
        return text


def fingerprint(data: bytes | None) -> str | None:
    """SHA-256 of bad bytes: what the quarantine keeps instead of the bytes (which may hold prompts)."""
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class BadCapture:
    """A capture that could not become a usage row: where it is and why (never its bytes)."""

    source: str
    offset: int
    reason: str
    line: int | None = None
    format: str = "capture-log"
    digest: str | None = field(default=None)  # SHA-256 of the bad bytes (never the bytes themselves)
    size: int | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


# The logs other systems write (issue #20: sources/batch.py and its siblings), kept apart from the list
# above so that each list of formats is added to on its own.
LOGGED_FORMATS = (
    "openai-batch",
    "anthropic-batch",
    "bedrock-invocation-log",
    "litellm",
    "otel",
    "kong",
    "cloudflare-ai-gateway",
)
FORMATS += LOGGED_FORMATS
