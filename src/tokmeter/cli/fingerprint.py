"""``tokmeter fingerprint``: an API key's fingerprint, for an attribution mapping table."""

from __future__ import annotations

import sys

import typer

from ..extract.attribution import fingerprint_key, key_from_input
from .app import app

MAX_INPUT = 64 * 1024  # a key is far shorter; a file piped by mistake is not read whole


@app.command()
def fingerprint() -> None:
    """Read one API key on standard input and print its fingerprint, as the api_key column stores it.

    The key is read on standard input, never as an argument: an argument would land in the shell's history
    and in the process list. Put the fingerprint (or its sha256:... part) in the first column of an
    attribution map (from = "api_key").

    [dim]Example: tokmeter fingerprint < key.txt; pbpaste | tokmeter fingerprint[/]
    """
    typer.echo(fingerprint_key(key_from_input(sys.stdin.buffer.read(MAX_INPUT))))
