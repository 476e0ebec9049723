"""Facts derived from the price data that the price memo (``memo``) keeps between runs: the context-tier
thresholds that exist, and whether one price is in force over a span of days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from .checks import PriceProblem, price_data_errors
from .modifiers import changes_between
from .overrides import PriceOverrides
from .resolve import _model_info, _thresholds
from .table import applicable


@lru_cache(maxsize=1)
def tier_cuts() -> tuple[int, ...]:
    """Every context-tier threshold in the genai-prices data (custom prices have none). A price whose tiers
    cannot be read is skipped: resolving it fails the same way, so it prices nothing (``PriceProblem``)."""
    from genai_prices import data_snapshot

    starts: set[int] = set()
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            for price in model.prices if isinstance(model.prices, list) else [model.prices]:
                try:
                    with price_data_errors("to read a price's tiers"):
                        starts |= set(_thresholds(getattr(price, "prices", price)))
                except PriceProblem:
                    continue
    return tuple(sorted(starts))


def same_price(
    provider: str | None, model: str, first: date, last: date, overrides: PriceOverrides | None
) -> bool:
    """Whether one price (same rates, same discount, same modifiers) is in force on every UTC day from first
    to last (a price that cannot be applied counts as no price, as in the price table)."""
    lookup = overrides.alias(provider, model) if overrides else (provider, model)
    found = _model_info(*lookup)
    priced = (found[0].id, found[1].id) if found else (None, None)
    if changes_between(
        (provider, lookup[0], priced[0]), (model, lookup[1], priced[1]), first, last, overrides
    ):
        return False
    day = first
    seen = set()
    while day <= last:
        price = applicable(provider, model, datetime.combine(day, time(0), UTC), overrides)
        seen.add(None if price is None else (price.priced_as, id(price.model_price), price.discount))
        if len(seen) > 1:
            return False
        day += timedelta(days=1)
    return True
