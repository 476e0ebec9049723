"""The budgets' status: a table for people, one JSON document for programs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..budgets.status import BudgetStatus, Evaluation

if TYPE_CHECKING:
    from rich.table import Table

STYLES = {"ok": "green", "warning": "yellow", "exceeded": "bold red"}


def status_doc(status: BudgetStatus) -> dict[str, Any]:
    budget = status.budget
    return {
        "name": budget.name,
        "where": budget.where_doc(),
        "period": budget.period,
        "period_start": status.period_start.isoformat(),
        "period_end": status.period_end.isoformat(),
        "limit_usd": budget.limit_usd,
        "spent_usd": round(status.spent_usd, 9),
        "share": round(status.share, 6),
        "forecast_usd": round(status.forecast_usd, 9),
        "warn_at": list(budget.warn_at),
        "alerts": list(status.alerts),
        "state": status.state,
        "unpriced_requests": status.unpriced_requests,
        "source": status.source,
    }


def budgets_json(evaluation: Evaluation, price_data: dict[str, str | None]) -> bytes:
    doc = {
        "budgets": [status_doc(s) for s in evaluation.statuses],
        "state": evaluation.state,
        "as_of": evaluation.now.isoformat(),
        "tz": evaluation.tz,
        "forecast_method": evaluation.method,
        "price_data": price_data,
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def _where_text(status: BudgetStatus) -> str:
    where = status.budget.where
    return ", ".join(f"{k}={'|'.join(v)}" for k, v in where.items()) or "everything"


def _money(limit: float) -> Callable[[float], str]:
    """Dollars to the cent, or to the micro-dollar for a budget under $1 (a test's, a tiny team's)."""
    digits = 2 if limit >= 1 else 6
    return lambda value: f"${value:,.{digits}f}"


def budgets_table(evaluation: Evaluation) -> Table:
    from rich.table import Table

    table = Table(title=f"Budgets (periods in {evaluation.tz})", title_justify="left")
    for header in ("budget", "where", "period", "spent", "limit", "used", "forecast", "state"):
        right = header in ("spent", "limit", "used", "forecast")
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for s in evaluation.statuses:
        money = _money(s.budget.limit_usd)
        table.add_row(
            s.budget.name,
            _where_text(s),
            f"{s.budget.period} from {s.period_start}",
            money(s.spent_usd),
            money(s.budget.limit_usd),
            f"{s.share:.0%}",
            money(s.forecast_usd),
            f"[{STYLES[s.state]}]{s.state}[/]" + (f" ({', '.join(s.alerts)})" if s.alerts else ""),
        )
    return table


def method_note(evaluation: Evaluation) -> str:
    unpriced = sum(s.unpriced_requests for s in evaluation.statuses)
    note = f"Forecast: {evaluation.method}."
    if unpriced:
        note += f" {unpriced:,} request(s) without a price are not in the spend (tokmeter prices check)."
    return note
