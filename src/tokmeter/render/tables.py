"""Rendering: Rich tables for people, JSON / CSV / JSONL / Parquet for programs.

Every rendered report carries the price data that produced it: a caption under the table, a
``price_data`` key in JSON, and the ``tokmeter.price_data`` key of the Parquet file's metadata.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from ..errors import UsageError
from ..report.queries import Filters, Report
from ..rollup.transforms import UNKNOWN_COUNTS, WHEN_NONZERO

if TYPE_CHECKING:
    from rich.table import Table

UNKNOWN = "(unknown)"
PARQUET_METADATA_KEY = "tokmeter.price_data"


def cost_text(value: Decimal | None) -> str:
    if value is None:
        return "unpriced"
    return f"-${-value:,.6f}" if value < 0 else f"${value:,.6f}"  # a negative modifier share: flex, batch


def cost_number(value: Decimal | None) -> float | None:
    """A cost for JSON: rounded to the nano-dollar, so the float prints exactly those digits."""
    return None if value is None else float(round(value, 9))


def price_caption(price_data: dict[str, str | None]) -> str:
    """One line naming the price data, e.g. ``Prices: genai-prices 0.2.3 + modifiers 2026-12-07 + prices.toml
    sha256:...``."""
    text = f"Prices: genai-prices {price_data['genai_prices']}"
    text += f" + modifiers {price_data['modifiers']}" if price_data.get("modifiers") else ""
    return f"{text} + {price_data['overrides']}" if price_data.get("overrides") else text


def unknown_notes(totals: Mapping[str, Any]) -> list[str]:
    """One line per token column that some rows lacked (null: their source does not carry it), e.g.
    ``reasoning_tokens unknown for 1,234 of 5,000 rows (counted as 0)``; none when every count was known."""
    notes = []
    for column in UNKNOWN_COUNTS:
        if totals.get(column):
            notes.append(
                f"{column.removeprefix('unknown_')} unknown for {totals[column]:,} of "
                f"{totals['requests']:,} rows (counted as 0)"
            )
    return notes


def report_caption(report: Report) -> str:
    """What goes under a report: the price data, and the token columns some rows lacked."""
    return "\n".join([price_caption(report.price_data), *unknown_notes(report.totals.row(0, named=True))])


def no_rows(location: str, filters: Filters) -> str:
    """What a table says instead of an empty frame: the store holds no row, or none matches."""
    if filters.active():
        return f"No usage row in {location} matches these filters ({filters.describe()})."
    return f"No usage rows in {location} yet: tokmeter ingest PATH reads captures into it."


def _is_cost(column: str) -> bool:
    return column.startswith("cost_") and column.endswith("_usd")


def _header(measure: str) -> str:
    if _is_cost(measure) and measure != "cost_usd":
        return measure.removeprefix("cost_").removesuffix("_usd").replace("_", " ") + " $"
    return measure.replace("_tokens", "").replace("_", " ")


def report_table(report: Report) -> Table:
    from rich.table import Table  # not imported for the machine formats: 20 ms of every report's start

    table = Table(
        show_footer=True,
        header_style="bold",
        footer_style="bold",
        caption=report_caption(report),
        caption_justify="left",
    )
    totals = report.totals.row(0, named=True)
    shown = [m for m in report.measures if m not in WHEN_NONZERO or totals[m]]
    for index, dim in enumerate(report.dims):
        table.add_column(dim, footer="Total" if index == 0 else "")
    for extra in report.extras:
        table.add_column(extra.replace("_", " "))
    for measure in shown:
        table.add_column(_header(measure), footer=_cell(measure, totals[measure]), justify="right")
    if not report.dims:  # the totals are the one row (none without requests: the caller says so)
        table.show_footer = False
        if totals["requests"]:
            table.add_row(*(_cell(m, totals[m]) for m in shown))
        return table
    for row in report.rows.iter_rows(named=True):
        table.add_row(
            *(UNKNOWN if row[d] is None else str(row[d]) for d in report.dims),
            *(_extra_cell(row[e], report.filters.tz) for e in report.extras),
            *(_cell(m, row[m]) for m in shown),
        )
    return table


def _extra_cell(value: Any, tz: str) -> str:
    """A time in the report's zone to the minute; text as it is."""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    return "-" if value is None or value == "" else str(value)


def _cell(measure: str, value: Any) -> str:
    return cost_text(value) if _is_cost(measure) else f"{value:,}"


def unpriced_table(report: Report) -> Table:
    from rich.table import Table
    from rich.text import Text  # plain text: a reason may quote genai-prices' words, brackets included

    table = Table(title="Unpriced models (cost unknown, not $0)", title_justify="left", header_style="bold")
    for column in ("provider", "model", "requests", "input tokens", "output tokens", "reason"):
        table.add_column(column, justify="right" if column[-1] == "s" else "left")
    columns = ("provider", "model", "requests", "input_tokens", "output_tokens")
    for row in report.unpriced.iter_rows(named=True):
        cells = (row[c] for c in columns)
        table.add_row(
            *(UNKNOWN if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in cells),
            Text(row["reason"]),
        )
    return table


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, Decimal) or _is_cost(name):
        return cost_number(value)
    if isinstance(value, list) and value and isinstance(value[0], dict) and set(value[0]) == {"key", "value"}:
        return _as_dict(value)  # a map column (tags) as a JSON object
    return value


def _jsonable(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.iter_rows(named=True):
        out.append({k: _json_value(k, v) for k, v in row.items()})
    return out


def report_doc(report: Report) -> dict[str, Any]:
    """The JSON report as a dict: what ``report --format json`` prints and the HTML report embeds."""
    return {
        "rows": _jsonable(report.rows),
        "totals": _jsonable(report.totals)[0],
        "unpriced_models": report.unpriced.to_dicts(),
        "price_data": report.price_data,
    }


def report_json(report: Report) -> bytes:
    return orjson.dumps(report_doc(report), option=orjson.OPT_INDENT_2) + b"\n"


def for_export(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimal costs as exact text for CSV; kept as Decimal in Parquet."""
    return frame.with_columns(pl.col(pl.Decimal).round(9).cast(pl.Decimal(38, 9)))


_MAP_DTYPE = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))


def _maps_as_json_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Map columns (``tags``) as a JSON object's text, the one form a CSV cell can hold without loss."""
    maps = [name for name, dtype in frame.schema.items() if dtype == _MAP_DTYPE]
    if not maps:
        return frame
    return frame.with_columns(
        pl.Series(name, [None if v is None else orjson.dumps(_as_dict(v)).decode() for v in frame[name]])
        for name in maps
    )


def _as_dict(entries: Any) -> dict[str, Any]:
    return {entry["key"]: entry["value"] for entry in entries}


def write_frame(
    frame: pl.DataFrame, fmt: str, output: Path | None, price_data: dict[str, str | None] | None = None
) -> None:
    """Write a data frame as csv, json, jsonl or parquet, to ``output`` or stdout. ``price_data`` goes into a
    Parquet file's metadata (key ``tokmeter.price_data``, a JSON object) and JSON's ``price_data`` key."""
    if fmt == "parquet":
        if output is None and sys.stdout.isatty():
            raise UsageError(
                "Parquet is binary: it is not written to a terminal",
                hint="add --output FILE.parquet, or redirect standard output to a file or a pipe",
            )
        metadata = {PARQUET_METADATA_KEY: orjson.dumps(price_data).decode()} if price_data else None
        if output is None:
            import io

            buffer = io.BytesIO()
            frame.write_parquet(buffer, metadata=metadata)
            emit(buffer.getvalue(), None)
        else:
            frame.write_parquet(output, metadata=metadata)
        return
    frame = for_export(frame)
    if fmt == "csv":
        data = _maps_as_json_text(frame).write_csv().encode()
    elif fmt == "json":
        doc = {"rows": _jsonable_rows(frame), "price_data": price_data}
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    elif fmt == "jsonl":
        data = b"".join(orjson.dumps(row) + b"\n" for row in _jsonable_rows(frame))
    else:
        raise UsageError(f"unknown format {fmt!r}")
    emit(data, output)


def _jsonable_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = _jsonable(frame)
    for row in rows:
        if row.get("timestamp") is not None:
            row["timestamp"] = row["timestamp"].isoformat().replace("+00:00", "Z")
    return rows


def emit(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def unpriced_rows_note(frame: pl.DataFrame) -> list[str]:
    """Under the rows table: why the unpriced rows have no cost, one line per (provider, model)."""
    unpriced = (
        frame.filter(pl.col("cost_usd").is_null())
        .group_by("provider", "model", "unpriced_reason")
        .len()
        .sort("provider", "model", nulls_last=True)
    )
    return [
        f"unpriced: {provider or UNKNOWN} / {model or '(no model)'} ({count:,} row(s)): {reason}"
        for provider, model, reason, count in unpriced.iter_rows()
    ]


ROWS_TABLE_COLUMNS = (
    "timestamp",
    "request_id",
    "user",
    "provider",
    "model",
    "status",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "usage_source",
    "complete",
    "cost_usd",
)


def rows_table(frame: pl.DataFrame) -> Table:
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ROWS_TABLE_COLUMNS:
        numeric = column.endswith("_tokens") or column in ("status", "cost_usd")
        table.add_column(
            column.replace("_tokens", "").replace("_", " "), justify="right" if numeric else "left"
        )
    for row in frame.select(ROWS_TABLE_COLUMNS).iter_rows(named=True):
        cells = []
        for column, value in row.items():
            if column == "cost_usd":
                cells.append(cost_text(value))
            elif column == "timestamp":
                cells.append(value.strftime("%Y-%m-%d %H:%M:%S"))
            elif value is None:
                cells.append(UNKNOWN if column == "user" else "")
            else:
                cells.append(
                    f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
                )
        table.add_row(*cells)
    return table
