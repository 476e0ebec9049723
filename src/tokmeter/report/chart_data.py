"""What the charts draw, from report rows: a metric per group, time series pivoted by period, gaps filled.

Shared by the terminal charts (``render_chart``) and the HTML report (``render_html``). Values stay exact
(``Decimal`` costs, ``int`` tokens and requests); only the drawing turns them into lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from ..rollup import TIME_DIMENSIONS

Metric = Literal["cost", "tokens", "requests"]
METRICS: tuple[Metric, ...] = ("cost", "tokens", "requests")
METRIC_TITLES = {"cost": "cost (USD)", "tokens": "tokens (input + output)", "requests": "requests"}
UNKNOWN = "(unknown)"
MAX_FILLED_PERIODS = 1000  # beyond this many periods, only the periods that have data are shown

Number = Decimal | int


def metric_value(row: dict[str, Any], metric: Metric) -> Number | None:
    """A row's value of ``metric``: its cost (None when unpriced), its input + output tokens (input
    includes cache reads and writes, output includes reasoning), or its requests."""
    if metric == "cost":
        value: Number | None = row["cost_usd"]
        return value
    if metric == "tokens":
        return int(row["input_tokens"]) + int(row["output_tokens"])
    return int(row["requests"])


def metric_text(value: Number | None, metric: Metric) -> str:
    if metric == "cost":
        return "unpriced" if value is None else f"${value:,.6f}"
    return f"{value or 0:,}"


def group_label(row: dict[str, Any], dims: Sequence[str]) -> str:
    return " / ".join(UNKNOWN if row[d] is None else str(row[d]) for d in dims) or "all"


def split_dims(dims: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first time dimension (the period the charts run along) and the others (what they stack)."""
    period = next((d for d in dims if d in TIME_DIMENSIONS), None)
    return period, [d for d in dims if d != period]


def _period_start(dim: str, label: str) -> date:
    if dim == "day":
        return date.fromisoformat(label)
    if dim == "week" and "-W" in label:
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    if dim == "week":  # a week that starts on another day than Monday: labelled by its first day
        return date.fromisoformat(label)
    return date.fromisoformat(f"{label}-01")


def _next_period(dim: str, start: date) -> date:
    if dim == "day":
        return start + timedelta(days=1)
    if dim == "week":
        return start + timedelta(weeks=1)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _label(dim: str, start: date, iso_weeks: bool = True) -> str:
    if dim == "day" or (dim == "week" and not iso_weeks):
        return start.isoformat()
    if dim == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year:04d}-{start.month:02d}"


def period_labels(dim: str, present: Iterable[str | None]) -> list[str]:
    """Every period from the first to the last of ``present``, in order, gaps included (unless there
    would be more than ``MAX_FILLED_PERIODS``: then only those present)."""
    labels = sorted({p for p in present if p is not None})
    if len(labels) < 2:
        return labels
    first, last = _period_start(dim, labels[0]), _period_start(dim, labels[-1])
    out, current = [], first
    while current <= last:
        out.append(_label(dim, current, iso_weeks="-W" in labels[0]))
        if len(out) > MAX_FILLED_PERIODS:
            return labels
        current = _next_period(dim, current)
    return out


def span_period(days: Sequence[str]) -> str:
    """The period that draws ``days`` (ISO day labels) in at most about 60 bars: day, week or month."""
    labels = sorted(days)
    if not labels:
        return "day"
    span = (date.fromisoformat(labels[-1]) - date.fromisoformat(labels[0])).days + 1
    return "day" if span <= 62 else "week" if span <= 420 else "month"


@dataclass(slots=True)
class Series:
    """A metric per period (``periods``, in order) for each stacked name (largest total first; the
    names beyond the top ones are summed into the last, ``others``)."""

    metric: Metric
    periods: list[str]
    names: list[str]
    values: dict[str, list[Number]]
    others: int = 0  # how many names the last one sums, 0 when none were summed

    def period_totals(self) -> list[Number]:
        return [
            sum((self.values[n][i] for n in self.names), _zero(self.metric)) for i in range(len(self.periods))
        ]

    def name_totals(self) -> dict[str, Number]:
        return {n: sum(self.values[n], _zero(self.metric)) for n in self.names}


def _zero(metric: Metric) -> Number:
    return Decimal(0) if metric == "cost" else 0


def pivot(rows: pl.DataFrame, period: str, stack: Sequence[str], metric: Metric, top: int = 8) -> Series:
    """Sum ``metric`` per period and per group of the ``stack`` dimensions (unpriced costs count as 0
    here: the report says how much is unpriced), keeping the ``top`` largest groups and summing the rest."""
    cells: dict[str, dict[str, Number]] = {}
    present = []
    for row in rows.iter_rows(named=True):
        label = row[period]
        present.append(label)
        name = group_label(row, stack) if stack else "all"
        per_period = cells.setdefault(name, {})
        per_period[label] = per_period.get(label, _zero(metric)) + (metric_value(row, metric) or 0)
    periods = period_labels(period, present)
    values = {name: [cells[name].get(p, _zero(metric)) for p in periods] for name in cells}
    ranked = sorted(values, key=lambda n: (-sum(values[n], _zero(metric)), n))
    if len(ranked) <= top:
        return Series(metric, periods, ranked, values)
    kept, rest = ranked[: top - 1], ranked[top - 1 :]
    other = f"{len(rest)} others"
    values[other] = [sum((values[n][i] for n in rest), _zero(metric)) for i in range(len(periods))]
    return Series(metric, periods, [*kept, other], {n: values[n] for n in (*kept, other)}, others=len(rest))


@dataclass(slots=True)
class Bars:
    """One value per group, in the report's order (largest first)."""

    metric: Metric
    labels: list[str]
    values: list[Number | None]


def bars(rows: pl.DataFrame, dims: Sequence[str], metric: Metric) -> Bars:
    """One bar per row of a report, ordered by the metric (largest first; unpriced last)."""
    items = [(group_label(row, dims), metric_value(row, metric)) for row in rows.iter_rows(named=True)]
    items.sort(key=lambda item: (item[1] is None, -(item[1] or 0)))
    return Bars(metric, [label for label, _ in items], [value for _, value in items])


def ratio(value: Number | None, largest: Number | None) -> float:
    """``value / largest`` in [0, 1], for drawing; 0 when either is missing or zero."""
    if not value or not largest or value <= 0:
        return 0.0
    return min(float(value) / float(largest), 1.0)
