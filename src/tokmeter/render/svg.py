"""Inline SVG charts for the HTML report: stacked columns over time, horizontal bars, 100% bars.

Plain strings, no dependency. Every text that reaches the markup goes through ``esc`` (model and user
names come from captures). Colours are CSS classes (``s0``..``s7``, ``so`` for the summed rest, ``k-*``
for token kinds) so the page's light, dark and print themes apply. Each mark has a ``<title>`` with its
exact value, shown on hover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from ..report.chart_data import Metric, Number, Series, metric_text, ratio

FONT = 12


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def tag(name: str, attrs: dict[str, object], *children: str) -> str:
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None
    )
    return f"<{name}{rendered}>{''.join(children)}</{name}>"


def num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def svg(chart: str, width: float, height: float, label: str, *body: str) -> str:
    return tag(
        "svg",
        {
            "class": "chart",
            "data-chart": chart,
            "viewBox": f"0 0 {num(width)} {num(height)}",
            "role": "img",
            "aria-label": label,
        },
        tag("title", {}, esc(label)),
        *body,
    )


def series_class(index: int, count: int, has_other: bool) -> str:
    return "so" if has_other and index == count - 1 else f"s{index % 8}"


def nice_ticks(largest: float, count: int = 4) -> list[float]:
    """Round gridline values from 0 to at least ``largest``: steps of 1, 2, 2.5 or 5 times a power of 10."""
    if largest <= 0:
        return [0.0, 1.0]
    raw = largest / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(largest / step - 1e-9) + 1)]


def short(value: float, metric: Metric) -> str:
    """A compact axis label: $0.0125, $1.2k, 3.4M."""
    prefix = "$" if metric == "cost" else ""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{prefix}{value / size:.3g}{suffix}"
    return f"{prefix}{value:.4g}" if metric == "cost" else f"{prefix}{value:,.0f}"


def empty(chart: str, width: float, height: float, label: str, text: str = "No usage in this report") -> str:
    return svg(
        chart,
        width,
        height,
        label,
        tag(
            "text",
            {"class": "muted", "x": num(width / 2), "y": num(height / 2), "text-anchor": "middle"},
            esc(text),
        ),
    )


def stacked_columns(
    series: Series, chart: str, label: str, *, width: float = 960, height: float = 300
) -> str:
    """One column per period, stacked by name, with a y axis of round values and period labels."""
    totals = series.period_totals()
    top = max((float(t) for t in totals), default=0.0)
    if not series.periods or top <= 0:
        text = (
            "Nothing to draw: every value is 0 or unpriced" if series.periods else "No usage in this report"
        )
        return empty(chart, width, height, label, text)
    left, right, bottom, head = 64.0, 8.0, 44.0, 10.0
    plot_w, plot_h = width - left - right, height - bottom - head
    ticks = nice_ticks(top)
    scale = plot_h / ticks[-1]
    body = [_y_axis(ticks, series.metric, left, width - right, head + plot_h, scale)]
    slot = plot_w / len(series.periods)
    bar_w = max(slot * 0.72, 1.0)
    every = max(1, math.ceil(len(series.periods) / max(1, int(plot_w // 70))))
    for i, period in enumerate(series.periods):
        x = left + i * slot + (slot - bar_w) / 2
        body.append(_column(series, i, x, bar_w, head + plot_h, scale))
        if i % every == 0:
            body.append(
                tag(
                    "text",
                    {
                        "class": "axis",
                        "x": num(x + bar_w / 2),
                        "y": num(head + plot_h + 18),
                        "text-anchor": "middle",
                    },
                    esc(period),
                )
            )
    return svg(chart, width, height, label, *body)


def _y_axis(ticks: Sequence[float], metric: Metric, x0: float, x1: float, y0: float, scale: float) -> str:
    lines = []
    for value in ticks:
        y = y0 - value * scale
        lines.append(tag("line", {"class": "grid", "x1": num(x0), "x2": num(x1), "y1": num(y), "y2": num(y)}))
        lines.append(
            tag(
                "text",
                {"class": "axis", "x": num(x0 - 6), "y": num(y + 4), "text-anchor": "end"},
                esc(short(value, metric)),
            )
        )
    return tag("g", {"class": "y-axis"}, *lines)


def _column(series: Series, i: int, x: float, bar_w: float, base: float, scale: float) -> str:
    marks, y = [], base
    count = len(series.names)
    for index, name in enumerate(series.names):
        value = series.values[name][i]
        h = float(value) * scale
        if h <= 0:
            continue
        y -= h
        tip = f"{series.periods[i]} · {name}: {metric_text(value, series.metric)}"
        marks.append(
            tag(
                "rect",
                {
                    "class": f"mark {series_class(index, count, series.others > 0)}",
                    "x": num(x),
                    "y": num(y),
                    "width": num(bar_w),
                    "height": num(max(h, 0.5)),
                },
                tag("title", {}, esc(tip)),
            )
        )
    return tag("g", {"class": "column", "data-period": series.periods[i]}, *marks)


def hbars(
    labels: Sequence[str],
    values: Sequence[Number | None],
    metric: Metric,
    chart: str,
    label: str,
    *,
    width: float = 480,
    row: float = 24,
    summed_last: bool = False,
) -> str:
    """One horizontal bar per label, the label left of it and the value at its end."""
    if not labels:
        return empty(chart, width, 60, label)
    label_w, value_w = min(width * 0.4, 190.0), 84.0
    bar_room = width - label_w - value_w - 12
    largest = max((v for v in values if v is not None), default=None)
    rows = []
    for i, (name, value) in enumerate(zip(labels, values, strict=True)):
        y, text = i * row, metric_text(value, metric)
        length = max(ratio(value, largest) * bar_room, 1.0 if value else 0.0)
        cls = "so" if summed_last and i == len(labels) - 1 else "s0"
        shown = name if len(name) <= 28 else name[:27] + "…"
        bar = (
            tag(
                "rect",
                {
                    "class": f"mark {cls}",
                    "x": num(label_w),
                    "y": num(y + 4),
                    "width": num(length),
                    "height": num(row - 8),
                },
                tag("title", {}, esc(f"{name}: {text}")),
            )
            if length
            else ""
        )
        rows.append(
            tag(
                "g",
                {"class": "hbar", "data-label": name},
                tag(
                    "text",
                    {"class": "label", "x": num(label_w - 6), "y": num(y + row * 0.65), "text-anchor": "end"},
                    esc(shown),
                ),
                bar,
                tag(
                    "text",
                    {"class": "value", "x": num(label_w + length + 6), "y": num(y + row * 0.65)},
                    esc(text),
                ),
            )
        )
    return svg(chart, width, row * len(labels), label, *rows)


def share_bar(
    parts: Sequence[tuple[str, Number, str]],
    chart: str,
    label: str,
    *,
    width: float = 960,
    height: float = 28,
    x0: float = 0,
) -> str:
    """A 100% bar: each (name, value, css class) part as wide as its share of the sum."""
    return svg(chart, width + x0, height, label, *_share_marks(parts, x0, 0, width, height))


def _share_marks(
    parts: Sequence[tuple[str, Number, str]], x0: float, y: float, width: float, height: float
) -> list[str]:
    total = sum(float(v) for _, v, _ in parts)
    marks, x = [], x0
    for name, value, cls in parts:
        w = width * float(value) / total if total else 0.0
        if w <= 0:
            continue
        amount = f"${value:,.6f}" if isinstance(value, Decimal) else f"{value:,}"
        tip = f"{name}: {amount} ({100 * float(value) / total:.1f}%)"
        marks.append(
            tag(
                "rect",
                {"class": f"mark {cls}", "x": num(x), "y": num(y), "width": num(w), "height": num(height)},
                tag("title", {}, esc(tip)),
            )
        )
        x += w
    if not marks:
        marks.append(
            tag(
                "rect",
                {"class": "track", "x": num(x0), "y": num(y), "width": num(width), "height": num(height)},
            )
        )
    return marks


def share_rows(
    rows: Sequence[tuple[str, Sequence[tuple[str, Number, str]]]],
    chart: str,
    label: str,
    *,
    width: float = 960,
    row: float = 22,
) -> str:
    """One 100% bar per labelled row (e.g. the token mix of each model)."""
    if not rows:
        return empty(chart, width, 60, label)
    label_w = 220.0
    body = []
    for i, (name, parts) in enumerate(rows):
        shown = name if len(name) <= 32 else name[:31] + "…"
        body.append(
            tag(
                "g",
                {"class": "share-row", "data-label": name},
                tag(
                    "text",
                    {
                        "class": "label",
                        "x": num(label_w - 8),
                        "y": num(i * row + row * 0.65),
                        "text-anchor": "end",
                    },
                    esc(shown),
                ),
                *_share_marks(parts, label_w, i * row + 3, width - label_w, row - 6),
            )
        )
    return svg(chart, width, row * len(rows), label, *body)
