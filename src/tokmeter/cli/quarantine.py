"""``tokmeter quarantine``: the captures that were set aside, and why."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import app
from .options import StoreOpt, console, format_help, open_store


class QuarantineFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


@app.command()
def quarantine(
    format: Annotated[QuarantineFormat, typer.Option("--format", help=format_help(QuarantineFormat))] = (
        QuarantineFormat.table
    ),
    store: StoreOpt = None,
) -> None:
    """List every capture set aside as bad: source file, line and byte offset, reason, and a SHA-256 of
    its bytes (the bytes themselves are never kept: they may hold prompts).

    [dim]Example: tokmeter quarantine --format jsonl[/]
    """
    import orjson
    from rich.table import Table

    from ..render.fit import show_table

    the_store = open_store(store, existing=True)
    entries = the_store.quarantined()
    if format is QuarantineFormat.json:
        doc = {"store": the_store.location, "entries": entries}
        typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    if format is QuarantineFormat.jsonl:
        for entry in entries:
            typer.echo(orjson.dumps(entry).decode())
        return
    table = Table(header_style="bold", title=f"{len(entries):,} capture(s) set aside", title_justify="left")
    for column in ("time", "where", "offset", "reason", "sha256", "bytes"):
        table.add_column(column, justify="right" if column in ("offset", "bytes") else "left")
    for e in entries:
        where = f"{e['source']}:{e['line']}" if e.get("line") else e["source"]
        table.add_row(
            e["time"][:19],
            where,
            f"{e['offset']:,}",
            e["reason"],
            (e.get("sha256") or "")[:16],
            "" if e.get("bytes") is None else f"{e['bytes']:,}",
        )
    show_table(console(), table, empty="No capture has been set aside: every capture read so far was good.")
