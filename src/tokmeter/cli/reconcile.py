"""``tokmeter reconcile``: compare the store with the provider's bill exports."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..output_paths import output_file
from ..reconcile import BY
from .app import app
from .options import (
    AttributionOpt,
    OutputOpt,
    PricesOpt,
    StoreOpt,
    choices,
    console,
    file_console,
    format_help,
    load_attribution_file,
    open_store,
    price_overrides,
)

if TYPE_CHECKING:
    from ..reconcile.result import Reconciliation

if TYPE_CHECKING:
    from .options import Choice as ReconcileBy
else:
    ReconcileBy = choices("ReconcileBy", BY)


class ReconcileFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def reconcile(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            metavar="FILE...",
            help="Bill exports, told apart by content: OpenAI usage/completions and costs pages, Anthropic "
            "usage_report/messages and cost_report pages (JSON, an array of pages or one page per line), "
            "AWS CUR 2.0 (CSV or Parquet), Google Cloud's billing export (CSV, JSON rows or Parquet).",
        ),
    ],
    by: Annotated[
        list[ReconcileBy] | None,
        typer.Option(
            "--by",
            help="Also match by this column (repeatable) when both the bill and the store's rows carry it; "
            "api_key meets the bill's key ids through the attribution file's \\[\\[key]] tables.",
        ),
    ] = None,
    format: Annotated[ReconcileFormat, typer.Option("--format", help=format_help(ReconcileFormat))] = (
        ReconcileFormat.table
    ),
    output: OutputOpt = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            metavar="PERCENT",
            min=0,
            help="Exit 8 when the metered share of the billed cost (of the billed tokens when the exports "
            "carry no cost) is below PERCENT, after writing the result.",
        ),
    ] = None,
    prometheus: Annotated[
        Path | None,
        typer.Option(
            "--prometheus",
            metavar="FILE",
            help="Also write the coverage gauge (tokmeter_reconcile_coverage_ratio) as a node_exporter "
            "textfile (atomically), in an existing folder; - is standard output.",
        ),
    ] = None,
    prices: PricesOpt = None,
    attribution: AttributionOpt = None,
    store: StoreOpt = None,
) -> None:
    """How the metered tokens and cost compare with the provider's bill, per UTC day and model, and why
    they differ: days with no captures, models only one side has, estimated or unpriced requests, a price
    other than the one billed, usage not captured.

    [dim]Examples: tokmeter reconcile usage-*.json costs-*.json;
    tokmeter reconcile cur-2026-11.parquet --fail-under 95 --prometheus /var/lib/node_exporter/bill.prom[/]
    """
    from ..reconcile.result import reconcile as run

    output = output_file(
        output, "--output", example=f"reconcile.{'txt' if format.value == 'table' else format.value}"
    )
    textfile = output_file(prometheus, "--prometheus", example="reconcile.prom")
    overrides = price_overrides(prices)
    rules = load_attribution_file(attribution)
    result = run(open_store(store, existing=True), files, [b.value for b in by or ()], overrides, rules)
    _show(result, format, output)
    if textfile is not None or prometheus is not None:
        _write_metrics(result, textfile)
    _check_coverage(result, fail_under)


def _show(result: Reconciliation, format: ReconcileFormat, output: Path | None) -> None:
    from ..render.reconcile import reconcile_frame, reconcile_json, reconcile_lines, reconcile_table
    from ..render.tables import emit, write_frame

    if format is ReconcileFormat.json:
        emit(reconcile_json(result), output)
    elif format is ReconcileFormat.csv:
        write_frame(reconcile_frame(result), "csv", output)
    else:
        from ..render.fit import show_table

        out = console() if output is None else file_console(output)
        show_table(out, reconcile_table(result))
        for line in reconcile_lines(result):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if format is not ReconcileFormat.table:  # the summary for people, beside the data for programs
        console(stderr=True).print(result.summary, markup=False, highlight=False, soft_wrap=True)


def _write_metrics(result: Reconciliation, textfile: Path | None) -> None:
    from ..render.reconcile import reconcile_metrics
    from ..render.tables import emit
    from ..rollup.prometheus import write_textfile

    text = reconcile_metrics(result)
    if textfile is None:
        emit(text.encode(), None)
    else:
        write_textfile(textfile, text)


def _check_coverage(result: Reconciliation, fail_under: float | None) -> None:
    from decimal import Decimal

    from ..errors import CoverageBelow

    # nothing billed (no cost, no tokens): no share to fall below
    if fail_under is None or result.coverage_pct is None or result.coverage_pct >= Decimal(str(fail_under)):
        return
    raise CoverageBelow(
        f"metered {result.coverage_pct:.1f}% of the billed {result.coverage_of} {result.period}, under "
        f"--fail-under {fail_under:g}",
        hint="the reasons column names each gap: ingest the missing captures, fix the price file, or lower "
        "--fail-under",
    )
