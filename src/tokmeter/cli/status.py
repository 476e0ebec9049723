"""``tokmeter status``: each followed source with its checkpoint, size and lag."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import app
from .options import IngesterOpt, StoreOpt, console, format_help, open_store


class StatusFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def status(
    store: StoreOpt = None,
    ingester_id: IngesterOpt = None,
    format: Annotated[StatusFormat, typer.Option("--format", help=format_help(StatusFormat))] = (
        StatusFormat.table
    ),
) -> None:
    """Each piece of content ingest --follow / --resume reads: where it is now, offset, size, and lag.

    Lag is the bytes not yet committed, and for how long the checkpoint has not moved while they wait.
    States: live (a follower is running: ingest --follow / --resume), stopped (no follower is running; the
    next one resumes there), finished (read to its end: rotated away, compressed, truncated), gone (its
    content is nowhere beside its last path), new (no checkpoint yet: e.g. a log created by a rotation
    while the follower was down), unreadable (the follower cannot read it). On a shared s3:// store, the
    checkpoints shown are this ingester's (--ingester-id).

    [dim]Example: tokmeter status --format json[/]
    """
    from ..ingest.lag import source_status
    from ..render.fit import show_table
    from ..render.status import no_sources, status_json, status_table
    from ..store.locking import follower_running

    target = open_store(store, ingester=ingester_id, existing=True)
    following = follower_running(target.root)
    sources = source_status(target, following=following)
    if format is StatusFormat.json:
        typer.echo(status_json(target, sources, following))
    else:
        show_table(console(), status_table(target, sources, following), empty=no_sources(target))
