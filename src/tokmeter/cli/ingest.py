"""``tokmeter ingest``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..config import resolve_store
from ..errors import BadCapturesFound
from .app import app
from .options import QuietOpt, StoreOpt, console


class InputFormat(str, Enum):
    auto = "auto"
    capture_log = "capture-log"
    sse = "sse"
    json = "json"
    har = "har"


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Capture files or directories (searched recursively).",
                                                show_default=False)],
    store: StoreOpt = None,
    format: Annotated[InputFormat, typer.Option("--format", help="Input format; auto detects it per file "
                                                "from its name, then its first bytes.")] = InputFormat.auto,
    strict: Annotated[bool, typer.Option(help="Exit non-zero (4) when any capture was set aside as bad.")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for another writer holding the store's lock "
                                            "(--no-wait: fail at once with exit code 75).")] = True,
    quiet: QuietOpt = False,
) -> None:
    """Read captures into the store: one usage row per request, deduplicated by request id.

    Bad captures (a malformed line, an unreadable body) are listed with file:line and reason; they never stop
    the run or lose the good captures beside them.

    [dim]Example: tokmeter ingest sample_logs/[/]
    """
    from ..pipeline import run_ingest
    from ..render_ingest import render_ingest_report
    from ..store import Store

    target = Store(resolve_store(store))
    report = run_ingest(paths, target, fmt=format.value, wait=wait)
    if not quiet:
        render_ingest_report(report, target, console())
    if strict and report.bad:
        raise BadCapturesFound(f"{len(report.bad)} bad capture(s) set aside",
                               hint="see the list above; rerun without --strict to accept the good captures only")
