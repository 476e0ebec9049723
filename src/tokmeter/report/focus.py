"""The FOCUS export (FinOps Open Cost and Usage Specification 1.2): one row per charge period (a day in
the report's ``--tz``, or the week or month ``--by`` asks for), provider, model, tagged dimensions and
token kind, with the columns FOCUS makes mandatory and those a token meter can fill.

Token kinds are priced at their own rates (``--cost-breakdown``): uncached input (with any per-request
fee), cache reads, cache writes, output (reasoning included); what a service tier or fast mode added or
saved is one ``Adjustment`` row per group (no quantity). Summed, BilledCost is the report's cost exactly.
A group without a price has cost 0 and ``x_Unpriced`` true (FOCUS costs are never null).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ..pricing.costs import COST_DTYPE
from ..pricing.groups import priced_groups
from ..pricing.overrides import PriceOverrides
from ..rollup import TIME_DIMENSIONS
from ..rollup.spec import RollupSpec, with_period
from ..rollup.transforms import group_usage
from ..store.protocol import StoreBackend
from .queries import Filters, check_dims

FOCUS_VERSION = "1.2"
DEFAULT_TAGS = ("user",)
# token kind -> (quantity, cost column)
KINDS = {
    "input": (
        pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens"),
        "cost_input_usd",
    ),
    "cache_read": (pl.col("cache_read_tokens"), "cost_cache_read_usd"),
    "cache_write": (pl.col("cache_write_tokens"), "cost_cache_write_usd"),
    "output": (pl.col("output_tokens"), "cost_output_usd"),
}
STEP = {"day": "1d", "week": "1w", "month": "1mo"}
FOCUS_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit",
    "InvoiceIssuerName", "ProviderName", "PublisherName", "ServiceCategory", "ServiceSubcategory",
    "ServiceName", "SkuId", "SkuPriceId", "Tags", "x_Unpriced",
)  # fmt: skip


def focus_dims(dims: Sequence[str]) -> tuple[str, list[str]]:
    """(the charge period, the dimensions that become tags) of a report's ``--by``."""
    checked = check_dims(dims)
    periods = [d for d in checked if d in TIME_DIMENSIONS]
    tags = [d for d in checked if d not in TIME_DIMENSIONS and d not in ("provider", "model")]
    finest = min(periods, key=TIME_DIMENSIONS.index, default="day")  # day, week, month: the finest asked for
    return finest, (tags if dims else list(DEFAULT_TAGS))


def build_focus(
    store: StoreBackend, dims: Sequence[str], filters: Filters, overrides: PriceOverrides | None = None
) -> pl.DataFrame:
    """The FOCUS rows of the usage ``filters`` selects (see the module docstring)."""
    period, tags = focus_dims(dims)
    filters.check()
    keys = ["period", "provider", "model", *tags]
    with store.reading():
        spec = RollupSpec(period, (), filters.tz, filters.week_start)
        rows = with_period(filters.rows(store, tags), spec)
        groups = priced_groups(rows, keys, overrides, breakdown=True)
        usage = group_usage(groups, keys, breakdown=True).collect()
    return focus_frame(usage.lazy(), period, tags, filters.tz).collect()


def focus_frame(usage: pl.LazyFrame, period: str, tags: Sequence[str], tz: str) -> pl.LazyFrame:
    """Report rows with the cost breakdown, per ``period`` (a local Date) x provider x model x ``tags``
    -> FOCUS rows."""
    usage = usage.with_columns(
        *(pl.col(c).fill_null(0) for c in ("cache_read_tokens", "cache_write_tokens")),
        pl.col("provider", "model").fill_null("(unknown)"),  # a SKU of a row without a model is still one
    )
    parts = [_kind_rows(usage, kind, quantity, cost) for kind, (quantity, cost) in KINDS.items()]
    parts.append(_modifier_rows(usage))
    return _common(pl.concat(parts, how="diagonal_relaxed"), period, tags, tz).select(FOCUS_COLUMNS)


def _kind_rows(usage: pl.LazyFrame, kind: str, quantity: pl.Expr, cost: str) -> pl.LazyFrame:
    return (
        usage.with_columns(
            _quantity=quantity.cast(pl.Decimal(38, 0)),
            _cost=pl.col(cost),
            _kind=pl.lit(kind),
            ChargeCategory=pl.lit("Usage"),
        )
        .filter((pl.col("_quantity") != 0) | (pl.col("_cost").fill_null(0) != 0))
        .with_columns(
            SkuPriceId=pl.format("{}/{}/{}", "provider", "model", "_kind"),
            ChargeDescription=pl.format("{} {} tokens", "model", pl.lit(kind.replace("_", " "))),
        )
    )


def _modifier_rows(usage: pl.LazyFrame) -> pl.LazyFrame:
    return usage.filter(pl.col("cost_modifier_usd").fill_null(0) != 0).with_columns(
        _quantity=pl.lit(None, pl.Decimal(38, 0)),
        _cost=pl.col("cost_modifier_usd"),
        _kind=pl.lit("modifier"),
        ChargeCategory=pl.lit("Adjustment"),
        SkuPriceId=pl.lit(None, pl.String),
        ChargeDescription=pl.format("{} service tier or speed (priced above or below standard)", "model"),
    )


def _utc(local: pl.Expr, tz: str) -> pl.Expr:
    """A local Date's midnight in ``tz``, as a UTC instant."""
    return local.cast(pl.Datetime("us")).dt.replace_time_zone(tz).dt.convert_time_zone("UTC")


def _common(lf: pl.LazyFrame, period: str, tags: Sequence[str], tz: str) -> pl.LazyFrame:
    cost = pl.col("_cost").fill_null(0).cast(COST_DTYPE)
    start = _utc(pl.col("period"), tz)
    month = start.dt.truncate("1mo")
    tag_doc = pl.struct(*tags).struct.json_encode() if tags else pl.lit("{}")
    return lf.with_columns(
        BilledCost=cost,
        EffectiveCost=cost,
        ListCost=cost,
        ContractedCost=cost,
        BillingCurrency=pl.lit("USD"),
        BillingAccountId=pl.col("provider").fill_null("(unknown)"),
        BillingAccountName=pl.lit(None, pl.String),
        BillingPeriodStart=month,
        BillingPeriodEnd=month.dt.offset_by("1mo"),
        ChargePeriodStart=start,
        ChargePeriodEnd=_utc(pl.col("period").dt.offset_by(STEP[period]), tz),
        ChargeClass=pl.lit(None, pl.String),
        ChargeFrequency=pl.lit("Usage-Based"),
        ConsumedQuantity=pl.col("_quantity"),
        ConsumedUnit=pl.when(pl.col("_quantity").is_not_null()).then(pl.lit("Tokens")),
        PricingQuantity=pl.col("_quantity"),
        PricingUnit=pl.when(pl.col("_quantity").is_not_null()).then(pl.lit("Tokens")),
        InvoiceIssuerName=pl.col("provider").fill_null("(unknown)"),
        ProviderName=pl.col("provider").fill_null("(unknown)"),
        PublisherName=pl.col("provider").fill_null("(unknown)"),
        ServiceCategory=pl.lit("AI and Machine Learning"),
        ServiceSubcategory=pl.lit("Generative AI"),
        ServiceName=pl.format("{} API", pl.col("provider").fill_null("(unknown)")),
        SkuId=pl.format("{}/{}/{}", "provider", "model", "_kind"),
        Tags=tag_doc,
        x_Unpriced=pl.col("_cost").is_null(),
    ).sort("ChargePeriodStart", "ProviderName", "SkuId", "Tags", nulls_last=True)


def focus_for_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """Date/times as FOCUS writes them in text (``YYYY-MM-DDTHH:mm:ssZ``), token counts as integers."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.col("ConsumedQuantity", "PricingQuantity").cast(pl.Int64),
    )
