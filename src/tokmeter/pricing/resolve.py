"""Cost: prices from the ``genai-prices`` package data (offline) and an optional price file, at each
request's timestamp.

Vectorized and exact. Within one price (a model's prices in force at a moment) and one context tier,
genai-prices' cost is linear in the token counts: it splits usage into leaf counts by subtraction
(input minus cache reads minus cache writes, output minus reasoning, ...) and multiplies each by a
rate. So tokmeter resolves each distinct (provider, model, price period, tier) once, asks
genai-prices itself for the cost of a few probe usages, derives one coefficient per token column from
them, and prices every row with a join and a sum of products in polars ``Decimal(38, 24)``. No Python
runs per row, and each row's cost equals ``genai_prices.calc_price`` for that row: exactly when the
price data has at most 18 decimal places per million tokens (all of genai-prices 0.2.5 has), else to
1e-12 USD (``price_checks`` gives the rounding and the bounds; ``tests/test_pricing.py`` and
``tests/test_price_data.py`` check it over thousands of rows and every price genai-prices has).

Price data never raises here: a price that cannot be applied (genai-prices fails on it, or a rate is not
finite or out of range) is a ``price_checks.PriceProblem``, and ``build_price_table`` leaves it out, so
its rows are unpriced (``unpriced.reason`` says why).

Overrides (``price_overrides.PriceOverrides``) enter the same table: an alias changes the model a
stored (provider, model) is looked up as; a custom price in force on the row's UTC date is built as
a genai-prices ``ModelPrice`` and probed the same way (it wins over genai-prices); a discount
multiplies every coefficient of that price by (1 - percent/100), rounded to 24 decimal places.

Modifiers (``price_modifiers``): the row's ``service_tier`` and ``speed`` are part of its price key; a
tier or fast mode with a multiplier scales the coefficients (before the discount), one with explicit
rates replaces the price, one without an entry is priced at standard rates and flagged
(``_modifier_unknown``). The table also keeps the standard coefficients (``STANDARD``), so the cost
breakdown can show the modifier's share (``cost_modifier_usd``).

A model without a price gets a null cost (unpriced), never $0.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import polars as pl

from ..schema import SUBSET_TOKENS
from . import modifiers as price_modifiers
from .checks import WIDE, PriceProblem, checked, price_data_errors, rounded
from .costs import (
    PRICE_KEY,
)
from .overrides import RATE_KEYS, CustomPrice, Modifier, PriceOverrides

if TYPE_CHECKING:
    from genai_prices import Usage

DAY_KEY = [c for c in PRICE_KEY if c != "_price_minute"]  # what a price depends on but the time of day


def genai_usage(row: dict[str, Any]) -> Usage:
    """A usage row as the ``genai_prices.Usage`` it is priced as: every key explicit (so genai-prices
    never has to infer one), and subsets capped at what contains them. A provider that reports more
    reasoning than output (it happens) has the excess priced as output, not rejected. An unknown (null)
    subset is priced as 0, as genai-prices prices an absent field."""
    from genai_prices import Usage

    cache_read = min(row["cache_read_tokens"] or 0, row["input_tokens"])
    cache_write = min(row["cache_write_tokens"] or 0, row["input_tokens"] - cache_read)
    cache_write_1h = min(row["cache_write_1h_tokens"] or 0, cache_write)
    return Usage(
        input_tokens=row["input_tokens"],
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_5m_tokens=cache_write - cache_write_1h,
        cache_write_1h_tokens=cache_write_1h,
        output_tokens=row["output_tokens"],
        output_reasoning_tokens=min(row["reasoning_tokens"] or 0, row["output_tokens"]),
    )


def _capped_columns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The same caps as ``genai_usage``, as columns; an unknown (null) subset is 0 here, as there
    (``min_horizontal`` would skip a null and take the whole)."""
    known = {c: pl.col(c).fill_null(0) for c in SUBSET_TOKENS}
    cache_read = pl.min_horizontal(known["cache_read_tokens"], "input_tokens")
    lf = lf.with_columns(_p_cache_read=cache_read)
    cache_write = pl.min_horizontal(
        known["cache_write_tokens"], pl.col("input_tokens") - pl.col("_p_cache_read")
    )
    lf = lf.with_columns(_p_cache_write=cache_write)
    cache_write_1h = pl.min_horizontal(known["cache_write_1h_tokens"], "_p_cache_write")
    return lf.with_columns(
        _p_cache_write_1h=cache_write_1h,
        _p_cache_write_5m=pl.col("_p_cache_write") - cache_write_1h,
        _p_reasoning=pl.min_horizontal(known["reasoning_tokens"], "output_tokens"),
    )


def price_data(overrides: PriceOverrides | None = None) -> dict[str, str | None]:
    """Which price data produced a cost: the genai-prices version, and the price file (path and
    sha256 of its content) or None. Reports and exports record this next to their figures."""
    return {
        "genai_prices": _genai_prices_version(),
        "modifiers": price_modifiers.VERSION,
        "overrides": overrides.label if overrides else None,
    }


def price_data_version(overrides: PriceOverrides | None = None) -> str:
    """``price_data`` as one line, e.g. ``genai-prices 0.2.3 + prices.toml sha256:...``."""
    data = price_data(overrides)
    text = f"genai-prices {data['genai_prices']} + modifiers {data['modifiers']}"
    return f"{text} + {data['overrides']}" if data["overrides"] else text


def genai_prices_files() -> str:
    """A digest of genai-prices' files (name, size, mtime): its price data can change under one version (an
    editable install, a patched copy), so what was priced with the old data (the price memo, a rollup
    table) must not answer for the new. Found without importing it."""
    import importlib.util  # start-up time: only to find it

    spec = importlib.util.find_spec("genai_prices")
    digest = hashlib.sha256()
    for folder in (spec and spec.submodule_search_locations) or ():
        for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
            if entry.is_file():
                info = entry.stat()
                digest.update(f"{entry.path} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _genai_prices_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


# ---- resolving prices ------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _model_info(provider: str | None, model: str) -> tuple[Any, Any] | None:
    """(provider, ModelInfo) from genai-prices, or None when it does not know the pair."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        return snapshot.find_provider_model(model, None, provider, None)
    except Exception:  # noqa: BLE001 - LookupError: unknown; anything else: price data we cannot use
        return None


def _has_time_of_day_prices(info: Any) -> bool:
    from genai_prices.types import TimeOfDateConstraint

    prices = info.prices
    return isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices)


def _thresholds(model_price: Any) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices

    starts = {
        tier.start
        for value in vars(model_price).values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    }
    return tuple(sorted(starts))


def is_priced(provider: str | None, model: str | None, overrides: PriceOverrides | None = None) -> bool:
    """Whether the model has a price: a custom one (after aliases) or genai-prices'."""
    if not model:
        return False
    lookup_provider, lookup_model = overrides.alias(provider, model) if overrides else (provider, model)
    if overrides and overrides.has_custom_price(lookup_provider, lookup_model):
        return True
    return _model_info(lookup_provider, lookup_model) is not None


def model_id(provider: str | None, model: str, overrides: PriceOverrides | None = None) -> str | None:
    """The genai-prices id of the model a stored (provider, model) is priced as (after aliases), e.g.
    ``gpt-4o`` for a dated snapshot that genai-prices matches to it; None when genai-prices does not know
    it. What ``reconcile`` matches a bill's model names by."""
    found = _model_info(*overrides.alias(provider, model)) if overrides else _model_info(provider, model)
    return None if found is None else str(found[1].id)


def is_priced_by_minute(provider: str | None, model: str, overrides: PriceOverrides | None) -> bool:
    """Whether the genai-prices price of this (aliased) model depends on the time of day."""
    found = _model_info(*overrides.alias(provider, model)) if overrides else _model_info(provider, model)
    return found is not None and _has_time_of_day_prices(found[1])


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    """The price in force for one model at one moment, where it comes from, and its discount. The dates
    and schedule are filled in only when resolved with ``describe=True`` (they are for people)."""

    priced_as: str  # "openai:gpt-4o" (genai-prices) or "custom:house-llm" (price file), "-15%" if discounted
    source: str  # "genai-prices 0.2.3" or the price file's label
    model_price: Any  # a genai_prices ModelPrice (custom prices are built as one)
    thresholds: tuple[int, ...]  # context tiers: input token counts above which a tier applies
    effective_from: date | None = None  # None: from the start of the data
    until: date | None = None  # the date the next price starts (exclusive), None: no change known
    schedule: str | None = None  # for time-of-day prices: "daily 00:30-16:30 UTC" or "outside daily ..."
    discount: Decimal = Decimal(0)  # percent off
    discount_key: str | None = None  # "model gpt-4o" or "provider openai"
    modifier: price_modifiers.Applied | None = None  # the row's service tier / fast mode, if not standard
    standard: ResolvedPrice | None = None  # with a modifier: the price without it

    def coefficients(self, level: int) -> dict[str, Decimal]:
        coefficients = _coefficients(self.model_price, level, self.thresholds)
        if self.modifier is not None:
            coefficients = price_modifiers.scaled(coefficients, self.modifier.multiplier)
        return _discounted(coefficients, self.discount)

    def standard_coefficients(self, level: int) -> dict[str, Decimal]:
        """The coefficients without the modifier (explicit rates have no context tiers: the base one's)."""
        price = self.standard or self
        return price.coefficients(min(level, len(price.thresholds)))


def resolve(
    provider: str | None,
    model: str | None,
    at: datetime,
    overrides: PriceOverrides | None = None,
    *,
    describe: bool = False,
    service_tier: str | None = None,
    speed: str | None = None,
) -> ResolvedPrice | None:
    """The price in force for a stored (provider, model) at a moment (None: unpriced). Aliases are
    applied first; a custom price in force wins over genai-prices; then the discount, then the modifiers
    of ``service_tier`` and ``speed``. ``describe`` also finds since when the price is in force, until
    when, and its time-of-day window."""
    if not model:
        return None
    lookup = overrides.alias(provider, model) if overrides else (provider, model)
    found = _base_price(*lookup, at, overrides, describe)
    if found is None:
        return None
    price, priced_provider, priced_model = found
    names = ((provider, lookup[0], priced_provider), (model, lookup[1], priced_model))
    if overrides is not None:
        if describe:
            changes = [
                d for d in (price.until, overrides.next_change(*lookup, at.astimezone(UTC).date())) if d
            ]
            price = replace(price, until=min(changes, default=None))
        percent, key = overrides.discount(*names)
        if percent:
            label = f"{price.priced_as} -{percent.normalize():f}%"
            price = replace(price, discount=percent, discount_key=key, priced_as=label)
    return _modified(price, names, service_tier, speed, at, overrides)


def _modified(
    price: ResolvedPrice,
    names: tuple[tuple[str | None, ...], tuple[str | None, ...]],
    service_tier: str | None,
    speed: str | None,
    at: datetime,
    overrides: PriceOverrides | None,
) -> ResolvedPrice:
    """The price with the modifiers of a service tier and speed (``price_modifiers``)."""
    found = price_modifiers.applied(*names, service_tier, speed, at.astimezone(UTC).date(), overrides)
    if found is None:
        return price
    modified = replace(price, modifier=found, standard=price, priced_as=f"{price.priced_as} {found.label}")
    if found.rates is not None:
        modified = replace(modified, model_price=_rates_model_price(found.rates), thresholds=())
    return modified


def _rates_model_price(modifier: Modifier) -> Any:  # a genai_prices ModelPrice
    rates = dict(modifier.rates)
    return _custom_model_price(
        CustomPrice(
            model="",
            provider=None,
            effective_from=None,
            input=rates["input"],
            output=rates["output"],
            cache_read=rates.get("cache_read"),
            cache_write=rates.get("cache_write"),
            cache_write_1h=rates.get("cache_write_1h"),
        )
    )


def _base_price(
    provider: str | None, model: str, at: datetime, overrides: PriceOverrides | None, describe: bool
) -> tuple[ResolvedPrice, str | None, str] | None:
    """The custom price in force, else genai-prices', before any discount, with the (provider, model)
    that priced it."""
    custom = overrides.custom_price(provider, model, at.astimezone(UTC).date()) if overrides else None
    if custom is not None and overrides is not None:
        price = ResolvedPrice(
            priced_as=f"custom:{custom.model}",
            source=overrides.label,
            model_price=_custom_model_price(custom),
            thresholds=(),
            effective_from=custom.effective_from,
        )
        return price, custom.provider, custom.model
    found = _model_info(provider, model)
    if found is None:
        return None
    info = found[1]
    with price_data_errors(f"to find the price of {found[0].id}:{info.id} at {at:%Y-%m-%d %H:%M}"):
        model_price = info.get_prices(at)
        thresholds = _thresholds(model_price)
    source = f"genai-prices {_genai_prices_version()}"
    price = ResolvedPrice(
        priced_as=f"{found[0].id}:{info.id}", source=source, model_price=model_price, thresholds=thresholds
    )
    if describe:
        with price_data_errors(f"to find when the price of {found[0].id}:{info.id} is in force"):
            price = _described(price, info, at)
    return price, found[0].id, info.id


def _described(price: ResolvedPrice, info: Any, at: datetime) -> ResolvedPrice:
    """A genai-prices price with the dated (or time-of-day) condition that selected it at ``at``."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    conditions = [p.constraint for p in info.prices] if isinstance(info.prices, list) else []
    active = next((c for c in reversed(conditions) if c is None or c.active(at)), None)
    starts = [c.start_date for c in conditions if isinstance(c, StartDateConstraint)]
    windows = ", ".join(
        f"{c.start_time:%H:%M}-{c.end_time:%H:%M}" for c in conditions if isinstance(c, TimeOfDateConstraint)
    )
    inside = isinstance(active, TimeOfDateConstraint)
    day = at.astimezone(UTC).date()
    return replace(
        price,
        effective_from=active.start_date if isinstance(active, StartDateConstraint) else None,
        until=min((d for d in starts if d > day), default=None),
        schedule=(f"{'daily' if inside else 'outside daily'} {windows} UTC") if windows else None,
    )


@lru_cache(maxsize=1024)
def _custom_model_price(custom: CustomPrice) -> Any:  # a genai_prices ModelPrice, imported lazily
    """A custom price as a genai-prices ``ModelPrice``: priced with the same arithmetic and fallbacks."""
    from genai_prices.types import ModelPrice

    rates = {f"{name}_mtok": getattr(custom, name) for name in RATE_KEYS}
    return ModelPrice(**{key: rate for key, rate in rates.items() if rate is not None})


def _discounted(coefficients: dict[str, Decimal], percent: Decimal) -> dict[str, Decimal]:
    """Coefficients times (1 - percent/100), rounded half-even to 24 decimal places (1e-24 USD)."""
    if not percent:
        return coefficients
    with localcontext(prec=WIDE):
        factor = 1 - percent / 100
        return {name: rounded(value * factor) for name, value in coefficients.items()}


_COEFFICIENT_CACHE: dict[tuple[int, int], tuple[Any, dict[str, Decimal] | PriceProblem]] = {}


def _coefficients(model_price: Any, level: int, thresholds: tuple[int, ...]) -> dict[str, Decimal]:
    """Per-token coefficients (and the per-request constant ``_c_request``) for one price and tier
    level, measured with genai-prices' own arithmetic on probe usages inside that tier, checked and kept
    at 24 decimal places (``price_checks``). Raises ``PriceProblem`` when the price cannot be applied."""
    key = (id(model_price), level)
    cached = _COEFFICIENT_CACHE.get(key)
    if cached is None or cached[0] is not model_price:
        try:
            result: dict[str, Decimal] | PriceProblem = _probe(model_price, level, thresholds)
        except PriceProblem as problem:
            result = problem
        cached = (model_price, result)
        _COEFFICIENT_CACHE[key] = cached  # holding the object keeps its id unique
    if isinstance(cached[1], PriceProblem):
        raise cached[1]
    return cached[1]


def _probe(model_price: Any, level: int, thresholds: tuple[int, ...]) -> dict[str, Decimal]:
    from genai_prices import Usage

    t = thresholds[level - 1] + 1 if level else 1

    def cost(**extra: int) -> Decimal:  # in the caller's decimal context: calc_price's own arithmetic
        counts = dict(
            input_tokens=t,
            cache_read_tokens=0,
            cache_write_tokens=0,
            cache_write_5m_tokens=0,
            cache_write_1h_tokens=0,
            output_tokens=0,
            output_reasoning_tokens=0,
        )
        counts.update(extra)
        return model_price.calc_price(Usage(**counts))["total_price"]

    with price_data_errors(f"to price a probe usage of {t:,} input tokens"):
        base, more_input, output = cost(), cost(input_tokens=t + 1), cost(output_tokens=1)
        probes = {
            "_c_cache_read": cost(cache_read_tokens=1),
            "_c_cache_write_5m": cost(cache_write_tokens=1, cache_write_5m_tokens=1),
            "_c_cache_write_1h": cost(cache_write_tokens=1, cache_write_1h_tokens=1),
            "_c_reasoning": cost(output_tokens=1, output_reasoning_tokens=1),
        }
        with localcontext(prec=WIDE):  # differences of exact decimals: exact
            per_input, per_output = more_input - base, output - base
            coefficients = {
                "_c_request": base - per_input * t,
                "_c_input": per_input,
                "_c_output": per_output,
                **{name: value - base for name, value in probes.items()},
            }
            coefficients["_c_reasoning"] -= per_output
    return checked(coefficients)
