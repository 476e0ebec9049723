"""Which copy of a request to keep. Pure LazyFrame functions, and ``best_rows``: the same choice as a
mask over the frame a commit holds (the store's edge, where it is collected), used on every commit.

Preference, in order: complete over incomplete, reported usage over estimated over missing, 2xx (or
unknown) status over others, the copy that knows more token columns (fewer nulls: a token log's copy
has no reasoning count, a full response's has), latest timestamp. Remaining ties are broken by the
larger token total, then the smaller (source, source_offset), so the choice never depends on the order
of ingestion.
"""

from __future__ import annotations

import polars as pl

from ..schema import TOKEN_COLUMNS

RANK_KEYS = ("_r_complete", "_r_usage", "_r_ok", "_r_known", "timestamp", "_r_tokens")
_HELPERS = ("_r_complete", "_r_usage", "_r_ok", "_r_known", "_r_tokens")


def rank_columns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the helper columns that ``best_per_request`` sorts on (all: larger is better)."""
    return lf.with_columns(
        _r_complete=pl.col("complete").fill_null(False),
        _r_usage=pl.col("usage_source").replace_strict(
            {"reported": 2, "estimated": 1, "missing": 0}, default=0, return_dtype=pl.Int8
        ),
        _r_ok=pl.col("status").is_null() | pl.col("status").is_between(200, 299),
        _r_known=pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int8) for c in TOKEN_COLUMNS),
        _r_tokens=pl.sum_horizontal(TOKEN_COLUMNS),  # nulls count as 0
    )


def sort_best_first(
    lf: pl.LazyFrame, *, prefer: str | None = None, maintain_order: bool = False
) -> pl.LazyFrame:
    """Sort so the preferred copy of each request comes first. ``prefer`` names a boolean column that
    wins full ties (used to keep the stored copy when an identical one is ingested again)."""
    keys = [*RANK_KEYS, "source", "source_offset"]
    descending = [True] * len(RANK_KEYS) + [False, False]
    if prefer is not None:
        keys.append(prefer)
        descending.append(True)
    return rank_columns(lf).sort(keys, descending=descending, nulls_last=True, maintain_order=maintain_order)


def best_per_request(lf: pl.LazyFrame, *, prefer: str | None = None) -> pl.LazyFrame:
    """One row per request_id: the preferred copy."""
    return (
        sort_best_first(lf, prefer=prefer)
        .unique(subset="request_id", keep="first", maintain_order=True)
        .drop(_HELPERS)
    )


def best_rows(frame: pl.DataFrame, *, prefer: str | None = None) -> pl.Series | None:
    """Which rows of ``frame`` ``best_per_request`` keeps, as a mask (None: every row, no request id
    repeats). Only the rows whose request id repeats are ranked, and the frame is neither sorted nor
    copied: sorting a commit's every column to drop a few copies doubled an ingest's memory. Of copies
    that tie on every rank key, the first in ``frame`` is kept."""
    repeats = frame.get_column("request_id").is_duplicated()
    if not repeats.any():
        return None
    copies = (
        frame.lazy()
        .with_row_index("_row")
        .filter(repeats)
        .with_columns(pl.col(pl.Categorical).cast(pl.String))
    )
    ranked = sort_best_first(copies, prefer=prefer, maintain_order=True)
    best = ranked.unique(subset="request_id", keep="first").select("_row").collect().to_series()
    return (~repeats).scatter(best, True)


def best_nearby(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per request id among its copies at most a day apart (the hive ``date``), the rule a local
    store applies at commit, for a store whose writers do not coordinate (``remote_store``): a copy is
    kept when it is the preferred copy of its date and preferred to the best copy of the day before and
    of the day after. Copies further apart are not matched. Deciding for the rows of days first..last
    needs only the rows of first-1..last+1, so every reader (a report over all days, a rollup of one
    period, Spark over a span) gets the same rows.

    A request id read once is kept as it is (it is the best of its date and has no neighbour); only the
    ids read more than once are ranked, which makes a read of mostly distinct requests several times
    faster (1.7M rows: 2.7 s instead of 9.3 s)."""
    copies = lf.with_columns(_copies=pl.len().over("request_id"))
    once = copies.filter(pl.col("_copies") == 1).drop("_copies")
    several = _best_of_copies(copies.filter(pl.col("_copies") > 1).drop("_copies"))
    return pl.concat([once, several])


def _best_of_copies(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``best_nearby`` of rows whose request ids may have several copies."""
    keys = ["request_id", "date"]
    ranked = sort_best_first(lf).with_columns(_ord=pl.col("request_id").cum_count().over("request_id"))
    best = ranked.group_by(keys).agg(pl.col("_ord").min().alias("_best"))
    before = best.with_columns(pl.col("date").dt.offset_by("1d")).rename({"_best": "_before"})
    after = best.with_columns(pl.col("date").dt.offset_by("-1d")).rename({"_best": "_after"})
    kept = (
        ranked.join(best, on=keys)
        .join(before, on=keys, how="left")
        .join(after, on=keys, how="left")
        .filter(
            (pl.col("_ord") == pl.col("_best"))
            & (pl.col("_before").is_null() | (pl.col("_ord") < pl.col("_before")))
            & (pl.col("_after").is_null() | (pl.col("_ord") < pl.col("_after")))
        )
    )
    return kept.drop("_ord", "_best", "_before", "_after", *_HELPERS)


def usage_signature() -> pl.Expr:
    """An expression that differs between two copies when their usage differs (null from 0 too)."""
    return pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in (*TOKEN_COLUMNS, "usage_source")], separator="|"
    )
