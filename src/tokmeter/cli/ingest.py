"""``tokmeter ingest``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..capture import AGENTS, FORMATS
from ..config import CLAUDE_CODE_USER_ENV
from ..errors import BadCapturesFound, UsageError
from .app import app
from .options import (
    AttributionOpt,
    Choice,
    IngesterOpt,
    QuietOpt,
    StoreOpt,
    choices,
    console,
    date_parser,
    load_attribution_file,
    open_store,
    price_overrides,
)

if TYPE_CHECKING:
    from ..ingest.rows import IngestReport
    from ..sources import Input, ReadOptions
    from ..store.protocol import StoreBackend

FOLLOW_PANEL = "Following (--follow, --resume)"
AGENTS_PANEL = "Coding agents' local logs"


if TYPE_CHECKING:  # see options.choices
    InputFormat = Choice
    AgentName = Choice
else:
    InputFormat = choices("InputFormat", FORMATS)
    AgentName = choices("AgentName", AGENTS)
AUTO = InputFormat("auto")  # the default


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Capture files or directories (searched recursively); - reads standard input.",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = None,
    ingester_id: IngesterOpt = None,
    format: Annotated[
        InputFormat,
        typer.Option(
            "--format",
            help="Input format; auto detects it per file "
            "from its name, then its first bytes (standard input: "
            "capture-log). Any other: every file in the directories is "
            "read as it.",
        ),
    ] = AUTO,
    strict: Annotated[
        bool, typer.Option(help="Exit non-zero (4) when any capture was set aside as bad.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            help="Wait for another writer holding the store's lock "
            "(--no-wait: fail at once with exit code 75)."
        ),
    ] = True,
    quiet: QuietOpt = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            rich_help_panel=FOLLOW_PANEL,
            help="Catch up from the checkpoints, then keep following: new files, "
            "appends to logs, rotations, until SIGTERM / SIGINT (exit 0).",
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            rich_help_panel=FOLLOW_PANEL,
            help="Read capture logs from their checkpoints (only the bytes not yet "
            "ingested), advance them, and exit.",
        ),
    ] = False,
    poll: Annotated[
        bool,
        typer.Option(
            "--poll",
            rich_help_panel=FOLLOW_PANEL,
            help="Poll the files instead of inotify (network filesystems, some containers).",
        ),
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="GLOB",
            help="In directories, read the files whose name or path "
            "below the directory matches, whatever their name, "
            "e.g. '*.log' (repeatable).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="GLOB",
            help="Skip files whose name or path below the given directory matches (repeatable).",
        ),
    ] = None,
    flush_interval: Annotated[
        float,
        typer.Option(
            "--flush-interval",
            min=0.01,
            metavar="SECONDS",
            rich_help_panel=FOLLOW_PANEL,
            help="Commit what was read at least this often.",
        ),
    ] = 1.0,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            metavar="ROWS",
            rich_help_panel=FOLLOW_PANEL,
            help="Commit as soon as this many rows are waiting.",
        ),
    ] = 5000,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp",
            metavar="URL",
            rich_help_panel=FOLLOW_PANEL,
            help="Also send the usage as OTLP metrics to this collector (as tokmeter export otlp) after "
            "commits, at most every --otlp-interval seconds, and when stopping.",
        ),
    ] = None,
    otlp_interval: Annotated[
        float,
        typer.Option(
            "--otlp-interval",
            min=0.1,
            metavar="SECONDS",
            rich_help_panel=FOLLOW_PANEL,
            help="Least time between two OTLP sends of --otlp.",
        ),
    ] = 60.0,
    claude_code: Annotated[
        bool,
        typer.Option(
            "--claude-code",
            rich_help_panel=AGENTS_PANEL,
            help="Also read Claude Code transcripts (--agent claude-code): each $CLAUDE_CONFIG_DIR "
            "entry, else ~/.config/claude and ~/.claude (their projects/ "
            "folders).",
        ),
    ] = False,
    codex: Annotated[
        bool,
        typer.Option(
            "--codex",
            rich_help_panel=AGENTS_PANEL,
            help="Also read Codex CLI sessions (--agent codex): sessions/ and archived_sessions/ of "
            "each $CODEX_HOME entry, else of ~/.codex.",
        ),
    ] = False,
    agent: Annotated[
        list[AgentName] | None,
        typer.Option(
            "--agent",
            rich_help_panel=AGENTS_PANEL,
            help="Also read this coding agent's local logs, from its environment variable's "
            "folders else its default ones (repeatable; the README's agent table lists them).",
            show_default=False,
        ),
    ] = None,
    agents: Annotated[
        bool,
        typer.Option(
            "--agents",
            rich_help_panel=AGENTS_PANEL,
            help="Also read the logs of every coding agent found on this machine (and say which were found).",
        ),
    ] = False,
    claude_code_user: Annotated[
        str | None,
        typer.Option(
            "--claude-code-user",
            metavar="NAME",
            envvar=CLAUDE_CODE_USER_ENV,
            show_envvar=True,
            rich_help_panel=AGENTS_PANEL,
            help="Bill Claude Code usage to NAME (default: the OS user).",
        ),
    ] = None,
    attribution: AttributionOpt = None,
    batch_time: Annotated[
        datetime | None,
        typer.Option(
            "--batch-time",
            parser=date_parser("--batch-time", with_time=True),
            metavar="YYYY-MM-DDTHH:MM:SS",
            help="Time (UTC) of batch results that carry none of their own (Anthropic's; "
            "default: the file's modification time).",
        ),
    ] = None,
) -> None:
    """Read captures into the store: one usage row per request, deduplicated by request id.

    Bad captures (a malformed line, an unreadable body) are listed with file:line and reason; they never stop
    the run or lose the good captures beside them.

    With [bold]--follow[/], capture logs are tracked by identity (inode and first bytes) with a checkpoint in
    the store, committed together with the rows it covers: stopping or killing the process at any moment
    loses and repeats nothing.

    [dim]Examples: tokmeter ingest sample_logs/; tokmeter ingest /var/log/llm-proxy/ --follow[/]
    """
    from ..extract.attribution import KEEP_NOTHING
    from ..render.ingest import render_ingest_report, render_tally
    from ..sources.options import ReadOptions

    rules = load_attribution_file(attribution)  # the raw values its rules read are kept with each row
    target = open_store(store, ingester=ingester_id)
    given = list(paths or [])
    named = [*(["claude-code"] if claude_code else []), *(["codex"] if codex else [])]
    inputs = _with_agent_logs(given, [*named, *(a.value for a in agent or [])], every=agents, quiet=quiet)
    read_options = ReadOptions(  # the --claude-code-user flag, else its env var (typer)
        claude_code_user=claude_code_user,
        keep=rules.keep() if rules is not None else KEEP_NOTHING,
        batch_time=batch_time.replace(tzinfo=UTC) if batch_time is not None else None,
    )
    if otlp is not None and not (follow or resume):
        raise UsageError(
            "--otlp sends metrics while following (--follow or --resume)",
            hint="after a plain ingest run: tokmeter export otlp --endpoint URL (the same URL)",
        )
    if follow or resume:
        if any(str(p) == "-" for p in given):
            raise UsageError(
                "--follow and --resume read files; standard input (-) is read by plain ingest",
                hint="e.g. my-proxy | tokmeter ingest -",
            )
        if strict and follow:
            raise UsageError("--strict cannot be combined with --follow", hint="use --strict with --resume")
        report = _follow(
            inputs,
            target,
            fmt=format.value,
            follow=follow,
            poll=poll,
            include=include or [],
            exclude=exclude or [],
            flush_interval=flush_interval,
            batch_size=batch_size,
            wait=wait,
            quiet=quiet,
            read_options=read_options,
            otlp=(otlp, otlp_interval) if otlp is not None else None,
        )
    else:
        report = _ingest(
            given,
            inputs[len(given) :],
            target,
            fmt=format.value,
            include=include or [],
            exclude=exclude or [],
            wait=wait,
            check_prices=not quiet,
            read_options=read_options,
        )
    if not quiet:
        render_ingest_report(report, target, console())
        render_tally(report.tally, console(), report.commit.estimated_dropped)
    if strict and report.bad:
        raise BadCapturesFound(
            f"{len(report.bad)} bad capture(s) set aside",
            hint="see the list above; rerun without --strict to accept the good captures only",
        )


def _ingest(
    paths: list[Path],
    agent_dirs: list[Path | Input],
    target: StoreBackend,
    *,
    fmt: str,
    include: list[str],
    exclude: list[str],
    wait: bool,
    check_prices: bool,
    read_options: ReadOptions,
) -> IngestReport:
    """Plain ingest of ``paths`` (what was skipped in them is reported) and the agents' log folders (their
    files keep the format their folder implies: ``sources.Input`` hints)."""
    from ..ingest.pipeline import run_ingest
    from ..sources import Input, as_input, hint_of
    from ..sources.selection import select_inputs

    selection = select_inputs(paths, include, exclude, fmt)
    if "-" in map(str, paths) and sys.stdin.isatty() and check_prices:
        console(stderr=True).print("reading captures from standard input (end with Ctrl-D)", markup=False)
    agents = [as_input(found) for found in agent_dirs]
    agent_files = select_inputs([found.path for found in agents], include, exclude, fmt).files
    files: list[Path | Input] = [
        *selection.files,
        *(Input(found, hint_of(found, agents)) for found in agent_files),
    ]
    report = run_ingest(
        files, target, fmt=fmt, wait=wait, check_prices=check_prices, read_options=read_options
    )  # quiet: no list
    report.skipped = selection.skipped
    return report


def _follow(
    paths: list[Path | Input],
    target: StoreBackend,
    *,
    fmt: str,
    follow: bool,
    poll: bool,
    include: list[str],
    exclude: list[str],
    flush_interval: float,
    batch_size: int,
    wait: bool,
    quiet: bool,
    read_options: ReadOptions,
    otlp: tuple[str, float] | None = None,
) -> IngestReport:
    from ..ingest.follow import FollowOptions, run_follow
    from ..render.follow import make_view

    options = FollowOptions(
        fmt=fmt,
        include=include,
        exclude=exclude,
        poll=poll,
        flush_interval=flush_interval,
        batch_size=batch_size,
        follow=follow,
        wait=wait,
        read=read_options,
    )
    view = make_view(quiet=quiet or not follow)
    if otlp is not None:
        from ..export.follow import OtlpSending
        from ..export.otlp import metrics_url

        warn = (lambda text: console(stderr=True).print(text, markup=False)) if quiet or not follow else None
        view = OtlpSending(
            view, target, metrics_url(otlp[0]), price_overrides(None), every=otlp[1], warn=warn
        )
    return run_follow(paths, target, options, view)


def _with_agent_logs(paths: list[Path], names: list[str], *, every: bool, quiet: bool) -> list[Path | Input]:
    """The paths given, plus the logs of the agents named (each must have some) or, with ``every``, of every
    agent found (which were and which not is said on standard error), each with its agent's name as the
    format its files are read as when their content does not tell."""
    from ..sources import Input
    from ..sources.agents import AGENTS as REGISTRY
    from ..sources.agents import agent_logs, require_logs

    chosen = {name: require_logs(name) for name in dict.fromkeys(names)}
    if every:
        found = {name: agent_logs(name) for name in REGISTRY if name not in chosen}
        chosen |= {name: logs for name, logs in found.items() if logs}
        if not quiet:
            missing = [name for name, logs in found.items() if not logs]
            console(stderr=True).print(
                f"agents found: {', '.join(name for name in chosen) or 'none'}; "
                f"not found: {', '.join(missing) or 'none'}",
                markup=False,
            )
    inputs: list[Path | Input] = [
        *paths,
        *(Input(place, name) for name, places in chosen.items() for place in places),
    ]
    if not inputs and every:  # --agents alone, and no agent's logs on this machine
        variables = ", ".join(f"${agent.env}" for agent in REGISTRY.values() if agent.env)
        raise UsageError(
            "--agents: no coding agent's logs were found in their default folders or variables",
            hint=f"point an agent's variable at its data directory ({variables}), or pass the folder as a PATH",
        )
    if not inputs:
        raise UsageError(
            "nothing to ingest: give a PATH, or --agent NAME / --agents",
            hint="e.g. tokmeter ingest sample_logs/, or tokmeter ingest --agents",
        )
    return inputs
