"""``tokmeter statusline`` (``tokmeter/__main__.py`` answers it first, without these imports)."""

from __future__ import annotations

import sys

from ..errors import UsageError
from .app import app
from .options import StoreOpt


@app.command()
def statusline(store: StoreOpt = None) -> None:
    """One short line for Claude Code's status bar: the session's cost, today's, the active 5-hour
    block's with its time left, and its burn rate, e.g.
    🤖 Opus 4.1 | 💰 $0.23 session / $1.23 today / $0.45 block (2h 45m left) | 🔥 $0.12/hr

    Reads Claude Code's status-line JSON on standard input and the summary the last ingest kept in the
    store (never the store itself): fast enough for every prompt. Figures older than 2 minutes say
    their age; keep them fresh with tokmeter ingest --claude-code --follow.

    [dim]In ~/.claude/settings.json: "statusLine": {"type": "command", "command": "tokmeter statusline"}[/]
    """
    from ..config import resolve_store
    from ..render.statusline import standard_input, status_input, status_line

    if store is not None and "://" in store:
        raise UsageError(
            "statusline reads a local store's summary",
            hint="run it on a host that ingests into a local store",
        )
    root = resolve_store(store)
    sys.stdout.write(status_line(status_input(standard_input()), root) + "\n")
