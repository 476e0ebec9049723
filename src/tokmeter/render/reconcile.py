"""``tokmeter reconcile`` shown: a table for people (each measure as ``billed / metered``, the coverage and
the reasons), one JSON document or CSV for programs, and the coverage gauges of a node_exporter textfile."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from ..reconcile.result import Reconciliation
from ..rollup.prometheus import metric_header, metric_labels
from .tables import _jsonable, cost_number, price_caption

if TYPE_CHECKING:
    from rich.table import Table

PAIRS = (
    ("requests", "requests"),
    ("input", "input_tokens"),
    ("cache read", "cache_read_tokens"),
    ("cache write", "cache_write_tokens"),
    ("output", "output_tokens"),
    ("cost", "cost_usd"),
)


def _figure(value: Any, cost: bool) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if cost else f"{value:,}"


def _pair(row: dict[str, Any], column: str) -> str:
    cost = column.endswith("_usd")
    return f"{_figure(row.get(f'billed_{column}'), cost)} / {_figure(row.get(f'metered_{column}'), cost)}"


def _coverage(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def reconcile_table(result: Reconciliation) -> Table:
    from rich.table import Table  # not imported for the machine formats

    table = Table(show_footer=True, header_style="bold", footer_style="bold", caption_justify="left")
    table.caption = price_caption(result.price_data)
    for index, dim in enumerate(result.dims):
        table.add_column(dim, footer="Total" if index == 0 else "")
    for header, column in PAIRS:
        table.add_column(f"{header}\nbilled / metered", footer=_pair(result.totals, column), justify="right")
    coverage = (
        result.totals["coverage_pct"] if result.coverage_of == "cost" else result.totals["token_coverage_pct"]
    )
    table.add_column("coverage", footer=_coverage(coverage), justify="right")
    table.add_column("reasons")
    for row in result.rows.iter_rows(named=True):
        row_coverage = row["coverage_pct"] if result.coverage_of == "cost" else row["token_coverage_pct"]
        table.add_row(
            *(str(row[d]) if row[d] is not None else "(none)" for d in result.dims),
            *(_pair(row, column) for _header, column in PAIRS),
            _coverage(row_coverage),
            "; ".join(row["reasons"]),
        )
    return table


def reconcile_lines(result: Reconciliation) -> list[str]:
    """What goes under the table: the summary line, the notes, the bill records set aside."""
    lines = [result.summary[:1].upper() + result.summary[1:] + ".", *result.notes]
    lines += [
        f"set aside: {s.source}{f' ({s.where})' if s.where else ''}: {s.reason}. Hint: {s.hint}"
        for s in result.skipped
    ]
    return lines


def reconcile_doc(result: Reconciliation) -> dict[str, Any]:
    return {
        "summary": result.summary,
        "period": result.period,
        "coverage_pct": None if result.coverage_pct is None else float(result.coverage_pct),
        "coverage_of": result.coverage_of,
        "by": result.by,
        "rows": _jsonable(result.rows),
        "totals": {k: cost_number(v) if isinstance(v, Decimal) else v for k, v in result.totals.items()},
        "notes": result.notes,
        "skipped": [
            {"source": s.source, "where": s.where, "reason": s.reason, "hint": s.hint} for s in result.skipped
        ],
        "formats": result.formats,
        "price_data": result.price_data,
    }


def reconcile_json(result: Reconciliation) -> bytes:
    return orjson.dumps(reconcile_doc(result), option=orjson.OPT_INDENT_2) + b"\n"


def reconcile_frame(result: Reconciliation) -> pl.DataFrame:
    """The rows for CSV: the reasons as one text, separated by '; '."""
    return result.rows.with_columns(pl.col("reasons").list.join("; "))


def _io(side: str) -> pl.Expr:
    return pl.col(f"{side}_input_tokens").fill_null(0) + pl.col(f"{side}_output_tokens").fill_null(0)


def reconcile_metrics(result: Reconciliation) -> str:
    """Gauges for a node_exporter textfile: the coverage (metered / billed, a ratio) of the whole bill and
    of each provider, labelled with what was compared and the bill's period."""
    billed, metered = ("billed_cost_usd", "metered_cost_usd")
    if result.coverage_of == "tokens":
        frame = result.rows.with_columns(_b=_io("billed"), _m=_io("metered"))
    else:
        frame = result.rows.with_columns(_b=pl.col(billed).fill_null(0), _m=pl.col(metered).fill_null(0))
    sums = frame.group_by("provider").agg(pl.col("_b").sum(), pl.col("_m").sum()).sort("provider")
    groups = [("all", sum(sums["_b"].to_list(), Decimal(0)), sum(sums["_m"].to_list(), Decimal(0)))]
    groups += [(p, b, m) for p, b, m in sums.iter_rows()]
    period = result.period.removeprefix("in ").removeprefix("from ")
    lines = metric_header(
        "tokmeter_reconcile_coverage_ratio",
        "What tokmeter metered over what the provider billed (cost, or tokens when the exports carry no cost).",
        "gauge",
    )
    for provider, b, m in groups:
        if b:
            ratio = Decimal(m) / Decimal(b)
            sample = metric_labels(provider=provider, of=result.coverage_of, period=period)
            lines.append(f"tokmeter_reconcile_coverage_ratio{sample} {float(ratio):.6f}")
    return "\n".join(lines) + "\n"


def reconcile_section(result: Reconciliation) -> str:
    """The HTML report's "Against the bill" section (``report --format html --bill FILE``): the summary,
    per group the billed and metered cost, the coverage and the reasons, then the notes."""
    from .svg import esc, tag

    head = tag(
        "tr",
        {},
        *(tag("th", {"class": "dim"}, esc(d)) for d in result.dims),
        *(tag("th", {}, esc(h)) for h in ("billed", "metered", "coverage", "reasons")),
    )
    rows = [
        tag(
            "tr",
            {"data-row": str(i)},
            *(tag("td", {"class": "dim"}, esc(row[d] or "(none)")) for d in result.dims),
            tag("td", {"data-measure": "billed_cost_usd"}, esc(_figure(row["billed_cost_usd"], True))),
            tag("td", {"data-measure": "metered_cost_usd"}, esc(_figure(row["metered_cost_usd"], True))),
            tag("td", {"data-measure": "coverage_pct"}, esc(_coverage(row["coverage_pct"]))),
            tag("td", {"class": "dim"}, esc("; ".join(row["reasons"]))),
        )
        for i, row in enumerate(result.rows.iter_rows(named=True))
    ]
    notes = [tag("li", {}, esc(line)) for line in reconcile_lines(result)[1:]]
    return tag(
        "section",
        {"id": "bill"},
        tag("h2", {}, "Against the bill"),
        tag("p", {"id": "bill-summary"}, esc(reconcile_lines(result)[0])),
        tag(
            "div",
            {"class": "scroll"},
            tag("table", {"id": "bill-table"}, tag("thead", {}, head), tag("tbody", {}, *rows)),
        ),
        tag("ul", {}, *notes) if notes else "",
    )
