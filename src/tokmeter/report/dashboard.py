"""Everything the HTML report shows, queried from one store with one set of filters.

The report asked for (``--by``) is there as it is; beside it, the same store and filters are queried by
model, by user, and per period by model and by user, so the page has time series and top lists whatever
``--by`` was. Every figure comes from ``build_report``: exact decimals, the same numbers as the JSON report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..pricing.overrides import PriceOverrides
from ..store.protocol import StoreBackend
from .chart_data import Metric, span_period, split_dims
from .queries import Filters, Report, build_report, check_dims

STACKS = ("model", "user")


@dataclass(slots=True)
class Dashboard:
    report: Report  # the query asked for, exactly as `report --format json` gives it
    by_model: Report
    by_user: Report
    period: str  # day, week or month: the period of the time series
    over_time: dict[str, Report]  # stack dimension ("model", "user") -> report by [period, stack]
    metric: Metric = "cost"
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_dashboard(
    store: StoreBackend,
    dims: Sequence[str],
    filters: Filters,
    overrides: PriceOverrides | None = None,
    *,
    breakdown: bool = False,
    metric: Metric = "cost",
) -> Dashboard:
    """The report for ``dims`` and the extra queries the page draws, all over ``store`` and ``filters``."""
    dims = check_dims(dims)

    def query(by: Sequence[str], *, exact: bool = False) -> Report:
        return build_report(store, by, filters, overrides, breakdown=breakdown and exact)

    with store.reading():  # one snapshot for every query, even beside a running ingest
        report = query(dims, exact=True)
        period = split_dims(dims)[0] or _auto_period(query(["day"]))
        return Dashboard(
            report=report,
            by_model=query(["model"]),
            by_user=query(["user"]),
            period=period,
            over_time={stack: query([period, stack]) for stack in STACKS},
            metric=metric,
        )


def _auto_period(by_day: Report) -> str:
    days = [d for d in by_day.rows.get_column("day").to_list() if d is not None]
    return span_period(days)
