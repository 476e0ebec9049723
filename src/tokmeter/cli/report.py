"""``tokmeter report`` and ``tokmeter rows``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import RESULT_CACHE_ENV
from ..output_paths import output_file
from .app import app
from .options import (
    ApiKeyOpt,
    AttributionOpt,
    ByOpt,
    FilterTzOpt,
    ModelOpt,
    OutputOpt,
    Owners,
    PricesOpt,
    ProjectOpt,
    ProviderOpt,
    SessionOpt,
    SinceOpt,
    StoreOpt,
    TagOpt,
    TeamOpt,
    TzOpt,
    UntilOpt,
    UserOpt,
    WeekStartOpt,
    console,
    file_console,
    filters,
    format_help,
    open_store,
    price_overrides,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ..pricing.overrides import PriceOverrides
    from ..report.chart_data import Metric
    from ..report.queries import Filters, Report
    from ..store.protocol import StoreBackend


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"
    html = "html"
    focus = "focus"


class MetricChoice(str, Enum):
    cost = "cost"
    tokens = "tokens"
    requests = "requests"


_SUFFIX = {"table": "txt", "focus": "csv"}  # a file name for a hint, by format


class SortChoice(str, Enum):
    period = "period"
    cost = "cost"
    requests = "requests"
    tokens = "tokens"
    name = "name"


class RowsFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@app.command()
def report(
    by: ByOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    team: TeamOpt = None,
    project: ProjectOpt = None,
    api_key: ApiKeyOpt = None,
    session: SessionOpt = None,
    tag: TagOpt = None,
    format: Annotated[ReportFormat, typer.Option("--format", help=format_help(ReportFormat))] = (
        ReportFormat.table
    ),
    output: OutputOpt = None,
    chart: Annotated[
        bool,
        typer.Option(
            "--chart",
            help="Draw bars in the terminal instead of the table: one per "
            "group, or per period (stacked by the other dimensions) with a time "
            "dimension. Plain text when not on a terminal.",
        ),
    ] = False,
    metric: Annotated[
        MetricChoice | None,
        typer.Option(
            "--metric",
            help="What --chart and the html charts "
            "measure: cost (default), tokens (input + output) or "
            "requests.",
            show_default=False,
        ),
    ] = None,
    cost_breakdown: Annotated[
        bool,
        typer.Option(
            "--cost-breakdown",
            help="Also split cost by token kind: input "
            "(with any per-request fee), cache read, cache write, output "
            "(reasoning included); they sum to cost exactly.",
        ),
    ] = False,
    prices: PricesOpt = None,
    bill: Annotated[
        list[Path] | None,
        typer.Option(
            "--bill",
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="With --format html: add the section 'Against the bill', the store "
            "reconciled with these provider exports (repeatable; as tokmeter reconcile FILE...).",
        ),
    ] = None,
    attribution: AttributionOpt = None,
    sort: Annotated[
        SortChoice | None,
        typer.Option(
            "--sort",
            show_default=False,
            help="Order of the rows: period (oldest first, then by cost; the "
            "default with --by day, week or month), cost (the default otherwise), requests, tokens (input + "
            "output), or name (by the --by values).",
        ),
    ] = None,
    tz: TzOpt = "UTC",
    week_start: WeekStartOpt = None,
    store: StoreOpt = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help=f"Compute the report afresh: neither answer from a kept result nor keep this one (as "
            f"${RESULT_CACHE_ENV}=0).",
        ),
    ] = False,
) -> None:
    """Tokens and cost per group, with a totals row; models without a price are listed, never counted as $0.

    Columns: requests, input / cache read / cache write / output / reasoning tokens, cost in USD. The price
    data used (genai-prices version, price file and its sha256) is recorded with the report.

    A report on a local store keeps what it printed beside the store (STORE/.cache/results), keyed by
    everything it depends on (its arguments, the environment, the config, price and attribution files, the
    store's files, tokmeter and its packages, the date); the same report run again is answered from it
    without loading the data libraries, and any change to one of those computes it afresh. --no-cache
    turns this off.

    [dim]Examples: tokmeter report --by model;
    tokmeter report --by user --by model --since 2026-11-01 --until 2026-11-07 --format json;
    tokmeter report --by day --by model --chart; tokmeter report --by model --format html --output spend.html;
    tokmeter report --by team --attribution teams.toml; tokmeter report --by tag:env --tag env=prod[/]
    """
    from ..render.fit import show_table
    from ..render.tables import emit, no_rows, report_json, report_table, unpriced_table, write_frame
    from ..report.queries import build_report, check_dims

    del no_cache  # honoured before the command line loads, by __main__ (report/kept.py)
    _check_chart_options(format, chart, metric, sort)
    _check_bill(format, bill)
    output = output_file(output, "--output", example=f"report.{_SUFFIX.get(format.value, format.value)}")
    dims = check_dims(by or ())
    chosen: Metric = (metric or MetricChoice.cost).value
    owners = Owners(team, project, api_key, session, tag, attribution)
    the_filters = filters(since, until, model, user, provider, tz, week_start, owners=owners)
    overrides = price_overrides(prices)
    the_store = open_store(store, existing=True)  # after the arguments: their errors are the more specific
    if format is ReportFormat.html:
        _write_html(the_store, dims, the_filters, overrides, cost_breakdown, chosen, output, bill or [])
        return
    if format is ReportFormat.focus:
        _write_focus(the_store, dims, the_filters, overrides, output)
        return
    result = build_report(
        the_store, dims, the_filters, overrides, breakdown=cost_breakdown, sort=sort.value if sort else None
    )
    if format is ReportFormat.json:
        emit(report_json(result), output)
    elif format is ReportFormat.table:
        out = console() if output is None else file_console(output)
        if chart:
            from ..render.chart import report_chart

            out.print(
                report_chart(
                    result,
                    chosen,
                    width=out.width,
                    fancy=output is None and out.is_terminal,
                    color_system=out.color_system,
                ),
                soft_wrap=True,
            )
        else:
            show_table(out, report_table(result), empty=no_rows(the_store.location, the_filters))
        if result.unpriced.height:
            show_table(out, unpriced_table(result))
        _estimated_note(result, out)
    else:
        write_frame(result.rows, format.value, output, result.price_data)


def _estimated_note(result: Report, out: Console) -> None:
    """Why the estimated requests may be fewer than the streams ingest said it estimated."""
    estimated = int(result.totals["estimated_requests"].item() or 0)
    if estimated:
        out.print(
            f"Estimated requests: {estimated:,}, usage counted offline, once per request (copies ingest "
            "dropped as duplicates are not counted).",
            markup=False,
            highlight=False,
        )


def _check_chart_options(
    format: ReportFormat, chart: bool, metric: MetricChoice | None, sort: SortChoice | None
) -> None:
    from ..errors import UsageError

    if sort is not None and format is ReportFormat.focus:
        raise UsageError(
            "--sort does not apply to --format focus",
            hint="FOCUS rows are in charge-period order; drop --sort",
        )
    if sort is not None and (chart or format is ReportFormat.html):
        raise UsageError(
            "--sort orders the rows of the table, JSON, CSV and Parquet; charts have their own order",
            hint="drop --sort: bars are largest first, or oldest first with a time dimension",
        )
    if chart and format not in (ReportFormat.table, ReportFormat.html):
        raise UsageError(
            f"--chart draws in the terminal; it does not apply to --format {format.value}",
            hint="drop --format (or use --format table), or use --format html for charts in a file",
        )
    if metric is not None and not chart and format is not ReportFormat.html:
        raise UsageError(
            "--metric only chooses what charts measure", hint="add --chart, or use --format html"
        )


def _write_html(
    store: StoreBackend,
    dims: list[str],
    the_filters: Filters,
    overrides: PriceOverrides | None,
    breakdown: bool,
    metric: Metric,
    output: Path | None,
    bill: list[Path],
) -> None:
    from ..reconcile.result import reconcile
    from ..render.html import render_html
    from ..render.tables import emit
    from ..report.dashboard import build_dashboard

    dash = build_dashboard(store, dims, the_filters, overrides, breakdown=breakdown, metric=metric)
    reconciled = reconcile(store, bill, (), overrides) if bill else None
    emit(render_html(dash, reconciled).encode(), output)


def _check_bill(format: ReportFormat, bill: list[Path] | None) -> None:
    from ..errors import UsageError

    if bill and format is not ReportFormat.html:
        raise UsageError(
            "--bill adds a section to the HTML report",
            hint="add --format html, or compare with the bill in any format: tokmeter reconcile FILE...",
        )


def _write_focus(
    store: StoreBackend,
    dims: list[str],
    the_filters: Filters,
    overrides: PriceOverrides | None,
    output: Path | None,
) -> None:
    """FOCUS rows: CSV, or Parquet when ``output`` ends in .parquet (FOCUS types kept: Decimal, UTC times)."""
    from ..pricing.resolve import price_data
    from ..render.tables import write_frame
    from ..report.focus import build_focus, focus_for_csv

    frame = build_focus(store, dims, the_filters, overrides)
    if output is not None and output.suffix.lower() == ".parquet":
        write_frame(frame, "parquet", output, price_data(overrides))
    else:
        write_frame(focus_for_csv(frame), "csv", output)


@app.command()
def rows(
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    team: TeamOpt = None,
    project: ProjectOpt = None,
    api_key: ApiKeyOpt = None,
    session: SessionOpt = None,
    tag: TagOpt = None,
    format: Annotated[RowsFormat, typer.Option("--format", help=format_help(RowsFormat))] = RowsFormat.table,
    output: OutputOpt = None,
    prices: PricesOpt = None,
    attribution: AttributionOpt = None,
    tz: FilterTzOpt = "UTC",
    store: StoreOpt = None,
) -> None:
    """The stored usage rows themselves, one per request (after deduplication), with their cost.

    priced_as says what priced each row: genai-prices' provider:model, or custom:MODEL from the price file;
    unpriced_reason why a row has no cost.

    [dim]Example: tokmeter rows --since 2026-11-03 --format jsonl[/]
    """
    from ..pricing.resolve import price_data
    from ..render.fit import show_table
    from ..render.tables import no_rows, price_caption, rows_table, unpriced_rows_note, write_frame
    from ..report.queries import select_rows

    output = output_file(output, "--output", example=f"rows.{_SUFFIX.get(format.value, format.value)}")
    owners = Owners(team, project, api_key, session, tag, attribution)
    overrides, the_filters = (
        price_overrides(prices),
        filters(since, until, model, user, provider, tz, owners=owners),
    )
    the_store = open_store(store, existing=True)
    frame = select_rows(the_store, the_filters, overrides)
    if format is RowsFormat.table:
        out = console() if output is None else file_console(output)
        show_table(out, rows_table(frame), empty=no_rows(the_store.location, the_filters))
        for line in unpriced_rows_note(frame):
            out.print(line, markup=False, highlight=False, emoji=False)
        if frame.height:
            out.print(price_caption(price_data(overrides)), markup=False, style="dim")
    else:
        write_frame(frame, format.value, output, price_data(overrides))
