"""``tokmeter blocks``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import app
from .options import (
    ModelOpt,
    PricesOpt,
    ProviderOpt,
    SinceOpt,
    StoreOpt,
    TzOpt,
    UntilOpt,
    UserOpt,
    console,
    filters,
    format_help,
    open_store,
    price_overrides,
)


class BlocksFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def blocks(
    since: SinceOpt = None,
    until: UntilOpt = None,
    model: ModelOpt = None,
    user: UserOpt = None,
    provider: ProviderOpt = None,
    active: Annotated[bool, typer.Option("--active", help="Only the active block.")] = False,
    token_limit: Annotated[
        str | None,
        typer.Option(
            "--token-limit",
            metavar="N|max",
            help="Warn when the active block's projection passes N tokens (or 80 % of them); max: the "
            "largest past block's tokens. Adds a % of limit column.",
        ),
    ] = None,
    cost_limit: Annotated[
        float | None,
        typer.Option(
            "--cost-limit",
            metavar="USD",
            min=0,
            help="Warn when the active block's projected cost passes USD (or 80 % of it).",
        ),
    ] = None,
    session_length: Annotated[
        float, typer.Option("--session-length", metavar="HOURS", help="The length of a block.")
    ] = 5.0,
    format: Annotated[BlocksFormat, typer.Option("--format", help=format_help(BlocksFormat))] = (
        BlocksFormat.table
    ),
    prices: PricesOpt = None,
    tz: TzOpt = "UTC",
    store: StoreOpt = None,
) -> None:
    """Claude's 5-hour usage windows, as ccusage finds them: a block starts at the first request after the
    previous block ended (floored to the hour) and lasts 5 hours; gaps without requests are shown.

    The active block shows its burn rate (tokens a minute, cost an hour, from its first request to its
    last) and its projection to the block's end; --token-limit and --cost-limit warn when the projection
    passes them.

    [dim]Examples: tokmeter blocks --since 2026-11-01; tokmeter blocks --active --token-limit max;
    tokmeter blocks --format json[/]
    """
    from decimal import Decimal

    from ..render.blocks import blocks_json, blocks_table
    from ..render.fit import show_table
    from ..render.tables import emit
    from ..report.blocks import build_blocks, parse_token_limit, warnings

    limit = parse_token_limit(token_limit)
    the_filters, overrides = filters(since, until, model, user, provider, tz), price_overrides(prices)
    the_store = open_store(store, existing=True)
    result = build_blocks(
        the_store,
        the_filters,
        overrides,
        hours=session_length,
        token_limit=limit,
        cost_limit=Decimal(str(cost_limit)) if cost_limit is not None else None,
    )
    if active:
        result.blocks = [b for b in result.blocks if b.active]
    if format is BlocksFormat.json:
        emit(blocks_json(result), None)
        return
    out = console()
    show_table(out, blocks_table(result, tz), empty="No usage blocks" + (" active" if active else "") + ".")
    for line in warnings(result):
        console(stderr=True).print(f"Warning: {line}", markup=False, highlight=False)
