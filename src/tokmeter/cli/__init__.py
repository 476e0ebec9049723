"""The command line: parse arguments, call the library, render. One module per command group; errors are
turned into a message and an exit code in one place, ``main``."""

from __future__ import annotations

import os
import sys

from ..config import debug_enabled, settings
from ..errors import TokmeterError
from . import (  # noqa: F401 - registers the commands
    blocks,
    budgets,
    export,
    fingerprint,
    ingest,
    prices,
    quarantine,
    reconcile,
    report,
    rollup,
    status,
    statusline,
    verify,
)
from .app import app, unwrap_help
from .options import console

__all__ = ["app", "main"]

unwrap_help(app)


def main() -> None:
    """The console script. Turns every ``TokmeterError`` into a message, a hint and its exit code."""
    # Files tokmeter creates are readable by their owner only, unless $TOKMETER_UMASK says otherwise
    # (the Prometheus textfile is the one exception: node_exporter must read it).
    try:
        os.umask(settings().umask)
        app()
    except TokmeterError as exc:
        if debug_enabled():  # the traceback besides the message: the exit code stays the error's
            import traceback

            traceback.print_exc()
        err = console(stderr=True)
        from rich.markup import escape

        err.print(f"[bold red]Error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"Hint: {exc.hint}", soft_wrap=True, markup=False, style="dim")
        sys.exit(exc.exit_code)
