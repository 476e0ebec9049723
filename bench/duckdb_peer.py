"""DuckDB doing what ``tokmeter report --by user --by model`` does, on the same Parquet files (the peer of
the report benchmark; run by ``bench/run.py``, or by hand).

    python bench/duckdb_peer.py STORE tokens                 # group-by: count and token sums
    python bench/duckdb_peer.py STORE cost PRICES.parquet    # the same plus the exact cost

``tokens``: per (user, model): count(*) and the sums of the five report token columns, from
``STORE/usage/date=*/*.parquet`` (hive partitioning). ``cost`` adds ``cost_usd``: each row joined on
(provider, model, UTC date) to a small price table and priced with the same linear formula tokmeter
uses (per-request fee + each token column times its exact coefficient, DECIMAL(38, 18); the 200k-token
context tier chosen by ``input_tokens > threshold``), summed exactly. The price table is made by
``price_table`` below with tokmeter's own pricing code (genai-prices' rates probed per price period),
before the timed run; tokmeter builds its own inside the timed run.

Not done here and done by tokmeter: the totals row and the unpriced-models query (two more passes
over the rows in tokmeter, run together with the group-by), the estimated-requests count, the caps
tokmeter applies to inconsistent subsets (cache reads above input, ...; the generated store has none),
and rendering. Prints one JSON object: groups, totals, seconds inside the query.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path

TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")
PARTS = (
    "c_request",
    "c_input",
    "c_cache_read",
    "c_cache_write_5m",
    "c_cache_write_1h",
    "c_output",
    "c_reasoning",
)


def price_table(store: Path, out: Path) -> int:
    """Write the price table for every (provider, model, date) in the store: the coefficients of tier 0
    and tier 1 and the tier threshold (null: the model has no tier). Returns its row count."""
    import polars as pl

    from tokmeter.pricing.table import build_price_table
    from tokmeter.store.local import Store

    keys = (
        Store(store)
        .scan()
        .select("provider", "model", _price_day=pl.col("date"), _price_minute=pl.lit(0, dtype=pl.Int32))
        .unique()
        .collect()
    )
    table = build_price_table(keys)
    if table["_price_minute"].is_not_null().any():
        raise SystemExit("a model priced by time of day: the DuckDB peer does not model that")
    if table["_thresholds"].list.len().max() > 1:
        raise SystemExit("a model with more than one context tier: the DuckDB peer models one")
    coefficient = pl.Decimal(20, 18)
    tiers = [
        table.filter(pl.col("_tier") == level).select(
            "provider",
            "model",
            pl.col("_price_day").alias("day"),
            *(pl.col(f"_{name}").cast(coefficient).alias(f"t{level}_{name}") for name in PARTS),
            *([pl.col("_thresholds").list.first().alias("threshold")] if level == 0 else []),
        )
        for level in (0, 1)
    ]
    joined = tiers[0].join(tiers[1], on=["provider", "model", "day"], how="left", nulls_equal=True)
    joined.write_parquet(out)
    return joined.height


def _cost(level: int) -> str:
    p = f"p.t{level}_"
    return (
        f"{p}c_request + u.input_tokens * {p}c_input + u.cache_read_tokens * {p}c_cache_read"
        f" + (u.cache_write_tokens - u.cache_write_1h_tokens) * {p}c_cache_write_5m"
        f" + u.cache_write_1h_tokens * {p}c_cache_write_1h + u.output_tokens * {p}c_output"
        f" + u.reasoning_tokens * {p}c_reasoning"
    )


def query(store: Path, mode: str, prices: Path | None) -> str:
    files = f"read_parquet('{store}/usage/date=*/*.parquet', hive_partitioning = true)"
    sums = ", ".join(f"sum(u.{c}) AS {c}" for c in TOKENS)
    if mode == "tokens":
        return f'SELECT u."user", u.model, count(*) AS requests, {sums} FROM {files} u GROUP BY ALL'
    cost = f"CASE WHEN u.input_tokens > p.threshold THEN {_cost(1)} ELSE {_cost(0)} END"
    return (
        f'SELECT u."user", u.model, count(*) AS requests, {sums}, sum({cost}) AS cost_usd '
        f"FROM {files} u LEFT JOIN read_parquet('{prices}') p "
        "ON u.provider = p.provider AND u.model = p.model AND u.date = p.day GROUP BY ALL"
    )


def main() -> None:
    import duckdb

    store, mode = Path(sys.argv[1]), sys.argv[2]
    prices = Path(sys.argv[3]) if mode == "cost" else None
    start = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(query(store, mode, prices)).fetchall()
    seconds = time.perf_counter() - start
    columns = ["requests", *TOKENS, *(["cost_usd"] if mode == "cost" else [])]
    totals: dict[str, object] = {}
    for k, name in enumerate(columns, start=2):
        values = [row[k] for row in rows if row[k] is not None]
        total = sum(values, Decimal(0) if name == "cost_usd" else 0)
        totals[name] = str(total) if name == "cost_usd" else int(total)
    print(json.dumps({"groups": len(rows), "totals": totals, "query_seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
