"""The Spark engine equals the polars engine exactly: real Spark (local[2]) over a real store whose
duplicates (written by a second and third "ingester") make deduplication matter."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")
if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

from test_price_overrides import FULL
from tokmeter.errors import UsageError
from tokmeter.pricing.overrides import PriceOverrides, load_overrides
from tokmeter.pricing.table import price_rows
from tokmeter.rollup.spark_engine import _to_polars, local_session, spark_rollup
from tokmeter.rollup.spec import RollupSpec, rollup_frame
from tokmeter.schema import polars_schema
from tokmeter.store.dedup import best_nearby
from tokmeter.store.local import Store

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "o3"),  # price changed 2025-06-10; reasoning
    ("anthropic", "claude-sonnet-4-5-20250929"),  # long-context tier above 200k
    ("google", "gemini-2.5-pro"),  # tier above 200k
    ("deepseek", "deepseek-chat"),  # off-peak prices by time of day
    ("acme", "house-llm-7b"),  # priced only by the price file
    ("acme", "prod-gpt4o-eu"),  # priced only through the price file's alias
    ("acme", "not-a-model"),  # never priced
    (None, "gpt-4o-mini"),  # provider unknown: priced by model
    ("openrouter", "google/gemini-2.5-flash-lite"),  # cache-write rate with 24 decimal places per token
]
USERS = ["alice", "bob", "carol", None]
# instants where a day, ISO week or month starts in UTC, Los Angeles (both sides of DST) or Kolkata, and
# where deepseek's off-peak window opens and closes, o3's and the price file's prices change; the
# random rows fall within two days of them (few partitions: Spark opens every file)
EDGES = [
    datetime(2025, 6, 1, tzinfo=UTC),
    datetime(2025, 6, 2, 7, tzinfo=UTC),
    datetime(2025, 9, 30, 18, 30, tzinfo=UTC),
    datetime(2025, 11, 3, 8, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 2, 28, 18, 30, tzinfo=UTC),
    datetime(2026, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 8, 4, 16, 30, tzinfo=UTC),
    datetime(2025, 8, 5, 0, 30, tzinfo=UTC),
    datetime(2025, 6, 10, tzinfo=UTC),
    datetime(2026, 6, 1, tzinfo=UTC),
]


def usage_row(index: int, rng: random.Random, when: datetime) -> dict:
    provider, model = rng.choice(MODELS)
    tiered = rng.random() < 0.15
    inputs = (
        rng.choice([200_000, 200_001])
        if tiered and rng.random() < 0.3
        else rng.randint(200_001, 300_000)
        if tiered
        else rng.randint(0, 40_000)
    )
    cache_read = rng.randint(0, inputs) if rng.random() < 0.4 else 0
    cache_write = rng.randint(0, inputs) if rng.random() < 0.3 else 0  # may exceed what is left: capped
    output = rng.randint(0, 9_000)
    source = rng.choices(["reported", "estimated", "missing"], weights=[8, 2, 1])[0]
    tokens = {
        "input_tokens": inputs,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_write_1h_tokens": rng.randint(0, cache_write) if rng.random() < 0.5 else 0,
        "output_tokens": output,
        "reasoning_tokens": rng.randint(0, output + 50) if rng.random() < 0.3 else 0,
    }
    if source == "missing":
        tokens = dict.fromkeys(tokens, 0)
    status = rng.choices([200, 201, 429, 500, None], weights=[20, 1, 2, 1, 2])[0]
    complete = rng.choices([True, False, None], weights=[8, 2, 1])[0]
    return {
        "request_id": f"r{index}",
        "response_id": f"resp-{index}",
        "timestamp": when,
        "user": rng.choice(USERS),
        "provider": provider,
        "model": model,
        "endpoint": "/v1/messages",
        "stream": rng.random() < 0.5,
        "status": status,
        **tokens,
        "usage_source": source,
        "complete": complete,
        "source": f"capture-{index % 7}.jsonl",
        "source_offset": index * 100,
        # served at: priced tiers, fast mode, and tiers without a known rate (priced at standard, counted)
        "service_tier": rng.choice([None, None, None, "standard", "flex", "batch", "priority", "scale"]),
        "speed": rng.choice([None, None, None, None, "standard", "fast"]),
    }


def base_rows(rng: random.Random) -> list[dict]:
    rows = []
    for index in range(700):
        if index < 4 * len(EDGES):  # 1 us before, at, and just after each edge, and a minute before
            edge = EDGES[index % len(EDGES)]
            when = (
                edge
                + [timedelta(microseconds=-1), timedelta(0), timedelta(seconds=1), timedelta(minutes=-1)][
                    index // len(EDGES)
                ]
            )
        else:
            when = rng.choice(EDGES) + timedelta(
                seconds=rng.randint(-2 * 86400, 2 * 86400), microseconds=rng.randint(0, 999_999)
            )
        rows.append(usage_row(index, rng, when))
    rows[0] |= {"model": None, "provider": "openai"}  # no model at all: unpriced
    gpt = {"provider": "openai", "model": "gpt-4o"}
    rows[1] |= gpt | {"input_tokens": None}  # a null count: unpriced
    rows[2] |= gpt | {"cache_write_1h_tokens": None, "reasoning_tokens": None}  # unknown: priced as 0
    for row in rows[
        3::6
    ]:  # unknown counts beside 0s: a token log's (reasoning, 1-hour writes), an estimate's
        if row["usage_source"] == "reported":
            row |= {"reasoning_tokens": None, "cache_write_1h_tokens": None}
        elif row["usage_source"] == "estimated":
            row |= {"cache_read_tokens": None, "cache_write_tokens": None, "cache_write_1h_tokens": None}
    return rows


def duplicate(row: dict, rng: random.Random, ingester: int) -> dict:
    """Another ingester's copy of the request: it may disagree on completeness, usage, status, time,
    tokens and even user or model."""
    copy = dict(row, source=f"ingester-{ingester}.jsonl", source_offset=rng.randint(0, 10_000))
    kind = rng.randrange(6)
    if kind == 0:
        copy["complete"] = not row["complete"]
    elif kind == 1:
        copy["usage_source"] = rng.choice(["reported", "estimated", "missing"])
        copy["output_tokens"] = row["output_tokens"] + rng.randint(-5, 500) if row["output_tokens"] > 5 else 0
    elif kind == 2:
        copy["status"] = rng.choice([200, 500, None])
    elif kind == 3:  # a retry up to a day later: may land in another date partition
        copy["timestamp"] = row["timestamp"] + timedelta(seconds=rng.choice([1, 3600, 86_400]))
    elif kind == 4:
        copy |= {"user": rng.choice(USERS), "input_tokens": row["input_tokens"] + 1000}
    return copy  # kind 5: identical but for the source, which breaks the tie


def write_extra_part(usage_dir: Path, rows: list[dict], name: str) -> None:
    frame = pl.DataFrame(rows, schema=polars_schema())
    for (day,), part in frame.group_by(pl.col("timestamp").dt.date()):
        folder = usage_dir / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        part.write_parquet(folder / f"part-{name}.parquet")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    rng = random.Random(9)
    store = Store(tmp_path_factory.mktemp("spark") / "store")
    rows = base_rows(rng)
    with store.writing():
        store.commit(pl.DataFrame(rows, schema=polars_schema()))
    twice = rng.sample(rows, 180)
    write_extra_part(store.usage_dir, [duplicate(r, rng, 2) for r in twice], "ingester2")
    write_extra_part(store.usage_dir, [duplicate(r, rng, 3) for r in twice[:40]], "ingester3")
    return store


@pytest.fixture(scope="module")
def spark() -> Iterator:
    # C1-only JIT: a short-lived JVM warms up in half the time
    java = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    session = local_session("local[2]", {"spark.driver.extraJavaOptions": java})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> PriceOverrides:
    path = tmp_path_factory.mktemp("prices") / "prices.toml"
    path.write_text(FULL)
    return load_overrides(path)


def polars_engine(
    store: Store,
    spec: RollupSpec,
    overrides: PriceOverrides | None = None,
    days: tuple[date, date] | None = None,
) -> pl.DataFrame:
    rows = store.scan()
    if days is not None:
        rows = rows.filter(pl.col("date").is_between(*days))
    return rollup_frame(price_rows(best_nearby(rows), overrides), spec).collect()


def test_the_store_makes_every_case_matter(store: Store, prices: PriceOverrides) -> None:
    rows = store.scan().collect()
    assert rows["request_id"].n_unique() < rows.height  # duplicates are stored
    lite = rows.filter(pl.col("model") == "google/gemini-2.5-flash-lite")
    assert (lite["cache_write_tokens"] > 0).any()  # a rate with 24 decimal places per token is summed
    spec = RollupSpec("day", ("user", "model", "provider"))
    undeduplicated = rollup_frame(price_rows(rows.lazy(), prices), spec).collect()
    assert not undeduplicated.equals(polars_engine(store, spec, prices))  # so dedup changes the figures
    expected = polars_engine(store, RollupSpec("month", ("model", "provider")), prices)
    assert expected["cost_usd"].null_count() > 0 and expected["cost_usd"].is_not_null().any()
    assert expected["unpriced_requests"].sum() > 0 and expected["estimated_requests"].sum() > 0
    assert expected["modifier_unknown_requests"].sum() > 0
    assert all(expected[f"unknown_{c}"].sum() > 0 for c in ("cache_read_tokens", "reasoning_tokens"))
    without_prices = polars_engine(store, RollupSpec("month", ("model", "provider")))
    assert not expected.equals(without_prices)  # the price file changes figures


@pytest.mark.parametrize(
    ("period", "tz", "dims", "with_prices"),
    [
        ("day", "UTC", ("user", "model", "provider"), False),
        ("week", "America/Los_Angeles", ("user",), True),
        ("month", "Asia/Kolkata", (), False),
        ("day", "America/Los_Angeles", ("user", "model", "provider"), True),
    ],
)
def test_spark_equals_polars(
    store: Store,
    spark,
    prices: PriceOverrides,
    period: str,
    tz: str,
    dims: tuple[str, ...],
    with_prices: bool,
) -> None:
    spec, overrides = RollupSpec(period, dims, tz), prices if with_prices else None
    got = spark_rollup(store.usage_dir, spec, overrides, spark=spark)
    assert_frame_equal(got, polars_engine(store, spec, overrides), check_exact=True)


def test_spark_equals_polars_on_weeks_that_start_on_sunday(store: Store, spark) -> None:
    spec = RollupSpec("week", ("user",), "America/Los_Angeles", "sunday")
    got = spark_rollup(store.usage_dir, spec, None, spark=spark)
    assert_frame_equal(got, polars_engine(store, spec, None), check_exact=True)
    assert {d.weekday() for d in got["period"].to_list()} == {6}


def test_days_keep_only_those_partitions(store: Store, spark, prices: PriceOverrides) -> None:
    spec, days = RollupSpec("week", ("user", "model"), "Asia/Kolkata"), (date(2025, 9, 29), date(2025, 11, 3))
    expected = polars_engine(store, spec, prices, days)
    assert 0 < expected["requests"].sum() < store.scan().select(pl.len()).collect().item()
    assert_frame_equal(
        spark_rollup(store.usage_dir, spec, prices, spark=spark, days=days), expected, check_exact=True
    )
    files = [str(p) for p in store.part_files()]  # a list of files, pruned by their date= folder
    assert_frame_equal(spark_rollup(files, spec, prices, spark=spark, days=days), expected, check_exact=True)


def test_files_outside_the_hive_layout_without_a_session(store: Store, spark, tmp_path: Path) -> None:
    """A list of files that are not in date= folders; with no session given, the active one is used and
    left running."""
    copies = []
    for index, part in enumerate(store.part_files()):
        copies.append(tmp_path / f"{index}.parquet")
        shutil.copy(part, copies[-1])
    spec = RollupSpec("month", ("provider",), "UTC")
    got = spark_rollup([str(p) for p in copies], spec)
    assert_frame_equal(got, polars_engine(store, spec), check_exact=True)
    assert spark.range(1).count() == 1


def test_an_empty_store_gives_an_empty_table(tmp_path: Path, spark) -> None:
    spec = RollupSpec()
    got = spark_rollup(tmp_path / "nothing" / "usage", spec, spark=spark)
    assert_frame_equal(got, polars_engine(Store(tmp_path / "nothing"), spec), check_exact=True)


def test_rows_and_arrow_conversions_agree(spark) -> None:
    frame = spark.sql(
        "SELECT DATE'2026-01-05' AS period, CAST(NULL AS STRING) AS user, 3L AS requests, "
        "CAST('1.000000000000000001' AS DECIMAL(38,18)) AS cost_usd, 7 AS small"
    )
    assert_frame_equal(_to_polars(frame, arrow=False), _to_polars(frame, arrow=True), check_exact=True)


def test_missing_java_is_a_usage_error_with_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="Java") as caught:
        local_session()
    assert "Java 17" in str(caught.value)


def test_help_does_not_import_pyspark() -> None:
    code = """if True:
        import sys
        import tokmeter.rollup.spark_engine
        from tokmeter.cli import main
        sys.argv = ["tokmeter", "--help"]
        try:
            main()
        except SystemExit:
            pass
        assert "pyspark" not in sys.modules, "pyspark imported"
    """
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_rollup_engine_spark_under_spark_submit_equals_the_polars_engine(tmp_path: Path) -> None:
    """The documented cluster command, on local[2]: ``spark-submit .../spark_submit.py rollup --engine
    spark`` writes the same rollup table as ``tokmeter rollup`` (the polars engine), value for value."""
    import pyspark

    from conftest import run_cli
    from test_remote_store import write_log

    store = tmp_path / "store"
    logs = [write_log(tmp_path / f"gw{n}.jsonl", range(400 * n, 400 * n + 700)) for n in range(2)]
    assert run_cli("ingest", "-q", "--store", str(store), *map(str, logs)).returncode == 0
    polars_out, spark_out = tmp_path / "polars", tmp_path / "spark"
    args = ["rollup", "--period", "week", "--tz", "America/Los_Angeles", "--store", str(store), "-q"]
    done = run_cli(*args, "--output", str(polars_out))
    assert done.returncode == 0, done.stderr
    import tokmeter.cli.spark_submit

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    confs = {
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    command = [
        str(submit),
        "--master",
        "local[2]",
        *(a for k, v in confs.items() for a in ("--conf", f"{k}={v}")),
        tokmeter.cli.spark_submit.__file__,
        *args,
        "--engine",
        "spark",
        "--output",
        str(spark_out),
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    tables = [sorted(out.glob("*/period=*/part.parquet")) for out in (polars_out, spark_out)]
    assert len(tables[0]) >= 2 and [p.relative_to(polars_out) for p in tables[0]] == [
        p.relative_to(spark_out) for p in tables[1]
    ]
    for ours, theirs in zip(*tables, strict=True):
        assert_frame_equal(pl.read_parquet(theirs), pl.read_parquet(ours), check_exact=True)
