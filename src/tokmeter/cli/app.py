"""The Typer application object that every command module registers on."""

from __future__ import annotations

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

        try:
            prices = f"genai-prices {version('genai-prices')}"
        except PackageNotFoundError:  # pragma: no cover - a dependency; only a broken install lacks it
            prices = "genai-prices not installed"
        typer.echo(f"tokmeter {__version__} ({prices})")
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
