"""Rollups computed by Apache Spark: the same table as ``rollup_tables.rollup_frame`` over
``pricing.price_rows(dedup.best_nearby(rows))``, value for value, for stores too big for one machine.

How it stays exact and cheap:

* Deduplication runs in Spark (a window ``row_number`` per request_id, ordered like ``dedup``).
* Prices travel to Spark as data. The distinct price keys (provider, model, UTC day, and the UTC minute only
  for models priced by time of day) are collected, ``pricing.build_price_table`` builds the table in the
  driver, and Spark gets it back as two small broadcast tables: tier thresholds per key, and the exact
  coefficients per key and tier as ``decimal(24,24)`` (``price_checks``: every coefficient has 24 decimal
  places and ``|c| < 1``).
* Cost is linear within one price and tier, so Spark sums long token counts per (period, dims, price key,
  tier) and prices the sums: ``decimal(13,0) x decimal(24,24)`` is exactly ``decimal(38,24)`` (a cell is
  one UTC day of one model: below 10^13 tokens), and summing ``decimal(38,24)`` stays ``decimal(38,24)``.
  Spark's ``+`` would not (two ``decimal(38,24)`` add up to a rounded ``decimal(38,23)``), so the seven
  per-coefficient sums come back separately and the driver adds them in polars, as the polars engine
  does. An overflow fails loudly (ANSI mode, Spark 4's default).
* Local dates are computed from the instant (``from_utc_timestamp`` + whole-day arithmetic), so the
  session time zone plays no part.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from functools import reduce
from operator import add, or_
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..config import SPARK_MASTER_ENV, settings
from ..errors import UsageError
from ..pricing.checks import RATE_BOUND
from ..pricing.costs import COEFFICIENTS, COST_DTYPE, PRICE_KEY
from ..pricing.resolve import DAY_KEY
from ..pricing.table import price_table_from_days
from ..schema import COLUMNS, SUBSET_TOKENS, TOKEN_COLUMNS, polars_schema
from . import WEEK_STARTS
from .spec import rollup_frame
from .transforms import REPORT_TOKENS, UNKNOWN_COUNTS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from ..pricing.overrides import PriceOverrides
    from .spec import RollupSpec

_DAY_US = 86_400_000_000
_TOKENS = "decimal(13,0)"  # a token sum per cell; times _RATE it is exactly decimal(38,24)
_RATE = "decimal(24,24)"  # a coefficient: |c| < 1 USD per token (or per request), as price_checks ensures
_PRICED = list(COEFFICIENTS)  # the (capped) token columns a price multiplies
_TERMS = {"_c_request": "_n_priced", **{c: f"_s{t}" for t, c in COEFFICIENTS.items()}}  # coefficient -> sum
_REPORTED = (*REPORT_TOKENS, "cache_write_1h_tokens")
_UNPRICED = ("input_tokens", "output_tokens")  # also summed over the unpriced rows alone
_SUMMED = (
    *_REPORTED,
    "requests",
    "failed_requests",
    "estimated_requests",
    "estimated_tokens",
    "unpriced_requests",
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "modifier_unknown_requests",
    *UNKNOWN_COUNTS,
)


def spark_rollup(
    source: str | Path | Sequence[str],
    spec: RollupSpec,
    overrides: PriceOverrides | None = None,
    *,
    spark: SparkSession | None = None,
    days: tuple[date, date] | None = None,
) -> pl.DataFrame:
    """``rollup_frame(price_rows(best_nearby(rows), overrides), spec).collect()`` computed by Spark.

    ``source`` is a store's usage directory (``usage/date=YYYY-MM-DD/part-*.parquet``; a local path or a
    URL such as ``s3a://bucket/prefix/usage``) or a list of its Parquet files. ``days`` keeps only the
    UTC date partitions first..last (inclusive). Without ``spark``, the active session is used if there is
    one, else a local one is started (``local_session``) and stopped at the end. Raises UsageError when
    pyspark or Java is missing."""
    with spark_session(spark) as session:
        raw = _read_usage(session, source, days)
        table, minute_models = _price_table(raw, overrides)
        thresholds, rates = _ship(session, table)
        keyed = _with_price_keys(raw, minute_models)
        rows = _with_tier_and_period(_capped(best_nearby(keyed)), thresholds, spec)
        groups = _groups(_cells(rows, spec), rates, spec)
        return _finish(_to_polars(groups), spec)


# ---- the session ------------------------------------------------------------------------------------
@contextmanager
def spark_session(spark: SparkSession | None) -> Iterator[SparkSession]:
    """The caller's session, else the active one, else a new local one (stopped at the end)."""
    if spark is not None:
        yield spark
        return
    SparkSession = _pyspark().SparkSession
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = local_session()
    try:
        yield session
    finally:
        session.stop()


def _pyspark() -> Any:  # the pyspark.sql module, imported lazily
    try:
        import pyspark.sql
    except ImportError:
        raise UsageError(
            "the Spark engine needs pyspark",
            hint="pip install 'tokmeter[spark]' (Spark also needs Java 17 or later)",
        ) from None
    return pyspark.sql


def local_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A quiet Spark session: ``master`` (default ``$TOKMETER_SPARK_MASTER``, else ``local[2]``), no UI,
    4 shuffle partitions, plus any ``conf``; a local master binds to 127.0.0.1, so no network is needed."""
    sql = _pyspark()
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise UsageError(
            "the Spark engine needs Java, and none was found",
            hint="install Java 17 or later and put it on PATH (or set JAVA_HOME)",
        )
    master = master or settings().spark_master or "local[2]"
    builder = (
        sql.SparkSession.builder.master(master)
        .appName("tokmeter")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
    )
    if master.startswith("local"):  # no network; list partitions in the driver, not with a Spark job
        builder = (
            builder.config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - py4j and pyspark raise several kinds here
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"cannot start Spark (master {master}): {reason}",
            hint=f"Spark needs Java 17 or later; check ${SPARK_MASTER_ENV}",
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


# ---- reading ----------------------------------------------------------------------------------------
def _spark_schema(*, with_date: bool) -> Any:  # a pyspark StructType
    from pyspark.sql import types as T

    spark_types = {
        "String": T.StringType(),
        "Boolean": T.BooleanType(),
        "Int32": T.IntegerType(),
        "Int64": T.LongType(),
        "Datetime[us, UTC]": T.TimestampType(),
        "List[Struct[key: String, value: String]]": T.ArrayType(
            T.StructType([T.StructField("key", T.StringType()), T.StructField("value", T.StringType())])
        ),
    }
    fields = [T.StructField(name, spark_types[dtype]) for name, (dtype, _) in COLUMNS.items()]
    return T.StructType(fields + ([T.StructField("date", T.DateType())] if with_date else []))


def _read_usage(
    spark: SparkSession, source: str | Path | Sequence[str], days: tuple[date, date] | None
) -> DataFrame:
    """The usage rows with the hive ``date`` (for files outside the hive layout: the timestamp's UTC date)."""
    from pyspark.sql import functions as F

    if isinstance(source, (str, Path)):
        text = str(source)
        if "://" not in text and not Path(text).is_dir():
            return spark.createDataFrame([], _spark_schema(with_date=True))
        rows = spark.read.schema(_spark_schema(with_date=True)).parquet(text)
    else:
        rows = _read_files(spark, [str(p) for p in source], days)
    if days is not None:
        rows = rows.filter(F.col("date").between(F.lit(days[0]), F.lit(days[1])))
    return rows


def _read_files(spark: SparkSession, paths: list[str], days: tuple[date, date] | None) -> DataFrame:
    """Listed Parquet files: those in ``.../date=YYYY-MM-DD/`` folders (all under one base) keep that
    partition column, and files outside ``days`` are not even opened."""
    from pyspark.sql import functions as F

    found = [re.search(r"^(.*)/date=(\d{4}-\d{2}-\d{2})/[^/]+$", p) for p in paths]
    if paths and all(found):
        bases = {m.group(1) for m in found if m}
        if len(bases) > 1:
            raise UsageError(
                f"the files come from {len(bases)} usage directories: {', '.join(sorted(bases))}",
                hint="roll up one store at a time",
            )
        if days is not None:
            paths = [
                p
                for p, m in zip(paths, found, strict=True)
                if m and days[0].isoformat() <= m.group(2) <= days[1].isoformat()
            ]
        if not paths:
            return spark.createDataFrame([], _spark_schema(with_date=True))
        reader = spark.read.schema(_spark_schema(with_date=True)).option("basePath", bases.pop())
        return reader.parquet(*paths)
    if not paths:
        return spark.createDataFrame([], _spark_schema(with_date=True))
    rows = spark.read.schema(_spark_schema(with_date=False)).parquet(*paths)
    return rows.withColumn("date", _day_of(F.col("timestamp")))


def _day_of(instant: Column) -> Column:
    """The date of an instant's wall clock read as UTC: exact integer arithmetic, no session time zone."""
    from pyspark.sql import functions as F

    micros = F.unix_micros(instant)
    whole_days = F.call_function("div", micros - F.pmod(micros, F.lit(_DAY_US)), F.lit(_DAY_US))
    return F.date_from_unix_date(whole_days.cast("int"))


# ---- deduplication ----------------------------------------------------------------------------------
def best_nearby(rows: DataFrame) -> DataFrame:
    """One row per request id among copies at most a day apart: what ``dedup.best_nearby`` keeps (same
    ranking, nulls last; the same rows whatever span of days is read, given the day on either side)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    usage = (
        F.when(F.col("usage_source") == "reported", 2)
        .when(F.col("usage_source") == "estimated", 1)
        .otherwise(0)
    )
    ok = F.col("status").isNull() | F.col("status").between(200, 299)
    tokens = reduce(add, [F.coalesce(F.col(c), F.lit(0)) for c in TOKEN_COLUMNS])
    known = reduce(add, [F.col(c).isNotNull().cast("int") for c in TOKEN_COLUMNS])
    order = [
        F.coalesce(F.col("complete"), F.lit(False)).desc(),
        usage.desc(),
        ok.desc(),
        known.desc(),
        F.col("timestamp").desc_nulls_last(),
        tokens.desc(),
        F.col("source").asc_nulls_last(),
        F.col("source_offset").asc_nulls_last(),
    ]
    ranked = rows.withColumn("_ord", F.row_number().over(Window.partitionBy("request_id").orderBy(*order)))
    best = ranked.groupBy("request_id", "date").agg(F.min("_ord").alias("_best"))
    before = best.select("request_id", F.date_add("date", 1).alias("date"), F.col("_best").alias("_before"))
    after = best.select("request_id", F.date_sub("date", 1).alias("date"), F.col("_best").alias("_after"))
    kept = (
        ranked.join(best, ["request_id", "date"])
        .join(before, ["request_id", "date"], "left")
        .join(after, ["request_id", "date"], "left")
        .filter(
            (F.col("_ord") == F.col("_best"))
            & (F.col("_before").isNull() | (F.col("_ord") < F.col("_before")))
            & (F.col("_after").isNull() | (F.col("_ord") < F.col("_after")))
        )
    )
    return kept.drop("_ord", "_best", "_before", "_after")


# ---- prices -----------------------------------------------------------------------------------------
def _with_price_keys(rows: DataFrame, minute_models: list[tuple[str | None, str]]) -> DataFrame:
    """``_price_day`` (UTC) and ``_price_minute`` (UTC minute of day, kept only for ``minute_models``)."""
    from pyspark.sql import functions as F

    of_day = F.pmod(F.unix_micros(F.col("timestamp")), F.lit(_DAY_US))
    minute = F.call_function("div", of_day, F.lit(60_000_000)).cast("int")
    by_minute = reduce(
        or_,
        [F.col("provider").eqNullSafe(F.lit(p)) & (F.col("model") == m) for p, m in minute_models],
        F.lit(False),
    )
    return rows.withColumns(
        {
            "_price_day": _day_of(F.col("timestamp")),
            "_price_minute": F.when(by_minute, minute).otherwise(F.lit(None).cast("int")),
        }
    )


def _price_table(
    rows: DataFrame, overrides: PriceOverrides | None
) -> tuple[pl.DataFrame, list[tuple[str | None, str]]]:
    """``pricing.build_price_table`` for the rows' price keys, and the (provider, model) pairs priced by
    time of day. Small queries: the distinct (provider, model, UTC day), then, only if some models are
    priced by time of day, their distinct minutes (keying every model by minute would make millions)."""
    from pyspark.sql import functions as F

    schema = {
        "provider": pl.String,
        "model": pl.String,
        "service_tier": pl.String,
        "speed": pl.String,
        "_price_day": pl.Date,
        "_price_minute": pl.Int32,
    }

    def minutes_of(pairs: pl.DataFrame) -> pl.DataFrame:
        minutes = _with_price_keys(rows, pairs.rows()).filter(F.col("_price_minute").isNotNull())
        return pl.DataFrame(minutes.select(*PRICE_KEY).distinct().collect(), schema=schema, orient="row")

    found = rows.select(*DAY_KEY[:-1], _day_of(F.col("timestamp")).alias("_price_day")).distinct()
    days = pl.DataFrame(found.collect(), schema={k: schema[k] for k in DAY_KEY}, orient="row")
    table, by_minute = price_table_from_days(days, minutes_of, overrides)
    return table, by_minute.rows()


def _ship(spark: SparkSession, table: pl.DataFrame) -> tuple[DataFrame, DataFrame]:
    """The price table as two Spark DataFrames: thresholds per price key, coefficients per key and tier."""
    from pyspark.sql import types as T

    too_big = [c for c in _TERMS if table.height and table.select(pl.col(c).abs().max() >= RATE_BOUND).item()]
    if too_big:  # build_price_table leaves such prices out: this would be a bug, not price data
        raise ArithmeticError(
            f"price coefficient {too_big[0]} is {RATE_BOUND} USD or more (per token or "
            f"request); the Spark engine prices with {_RATE}"
        )
    key = [
        T.StructField("provider", T.StringType()),
        T.StructField("model", T.StringType()),
        T.StructField("service_tier", T.StringType()),
        T.StructField("speed", T.StringType()),
        T.StructField("_price_day", T.DateType()),
        T.StructField("_price_minute", T.IntegerType()),
    ]
    thresholds = T.StructType(
        [
            *key,
            T.StructField("_thresholds", T.ArrayType(T.LongType())),
            T.StructField("_modifier_unknown", T.BooleanType()),
        ]
    )
    rates = T.StructType(
        [
            *key,
            T.StructField("_tier", T.IntegerType()),
            *(T.StructField(c, T.DecimalType(24, 24)) for c in _TERMS),
        ]
    )
    per_key = table.unique(subset=PRICE_KEY, maintain_order=True).select(
        *PRICE_KEY, "_thresholds", "_modifier_unknown"
    )
    return (
        spark.createDataFrame(per_key.rows(), thresholds),
        spark.createDataFrame(table.select(*PRICE_KEY, "_tier", *_TERMS).rows(), rates),
    )


def _join_on_key(rows: DataFrame, table: DataFrame, key: list[str]) -> DataFrame:
    """A left join on ``key`` where null equals null (provider and minute may be null), table broadcast."""
    from pyspark.sql import functions as F

    renamed = table.withColumnsRenamed({c: f"_k{c}" for c in key})
    condition = reduce(lambda a, b: a & b, [rows[c].eqNullSafe(renamed[f"_k{c}"]) for c in key])
    return rows.join(F.broadcast(renamed), condition, "left").drop(*(f"_k{c}" for c in key))


def _capped(rows: DataFrame) -> DataFrame:
    """``pricing._capped_columns`` in Spark: an unknown (null) subset is 0 (``least`` would skip it)."""
    from pyspark.sql import functions as F

    known = {c: F.coalesce(F.col(c), F.lit(0).cast("long")) for c in SUBSET_TOKENS}
    cache_read = F.least(known["cache_read_tokens"], F.col("input_tokens"))
    cache_write = F.least(known["cache_write_tokens"], F.col("input_tokens") - cache_read)
    cache_write_1h = F.least(known["cache_write_1h_tokens"], cache_write)
    return rows.withColumns(
        {
            "_p_cache_read": cache_read,
            "_p_cache_write_1h": cache_write_1h,
            "_p_cache_write_5m": cache_write - cache_write_1h,
            "_p_reasoning": F.least(known["reasoning_tokens"], F.col("output_tokens")),
        }
    )


def _with_tier_and_period(rows: DataFrame, thresholds: DataFrame, spec: RollupSpec) -> DataFrame:
    """``_tier`` (thresholds strictly below input_tokens), ``_priced`` (the row gets a non-null cost) and
    ``period`` (the first local day, in ``spec.tz``, of the row's day, ISO week or month)."""
    from pyspark.sql import functions as F

    rows = _join_on_key(rows, thresholds, PRICE_KEY)
    below = F.size(F.filter(F.col("_thresholds"), lambda t: t < F.col("input_tokens")))
    has_price = F.col("_thresholds").isNotNull()
    priced = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in _PRICED], has_price)
    day = _day_of(F.from_utc_timestamp(F.col("timestamp"), spec.tz))
    # weeks start on spec.week_start (F.weekday: Monday 0)
    week = F.date_sub(day, F.pmod(F.weekday(day) - WEEK_STARTS.index(spec.week_start), F.lit(7)))
    start = {"day": day, "week": week, "month": F.trunc(day, "month")}[spec.period]
    return rows.withColumns(
        {"_tier": F.when(has_price, below).otherwise(0), "_priced": priced, "period": start}
    ).drop("_thresholds")


# ---- the rollup -------------------------------------------------------------------------------------
def _cells(rows: DataFrame, spec: RollupSpec) -> DataFrame:
    """Sums per (period, dims, price key, tier): every measure is additive, and cost is linear there."""
    from pyspark.sql import functions as F

    failed = F.col("status").isNotNull() & ~F.col("status").between(200, 299)
    estimated = F.col("usage_source") == "estimated"
    unpriced = ~F.col("_priced")
    keys = list(dict.fromkeys(["period", *spec.dims, *PRICE_KEY, "_tier"]))
    return rows.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("requests"),
        F.sum(F.when(failed, 1).otherwise(0)).alias("failed_requests"),
        *(F.sum(c).alias(c) for c in _REPORTED),
        F.sum(F.when(estimated, 1).otherwise(0)).alias("estimated_requests"),
        F.sum(F.when(estimated, F.col("input_tokens") + F.col("output_tokens")).otherwise(0)).alias(
            "estimated_tokens"
        ),
        F.sum(F.when(unpriced, 1).otherwise(0)).alias("unpriced_requests"),
        F.sum(F.when(F.coalesce(F.col("_modifier_unknown"), F.lit(False)), 1).otherwise(0)).alias(
            "modifier_unknown_requests"
        ),
        *(F.sum(F.when(unpriced, F.col(c))).alias(f"unpriced_{c}") for c in _UNPRICED),
        *(F.sum(F.when(F.col(c).isNull(), 1).otherwise(0)).alias(f"unknown_{c}") for c in SUBSET_TOKENS),
        F.sum(F.when(F.col("_priced"), 1).otherwise(0)).alias("_n_priced"),
        *(F.sum(F.when(F.col("_priced"), F.col(c))).alias(f"_s{c}") for c in _PRICED),
    )


def _groups(cells: DataFrame, rates: DataFrame, spec: RollupSpec) -> DataFrame:
    """Per (period, dims): the summed measures and, per coefficient, the sum of count x coefficient over the
    priced cells (null when there is none, so an all-unpriced group's cost is null)."""
    from pyspark.sql import functions as F

    priced = _join_on_key(cells, rates, [*PRICE_KEY, "_tier"])
    has_price = F.col("_n_priced") > 0
    terms = [
        F.sum(F.when(has_price, F.col(count).cast(_TOKENS) * F.col(rate).cast(_RATE))).alias(f"_t{rate}")
        for rate, count in _TERMS.items()
    ]
    return priced.groupBy("period", *spec.dims).agg(*(F.sum(c).alias(c) for c in _SUMMED), *terms)


def _to_polars(frame: DataFrame, *, arrow: bool | None = None) -> pl.DataFrame:
    """A (small) Spark result as polars: through Arrow when pyarrow is installed, else through rows."""
    if arrow is None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            arrow = False
        else:
            arrow = True
    if arrow:
        return pl.from_arrow(frame.toArrow())  # type: ignore[return-value]
    schema = {field.name: _polars_dtype(field.dataType) for field in frame.schema.fields}
    return pl.DataFrame(frame.collect(), schema=schema, orient="row")


def _polars_dtype(dtype: Any) -> pl.DataType:  # a pyspark DataType of our results
    from pyspark.sql import types as T

    if isinstance(dtype, T.DecimalType):
        return pl.Decimal(dtype.precision, dtype.scale)
    simple = {T.StringType: pl.String, T.LongType: pl.Int64, T.IntegerType: pl.Int32, T.DateType: pl.Date}
    return simple[type(dtype)]()


def _finish(groups: pl.DataFrame, spec: RollupSpec) -> pl.DataFrame:
    """Add up the cost terms in polars ``COST_DTYPE``; shape the frame exactly like ``rollup_frame``."""
    schema = _result_schema(spec)
    cost = reduce(add, [pl.col(f"_t{rate}").cast(COST_DTYPE) for rate in _TERMS])
    return (
        groups.with_columns(cost.alias("cost_usd"), *(pl.col(c).fill_null(0) for c in _SUMMED))
        .select(schema.names())
        .cast(schema)
        .sort(["period", *spec.dims], nulls_last=True)
    )


def _result_schema(spec: RollupSpec) -> pl.Schema:
    """The polars engine's output schema for ``spec`` (taken from ``rollup_frame`` itself)."""
    priced = pl.LazyFrame(schema={**polars_schema(), "cost_usd": COST_DTYPE})
    return rollup_frame(priced, spec).collect_schema()
