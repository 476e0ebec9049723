"""``tokmeter prices check`` and ``tokmeter prices show``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ..errors import TokmeterError, UsageError
from .app import app
from .options import (
    FilterTzOpt,
    PricesOpt,
    QuietOpt,
    SinceOpt,
    StoreOpt,
    UntilOpt,
    console,
    date_parser,
    filters,
    open_store,
    price_overrides,
)

prices_app = typer.Typer(
    name="prices",
    rich_markup_mode="rich",
    no_args_is_help=True,
    help="Check that every model has a price, and show the price that applies to a model.",
)
app.add_typer(prices_app, name="prices")

_PRICE_HINT = (
    "give {it} a price in a price file: a [[prices]] entry, or an [aliases] entry to a model "
    "genai-prices knows; pass the file with --prices (README: 'Price file')"
)


@prices_app.command()
def check(
    since: SinceOpt = None,
    until: UntilOpt = None,
    prices: PricesOpt = None,
    tz: FilterTzOpt = "UTC",
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """List the models in the store that have no price, with their volume; exit 1 when there are any.

    Made for cron: with --quiet nothing is printed while every model is priced; when one is not, the list
    and an error are printed whatever --quiet says, and the exit code is 1.

    [dim]Example (crontab): 0 7 * * * tokmeter prices check --quiet --since "$(date -u -d yesterday +\\%F)"[/]
    """
    from ..pricing.resolve import price_data
    from ..render.fit import show_table
    from ..render.prices import unpriced_check_table
    from ..report.queries import check_unpriced

    overrides = price_overrides(prices)
    unpriced = check_unpriced(
        open_store(store, existing=True), filters(since, until, None, None, None, tz), overrides
    )
    if unpriced.height:
        show_table(console(), unpriced_check_table(unpriced, price_data(overrides)))
        requests = int(unpriced["requests"].sum())
        raise TokmeterError(
            f"{unpriced.height:,} model(s) without a price ({requests:,} requests): "
            "their cost is unknown, not $0",
            hint=_PRICE_HINT.format(it="them"),
        )
    if not quiet:
        from ..render.tables import price_caption

        console().print(
            f"Every model in the store has a price. {price_caption(price_data(overrides))}",
            markup=False,
            highlight=False,
        )


@prices_app.command()
def show(
    model: Annotated[
        str, typer.Argument(help="The model as stored (as the API reported it).", show_default=False)
    ],
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="The provider as stored (default: found from the model name)."),
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            "--at",
            parser=date_parser("--at", with_time=True),
            metavar="DATE",
            help="The UTC date (or date and time) to price at (default: now).",
        ),
    ] = None,
    service_tier: Annotated[
        str | None,
        typer.Option(
            "--service-tier", help="Price as served at this tier: priority, flex, batch, scale, reserved."
        ),
    ] = None,
    speed: Annotated[str | None, typer.Option("--speed", help="Price as served at this speed: fast.")] = None,
    prices: PricesOpt = None,
) -> None:
    """The price that applies to a model: what prices it, from which source and since when, and its rates.

    Shows the genai-prices model or custom price used (after aliases), the source (genai-prices version, or
    the price file and its sha256), the dates the price is in force, any discount, and the rates in USD per
    million tokens of each kind per context tier (discount included). The price modifiers known for the model
    (service tiers, fast mode) are listed with their sources; with --service-tier or --speed the rates are
    those of that tier (a tier without a known rate shows the standard rates, marked so).

    [dim]Examples: tokmeter prices show gpt-4o;
    tokmeter prices show house-llm --provider acme --at 2026-03-01[/]
    """
    from ..pricing.overrides import MODIFIED_SPEEDS, MODIFIED_TIERS
    from ..pricing.quote import quote
    from ..render.prices import render_quote

    when = at.replace(tzinfo=UTC) if at else datetime.now(UTC)
    found = quote(
        provider,
        model,
        when,
        price_overrides(prices),
        service_tier=_choice("service tier", service_tier, MODIFIED_TIERS),
        speed=_choice("speed", speed, MODIFIED_SPEEDS),
    )
    if found is None:
        who = f" from provider {provider!r}" if provider else ""
        raise TokmeterError(
            f"no price for model {model!r}{who} at {when:%Y-%m-%d %H:%M} UTC",
            hint=_PRICE_HINT.format(it="it"),
        )
    render_quote(found, console())


def _choice(what: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise UsageError(f"unknown {what} {value!r}", hint=f"use one of: {', '.join(choices)}")
    return value
