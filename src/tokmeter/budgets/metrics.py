"""Prometheus gauges of the budgets (``tokmeter budgets --prometheus FILE``): limit, spend so far,
forecast and state (0 ok, 1 warning, 2 exceeded) per budget, for a node_exporter textfile."""

from __future__ import annotations

from collections.abc import Sequence

from ..rollup.prometheus import metric_header, metric_labels
from . import STATES
from .status import BudgetStatus

GAUGES = (
    ("tokmeter_budget_limit_usd", "The budget's limit for its period, in USD."),
    ("tokmeter_budget_spent_usd", "Spend in the budget's current period so far, in USD."),
    ("tokmeter_budget_forecast_usd", "Forecast spend by the end of the budget's period, in USD."),
    ("tokmeter_budget_state", "The budget's state: 0 ok, 1 warning, 2 exceeded."),
)


def budgets_text(statuses: Sequence[BudgetStatus]) -> str:
    lines: list[str] = []
    for name, meaning in GAUGES:
        lines += metric_header(name, meaning, "gauge")
        for status in statuses:
            value = {
                "tokmeter_budget_limit_usd": status.budget.limit_usd,
                "tokmeter_budget_spent_usd": status.spent_usd,
                "tokmeter_budget_forecast_usd": status.forecast_usd,
                "tokmeter_budget_state": float(STATES.index(status.state)),
            }[name]
            lines.append(
                f"{name}{metric_labels(budget=status.budget.name, period=status.budget.period)} {value:.9f}"
            )
    return "\n".join(lines) + "\n"
