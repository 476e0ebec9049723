"""``ReadOptions``: what the caller tells the readers that the files themselves cannot.

It travels with every read as an argument (``read_captures(..., options=)``), down to the worker
processes with each task (it is picklable), never through process-global state a forked worker could
see changed or unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..extract.attribution import KEEP_NOTHING, Keep


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """``claude_code_user``: the user Claude Code rows are billed to (None: the OS user). The CLI
    resolves it once, from ``--claude-code-user`` else ``$TOKMETER_CLAUDE_CODE_USER``. ``keep``: the raw
    values the attribution rules in force read (``--attribution``), kept with each row as ``rule:`` tags.
    ``batch_time``: the time of batch results that carry none of their own (``--batch-time``; None: the
    file's modification time)."""

    claude_code_user: str | None = None
    keep: Keep = KEEP_NOTHING
    batch_time: datetime | None = None


DEFAULT_READ = ReadOptions()
