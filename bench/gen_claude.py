"""Claude Code transcript trees of any size, seeded (a generator for the benchmarks).

    python bench/generate.py claude-code OUT_DIR --files 3000 --big 6 --big-mb 30 [--seed 1]

``OUT_DIR`` is a Claude Code config directory: ``OUT_DIR/projects/<project>/<session>.jsonl``, and for
about one session in ten one to three sub-agent transcripts under ``<session>/subagents/``. The lines
follow the shapes of ``tests/data/transcripts/make_fixtures.py`` (Claude Code 2.0): a summary and
file-history snapshots, user prompts, tool results (most of the bytes: file contents and command
output, from a few hundred bytes to a few hundred KB), and each API response written as one line per
content block (thinking, text, tool_use) repeating its ``message.id`` and ``requestId`` with usage
growing, the last line final. Usage looks like an agent's: a handful of uncached input tokens, a
cache read that grows with the conversation, cache writes the size of what was added, output of a few
hundred tokens. One session in thirty is a resumed one that starts with verbatim copies of earlier
responses of another session (same ids), which both tools must count once.

File sizes are log-normal (median ~120 KB), and ``big`` files are grown to ``big_mb`` MB (long sessions
with large tool results). The generator returns the exact per-UTC-day totals of the distinct responses
(ccusage's fields: input without the cache, output, cache writes, cache reads) to check both tools.
"""

from __future__ import annotations

import json
import random
import string
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODELS = [
    ("claude-sonnet-4-5-20250929", 0.70),
    ("claude-opus-4-5-20251101", 0.15),
    ("claude-haiku-4-5-20251001", 0.15),
]
FIRST_DAY = datetime(2026, 10, 21, tzinfo=UTC)
DAYS = 30
_WORDS = (
    "def",
    "class",
    "return",
    "import",
    "self",
    "value",
    "the",
    "result",
    "of",
    "test",
    "file",
    "line",
    "error",
    "path",
    "config",
    "data",
    "async",
    "await",
    "function",
    "const",
    "let",
    "if",
    "else",
    "for",
    "while",
    "try",
    "except",
    "raise",
    "assert",
    "print",
    "log",
)
_ALNUM = string.ascii_letters + string.digits


class _Text:
    """Slices of one big random text, so large tool results cost nothing to make."""

    def __init__(self, rng: random.Random) -> None:
        lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14))) for _ in range(20_000)]
        self.blob = "\n".join(f"{n:6d}\u2192{line}" for n, line in enumerate(lines, 1))

    def take(self, rng: random.Random, size: int) -> str:
        size = min(size, len(self.blob) - 1)
        start = rng.randrange(0, len(self.blob) - size)
        return self.blob[start : start + size]


def _id(rng: random.Random, prefix: str, n: int) -> str:
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(n))


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _usage(inp: int, out: int, write: int, read: int, write_1h: int) -> dict:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write - write_1h,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": out,
        "service_tier": "standard",
    }


class _Session:
    def __init__(
        self,
        rng: random.Random,
        text: _Text,
        project: str,
        sid: str,
        start: datetime,
        model: str,
        side: bool = False,
        agent: str | None = None,
    ) -> None:
        self.rng, self.text, self.sid, self.when, self.model = rng, text, sid, start, model
        self.side, self.agent = side, agent
        self.cwd = "/home/dev/" + project.rsplit("-", 1)[-1]
        self.parent: str | None = None
        self.context = rng.randint(9_000, 16_000)  # system prompt and tools, cached
        self.lines: list[str] = []
        self.size = 0
        self.responses: list[tuple[str, str, str, dict]] = []  # (message id, request id, final ts, usage)
        self.response_lines: list[list[str]] = []  # the lines of each response

    def _base(self, kind: str) -> dict:
        uuid = _session_id(self.rng)
        record = {
            "parentUuid": self.parent,
            "isSidechain": self.side,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.sid,
            "version": "2.0.37",
            "gitBranch": "main",
        }
        if self.agent:
            record["agentId"] = self.agent
        record.update(type=kind, uuid=uuid, timestamp=_ts(self.when))
        self.parent = uuid
        return record

    def emit(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        self.lines.append(line)
        self.size += len(line.encode())

    def user_prompt(self) -> None:
        self.when += timedelta(seconds=self.rng.randint(20, 600))
        self.emit(
            {
                **self._base("user"),
                "message": {"role": "user", "content": self.text.take(self.rng, self.rng.randint(80, 900))},
            }
        )

    def tool_result(self, tool_id: str) -> int:
        size = int(min(self.rng.lognormvariate(7.8, 1.3), 400_000))  # median ~2.4 KB
        self.when += timedelta(milliseconds=self.rng.randint(50, 30_000))
        body = self.text.take(self.rng, size)
        self.emit(
            {
                **self._base("user"),
                "message": {
                    "role": "user",
                    "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": body}],
                },
                "toolUseResult": {
                    "type": "text",
                    "file": {"filePath": f"{self.cwd}/src/mod.py", "numLines": body.count("\n") + 1},
                },
            }
        )
        return size // 4

    def response(self, added: int) -> str:
        """One API response, one line per content block; returns the tool_use id it ends with."""
        rng = self.rng
        mid, rid = _id(rng, "msg_01", 22), _id(rng, "req_011C", 18)
        self.when += timedelta(milliseconds=rng.randint(1_500, 20_000))
        uncached = rng.randint(2_000, 30_000) if rng.random() < 0.03 else rng.randint(1, 12)
        write = max(added + rng.randint(20, 400), 0)
        write_1h = write if rng.random() < 0.1 else 0
        read = self.context
        out = max(int(rng.lognormvariate(5.2, 1.1)), 1)
        blocks: list[dict] = []
        if rng.random() < 0.4:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": self.text.take(rng, rng.randint(200, 3_000)),
                    "signature": "Eq" + _id(rng, "", 60),
                }
            )
        blocks.append({"type": "text", "text": self.text.take(rng, rng.randint(40, 1_500))})
        tool_id = _id(rng, "toolu_01", 22)
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": rng.choice(["Read", "Bash", "Edit", "Grep"]),
                "input": {"file_path": f"{self.cwd}/src/mod.py"},
            }
        )
        first_line = len(self.lines)
        for k, block in enumerate(blocks):
            last = k == len(blocks) - 1
            usage = _usage(uncached, out if last else min(out, rng.randint(1, 12)), write, read, write_1h)
            record = {
                **self._base("assistant"),
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [block],
                    "stop_reason": "tool_use" if last else None,
                    "stop_sequence": None,
                    "usage": usage,
                },
                "requestId": rid,
            }
            self.emit(record)
            if not last:
                self.when += timedelta(milliseconds=rng.randint(100, 1_500))
        self.responses.append((mid, rid, _ts(self.when), _usage(uncached, out, write, read, write_1h)))
        self.response_lines.append(self.lines[first_line:])
        self.context += uncached + write + out
        if self.context > 150_000:  # compacted
            self.context = rng.randint(20_000, 40_000)
        return tool_id

    def grow(self, target: int) -> None:
        self.user_prompt()
        added = 300
        while self.size < target:
            tool_id = self.response(added)
            added = self.tool_result(tool_id)
            if self.rng.random() < 0.08:
                self.user_prompt()
                added += 300


def _pick_model(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for model, share in MODELS:
        acc += share
        if x < acc:
            return model
    return MODELS[-1][0]


def write_claude_tree(root: Path, files: int, big: int = 0, big_mb: float = 30.0, seed: int = 1) -> dict:
    """Write the tree under ``root`` (a Claude Code config dir). Returns files, bytes, responses and the
    per-day totals ``{day: {input, output, cache_write, cache_read}}``."""
    rng = random.Random(seed)
    text = _Text(rng)
    projects = [
        f"-home-dev-{name}"
        for name in (
            "webapp",
            "api",
            "cli",
            "infra",
            "ml-pipeline",
            "docs",
            "mobile",
            "billing",
            "search",
            "auth",
            "etl",
            "dashboard",
        )
    ]
    seen: dict[tuple[str, str], tuple[str, dict]] = {}
    written = total_bytes = 0
    earlier: list[_Session] = []
    big_left = big  # the first sessions are the big ones (their dates are as random as any)
    while written < files:
        project = rng.choice(projects)
        sid = _session_id(rng)
        start = FIRST_DAY + timedelta(seconds=rng.randint(0, DAYS * 86_400 - 1))
        session = _Session(rng, text, project, sid, start, _pick_model(rng))
        if earlier and rng.random() < 1 / 30:  # resumed: verbatim copies of an earlier session's responses
            source = rng.choice(earlier)
            session.lines += [line for lines in source.response_lines[:3] for line in lines]
            session.size = sum(len(line.encode()) for line in session.lines)
        target = big_mb * 1e6 if big_left > 0 else min(rng.lognormvariate(11.7, 1.1), 5e6)
        big_left -= 1
        session.grow(int(target))
        folder = root / "projects" / project
        total_bytes += _write(folder / f"{sid}.jsonl", session.lines)
        written += 1
        _account(seen, session)
        earlier = (earlier + [session])[-50:]
        if rng.random() < 0.1:
            for _ in range(rng.randint(1, 3)):
                if written >= files:
                    break
                agent = _id(rng, "", 8).lower()
                sub = _Session(
                    rng,
                    text,
                    project,
                    sid,
                    session.when - timedelta(minutes=rng.randint(1, 30)),
                    "claude-haiku-4-5-20251001" if rng.random() < 0.6 else session.model,
                    side=True,
                    agent=agent,
                )
                sub.grow(int(min(rng.lognormvariate(10.8, 1.0), 2e6)))
                total_bytes += _write(folder / sid / "subagents" / f"agent-{agent}.jsonl", sub.lines)
                written += 1
                _account(seen, sub)
    days: dict[str, dict[str, int]] = defaultdict(
        lambda: {"input": 0, "output": 0, "cache_write": 0, "cache_read": 0}
    )
    for ts, usage in seen.values():
        day = days[ts[:10]]
        day["input"] += usage["input_tokens"]
        day["output"] += usage["output_tokens"]
        day["cache_write"] += usage["cache_creation_input_tokens"]
        day["cache_read"] += usage["cache_read_input_tokens"]
    return {
        "files": written,
        "bytes": total_bytes,
        "responses": len(seen),
        "days": dict(sorted(days.items())),
    }


def _session_id(rng: random.Random) -> str:
    hexd = "0123456789abcdef"
    parts = [8, 4, 4, 4, 12]
    return "-".join("".join(rng.choice(hexd) for _ in range(n)) for n in parts)


def _account(seen: dict, session: _Session) -> None:
    for mid, rid, ts, usage in session.responses:
        seen.setdefault((mid, rid), (ts, usage))


def _write(path: Path, lines: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(lines).encode()
    path.write_bytes(data)
    return len(data)
