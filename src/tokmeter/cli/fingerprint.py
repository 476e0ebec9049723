"""``tokmeter fingerprint``: an API key's fingerprint, for an attribution mapping table."""

from __future__ import annotations

import sys

import typer

from ..errors import UsageError
from ..extract.attribution import fingerprint_key
from .app import app


@app.command()
def fingerprint() -> None:
    """Read one API key on standard input and print its fingerprint, as the api_key column stores it.

    The key is read on standard input, never as an argument: an argument would land in the shell's history
    and in the process list. Put the fingerprint (or its sha256:... part) in the first column of an
    attribution map (from = "api_key").

    [dim]Example: tokmeter fingerprint < key.txt; pbpaste | tokmeter fingerprint[/]
    """
    key = sys.stdin.readline().strip()
    if key.lower().startswith("bearer "):
        key = key[7:].strip()
    if not key:
        raise UsageError(
            "no key on standard input", hint="e.g. tokmeter fingerprint < key.txt (one key, on one line)"
        )
    typer.echo(fingerprint_key(key))
