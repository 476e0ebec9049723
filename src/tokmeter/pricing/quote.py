"""One model's price, as ``tokmeter prices show`` presents it: what a stored (provider, model) is priced
as at a moment, where that price comes from and since when, its discount, and its rates per context tier.

The rates are derived from the very coefficients that price the rows (``pricing.ResolvedPrice``), so
what is shown is what is charged, discount (and, for a given service tier or speed, modifier) included.
The modifiers known for the model (``price_modifiers``) are listed with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .overrides import MODIFIED_SPEEDS, MODIFIED_TIERS, PriceOverrides
from .resolve import ResolvedPrice, resolve

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class TierRates:
    """USD per million tokens of each kind above ``above`` input tokens (None: the base tier)."""

    above: int | None
    per_million: dict[str, Decimal]
    per_request: Decimal


@dataclass(frozen=True, slots=True)
class PriceQuote:
    provider: str | None
    model: str
    at: datetime
    alias: tuple[str | None, str] | None  # the (provider, model) looked up, when an alias applied
    price: ResolvedPrice
    tiers: list[TierRates]
    modifiers: list[tuple[str, str]]  # (what a tier or speed does, its source) for those known for the model


def quote(
    provider: str | None,
    model: str,
    at: datetime,
    overrides: PriceOverrides | None = None,
    *,
    service_tier: str | None = None,
    speed: str | None = None,
) -> PriceQuote | None:
    """The price that applies to ``model`` (as stored, from ``provider``) at ``at``, served at
    ``service_tier`` and ``speed`` (None: standard); None: unpriced."""
    price = resolve(provider, model, at, overrides, describe=True, service_tier=service_tier, speed=speed)
    if price is None:
        return None
    looked_up = overrides.alias(provider, model) if overrides else (provider, model)
    return PriceQuote(
        provider,
        model,
        at,
        looked_up if looked_up != (provider, model) else None,
        price,
        tier_rates(price),
        known_modifiers(provider, model, at, overrides),
    )


def known_modifiers(
    provider: str | None, model: str, at: datetime, overrides: PriceOverrides | None
) -> list[tuple[str, str]]:
    """What each service tier and fast mode does to the model's price at ``at``, with the source; the
    tiers and speeds without a known rate are left out."""
    wanted = [(tier, None) for tier in MODIFIED_TIERS] + [(None, speed) for speed in MODIFIED_SPEEDS]
    out = []
    for tier, speed in wanted:
        price = resolve(provider, model, at, overrides, service_tier=tier, speed=speed)
        if price is not None and price.modifier is not None and price.modifier.known:
            out.append((price.modifier.label, price.modifier.used[0].source))
    return out


def tier_rates(price: ResolvedPrice) -> list[TierRates]:
    """The rates a resolved price charges, per context tier. Cache and reasoning coefficients are
    differences from the input / output rate (those tokens are subsets), so they are added back."""
    out = []
    for level in range(len(price.thresholds) + 1):
        c = price.coefficients(level)
        rates = {
            "input": c["_c_input"],
            "cache read": c["_c_input"] + c["_c_cache_read"],
            "cache write 5m": c["_c_input"] + c["_c_cache_write_5m"],
            "cache write 1h": c["_c_input"] + c["_c_cache_write_1h"],
            "output": c["_c_output"],
            "reasoning": c["_c_output"] + c["_c_reasoning"],
        }
        out.append(
            TierRates(
                price.thresholds[level - 1] if level else None,
                {kind: _plain(rate * _MILLION) for kind, rate in rates.items()},
                _plain(c["_c_request"]),
            )
        )
    return out


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent notation (``1E+1`` -> ``10``)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal
