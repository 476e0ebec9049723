"""The coding agents whose local logs tokmeter reads: one registry (``AGENTS``), from which ``ingest --agent
NAME`` / ``--agents`` (and the aliases ``--claude-code`` / ``--codex``) take their choices and locations.

Each agent has a data directory: each comma-separated entry of its environment variable, else its default
places under the home directory. Under a data directory, ``logs`` names the folders and files that hold its
usage (``~/.claude`` -> ``projects/``). Each agent's files are also an input format of the same name: its
reader turns them into captures, and ``sniff`` tells them by content (their first bytes), so a file given
as a PATH is read as its agent's whatever its folder (Claude Code and Codex lines are told by
``sniff.py``).

* Claude Code: each ``$CLAUDE_CONFIG_DIR`` entry (a config directory holding ``projects/``, or a
  ``projects/`` directory itself); without it, ``~/.config/claude/projects`` and ``~/.claude/projects``.
* Codex CLI: ``sessions/`` and ``archived_sessions/`` of each ``$CODEX_HOME`` entry (an entry with neither
  is read as it is), else of ``~/.codex``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..capture import AGENTS as AGENT_NAMES
from ..capture import BadCapture, Capture
from ..errors import UsageError
from . import (
    agent_amp,
    agent_codebuff,
    agent_copilot,
    agent_droid,
    agent_gemini,
    agent_goose,
    agent_hermes,
    agent_kimi,
    agent_opencode,
    agent_pi,
    agent_qwen,
)
from .claude_code import Opener, read_claude_code
from .codex import read_codex
from .options import ReadOptions

CLAUDE_CONFIG_ENV = "CLAUDE_CONFIG_DIR"
CODEX_HOME_ENV = "CODEX_HOME"

Reader = Callable[[Path, datetime | None, Opener, ReadOptions], Iterator[Capture | BadCapture]]


@dataclass(frozen=True, slots=True)
class Agent:
    """One coding agent: where its logs are, how to read them, how to tell them."""

    name: str  # --agent NAME, and the input format of its files
    title: str  # as the agent calls itself
    env: str  # the variable naming its data directories (comma-separated)
    homes: tuple[str, ...]  # its default data directories, relative to the home directory
    logs: Callable[[Path], list[Path]]  # the folders and files holding its usage, under a data directory
    read: Reader  # one file's captures
    # whether a file's head is this agent's (None: sniff.py tells its lines)
    sniff: Callable[[Path, bytes], bool] | None = None
    # another agent whose format its files are in (its folder tells them apart)
    writes_as: str | None = None


def _claude_logs(root: Path) -> list[Path]:
    return [root if root.name == "projects" else root / "projects"]


def _codex_logs(root: Path) -> list[Path]:
    return _existing([root / "sessions", root / "archived_sessions"]) or [root]


def _read_claude_code(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    with opener(path) as handle:
        yield from read_claude_code(handle, path, file_time, opener, options)


def _read_codex(
    path: Path, file_time: datetime | None, opener: Opener, options: ReadOptions
) -> Iterator[Capture | BadCapture]:
    with opener(path) as handle:
        yield from read_codex(handle, path, file_time, opener, options)


_ALL = (
    Agent(
        "claude-code",
        "Claude Code",
        CLAUDE_CONFIG_ENV,
        (".config/claude", ".claude"),
        _claude_logs,
        _read_claude_code,
    ),
    Agent("codex", "Codex CLI", CODEX_HOME_ENV, (".codex",), _codex_logs, _read_codex),
    Agent(
        "gemini",
        "Gemini CLI",
        "GEMINI_DATA_DIR",
        (".gemini/tmp",),
        lambda root: [root],
        agent_gemini.read,
        agent_gemini.sniff,
    ),
    Agent(
        "opencode",
        "OpenCode",
        "OPENCODE_DATA_DIR",
        (".local/share/opencode",),
        agent_opencode.logs,
        agent_opencode.read,
        agent_opencode.sniff,
    ),
    Agent("qwen", "Qwen Code", "QWEN_DATA_DIR", (".qwen",), agent_qwen.logs, agent_qwen.read),
    Agent(
        "copilot",
        "GitHub Copilot CLI",
        "COPILOT_OTEL_FILE_EXPORTER_PATH",
        (".copilot",),
        agent_copilot.logs,
        agent_copilot.read,
        agent_copilot.sniff,
    ),
    Agent(
        "amp",
        "Amp",
        "AMP_DATA_DIR",
        (".local/share/amp",),
        agent_amp.logs,
        agent_amp.read,
        agent_amp.sniff,
    ),
    Agent(
        "goose",
        "Goose",
        "GOOSE_PATH_ROOT",
        agent_goose.HOMES,
        agent_goose.logs,
        agent_goose.read,
        agent_goose.sniff,
    ),
    Agent(
        "kimi", "Kimi CLI", "KIMI_DATA_DIR", (".kimi",), agent_kimi.logs, agent_kimi.read, agent_kimi.sniff
    ),
    Agent(
        "droid",
        "Factory Droid",
        "DROID_SESSIONS_DIR",
        (".factory",),
        agent_droid.logs,
        agent_droid.read,
        agent_droid.sniff,
    ),
    Agent(
        "kilo",
        "Kilo CLI",
        "KILO_DATA_DIR",
        (".local/share/kilo",),
        agent_opencode.kilo_logs,
        agent_opencode.read_kilo,
        agent_opencode.kilo_sniff,
    ),
    Agent("pi", "pi", "PI_AGENT_DIR", (".pi/agent/sessions",), agent_pi.logs, agent_pi.read, agent_pi.sniff),
    Agent(
        "openclaw",
        "OpenClaw",
        "OPENCLAW_DIR",
        (".openclaw", ".clawdbot", ".moltbot", ".moldbot"),
        agent_pi.openclaw_logs,
        agent_pi.read_openclaw,
        writes_as="pi",
    ),
    Agent(
        "hermes",
        "Hermes Agent",
        "HERMES_HOME",
        (".hermes",),
        agent_hermes.logs,
        agent_hermes.read,
        agent_hermes.sniff,
    ),
    Agent(
        "codebuff",
        "Codebuff",
        "CODEBUFF_DATA_DIR",
        agent_codebuff.HOMES,
        agent_codebuff.logs,
        agent_codebuff.read,
        agent_codebuff.sniff,
    ),
)
AGENTS: dict[str, Agent] = {agent.name: agent for agent in _ALL}
assert tuple(AGENTS) == AGENT_NAMES, "capture.AGENTS must name the registry's agents, in order"


def agent_logs(name: str, environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The folders and files holding an agent's logs on this machine (none: [])."""
    agent = AGENTS[name]
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    roots = _entries(environ.get(agent.env)) or [home / place for place in agent.homes]
    return _existing([found for root in _existing(roots) for found in agent.logs(root)])


def where(name: str, environ: Mapping[str, str] | None = None, home: Path | None = None) -> str:
    """Where an agent's logs are looked for, in words (for messages)."""
    agent = AGENTS[name]
    environ = os.environ if environ is None else environ
    configured = _entries(environ.get(agent.env))
    if configured:
        return f"${agent.env} ({', '.join(map(str, configured))})"
    home = Path.home() if home is None else home
    return " or ".join(str(home / place) for place in agent.homes)


def require_logs(name: str, environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """``agent_logs``, or ``UsageError`` when the agent has none here (``--agent NAME`` asked for them)."""
    found = agent_logs(name, environ, home)
    if not found:
        agent = AGENTS[name]
        raise UsageError(
            f"--agent {name}: no {agent.title} logs in {where(name, environ, home)}",
            hint=f"set {agent.env} to {agent.title}'s data directory, or pass the folder holding its logs "
            "as a PATH",
        )
    return found


def claude_code_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The ``projects/`` directories holding Claude Code transcripts. Raises ``UsageError`` when none exists."""
    return require_logs("claude-code", environ, home)


def codex_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The directories holding Codex session files. Raises ``UsageError`` when none exists."""
    return require_logs("codex", environ, home)


def sniff_agent(path: Path, head: bytes) -> str | None:
    """The agent whose file this is, by its first bytes (None: no agent's that ``sniff`` can tell)."""
    for agent in _ALL:
        if agent.sniff is not None and agent.sniff(path, head):
            return agent.name
    return None


def _entries(value: str | None) -> list[Path]:
    return [Path(part.strip()).expanduser() for part in (value or "").split(",") if part.strip()]


def _existing(paths: list[Path]) -> list[Path]:
    unique = list(dict.fromkeys(path.absolute() for path in paths))
    return [path for path in unique if path.exists()]
