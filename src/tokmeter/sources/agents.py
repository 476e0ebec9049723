"""Where coding agents keep their logs on this machine (``ingest --claude-code`` / ``--codex``).

* Claude Code: each comma-separated entry of ``$CLAUDE_CONFIG_DIR`` (a config directory holding
  ``projects/``, or a ``projects/`` directory itself); without it, ``~/.config/claude/projects`` and
  ``~/.claude/projects``, those that exist.
* Codex CLI: ``sessions/`` and ``archived_sessions/`` of each comma-separated entry of ``$CODEX_HOME``
  (an entry with neither is read as it is), else of ``~/.codex``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError

CLAUDE_CONFIG_ENV = "CLAUDE_CONFIG_DIR"
CODEX_HOME_ENV = "CODEX_HOME"


def claude_code_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The ``projects/`` directories holding Claude Code transcripts. Raises ``UsageError`` when none exists."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    configured = _entries(environ.get(CLAUDE_CONFIG_ENV))
    if configured:
        candidates = [entry if entry.name == "projects" else entry / "projects" for entry in configured]
        where = f"${CLAUDE_CONFIG_ENV} ({', '.join(map(str, configured))})"
    else:
        candidates = [home / ".config" / "claude" / "projects", home / ".claude" / "projects"]
        where = " or ".join(map(str, candidates))
    found = _existing(candidates)
    if not found:
        raise UsageError(
            f"--claude-code: no Claude Code transcripts in {where}",
            hint=f"set {CLAUDE_CONFIG_ENV} to Claude Code's config directory, or pass the folder "
            "holding the transcripts as a PATH",
        )
    return found


def codex_dirs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """The directories holding Codex session files. Raises ``UsageError`` when none exists."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    roots = _entries(environ.get(CODEX_HOME_ENV)) or [home / ".codex"]
    candidates: list[Path] = []
    for root in roots:
        inside = _existing([root / "sessions", root / "archived_sessions"])
        candidates += inside or [root]
    found = _existing(candidates)
    if not found:
        where = (
            f"${CODEX_HOME_ENV} ({', '.join(map(str, roots))})"
            if environ.get(CODEX_HOME_ENV)
            else str(roots[0])
        )
        raise UsageError(
            f"--codex: no Codex sessions in {where}",
            hint=f"set {CODEX_HOME_ENV} to Codex's home directory, or pass the sessions folder as a PATH",
        )
    return found


def _entries(value: str | None) -> list[Path]:
    return [Path(part.strip()).expanduser() for part in (value or "").split(",") if part.strip()]


def _existing(paths: list[Path]) -> list[Path]:
    unique = list(dict.fromkeys(path.absolute() for path in paths))
    return [path for path in unique if path.is_dir()]
