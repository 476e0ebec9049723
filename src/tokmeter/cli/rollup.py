"""``tokmeter rollup`` and ``tokmeter compact``: the jobs cron runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..output_paths import output_file, output_folder
from ..rollup import ENGINES, PERIODS, ROLLUP_DIMS, TAG_DIMENSION
from .app import app
from .options import (
    AttributionOpt,
    Choice,
    IngesterOpt,
    PeriodTzOpt,
    PricesOpt,
    QuietOpt,
    StoreOpt,
    WeekStartOpt,
    choices,
    console,
    load_attribution_file,
    open_store,
    price_overrides,
)

if TYPE_CHECKING:  # see options.choices
    Period = Choice
    Engine = Choice
else:
    Period = choices("Period", PERIODS)
    Engine = choices("Engine", ENGINES)
DAY, POLARS = Period("day"), Engine("polars")  # the defaults


@app.command()
def rollup(
    period: Annotated[Period, typer.Option("--period", help="Length of a period.")] = DAY,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="DIM",
            help=f"Dimensions (repeatable; default: user, model, provider): {', '.join(ROLLUP_DIMS)} or "
            f"{TAG_DIMENSION}.",
        ),
    ] = None,
    tz: PeriodTzOpt = "UTC",
    week_start: WeekStartOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            metavar="DIR",
            help="Write the rollup tables "
            "under DIR instead of STORE/rollups (DIR is created if "
            "missing, its parent must exist).",
        ),
    ] = None,
    prometheus: Annotated[
        Path | None,
        typer.Option(
            "--prometheus",
            metavar="FILE",
            help="Also write a "
            "node_exporter textfile (atomically), in an existing "
            "folder; - is standard output.",
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every period, not only those with new data.")
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="polars (in this process) or spark (Apache Spark: "
            "local[2], $TOKMETER_SPARK_MASTER, or the session of spark-submit; "
            r"needs tokmeter\[spark]). Same figures either way.",
        ),
    ] = POLARS,
    prices: PricesOpt = None,
    attribution: AttributionOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Update the rollup table for a period (per period x user x model x provider by default): requests,
    failed requests, each token kind, estimated share, cost.

    Incremental and idempotent: only periods touched by data committed since the last run are recomputed
    (late data included); a run with nothing new returns at once. Exits 75 at once when another rollup is
    running. Made for cron: no colour or progress off a terminal, messages on stderr.

    A table records the attribution file it was built with (its digest, maps included): when the file or
    a map changes, the next run recomputes every period, and reports read the table only meanwhile.

    [dim]Example: tokmeter rollup --period day --tz Europe/Berlin --prometheus /var/lib/node_exporter/tokmeter.prom[/]
    """
    from ..rollup.spec import DEFAULT_DIMS, RollupSpec
    from ..rollup.tables import RollupTable

    dims = tuple(
        dict.fromkeys(f"tag:{d[4:].strip().lower()}" if d.startswith("tag:") else d for d in by or ())
    )
    spec = RollupSpec(
        period.value, dims or DEFAULT_DIMS, tz, week_start.value if week_start is not None else "monday"
    )
    overrides, rules = price_overrides(prices), load_attribution_file(attribution)
    textfile = output_file(prometheus, "--prometheus", example="tokmeter.prom")
    target = open_store(store, existing=True)
    if output is not None and output_folder(output, "--output") and not quiet:
        console(stderr=True).print(f"created the folder {output}", markup=False)
    table = RollupTable(target, spec, output, rules)
    result = table.update(overrides, full=full, engine=engine.value)
    if prometheus is not None:
        from ..rollup.prometheus import metrics_text, write_textfile

        with table.store.reading():
            text = metrics_text(table)
        if textfile is None:
            typer.echo(text, nl=False)
        else:
            write_textfile(textfile, text)
    if not quiet:
        what = "all periods" if result.full else f"{len(result.periods_rewritten)} period(s)"
        console(stderr=True).print(
            f"rollup {spec.name}: {what} rewritten, {result.rows:,} row(s), in {result.table}", markup=False
        )


@app.command()
def compact(
    store: StoreOpt = None,
    ingester_id: IngesterOpt = None,
    wait: Annotated[bool, typer.Option(help="Wait for another writer (--no-wait: exit 75 at once).")] = True,
    quiet: QuietOpt = False,
) -> None:
    """Merge the small parts a follower writes into one part per date partition, deduplicated, atomically.

    Totals are unchanged; the ledger records which parts each merged part replaced, so verify still holds.
    On a shared s3:// store it runs beside the ingesters safely: parts written meanwhile are left alone.

    [dim]Example: tokmeter compact --store /srv/tokmeter[/]
    """
    from ..store.compact import compact as compact_store

    result = compact_store(open_store(store, ingester=ingester_id), wait=wait)
    if not quiet:
        console(stderr=True).print(
            f"compacted {len(result.partitions)} partition(s): {result.parts_before:,} "
            f"parts -> {result.parts_after:,}, {result.rows:,} rows, "
            f"{result.duplicates_dropped:,} duplicate(s) dropped"
            + (f", {result.ledger_folded:,} ledger object(s) folded" if result.ledger_folded else ""),
            markup=False,
        )
