"""``tokmeter export otlp``: the usage as OpenTelemetry metrics, for a metrics backend."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app
from .options import PricesOpt, QuietOpt, StoreOpt, console, open_store, price_overrides

export_app = typer.Typer(
    help="Send the usage where the rest of the stack reads it.", no_args_is_help=True, rich_markup_mode="rich"
)
app.add_typer(export_app, name="export")


@export_app.command()
def otlp(
    endpoint: Annotated[
        str,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="The OTLP/HTTP collector, e.g. http://localhost:4318 (/v1/metrics is added when the URL has "
            "no path). OTEL_EXPORTER_OTLP_HEADERS and the other OTEL_EXPORTER_OTLP_* variables apply.",
        ),
    ],
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="Give up on the collector after this long.")
    ] = 10.0,
    prices: PricesOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Send token usage and cost as OTLP metrics under the OpenTelemetry GenAI semantic conventions.

    gen_ai.client.token.usage (a histogram per gen_ai.token.type, gen_ai.provider.name, gen_ai.request.model,
    gen_ai.operation.name and tokmeter's dimensions) and tokmeter.cost (USD). Cumulative totals over the
    whole store with a fixed start time: run it as often as you like, nothing is counted twice. Needs
    tokmeter\\[otlp].

    [dim]Example: tokmeter export otlp --endpoint http://otel-collector:4318[/]
    """
    from ..export.otlp import export_otlp

    overrides = price_overrides(prices)
    result = export_otlp(open_store(store, existing=True), endpoint, overrides, timeout=timeout)
    if not quiet:
        said = (
            f"sent {result.data_points:,} data point(s) to {result.endpoint}"
            if result.data_points
            else f"the store has no usage rows yet: nothing sent to {result.endpoint}"
        )
        console(stderr=True).print(said, markup=False, highlight=False)
