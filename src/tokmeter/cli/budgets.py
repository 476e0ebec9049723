"""``tokmeter budgets``: where each budget stands; exit 0 (all ok), 6 (a warning) or 7 (one exceeded)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..output_paths import output_file, shown_url, web_url
from .app import app
from .options import (
    AttributionOpt,
    Choice,
    PeriodTzOpt,
    PricesOpt,
    QuietOpt,
    StoreOpt,
    choices,
    console,
    format_help,
    load_attribution_file,
    open_store,
    price_overrides,
)

if TYPE_CHECKING:  # see options.choices
    from ..budgets.status import Evaluation

    BudgetsFormat = Choice
else:
    BudgetsFormat = choices("BudgetsFormat", ("table", "json"))
TABLE = BudgetsFormat("table")


@app.command()
def budgets(
    budgets_file: Annotated[
        Path | None,
        typer.Option(
            "--budgets",
            metavar="FILE",
            help=r"TOML file of [\[budget]] tables (default: the [\[budget]] tables of the config file).",
        ),
    ] = None,
    format: Annotated[BudgetsFormat, typer.Option("--format", help=format_help(BudgetsFormat))] = TABLE,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="POST one JSON document per budget whose state changed since the last run (kept in the "
            "store; a failed POST is retried by the next run).",
        ),
    ] = None,
    prometheus: Annotated[
        Path | None,
        typer.Option(
            "--prometheus",
            metavar="FILE",
            help="Also write the budgets' gauges as a node_exporter textfile (atomically); - is standard "
            "output.",
        ),
    ] = None,
    tz: PeriodTzOpt = "UTC",
    prices: PricesOpt = None,
    attribution: AttributionOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Each budget's spend in its current period, its limit, the share used, a forecast to the end of
    the period, and its state: ok, warning (a warn_at fraction reached, or the forecast above the limit)
    or exceeded.

    Exits 0 when every budget is ok, 6 when any is warning, 7 when any is exceeded: cron and CI can act
    on it. Read from a fresh day rollup table when one has the budget's dimensions, else from the rows.

    [dim]Example: tokmeter budgets --notify https://hooks.example.com/tokmeter --quiet[/]
    """
    from ..budgets.definitions import load_budgets
    from ..budgets.status import evaluate
    from ..pricing.resolve import price_data
    from ..rollup.spec import zone

    zone(tz)
    defined, _source = load_budgets(budgets_file)
    textfile = output_file(prometheus, "--prometheus", example="budgets.prom")
    if notify is not None:
        web_url(notify, "--notify", example="https://hooks.example.com/tokmeter")
    overrides = price_overrides(prices)
    the_store = open_store(store, existing=True)
    evaluation = evaluate(the_store, defined, tz, overrides, attribution=load_attribution_file(attribution))
    if notify is not None:
        _notify(the_store.root, evaluation, notify)
    if prometheus is not None:
        _prometheus(evaluation, textfile)
    if format.value == "json":
        from ..render.budgets import budgets_json
        from ..render.tables import emit

        emit(budgets_json(evaluation, price_data(overrides)), None)
    elif not quiet:
        from ..render.budgets import budgets_table, method_note
        from ..render.fit import show_table

        out = console()
        show_table(out, budgets_table(evaluation))
        out.print(method_note(evaluation), markup=False, highlight=False, style="dim")
    raise typer.Exit(evaluation.exit_code)


def _notify(root: Path, evaluation: Evaluation, url: str) -> None:
    from ..budgets.notify import notify

    result = notify(root, evaluation.statuses, url, evaluation.now)
    err = console(stderr=True)
    for name, reason in result.failed:
        err.print(
            f"Warning: budget {name!r}: could not notify {shown_url(url, path=False)}: {reason}; the next run "
            "sends it again",
            markup=False,
            highlight=False,
        )


def _prometheus(evaluation: Evaluation, textfile: Path | None) -> None:
    from ..budgets.metrics import budgets_text
    from ..rollup.prometheus import write_textfile

    text = budgets_text(evaluation.statuses)
    if textfile is None:
        typer.echo(text, nl=False)
    else:
        write_textfile(textfile, text)
