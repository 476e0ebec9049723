"""Charts in the terminal (``tokmeter report --chart``), drawn with Rich.

A bar per group of the report; with a time dimension, a bar per period (stacked by the other dimensions,
with a sparkline per group in the legend). On a terminal the bars are coloured Unicode blocks; elsewhere
(a pipe, a file) they degrade to plain ASCII text with one fill character per stacked group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Group
from rich.text import Text

from ..report.chart_data import (
    METRIC_TITLES,
    Bars,
    Metric,
    Number,
    Series,
    bars,
    metric_text,
    metric_value,
    pivot,
    ratio,
    split_dims,
)
from ..report.queries import Report
from .tables import report_caption

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c9c9c")
# a 16-colour terminal would fold the palette onto a few colours: use eight distinct ones there
BASIC_PALETTE = (
    "blue",
    "yellow",
    "red",
    "cyan",
    "green",
    "magenta",
    "bright_blue",
    "bright_red",
    "bright_black",
)
EIGHTHS = " ▏▎▍▌▋▊▉"
SPARKS = ("▁▂▃▄▅▆▇█", ".:-=+*#%")
ASCII_FILLS = "#=+*o%@&"
MAX_LABEL = 40
MAX_BARS = 50  # groups beyond this many are summed up in one line
MAX_WIDTH = 120  # bars do not grow past this many columns in all


@dataclass(frozen=True, slots=True)
class Look:
    """How bars are drawn: coloured Unicode blocks on a terminal (``fancy``), plain ASCII otherwise."""

    fancy: bool
    palette: tuple[str, ...] = PALETTE  # eight colours, then the colour of the summed rest

    def bar(self, fraction: float, width: int) -> str:
        cells = fraction * width
        if not self.fancy:
            return "#" * round(cells) or ("." if fraction > 0 else "")
        full, eighth = int(cells), int((cells - int(cells)) * 8)
        text = "█" * full + (EIGHTHS[eighth] if eighth else "")
        return text or ("▏" if fraction > 0 else "")

    def fill(self, index: int, other: bool) -> tuple[str, str | None]:
        """The character and colour of the ``index``-th stacked group."""
        if not self.fancy:
            return ("-" if other else ASCII_FILLS[index % len(ASCII_FILLS)]), None
        return "█", self.palette[-1] if other else self.palette[index % (len(self.palette) - 1)]

    def spark(self, values: Sequence[Number], most: int) -> str:
        """One character per value (adjacent values summed when there are more than ``most``)."""
        levels = SPARKS[0 if self.fancy else 1]
        step = -(-len(values) // max(most, 1))
        values = [sum(values[i : i + step], Decimal(0)) for i in range(0, len(values), step)]
        top = max(values, default=0)
        return "".join(
            " " if not v else levels[min(int(ratio(v, top) * len(levels)), len(levels) - 1)] for v in values
        )

    def clip(self, label: str, width: int) -> str:
        return label if len(label) <= width else label[: width - 1] + ("…" if self.fancy else "~")


def report_chart(
    report: Report, metric: Metric, *, width: int, fancy: bool, color_system: str | None = None
) -> Group:
    """The chart for ``report``: a title, the bars, a legend when stacked, the total and the price data.
    ``fancy``: coloured Unicode (a terminal, whose Rich ``color_system`` picks the palette), else ASCII."""
    palette = PALETTE if color_system in (None, "256", "truecolor") else BASIC_PALETTE
    look, width = Look(fancy, palette), min(width, MAX_WIDTH)
    period, others = split_dims(report.dims)
    title = (
        f"{METRIC_TITLES[metric]} by {' and '.join(report.dims)}" if report.dims else METRIC_TITLES[metric]
    )
    if period is None:
        body = _bar_lines(bars(report.rows, report.dims, metric), look, width)
    else:
        series = pivot(report.rows, period, others, metric, top=len(PALETTE) - 1)
        body = _period_lines(series, look, width, stacked=bool(others))
        title += f" (stacked by {' and '.join(others)})" if others else ""
    totals = report.totals.row(0, named=True)
    footer = f"Total {metric_text(metric_value(totals, metric), metric)}, {totals['requests']:,} requests"
    if totals["unpriced_requests"] and metric == "cost":
        footer += f", {totals['unpriced_requests']:,} of them unpriced (cost unknown, not in the bars)"
    return Group(
        Text(title, style="bold" if fancy else ""),
        *body,
        Text(footer),
        Text(report_caption(report), style="dim" if fancy else ""),
    )


def _widths(labels: Sequence[str], values: Sequence[str], width: int) -> tuple[int, int, int]:
    label_w = min(max((len(s) for s in labels), default=1), MAX_LABEL)
    value_w = max((len(s) for s in values), default=1)
    return label_w, max(width - label_w - value_w - 4, 10), value_w


def _bar_lines(data: Bars, look: Look, width: int) -> list[Text]:
    labels, values = list(data.labels), list(data.values)
    if len(labels) > MAX_BARS:
        rest = values[MAX_BARS - 1 :]
        summed = None if all(v is None for v in rest) else sum(v or 0 for v in rest)
        labels, values = [*labels[: MAX_BARS - 1], f"{len(rest)} more"], [*values[: MAX_BARS - 1], summed]
    if not labels:
        return [Text("(no usage in this report)")]
    texts = [metric_text(v, data.metric) for v in values]
    label_w, bar_w, value_w = _widths(labels, texts, width)
    largest = max((v for v in values if v is not None), default=None)
    color = look.palette[0] if look.fancy else None
    return [
        _line(
            look.clip(label, label_w),
            label_w,
            Text(look.bar(ratio(v, largest), bar_w), style=color or ""),
            bar_w,
            text,
            value_w,
        )
        for label, v, text in zip(labels, values, texts, strict=True)
    ]


def _line(label: str, label_w: int, bar: Text, bar_w: int, value: str, value_w: int) -> Text:
    line = Text(label.ljust(label_w) + "  ")
    line.append_text(bar)
    line.append(" " * (bar_w - bar.cell_len) + "  " + value.rjust(value_w))
    return line


def _period_lines(series: Series, look: Look, width: int, *, stacked: bool) -> list[Text]:
    if not series.periods:
        return [Text("(no usage in this report)")]
    totals = series.period_totals()
    texts = [metric_text(t, series.metric) for t in totals]
    label_w, bar_w, value_w = _widths(series.periods, texts, width)
    largest = max(totals, default=0)
    lines = []
    for i, (period, text) in enumerate(zip(series.periods, texts, strict=True)):
        parts = [series.values[name][i] for name in series.names]
        lines.append(
            _line(
                period,
                label_w,
                _stacked_bar(parts, largest, bar_w, look, series.others > 0),
                bar_w,
                text,
                value_w,
            )
        )
    return lines + (_legend(series, look, width) if stacked else [])


def _stacked_bar(parts: Sequence[Number], largest: Number, width: int, look: Look, has_other: bool) -> Text:
    """Segments laid end to end; each ends where the running total does, so rounding never adds up."""
    bar, done, running = Text(), 0, 0.0
    for index, value in enumerate(parts):
        running += ratio(value, largest)
        end = round(running * width)
        if end > done:
            char, color = look.fill(index, has_other and index == len(parts) - 1)
            bar.append(char * (end - done), style=color or "")
            done = end
    total = sum(parts, Decimal(0))
    if not bar.cell_len and total:  # too small for a whole cell: a sliver, so it is not taken for zero
        bar.append(look.bar(ratio(total, largest), width), style=look.palette[0] if look.fancy else "")
    return bar


def _legend(series: Series, look: Look, width: int) -> list[Text]:
    totals = series.name_totals()
    texts = [metric_text(totals[n], series.metric) for n in series.names]
    value_w = max(len(t) for t in texts)
    label_w = min(max(len(n) for n in series.names), MAX_LABEL)
    spark_w = max(width - label_w - value_w - 7, 8)
    lines = [Text("")]
    for index, (name, text) in enumerate(zip(series.names, texts, strict=True)):
        char, color = look.fill(index, series.others > 0 and index == len(series.names) - 1)
        line = Text()
        line.append(char * 2, style=color or "")
        line.append(" " + look.clip(name, label_w).ljust(label_w) + "  ")
        spark = look.spark(series.values[name], spark_w)
        line.append(spark, style=color or "")
        line.append("  " + text.rjust(value_w))
        lines.append(line)
    return lines
