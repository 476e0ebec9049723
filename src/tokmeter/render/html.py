"""The HTML report (``tokmeter report --format html``): one self-contained file that opens offline.

Totals, spend over time stacked by model and by user, top models and users, the token mix, the
estimated and unpriced shares, the report table and the filters that produced it. Charts are inline SVG
(``svg.py``), styles inline (``html_style.py``), no script runs; a Content-Security-Policy forbids any
load, so the page cannot reach the network. The figures drawn are embedded as JSON in
``<script type="application/json" id="report-data">``: its ``report`` key is exactly what
``report --format json`` gives for the same query (and with ``--bill``, its ``bill`` key what
``reconcile --format json`` gives). All text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import orjson

from ..reconcile.result import Reconciliation
from ..report.chart_data import METRIC_TITLES, Bars, Number, Series, bars, metric_text, metric_value, pivot
from ..report.dashboard import STACKS, Dashboard
from ..report.queries import Report
from ..rollup.transforms import WHEN_NONZERO
from .html_style import stylesheet
from .reconcile import reconcile_doc, reconcile_section
from .svg import esc, hbars, series_class, share_bar, share_rows, stacked_columns, tag
from .tables import cost_number, cost_text, price_caption, report_doc, unknown_notes

TOP = 12  # bars in the top-models and top-users charts (the rest summed in the last)
STACK_TOP = 8  # stacked names in the time series (the rest summed in the last)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
KINDS = (
    ("input_uncached", "input (uncached)", "k-input"),
    ("cache_read", "cache read", "k-cache-read"),
    ("cache_write", "cache write", "k-cache-write"),
    ("output", "output", "k-output"),
)
HEADINGS = {"cost": "Spend", "tokens": "Tokens (input + output)", "requests": "Requests"}
TOTAL_CARDS = (
    ("cost_usd", "Cost"),
    ("requests", "Requests"),
    ("input_tokens", "Input tokens"),
    ("cache_read_tokens", "Cache read"),
    ("cache_write_tokens", "Cache write"),
    ("output_tokens", "Output tokens"),
    ("reasoning_tokens", "Reasoning"),
)


def render_html(dash: Dashboard, bill: Reconciliation | None = None) -> str:
    """The whole page, as text; with ``bill`` (``report --bill``) also the section "Against the bill"."""
    over_time = {s: pivot(dash.over_time[s].rows, dash.period, [s], dash.metric, STACK_TOP) for s in STACKS}
    tops = {
        "model": _top(bars(dash.by_model.rows, ["model"], dash.metric)),
        "user": _top(bars(dash.by_user.rows, ["user"], dash.metric)),
    }
    body = [
        _header(dash, over_time["model"]),
        _totals(dash.report),
        _over_time_section(dash, over_time),
        _top_section(tops),
        _mix_section(dash),
        _shares_section(dash.report),
        _table_section(dash.report),
        reconcile_section(bill) if bill is not None else "",
        tag(
            "footer",
            {},
            esc(price_caption(dash.report.price_data)),
            " · ",
            esc(f"tokmeter {version('tokmeter')}"),
        ),
    ]
    data = _json(page_data(dash, over_time, tops) | ({"bill": reconcile_doc(bill)} if bill else {}))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{esc(_title(dash))}</title>\n<style>{stylesheet()}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f'\n</main>\n<script type="application/json" id="report-data">{data}</script>\n</body>\n</html>\n'
    )


def _title(dash: Dashboard) -> str:
    return f"tokmeter report by {', '.join(dash.report.dims) or 'total'}"


def _json(doc: dict[str, Any]) -> str:
    # inside <script>, "<" could close the element: escape it (and > and &) the JSON way
    text = orjson.dumps(doc).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _number(value: Number | None) -> float | int | None:
    return cost_number(value) if isinstance(value, Decimal) else value


def page_data(dash: Dashboard, over_time: dict[str, Series], tops: dict[str, Bars]) -> dict[str, Any]:
    """Every figure the page shows, for programs (and the tests)."""
    filters = dash.report.filters
    totals = dash.report.totals.row(0, named=True)
    return {
        "report": report_doc(dash.report),
        "query": {
            "by": dash.report.dims,
            "since": _iso(filters.since),
            "until": _iso(filters.until),
            "models": list(filters.models),
            "users": list(filters.users),
            "providers": list(filters.providers),
            "owners": {
                k: list(v) for k, v in filters.selected().items() if k not in ("model", "user", "provider")
            },
            "attribution": filters.attribution.digest if filters.attribution is not None else None,
            "tz": filters.tz,
            "metric": dash.metric,
            "period": dash.period,
            "source": dash.report.source,
        },
        "over_time": {stack: _series_doc(series) for stack, series in over_time.items()},
        "top": {
            stack: [
                {"label": label, "value": _number(value)}
                for label, value in zip(b.labels, b.values, strict=True)
            ]
            for stack, b in tops.items()
        },
        "token_mix": {key: value for (key, _, _), value in zip(KINDS, token_mix(totals), strict=True)},
        "generated_at": dash.generated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tokmeter": version("tokmeter"),
    }


def _iso(value: object) -> str | None:
    return None if value is None else str(value)


def _series_doc(series: Series) -> dict[str, Any]:
    return {
        "metric": series.metric,
        "periods": series.periods,
        "names": series.names,
        "values": {n: [_number(v) for v in series.values[n]] for n in series.names},
        "totals": [_number(v) for v in series.period_totals()],
    }


def _top(data: Bars) -> Bars:
    if len(data.labels) <= TOP:
        return data
    rest = data.values[TOP - 1 :]
    summed = (
        None
        if all(v is None for v in rest)
        else sum((v or 0 for v in rest), Decimal(0) if data.metric == "cost" else 0)
    )
    return Bars(
        data.metric, [*data.labels[: TOP - 1], f"{len(rest)} others"], [*data.values[: TOP - 1], summed]
    )


def token_mix(row: dict[str, Any]) -> list[int]:
    """Uncached input, cache read, cache write, output: they sum to input + output tokens."""
    cached = int(row["cache_read_tokens"]) + int(row["cache_write_tokens"])
    return [
        max(int(row["input_tokens"]) - cached, 0),
        int(row["cache_read_tokens"]),
        int(row["cache_write_tokens"]),
        int(row["output_tokens"]),
    ]


def _header(dash: Dashboard, series: Series) -> str:
    report, filters = dash.report, dash.report.filters
    span = f"{series.periods[0]} to {series.periods[-1]}" if series.periods else "no usage"
    items = [
        ("Group by", ", ".join(report.dims) or "(totals only)"),
        ("Since", _iso(filters.since) or "the start"),
        ("Until", _iso(filters.until) or "now"),
        ("Models", ", ".join(filters.models) or "all"),
        ("Users", ", ".join(filters.users) or "all"),
        ("Providers", ", ".join(filters.providers) or "all"),
        *(
            (column, ", ".join(values))
            for column, values in filters.selected().items()
            if column not in ("model", "user", "provider")
        ),
        (
            "Attribution",
            str(filters.attribution.path) if filters.attribution is not None else "the captures' own",
        ),
        ("Time zone", filters.tz),
        ("Charts show", METRIC_TITLES[dash.metric]),
        ("Prices", price_caption(report.price_data)[8:]),
        ("Read from", "rollup tables" if report.source == "rollups" else "usage rows"),
    ]
    when = dash.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return tag(
        "header",
        {},
        tag("h1", {}, "LLM usage and cost"),
        tag("p", {"class": "sub"}, esc(f"{span} · generated {when}")),
        tag(
            "dl",
            {"class": "filters", "id": "filters"},
            *(tag("div", {}, tag("dt", {}, esc(k)), tag("dd", {}, esc(v))) for k, v in items),
        ),
    )


def _data_value(value: Any) -> str:
    return "" if value is None else repr(_number(value))


def _totals(report: Report) -> str:
    totals = report.totals.row(0, named=True)
    cards = [
        tag(
            "div",
            {
                "class": "card main" if key == "cost_usd" else "card",
                "data-measure": key,
                "data-value": _data_value(totals[key]),
            },
            tag("span", {"class": "k"}, esc(name)),
            tag("span", {"class": "v"}, esc(_cell(key, totals[key]))),
        )
        for key, name in TOTAL_CARDS
    ]
    return tag("section", {"class": "cards", "id": "totals"}, *cards)


def _cell(measure: str, value: Any) -> str:
    return cost_text(value) if measure.startswith("cost_") else f"{value:,}"


def _legend(names: Sequence[str], classes: Sequence[str], amounts: Sequence[str]) -> str:
    return tag(
        "ul",
        {"class": "legend"},
        *(
            tag("li", {}, tag("span", {"class": f"sw {c}"}), esc(n), tag("span", {"class": "n"}, esc(a)))
            for n, c, a in zip(names, classes, amounts, strict=True)
        ),
    )


def _over_time_section(dash: Dashboard, over_time: dict[str, Series]) -> str:
    parts = [tag("h2", {}, esc(f"{HEADINGS[dash.metric]} per {dash.period}"))]
    for stack, series in over_time.items():
        label = f"{METRIC_TITLES[dash.metric]} per {dash.period}, stacked by {stack}"
        count, totals = len(series.names), series.name_totals()
        parts += [
            tag("h3", {}, esc(f"by {stack}")),
            stacked_columns(series, f"over-time-{stack}", label),
            _legend(
                series.names,
                [series_class(i, count, series.others > 0) for i in range(count)],
                [metric_text(totals[n], dash.metric) for n in series.names],
            ),
        ]
    if dash.metric == "cost" and dash.report.totals["unpriced_requests"][0]:
        parts.append(
            tag("p", {"class": "note warn"}, "Unpriced requests are not in these bars (cost unknown).")
        )
    return tag("section", {"id": "over-time"}, *parts)


def _top_section(tops: dict[str, Bars]) -> str:
    columns = []
    for stack, data in tops.items():
        summed = bool(data.labels) and data.labels[-1].endswith(" others") and len(data.labels) == TOP
        label = f"top {stack}s by {METRIC_TITLES[data.metric]}"
        columns.append(
            tag(
                "div",
                {},
                tag("h2", {}, esc(f"Top {stack}s")),
                hbars(data.labels, data.values, data.metric, f"top-{stack}", label, summed_last=summed),
            )
        )
    return tag("section", {"class": "two", "id": "top"}, *columns)


def _mix_parts(row: dict[str, Any]) -> list[tuple[str, Number, str]]:
    return [(name, value, cls) for (_, name, cls), value in zip(KINDS, token_mix(row), strict=True)]


def _mix_section(dash: Dashboard) -> str:
    totals = dash.report.totals.row(0, named=True)
    parts = _mix_parts(totals)
    whole = sum(v for _, v, _ in parts)
    shares = [f"{v:,} ({100 * v / whole:.1f}%)" if whole else "0" for _, v, _ in parts]
    body = [
        tag("h2", {}, "Token mix"),
        share_bar(parts, "token-mix", "token mix: input, cache, output"),
        _legend([n for n, _, _ in parts], [c for _, _, c in parts], shares),
        tag(
            "p",
            {"class": "note"},
            esc(
                f"Input includes cache reads and writes; output includes "
                f"{totals['reasoning_tokens']:,} reasoning tokens."
                + "".join(f" {note}." for note in unknown_notes(totals))
            ),
        ),
    ]
    if "cost_input_usd" in totals:
        costs = [
            ("input", totals["cost_input_usd"], "k-input"),
            ("cache read", totals["cost_cache_read_usd"], "k-cache-read"),
            ("cache write", totals["cost_cache_write_usd"], "k-cache-write"),
            ("output", totals["cost_output_usd"], "k-output"),
        ]
        costs = [(n, v or Decimal(0), c) for n, v, c in costs]
        body += [
            tag("h3", {}, "Cost by token kind"),
            share_bar(costs, "cost-mix", "cost by token kind"),
            _legend([n for n, _, _ in costs], [c for _, _, c in costs], [cost_text(v) for _, v, _ in costs]),
        ]
        if totals.get(
            "cost_modifier_usd"
        ):  # service tiers and fast mode: not a token kind, so not in the bar
            change = cost_text(totals["cost_modifier_usd"])
            body.append(
                tag(
                    "p",
                    {"class": "note"},
                    esc(f"At standard rates; service tiers and fast mode change the total by {change}."),
                )
            )
    rows = [(label, _mix_parts(row)) for label, row in _top_rows(dash.by_model, "model", dash)]
    body += [tag("h3", {}, "By model"), share_rows(rows, "token-mix-models", "token mix per model")]
    return tag("section", {"id": "mix"}, *body)


def _top_rows(report: Report, dim: str, dash: Dashboard) -> list[tuple[str, dict[str, Any]]]:
    rows = report.rows.to_dicts()
    rows.sort(key=lambda r: (metric_value(r, dash.metric) is None, -(metric_value(r, dash.metric) or 0)))
    return [("(unknown)" if r[dim] is None else str(r[dim]), r) for r in rows[:TOP]]


def _meter(name: str, part: int, whole: int, cls: str, chart: str) -> str:
    share = 100 * part / whole if whole else 0.0
    parts = [(name, part, cls), ("rest", whole - part, "track-part")]
    return tag(
        "div",
        {"class": "meter", "data-share": chart, "data-part": str(part), "data-whole": str(whole)},
        tag("span", {}, esc(name)),
        share_bar(parts, chart, f"{name}: {share:.1f}%", width=600, height=14),
        tag("span", {"class": "n"}, esc(f"{part:,} of {whole:,} ({share:.1f}%)")),
    )


def _shares_section(report: Report) -> str:
    totals = report.totals.row(0, named=True)
    tokens = int(totals["input_tokens"]) + int(totals["output_tokens"])
    unpriced_tokens = sum(
        int(r["input_tokens"]) + int(r["output_tokens"]) for r in report.unpriced.to_dicts()
    )
    meters = [
        _meter(
            "Estimated requests", totals["estimated_requests"], totals["requests"], "s1", "share-estimated"
        ),
        _meter("Unpriced requests", totals["unpriced_requests"], totals["requests"], "s2", "share-unpriced"),
        _meter("Unpriced tokens", unpriced_tokens, tokens, "s2", "share-unpriced-tokens"),
    ]
    body = [
        tag("h2", {}, "Estimated and unpriced"),
        tag("div", {"class": "meters"}, *meters),
        tag(
            "p",
            {"class": "note"},
            "Estimated: the stream ended without (all of) its usage and tokmeter "
            "counted the tokens. Unpriced: the model has no price; its cost is unknown, not $0.",
        ),
    ]
    if report.unpriced.height:
        head = tag(
            "tr",
            {},
            *(
                tag("th", {"class": "dim" if i < 2 else None}, h)
                for i, h in enumerate(
                    ("provider", "model", "requests", "input tokens", "output tokens", "reason")
                )
            ),
        )
        rows = [
            tag(
                "tr",
                {},
                *(
                    tag(
                        "td",
                        {"class": "dim" if i < 2 else None},
                        esc("(unknown)" if v is None else f"{v:,}" if isinstance(v, int) else v),
                    )
                    for i, v in enumerate(row)
                ),
            )
            for row in report.unpriced.select(
                "provider", "model", "requests", "input_tokens", "output_tokens", "reason"
            ).iter_rows()
        ]
        body += [
            tag("h3", {}, "Unpriced models"),
            tag(
                "div",
                {"class": "scroll"},
                tag("table", {"id": "unpriced"}, tag("thead", {}, head), tag("tbody", {}, *rows)),
            ),
        ]
    return tag("section", {"id": "shares"}, *body)


def _table_section(report: Report) -> str:
    totals = report.totals.row(0, named=True)
    shown = [m for m in report.measures if m not in WHEN_NONZERO or totals[m]]
    head = tag(
        "tr",
        {},
        *(tag("th", {"class": "dim"}, esc(d)) for d in report.dims),
        *(tag("th", {}, esc(m.replace("_tokens", "").replace("_", " "))) for m in shown),
    )
    rows = [
        tag(
            "tr",
            {"data-row": str(i)},
            *(
                tag("td", {"class": "dim", "data-dim": d}, esc("(unknown)" if row[d] is None else row[d]))
                for d in report.dims
            ),
            *(
                tag("td", {"data-measure": m, "data-value": _data_value(row[m])}, esc(_cell(m, row[m])))
                for m in shown
            ),
        )
        for i, row in enumerate(report.rows.iter_rows(named=True))
    ]
    foot = tag(
        "tr",
        {"data-row": "totals"},
        *(tag("td", {"class": "dim"}, "Total" if i == 0 else "") for i in range(len(report.dims))),
        *(
            tag("td", {"data-measure": m, "data-value": _data_value(totals[m])}, esc(_cell(m, totals[m])))
            for m in shown
        ),
    )
    title = f"Report by {', '.join(report.dims)}" if report.dims else "Report"
    return tag(
        "section",
        {"id": "report"},
        tag("h2", {}, esc(title)),
        tag(
            "div",
            {"class": "scroll"},
            tag(
                "table",
                {"id": "report-table"},
                tag("thead", {}, head),
                tag("tbody", {}, *rows),
                tag("tfoot", {}, foot),
            ),
        ),
    )
