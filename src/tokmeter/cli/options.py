"""Options shared by several commands, declared once; console helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ..config import ATTRIBUTION_ENV, CONFIG_ENV, INGESTER_ID_ENV, PRICES_ENV, STORE_ENV
from ..errors import UsageError
from ..rollup import DIMENSIONS, TAG_DIMENSION, WEEK_STARTS

if TYPE_CHECKING:
    from rich.console import Console

    from ..attribution import Attribution
    from ..pricing.overrides import PriceOverrides
    from ..report.queries import Filters
    from ..store.protocol import StoreBackend


class Choice(str, Enum):
    """The base of every option's choices: a str Enum that Typer shows as a list of values."""


def choices(name: str, values: Iterable[str]) -> type[Choice]:
    """The choices of an option, for Typer, from the registry that defines them (members named like their
    values, with '_' for '-'): the CLI never repeats a list of formats, dimensions or periods."""
    return cast("type[Choice]", Enum(name, {value.replace("-", "_"): value for value in values}, type=Choice))


if TYPE_CHECKING:  # mypy sees the choice types as their base; at run time each is built from its registry
    WeekStart = Choice
else:
    WeekStart = choices("WeekStart", WEEK_STARTS)

WeekStartOpt = Annotated[
    WeekStart | None,
    typer.Option(
        "--week-start",
        show_default=False,
        help="The first day of a week (--by week): monday (the default; weeks labelled as ISO weeks, "
        "2026-W45) or another day (weeks labelled by their first day, 2026-11-01).",
    ),
]

ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        metavar="DIM",
        help=f"Group by (repeatable, in order): {', '.join(DIMENSIONS)} or {TAG_DIMENSION} (the value of "
        "tag NAME). Rows no one owns are shown as unknown, never dropped.",
    ),
]


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        show_envvar=True,
        metavar="DIR|URL",
        help="The store: a directory, or s3://bucket/prefix (gs://, az://) shared by many ingesters "
        "(default: the platform's user data dir for tokmeter).",
    ),
]
IngesterOpt = Annotated[
    str | None,
    typer.Option(
        "--ingester-id",
        envvar=INGESTER_ID_ENV,
        show_envvar=True,
        metavar="NAME",
        help="This writer's name in a shared s3:// / gs:// / az:// store: its checkpoints and part "
        "names are its own (default: the host name). Give each host (each follower) its own. The rows "
        "it stores carry it as their host (report --by host), in a local store too.",
    ),
]
DATE_FORMATS = {
    "%Y-%m-%d": "YYYY-MM-DD",
    "%Y-%m-%dT%H:%M": "YYYY-MM-DDTHH:MM",
    "%Y-%m-%dT%H:%M:%S": "YYYY-MM-DDTHH:MM:SS",
}


def date_parser(option: str, *, with_time: bool = False) -> Callable[[str], datetime]:
    """A Typer parser for a date option (``with_time``: a date and time too) whose error is in the user's
    terms: ``--since 2026-13-01: not a date; expected YYYY-MM-DD`` (click's names strftime codes)."""
    formats = list(DATE_FORMATS)[: 3 if with_time else 1]

    def parse(value: str | datetime) -> datetime:
        if isinstance(value, datetime):
            return value
        for fmt in formats:
            try:
                return datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
        expected = DATE_FORMATS[formats[0]] + (f" (or {DATE_FORMATS[formats[1]]})" if with_time else "")
        raise UsageError(
            f"{option} {value}: not a date; expected {expected}",
            hint=f"e.g. {option} {datetime.now(UTC):%Y-%m-%d}" + (" (UTC)" if with_time else ""),
        )

    return parse


SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        parser=date_parser("--since"),
        metavar="YYYY-MM-DD",
        help="First date to include, in the --tz zone (default UTC).",
    ),
]
UntilOpt = Annotated[
    datetime | None,
    typer.Option(
        parser=date_parser("--until"),
        metavar="YYYY-MM-DD",
        help="Last date to include (inclusive), in the --tz zone (default UTC).",
    ),
]
ModelOpt = Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable).")]
UserOpt = Annotated[list[str] | None, typer.Option("--user", help="Only these users (repeatable).")]
ProviderOpt = Annotated[
    list[str] | None, typer.Option("--provider", help="Only these providers (repeatable).")
]
TeamOpt = Annotated[list[str] | None, typer.Option("--team", help="Only these teams (repeatable).")]
ProjectOpt = Annotated[list[str] | None, typer.Option("--project", help="Only these projects (repeatable).")]
ApiKeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--api-key",
        metavar="FINGERPRINT",
        help="Only these API keys, by fingerprint or its sha256:... part (a key itself is fingerprinted "
        "first; repeatable; tokmeter fingerprint prints one).",
    ),
]
SessionOpt = Annotated[list[str] | None, typer.Option("--session", help="Only these sessions (repeatable).")]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="NAME=VALUE", help="Only rows whose tag NAME is VALUE (repeatable)."),
]
AttributionOpt = Annotated[
    Path | None,
    typer.Option(
        "--attribution",
        metavar="FILE",
        show_default=False,
        help="TOML attribution rules: who owns a row (team, project, user, session, tag:NAME) from its API "
        "key, headers, body, capture fields or file path, with mapping tables applied at query time. "
        f"Default: ${ATTRIBUTION_ENV}, else the 'attribution' key of the config file, else none.",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to FILE (in an existing folder) instead of standard output; - is standard output.",
    ),
]
TzOpt = Annotated[
    str,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone of the --since / --until dates "
        "and of day / week / month boundaries (IANA name, e.g. Europe/Berlin).",
    ),
]
FilterTzOpt = Annotated[
    str,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone of the --since / --until dates (IANA name, e.g. Europe/Berlin).",
    ),
]
PeriodTzOpt = Annotated[
    str,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone of the day / week / month boundaries (IANA name, e.g. Europe/Berlin).",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
PricesOpt = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        metavar="FILE",
        show_default=False,
        help="TOML price file: discounts, custom prices, model aliases; they win over genai-prices. "
        f"Default: ${PRICES_ENV}, else the 'prices' key of the config file (${CONFIG_ENV}, else "
        "config.toml in the user config dir), else genai-prices alone.",
    ),
]


# What each --format name means, in every command that offers it.
FORMATS = {
    "table": "a table for people",
    "json": "one JSON document",
    "jsonl": "one JSON object per line",
    "csv": "CSV with a header line",
    "parquet": "a Parquet file (with --output)",
    "html": "one self-contained page with charts that opens offline",
    "focus": "FinOps FOCUS 1.2 cost and usage rows, CSV (Parquet when --output ends in .parquet)",
}


def format_help(choices: type[Enum]) -> str:
    """The --format help of a command, from the meanings above: the same name means the same thing."""
    return "; ".join(f"{choice.value}: {FORMATS[choice.value]}" for choice in choices) + "."


def console(stderr: bool = False) -> Console:
    """Rich console; when not on a terminal: no colour, and wide enough for a report (or $COLUMNS)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, highlight=False, width=wide)


def file_console(path: Path) -> Console:
    from rich.console import Console

    return Console(file=path.open("w", encoding="utf-8"), width=200, no_color=True)


def filters(
    since: datetime | None,
    until: datetime | None,
    model: list[str] | None,
    user: list[str] | None,
    provider: list[str] | None,
    tz: str = "UTC",
    week_start: WeekStart | None = None,
    *,
    owners: Owners | None = None,
) -> Filters:
    from ..report.queries import Filters
    from ..rollup.spec import zone

    zone(tz)  # an unknown zone fails here, with a hint
    owners = owners or Owners()
    return Filters(
        since.date() if since else None,
        until.date() if until else None,
        tuple(model or ()),
        tuple(user or ()),
        tuple(provider or ()),
        tz,
        week_start.value if week_start is not None else "monday",
        tuple(owners.team or ()),
        tuple(owners.project or ()),
        tuple(owners.api_key or ()),
        tuple(owners.session or ()),
        tuple(tag_filter(value) for value in owners.tag or ()),
        load_attribution_file(owners.attribution),
    )


@dataclass(frozen=True, slots=True)
class Owners:
    """The attribution options of a command: its owner filters and its attribution file flag."""

    team: list[str] | None = None
    project: list[str] | None = None
    api_key: list[str] | None = None
    session: list[str] | None = None
    tag: list[str] | None = None
    attribution: Path | None = None


def tag_filter(value: str) -> tuple[str, str]:
    """``--tag NAME=VALUE`` as (name lower-cased, value)."""
    name, sep, wanted = value.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--tag {value}: expected NAME=VALUE", hint="e.g. --tag env=prod")
    return name.strip().lower(), wanted


def load_attribution_file(flag: Path | None) -> Attribution | None:
    """The attribution file in force (--attribution > $TOKMETER_ATTRIBUTION > config file), loaded."""
    from ..attribution import load_attribution  # start-up time: polars, not on the --help path
    from ..config import attribution_path

    path = attribution_path(flag)
    return load_attribution(path) if path is not None else None


def price_overrides(flag: Path | None) -> PriceOverrides | None:
    """The price file in force (--prices > $TOKMETER_PRICES > config file), loaded; None without one."""
    from ..config import Settings
    from ..pricing.overrides import load_overrides

    settings = Settings.resolve(prices=flag)
    return load_overrides(settings.prices, settings.prices_from) if settings.prices else None


def open_store(
    flag: str | Path | None, *, ingester: str | None = None, existing: bool = False
) -> StoreBackend:
    """``store.backends.open_store``, imported when a command runs (the store loads polars)."""
    from ..store.backends import open_store as open_backend  # start-up time: not on the --help path

    return open_backend(flag, ingester=ingester, existing=existing)
