"""Both sides of a reconciliation as frames with one row per group, and the two joined: per UTC day,
provider and model (``models.match_key``), and optionally a column both sides carry (``BY``).

The bill side sums its lines (a usage export gives tokens and requests, a cost export costs, by token kind
when it says); a sum of unknowns stays unknown (null), never 0. The metered side is the store's rows of
the bill's providers and days, priced as reports price them (``priced_groups``, with the cost by kind)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from ..attribution import Attribution
from ..attribution.keys import KeyId
from ..pricing.costs import COST_DTYPE
from ..pricing.groups import priced_groups
from ..pricing.overrides import PriceOverrides
from ..report.queries import Filters
from ..rollup.transforms import group_usage, with_periods
from ..store.protocol import StoreBackend
from .models import match_key, model_name
from .registry import KINDS, BillLine

TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
_DIGEST = r"(sha256:[0-9a-f]{12})"
KIND_COSTS = tuple(f"cost_{kind}_usd" for kind in KINDS)  # cost_input_usd: uncached input (and fees)
MEASURES = ("requests", *TOKENS, "cost_usd", *KIND_COSTS)
_BILL_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "provider": pl.String(),
    "model": pl.String(),
    "service_tier": pl.String(),
    "api_key": pl.String(),
    "project": pl.String(),
    "requests": pl.Int64(),
    **{column: pl.Int64() for column in TOKENS},
    "cost_usd": COST_DTYPE,
    "cost_kind": pl.String(),
}


def _known_sum(column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum()).alias(column)


def keyed(frame: pl.DataFrame, overrides: PriceOverrides | None) -> pl.DataFrame:
    """``frame`` with ``key`` and ``model_name`` for its (provider, model) pairs."""
    pairs = frame.select("provider", "model").unique()
    names = pl.DataFrame(
        [(p, m, match_key(p, m, overrides), model_name(p, m, overrides)) for p, m in pairs.iter_rows()],
        schema={"provider": pl.String, "model": pl.String, "key": pl.String, "model_name": pl.String},
        orient="row",
    )
    return frame.join(names, on=["provider", "model"], how="left", nulls_equal=True)


def bill_groups(
    lines: Sequence[BillLine],
    by: Sequence[str],
    overrides: PriceOverrides | None,
    key_ids: Sequence[KeyId] = (),
) -> pl.DataFrame:
    frame = pl.DataFrame(
        [{name: line.get(name) for name in _BILL_SCHEMA} for line in lines], schema=_BILL_SCHEMA
    )
    if "api_key" in by:  # the provider's key id, and the fingerprint's digest it names (else the id)
        ids, digests = [k.provider_key_id for k in key_ids], [k.digest for k in key_ids]
        frame = frame.with_columns(
            api_key_id=pl.col("api_key"),
            api_key=pl.col("api_key").replace_strict(
                ids, digests, default=pl.col("api_key"), return_dtype=pl.String
            ),
        )
    frame = keyed(_tiers(frame, by), overrides).with_columns(
        day=pl.col("day").dt.strftime("%Y-%m-%d"),
        **{f"cost_{k}_usd": pl.when(pl.col("cost_kind") == k).then(pl.col("cost_usd")) for k in KINDS},
    )
    return frame.group_by("day", "provider", "key", *by).agg(
        pl.col("model_name").drop_nulls().sort().first().alias("billed_model"),
        *(_known_sum(c) for c in MEASURES),
        *([pl.col("api_key_id").drop_nulls().unique().sort().str.join(", ")] if "api_key" in by else []),
    )


def _tiers(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Matching by tier: a side that does not say is standard (as pricing takes it)."""
    return frame.with_columns(pl.col("service_tier").fill_null("standard")) if "service_tier" in by else frame


def scope(days: Sequence[date], providers: Sequence[str], attribution: Attribution | None = None) -> Filters:
    return Filters(since=min(days), until=max(days), providers=tuple(providers), attribution=attribution)


def metered_groups(
    store: StoreBackend,
    filters: Filters,
    by: Sequence[str],
    overrides: PriceOverrides | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the metered groups, the rows per provider and UTC day): call under ``store.reading()``."""
    lf = filters.rows(store, by)  # only the date partitions of the bill's days
    dims = list(dict.fromkeys(["day", "provider", "model", "service_tier", *by]))
    groups = priced_groups(with_periods(lf, ["day"]), ["day", *by], overrides, breakdown=True)
    rows = group_usage(groups, dims, breakdown=True).collect().with_columns(pl.col("requests").cast(pl.Int64))
    per_day = rows.group_by("provider", "day").agg(pl.col("requests").sum().alias("rows"))
    measures = [*MEASURES, "estimated_requests", "unpriced_requests"]
    if "api_key" in by:  # matched on the fingerprint's digest (what [[key]] tables name)
        digest = pl.col("api_key").str.extract(_DIGEST, 1)
        rows = rows.with_columns(
            fingerprint=pl.col("api_key"), api_key=pl.coalesce(digest, pl.col("api_key"))
        )
    return (
        keyed(_tiers(rows, by), overrides)
        .group_by("day", "provider", "key", *by)
        .agg(
            pl.col("model_name").drop_nulls().sort().first().alias("metered_model"),
            *([pl.col("fingerprint").drop_nulls().first()] if "api_key" in by else []),
            _tiers_seen(by),
            *(pl.col(c).sum() for c in measures if c != "cost_usd"),
            _known_sum("cost_usd"),
            # the modifier's share (flex, batch, priority) of the metered cost, spread over the kinds
            pl.col("cost_modifier_usd").sum(),
        ),
        per_day.select("provider", "day", "rows"),
    )


def _tiers_seen(by: Sequence[str]) -> pl.Expr:
    """The service tiers a group's rows were served at (for its name: ``gpt-5 (flex)``), unless a key."""
    seen = pl.col("service_tier").drop_nulls().unique().sort().str.join(", ")
    return (pl.lit(None, pl.String) if "service_tier" in by else seen).alias("metered_tiers")


def joined(billed: pl.DataFrame, metered: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """One row per group of either side: ``billed_*`` and ``metered_*`` measures side by side."""
    keys = ["day", "provider", "key", *by]
    left = billed.rename({c: f"billed_{c}" for c in MEASURES}).with_columns(on_bill=pl.lit(True))
    right = metered.rename({c: f"metered_{c}" for c in MEASURES}).with_columns(in_store=pl.lit(True))
    both = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
    return both.with_columns(
        model=pl.coalesce("metered_model", "billed_model", "key"),
        on_bill=pl.col("on_bill").fill_null(False),
        in_store=pl.col("in_store").fill_null(False),
    ).sort(keys, nulls_last=True)


def key_columns(frame: pl.DataFrame, by: Sequence[str], key_ids: Sequence[KeyId]) -> pl.DataFrame:
    """With ``--by api_key``: the key shown by its fingerprint (the store's, else the ``[[key]]`` table's,
    else the bill's id when no table maps it), its provider key ids, and whether the table maps it."""
    if "api_key" not in by:
        return frame
    digests = [k.digest for k in key_ids]
    fingerprints = dict(zip(digests, (k.fingerprint for k in key_ids), strict=True))
    ids: dict[str, list[str]] = {}
    for k in key_ids:
        ids.setdefault(k.digest, []).append(k.provider_key_id)
    mapped = pl.col("api_key").is_in(digests)
    return frame.with_columns(
        api_key=pl.coalesce(
            "fingerprint", pl.col("api_key").replace_strict(fingerprints, default=pl.col("api_key"))
        ),
        api_key_id=pl.coalesce(
            pl.col("api_key_id").replace("", None),
            pl.col("api_key").replace_strict(
                {d: ", ".join(sorted(v)) for d, v in ids.items()}, default=None, return_dtype=pl.String
            ),
        ),
        key_mapped=pl.when(pl.col("api_key").is_not_null()).then(mapped),
    )
