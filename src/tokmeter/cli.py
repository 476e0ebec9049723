"""The command line: parse arguments, call the library, render. Nothing else lives here."""

from __future__ import annotations

import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import DEBUG_ENV, STORE_ENV, debug_enabled, resolve_store
from .errors import BadCapturesFound, TokmeterError, UsageError

app = typer.Typer(
    name="tokmeter",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Token and cost accounting from raw captures of LLM API traffic.\n\n"
    "[bold]ingest[/] reads captures (capture logs, .sse / .json responses) into a deduplicated Parquet store; "
    "[bold]report[/] and [bold]rows[/] read it back.\n\n"
    f"Store: --store DIR, else ${STORE_ENV}, else the platform's user data directory. "
    f"Set {DEBUG_ENV}=1 to see tracebacks.",
)


class InputFormat(str, Enum):
    auto = "auto"
    capture_log = "capture-log"
    sse = "sse"
    json = "json"
    har = "har"


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"


class RowsFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class Dimension(str, Enum):
    model = "model"
    user = "user"
    provider = "provider"
    day = "day"
    week = "week"
    month = "month"


StoreOpt = Annotated[
    Optional[Path],
    typer.Option("--store", envvar=STORE_ENV, show_envvar=True, metavar="DIR",
                 help="The store directory (default: the platform's user data dir for tokmeter)."),
]
SinceOpt = Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                      help="First UTC date to include.")]
UntilOpt = Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                      help="Last UTC date to include (inclusive).")]
ModelOpt = Annotated[Optional[list[str]], typer.Option("--model", help="Only these models (repeatable).")]
UserOpt = Annotated[Optional[list[str]], typer.Option("--user", help="Only these users (repeatable).")]
ProviderOpt = Annotated[Optional[list[str]], typer.Option("--provider", help="Only these providers (repeatable).")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                   help="Write to FILE instead of standard output.")]


def _console(stderr: bool = False):  # noqa: ANN202 - rich.console.Console
    """Rich console; when not on a terminal: no colour, and wide enough for a report (or $COLUMNS)."""
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, highlight=False, width=wide)


def _filters(since: datetime | None, until: datetime | None, model, user, provider):  # noqa: ANN001, ANN202
    from .report import Filters

    as_date = lambda value: value.date() if value else None  # noqa: E731
    return Filters(as_date(since), as_date(until), tuple(model or ()), tuple(user or ()), tuple(provider or ()))


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Read captures into the store: one usage row per request, deduplicated by request id.

    Bad captures (a malformed line, an unreadable body) are listed with file:line and reason; they never
    stop the run or lose the good captures beside them.

    [dim]Example: tokmeter ingest sample_logs/[/]
    """
    from .pipeline import run_ingest
    from .render_ingest import render_ingest_report
    from .store import Store

    target = Store(resolve_store(store))
    report = run_ingest(paths, target, fmt=format.value, wait=wait)
    if not quiet:
        render_ingest_report(report, target, _console())
    if strict and report.bad:
        raise BadCapturesFound(f"{len(report.bad)} bad capture(s) set aside", hint="see the list above; "
                               "rerun without --strict to accept the good captures only")


@app.command()
def report(
    by: Annotated[Optional[list[Dimension]], typer.Option("--by", help="Group by (repeatable, in order).")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="table (Rich), json, csv or parquet.")] =
    ReportFormat.table,
    output: OutputOpt = None,
    store: StoreOpt = None,
) -> None:
    """Tokens and cost per group: requests, input / cache read / cache write / output / reasoning tokens,
    cost in USD, with a totals row. Models without a price are listed, never counted as $0.

    [dim]Examples: tokmeter report --by model;
    tokmeter report --by user --by model --since 2026-11-01 --until 2026-11-07 --format json[/]
    """
    from .render import emit, report_json, report_table, unpriced_table, write_frame
    from .report import build_report
    from .store import Store

    result = build_report(Store(resolve_store(store)), [d.value for d in by or ()], _filters(since, until, model,
                                                                                            user, provider))
    if format is ReportFormat.json:
        emit(report_json(result), output)
    elif format is ReportFormat.table:
        console = _console() if output is None else _file_console(output)
        console.print(report_table(result))
        if result.unpriced.height:
            console.print(unpriced_table(result))
    else:
        write_frame(result.rows, format.value, output, _console())


@app.command()
def rows(
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    format: Annotated[RowsFormat, typer.Option("--format", help="table, jsonl, csv or parquet.")] = RowsFormat.table,
    output: OutputOpt = None,
    store: StoreOpt = None,
) -> None:
    """The stored usage rows themselves, one per request (after deduplication), with their cost.

    [dim]Example: tokmeter rows --since 2026-11-03 --format jsonl[/]
    """
    from .render import rows_table, write_frame
    from .report import select_rows
    from .store import Store

    frame = select_rows(Store(resolve_store(store)), _filters(since, until, model, user, provider))
    if format is RowsFormat.table:
        (_console() if output is None else _file_console(output)).print(rows_table(frame))
    else:
        write_frame(frame, format.value, output, _console())


def _file_console(path: Path):  # noqa: ANN202
    from rich.console import Console

    return Console(file=path.open("w", encoding="utf-8"), width=200, no_color=True)


def main() -> None:
    """The console script. Turns every ``TokmeterError`` into a one-line message and its exit code."""
    try:
        app()
    except TokmeterError as exc:
        if debug_enabled():
            raise
        console = _console(stderr=True)
        console.print(f"[bold red]Error:[/] {exc.message}", soft_wrap=True)
        if exc.hint:
            console.print(f"[dim]Hint: {exc.hint}[/]", soft_wrap=True)
        sys.exit(exc.exit_code)


__all__ = ["app", "main", "UsageError", "date"]
