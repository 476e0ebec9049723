"""Where each budget stands: the spend of its current period so far, the share of the limit used, a
forecast to the end of the period, its alerts and its state.

Forecast (``FORECAST_METHOD``): the mean daily spend of the last 14 whole days before today, weekdays and
weekend days apart, times the weekdays and weekend days left in the period (the rest of today counted
pro rata), added to the spend so far. Days before the budget's first day with spend in that window are
left out (a new budget is not diluted by days before its traffic began); a day kind the window lacks
takes the other kind's mean.

Alerts: ``warn_at:F`` for each fraction F of the limit the spend has reached, ``forecast`` when the
forecast is above the limit, ``exceeded`` when the spend has reached the limit. State: ``exceeded``, else
``warning`` with any alert, else ``ok``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from ..attribution import Attribution
from ..pricing.memo import PriceMemo
from ..pricing.overrides import PriceOverrides
from ..rollup.spec import period_end, period_start, zone
from ..store.protocol import StoreBackend
from . import EXIT_CODES, STATES
from .definitions import Budget
from .spend import SpendReader

WINDOW_DAYS = 14
FORECAST_METHOD = (
    f"spend so far + the mean daily spend of the last {WINDOW_DAYS} whole days (weekdays and weekends "
    "apart, from the first day with spend) x the weekdays and weekend days left in the period "
    "(today pro rata)"
)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    tz: str
    period_start: date
    period_end: date  # the last day of the period (inclusive)
    spent_usd: float
    forecast_usd: float
    alerts: tuple[str, ...]
    unpriced_requests: int = 0  # requests in the period without a price: not in spent_usd
    source: str = "rows"

    @property
    def share(self) -> float:
        return self.spent_usd / self.budget.limit_usd

    @property
    def state(self) -> str:
        if "exceeded" in self.alerts:
            return "exceeded"
        return "warning" if self.alerts else "ok"


@dataclass(slots=True)
class Evaluation:
    statuses: list[BudgetStatus]
    now: datetime
    tz: str
    method: str = FORECAST_METHOD
    sources: set[str] = field(default_factory=set)

    @property
    def state(self) -> str:
        return max((s.state for s in self.statuses), key=STATES.index, default="ok")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]


def evaluate(
    store: StoreBackend,
    budgets: Sequence[Budget],
    tz: str = "UTC",
    overrides: PriceOverrides | None = None,
    *,
    now: datetime | None = None,
    attribution: Attribution | None = None,
) -> Evaluation:
    """Every budget's status at ``now`` (default: the current time), periods in ``tz``; owners (``team``,
    ``project``, ``tag:NAME``, ...) as ``attribution``'s rules say."""
    now = now or datetime.now(UTC)
    local = now.astimezone(zone(tz))
    today = local.date()
    first = min((period_start(today, b.period) for b in budgets), default=today)
    span = (min(first, today - timedelta(days=WINDOW_DAYS)), today)
    memo = PriceMemo.load(overrides)
    with store.reading():
        reader = SpendReader(store, tz, span, overrides, memo, attribution)
        statuses = [_status(reader, budget, local) for budget in budgets]
    memo.save()
    return Evaluation(statuses, now, tz, sources={s.source for s in statuses})


def _status(reader: SpendReader, budget: Budget, local: datetime) -> BudgetStatus:
    today = local.date()
    start = period_start(today, budget.period)
    end = period_end(start, budget.period) - timedelta(days=1)
    window = today - timedelta(days=WINDOW_DAYS)
    spend = reader.daily(budget.where, (min(start, window), today), budget.name)
    in_period = spend.days.filter(pl.col("day") >= start)
    spent = float(in_period["cost_usd"].sum())
    history = spend.days.filter(pl.col("day").is_between(window, today - timedelta(days=1)))
    forecast = spent + remaining_spend(history, local, end)
    return BudgetStatus(
        budget,
        reader.tz,
        start,
        end,
        spent,
        forecast,
        alerts(budget, spent, forecast),
        int(in_period["unpriced_requests"].sum()),
        spend.source,
    )


def daily_rates(history: pl.DataFrame, today: date) -> tuple[float, float]:
    """(weekday, weekend-day) mean spend over the window's days from the first with spend."""
    spent = history.filter(pl.col("cost_usd") > 0)
    if spent.is_empty():
        return 0.0, 0.0
    first = spent["day"].min()
    assert isinstance(first, date)
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    by_day = dict(zip(history["day"].to_list(), history["cost_usd"].to_list(), strict=True))
    means: list[float | None] = []
    for is_weekend in (False, True):
        kind = [d for d in days if (d.weekday() >= 5) == is_weekend]
        means.append(sum(by_day.get(d, 0.0) for d in kind) / len(kind) if kind else None)
    weekday = means[0] if means[0] is not None else means[1]  # a kind the window lacks: the other's mean
    weekend = means[1] if means[1] is not None else means[0]
    return weekday or 0.0, weekend or 0.0


def remaining_spend(history: pl.DataFrame, local: datetime, last_day: date) -> float:
    """The forecast spend from ``local`` (an aware time) to the end of ``last_day``."""
    today = local.date()
    weekday, weekend = daily_rates(history, today)
    midnight = datetime.combine(today + timedelta(days=1), time(0), local.tzinfo)
    left_today = max(0.0, (midnight - local).total_seconds() / 86400)
    total = left_today * (weekend if today.weekday() >= 5 else weekday)
    day = today + timedelta(days=1)
    while day <= last_day:
        total += weekend if day.weekday() >= 5 else weekday
        day += timedelta(days=1)
    return total


def alerts(budget: Budget, spent: float, forecast: float) -> tuple[str, ...]:
    found = [f"warn_at:{fraction:g}" for fraction in budget.warn_at if spent >= fraction * budget.limit_usd]
    found += ["forecast"] if forecast > budget.limit_usd else []
    found += ["exceeded"] if spent >= budget.limit_usd else []
    return tuple(found)
