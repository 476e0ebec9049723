"""Cost as exact decimal polars expressions, from the coefficients a price table joins to each row or
group (``table.build_price_table``): the price key, the coefficient columns and the cost columns."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from .checks import PLACES

COST_DTYPE = pl.Decimal(38, PLACES)  # coefficients and costs: exact sums; bounds in ``price_checks``
BREAKDOWN_COLUMNS = (
    "cost_input_usd",
    "cost_cache_read_usd",
    "cost_cache_write_usd",
    "cost_output_usd",
    "cost_modifier_usd",
)
# our token column -> the coefficient column that prices it
COEFFICIENTS = {
    "input_tokens": "_c_input",
    "_p_cache_read": "_c_cache_read",
    "_p_cache_write_5m": "_c_cache_write_5m",
    "_p_cache_write_1h": "_c_cache_write_1h",
    "output_tokens": "_c_output",
    "_p_reasoning": "_c_reasoning",
}
# a price in force (with its modifiers); with _tier, one rate set
PRICE_KEY = ["provider", "model", "service_tier", "speed", "_price_day", "_price_minute"]
_KEY = [*PRICE_KEY, "_tier"]
# each coefficient -> its standard-price twin (no modifier applied), for the cost breakdown
STANDARD = {c: f"_std{c}" for c in ("_c_request", *COEFFICIENTS.values())}


def join_prices(lf: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
    """Join the coefficients (and ``_priced_as``) of each row's or group's price key and tier."""
    return lf.join(
        table.lazy().drop("_thresholds"), on=_KEY, how="left", nulls_equal=True, maintain_order="left"
    )


PRICE_HELPERS = (
    "_price_day",
    "_price_minute",
    "_tier",
    "_priced_as",
    "_p_cache_read",
    "_p_cache_write",
    "_p_cache_write_1h",
    "_p_cache_write_5m",
    "_p_reasoning",
    "_c_request",
    *COEFFICIENTS.values(),
    "_modifier_unknown",
    *STANDARD.values(),
)


def cost_columns(breakdown: bool, n: pl.Expr | None = None) -> dict[str, pl.Expr]:
    """``cost_usd`` (and with ``breakdown`` the per-kind costs) from joined coefficients, for one row
    or, with ``n`` (its row count), for a group whose token columns hold sums: cost is linear within
    one price and tier, so pricing the sums equals summing the rows' costs exactly."""
    costs = {"cost_usd": _total_cost(n), **(_cost_by_kind(n) if breakdown else {})}
    return {name: expr.cast(COST_DTYPE) for name, expr in costs.items()}


def _tokens(column: str | pl.Expr) -> pl.Expr:
    return (pl.col(column) if isinstance(column, str) else column).cast(pl.Decimal(38, 0))


def _request_fees(n: pl.Expr | None, fee: str = "_c_request") -> pl.Expr:
    return pl.col(fee) if n is None else pl.col(fee) * n.cast(pl.Decimal(38, 0))


def _total_cost(n: pl.Expr | None = None, coefficient: Callable[[str], str] = str) -> pl.Expr:
    cost = _request_fees(n, coefficient("_c_request"))
    for column, name in COEFFICIENTS.items():
        cost = cost + _tokens(column) * pl.col(coefficient(name))
    return cost


def _cost_by_kind(n: pl.Expr | None = None) -> dict[str, pl.Expr]:
    """The cost split by token kind, at standard rates, and the modifier's share: the cost at the row's
    service tier and speed minus that (negative for flex and batch). The coefficients of cache and
    reasoning columns are differences from the input / output rate (those tokens are subsets), so each
    kind is priced at its own rate here: uncached input at the input rate (plus the per-request fee, if
    any), cache reads at input + cache-read coefficient, and so on. Algebraically the same sum as
    ``_total_cost``."""

    def std(name: str) -> pl.Expr:
        return pl.col(STANDARD[name])

    c_input, c_output = std("_c_input"), std("_c_output")
    uncached = pl.col("input_tokens") - pl.col("_p_cache_read") - pl.col("_p_cache_write")
    return {
        "cost_input_usd": _request_fees(n, STANDARD["_c_request"]) + _tokens(uncached) * c_input,
        "cost_cache_read_usd": _tokens("_p_cache_read") * (c_input + std("_c_cache_read")),
        "cost_cache_write_usd": _tokens("_p_cache_write_5m") * (c_input + std("_c_cache_write_5m"))
        + _tokens("_p_cache_write_1h") * (c_input + std("_c_cache_write_1h")),
        "cost_output_usd": _tokens(pl.col("output_tokens") - pl.col("_p_reasoning")) * c_output
        + _tokens("_p_reasoning") * (c_output + std("_c_reasoning")),
        "cost_modifier_usd": _total_cost(n) - _total_cost(n, STANDARD.__getitem__),
    }
