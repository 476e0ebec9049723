"""Why a model is unpriced: the reason every list of unpriced models shows (``report`` as a table, JSON
or HTML, ``rows``, ``prices check``).

Rows are unpriced (a null cost, never $0) when they have no model name, when neither the price file nor
genai-prices has a price for their (provider, model), or when that price cannot be applied: genai-prices
fails on it, or a rate is not a finite number or is out of range (``price_checks.PriceProblem``; the
price table leaves such a price out). The reason is found from the (provider, model) alone, so a list
computed from the rows and one read from a rollup table show the same reasons.
"""

from __future__ import annotations

from functools import partial

import polars as pl

from .checks import PriceProblem, price_data_errors
from .memo import PriceMemo
from .overrides import PriceOverrides
from .resolve import _coefficients, _custom_model_price, _model_info, _thresholds, is_priced

NO_MODEL = "no model name"
NOT_IN_FORCE = "no price applies at the time of its requests"
REASON = "reason"  # the column added to unpriced-model lists
ROW_REASON = "unpriced_reason"  # the column added to rows (null when priced)


def reason(provider: str | None, model: str | None, overrides: PriceOverrides | None = None) -> str:
    """Why rows of (provider, model) have no cost: ``no model name``, ``no price in genai-prices`` (``or the
    price file``), ``price error: ...`` (the ``PriceProblem``), or ``no price applies at the time of its
    requests`` (e.g. rows dated before a price file's first ``effective_from``). A function of the price
    data alone (the price memo keeps it)."""
    if not model:
        return NO_MODEL
    if not is_priced(provider, model, overrides):
        problem = _lookup_problem(*(overrides.alias(provider, model) if overrides else (provider, model)))
        if problem:
            return f"price error: {problem}"
        return "no price in genai-prices" + (" or the price file" if overrides else "")
    problem = price_problem(provider, model, overrides)
    return f"price error: {problem}" if problem else NOT_IN_FORCE


def price_problem(provider: str | None, model: str, overrides: PriceOverrides | None = None) -> str | None:
    """The first ``PriceProblem`` among all the prices of a stored (provider, model), after aliases: every
    custom price of the price file, and every dated or time-of-day price genai-prices has, at every tier."""
    lookup_provider, lookup_model = overrides.alias(provider, model) if overrides else (provider, model)
    prices = [
        _custom_model_price(custom)
        for custom in (overrides.prices if overrides else ())
        if custom.model == lookup_model and custom.provider in (lookup_provider, None)
    ]
    found = _model_info(lookup_provider, lookup_model)
    if found is not None:
        listed = found[1].prices
        prices += [getattr(p, "prices", p) for p in (listed if isinstance(listed, list) else [listed])]
    try:
        for model_price in prices:
            with price_data_errors("to read a price's tiers"):
                thresholds = _thresholds(model_price)
            for level in range(len(thresholds) + 1):
                _coefficients(model_price, level, thresholds)
    except PriceProblem as problem:
        return problem.message
    return None


def _lookup_problem(provider: str | None, model: str) -> str | None:
    """What genai-prices raised looking the model up, unless it simply does not know it."""
    from genai_prices import data_snapshot

    try:
        with price_data_errors(f"to look up {model!r}"):
            try:
                data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
            except LookupError:
                return None
    except PriceProblem as problem:
        return problem.message
    return None


def with_reasons(
    unpriced: pl.DataFrame, overrides: PriceOverrides | None = None, memo: PriceMemo | None = None
) -> pl.DataFrame:
    """A list of unpriced models (``provider``, ``model``, ...) with a last column ``reason``. Reasons come
    through the price memo (a report over known models does not load genai-prices): ``memo`` to share
    one, else the memo is loaded and saved here, and only when the list is not empty."""
    if not unpriced.height:
        return unpriced.with_columns(pl.lit(None, dtype=pl.String).alias(REASON))
    own_memo = memo is None
    memo = PriceMemo.load(overrides) if memo is None else memo
    reasons = [
        memo.reason(provider, model, partial(reason, provider, model, overrides))
        for provider, model in unpriced.select("provider", "model").iter_rows()
    ]
    if own_memo:
        memo.save()
    return unpriced.with_columns(pl.Series(REASON, reasons, dtype=pl.String))


def with_row_reasons(rows: pl.DataFrame, overrides: PriceOverrides | None = None) -> pl.DataFrame:
    """Priced rows (``cost_usd``) with a last column ``unpriced_reason``: null when the row has a cost."""
    unpriced = rows.filter(pl.col("cost_usd").is_null()).select("provider", "model").unique()
    reasons = with_reasons(unpriced, overrides).rename({REASON: ROW_REASON})
    return rows.join(
        reasons, on=["provider", "model"], how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(pl.when(pl.col("cost_usd").is_null()).then(pl.col(ROW_REASON)).alias(ROW_REASON))
