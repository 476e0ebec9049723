"""``tokmeter prices`` output, as people read it: the unpriced models of a store, and one model's price."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..pricing.quote import PriceQuote
from .fit import show_table
from .tables import UNKNOWN, price_caption


def unpriced_check_table(unpriced: pl.DataFrame, price_data: dict[str, str | None]) -> Table:
    """The unpriced models with their volume and when they were first and last seen."""
    table = Table(
        title="Unpriced models (cost unknown, not $0)",
        title_justify="left",
        header_style="bold",
        caption=price_caption(price_data),
        caption_justify="left",
    )
    for column in (
        "provider",
        "model",
        "requests",
        "input tokens",
        "output tokens",
        "first seen",
        "last seen",
        "reason",
    ):
        table.add_column(column, justify="right" if column.endswith("s") else "left")
    for row in unpriced.iter_rows(named=True):
        table.add_row(
            row["provider"] or UNKNOWN,
            row["model"] or "(no model)",
            f"{row['requests']:,}",
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            _when(row["first_seen"]),
            _when(row["last_seen"]),
            escape(row["reason"]),
        )
    return table


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def render_quote(found: PriceQuote, console: Console) -> None:
    """What a model is priced as, from which source, in force since when, discount, rates per tier."""
    price = found.price
    who = f" (provider {found.provider})" if found.provider else ""
    lines = [("priced as", price.priced_as), ("source", price.source), ("in force", _in_force(found))]
    if found.alias:
        provider, model = found.alias
        target = f"{model} (provider {provider})" if provider else model
        lines.insert(0, ("alias", f"{found.model} -> {target}"))
    if price.schedule:
        lines.append(("time of day", price.schedule))
    if price.discount:
        percent = f"{price.discount.normalize():f}%"
        lines.append(("discount", f"{percent} ({price.discount_key}), included in the rates"))
    if price.modifier:
        included = ", included in the rates" if price.modifier.known else ""
        lines.append(("modifier", f"{price.modifier.label}{included}"))
    for index, (label, source) in enumerate(found.modifiers):
        lines.append(("modifiers" if index == 0 else "", f"{label}: {source}"))
    console.print(
        f"[bold]{escape(found.model)}[/]{escape(who)} at {found.at:%Y-%m-%d %H:%M} UTC", highlight=False
    )
    console.print(_label_grid(lines))
    show_table(console, _rates_table(found))


def _label_grid(lines: list[tuple[str, str]]) -> Table:
    """``label  value`` lines whose values wrap (long sources and URLs fold) within the terminal's width."""
    from rich.text import Text

    grid = Table.grid(padding=(0, 0))
    grid.add_column(width=14, no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in lines:
        grid.add_row(Text(f"  {label}"), Text(value))
    return grid


def _in_force(found: PriceQuote) -> str:
    price = found.price
    since = f"from {price.effective_from}" if price.effective_from else "from the start of the price data"
    return f"{since} until {price.until} (a new price starts then)" if price.until else since


def _rates_table(found: PriceQuote) -> Table:
    kinds = list(found.tiers[0].per_million)
    show_fee = any(tier.per_request for tier in found.tiers)
    table = Table(title="USD per million tokens", title_justify="left", header_style="bold")
    if len(found.tiers) > 1:
        table.add_column("input tokens")
    for kind in kinds:
        table.add_column(kind, justify="right")
    if show_fee:
        table.add_column("per request", justify="right")
    for tier in found.tiers:
        cells = [f"{tier.per_million[kind]:f}" for kind in kinds]
        cells += [f"{tier.per_request:f}"] if show_fee else []
        if len(found.tiers) > 1:
            cells.insert(0, f"> {tier.above:,}" if tier.above is not None else f"<= {found.tiers[1].above:,}")
        table.add_row(*cells)
    return table
