"""The Typer application object that every command module registers on."""

from __future__ import annotations

import inspect
import re
from typing import Annotated

import typer

from ..config import DEBUG_ENV, STORE_ENV, env_help

app = typer.Typer(
    name="tokmeter",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Token and cost accounting from raw captures of LLM API traffic.\n\n"
    "[bold]ingest[/] reads captures into a deduplicated Parquet store; [bold]report[/] and [bold]rows[/] "
    "read it back.\n\n"
    f"Store: --store DIR or URL (s3://, gs://, az://), else ${STORE_ENV}, else the platform's user data "
    "directory. "
    f"Set {DEBUG_ENV}=1 to see tracebacks.",
    epilog=env_help(),
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from .. import __version__
        from ..config import settings
        from ..extract import accel

        try:
            prices = f"genai-prices {version('genai-prices')}"
        except PackageNotFoundError:  # pragma: no cover - a dependency; only a broken install lacks it
            prices = "genai-prices not installed"
        typer.echo(f"tokmeter {__version__} ({prices}; {accel.status(settings().no_accel)})")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Show tokmeter's version (and genai-prices') and exit.",
        ),
    ] = False,
) -> None:
    pass


def unwrap_help(typer_app: typer.Typer) -> None:
    """Give every command the help of its docstring with the lines of each paragraph joined: Typer's rich
    mode keeps a docstring's line breaks, so --help showed them wherever the terminal's width fell."""
    groups = [typer_app, *(group.typer_instance for group in typer_app.registered_groups)]
    for group in groups:
        for info in group.registered_commands if group is not None else ():
            if info.help is None and info.callback is not None:
                doc = inspect.getdoc(info.callback) or ""
                info.help = "\n\n".join(re.sub(r"\s*\n\s*", " ", part) for part in doc.split("\n\n"))
