"""``tokmeter report`` and ``tokmeter rows``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from ..config import resolve_store
from .app import app
from .options import (
    Dimension,
    ModelOpt,
    OutputOpt,
    PricesOpt,
    ProviderOpt,
    SinceOpt,
    StoreOpt,
    TzOpt,
    UntilOpt,
    UserOpt,
    console,
    file_console,
    filters,
    price_overrides,
)


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


@app.command()
def report(
    by: Annotated[Optional[list[Dimension]], typer.Option("--by", help="Group by (repeatable, in order).")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="table (Rich), json, csv or parquet.")] = (
        ReportFormat.table
    ),
    output: OutputOpt = None,
    cost_breakdown: Annotated[bool, typer.Option("--cost-breakdown", help="Also split cost by token kind: input "
                                                 "(with any per-request fee), cache read, cache write, output "
                                                 "(reasoning included); they sum to cost exactly.")] = False,
    prices: PricesOpt = None,
    tz: TzOpt = "UTC",
    store: StoreOpt = None,
) -> None:
    """Tokens and cost per group, with a totals row; models without a price are listed, never counted as $0.

    Columns: requests, input / cache read / cache write / output / reasoning tokens, cost in USD. The price
    data used (genai-prices version, price file and its sha256) is recorded with the report.

    [dim]Examples: tokmeter report --by model;
    tokmeter report --by user --by model --since 2026-11-01 --until 2026-11-07 --format json[/]
    """
    from ..render import emit, report_json, report_table, unpriced_table, write_frame
    from ..report import build_report
    from ..store import Store

    dims = [d.value for d in by or ()]
    result = build_report(Store(resolve_store(store)), dims, filters(since, until, model, user, provider, tz),
                          price_overrides(prices), breakdown=cost_breakdown)
    if format is ReportFormat.json:
        emit(report_json(result), output)
    elif format is ReportFormat.table:
        out = console() if output is None else file_console(output)
        out.print(report_table(result))
        if result.unpriced.height:
            out.print(unpriced_table(result))
    else:
        write_frame(result.rows, format.value, output, result.price_data)


@app.command()
def rows(
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    format: Annotated[RowsFormat, typer.Option("--format", help="table, jsonl, csv or parquet.")] = RowsFormat.table,
    output: OutputOpt = None,
    prices: PricesOpt = None,
    store: StoreOpt = None,
) -> None:
    """The stored usage rows themselves, one per request (after deduplication), with their cost.

    priced_as says what priced each row: genai-prices' provider:model, or custom:MODEL from the price file.

    [dim]Example: tokmeter rows --since 2026-11-03 --format jsonl[/]
    """
    from ..pricing import price_data
    from ..render import price_caption, rows_table, write_frame
    from ..report import select_rows
    from ..store import Store

    overrides = price_overrides(prices)
    frame = select_rows(Store(resolve_store(store)), filters(since, until, model, user, provider), overrides)
    if format is RowsFormat.table:
        out = console() if output is None else file_console(output)
        out.print(rows_table(frame))
        out.print(price_caption(price_data(overrides)), markup=False, style="dim")
    else:
        write_frame(frame, format.value, output, price_data(overrides))
