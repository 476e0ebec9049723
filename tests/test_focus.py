"""report --format focus: the FOCUS 1.2 columns, their types and required values, checked against the
spec's own column list (tests/data/focus), and BilledCost equal to the report's cost."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, SAMPLE_LOGS, run_cli
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.focus import build_focus
from tokmeter.report.queries import Filters, build_report
from tokmeter.store.local import Store

SPEC = list(csv.DictReader((REPO / "tests" / "data" / "focus" / "focus-1.2-columns.csv").open()))
TYPES = {
    "Decimal": lambda d: isinstance(d, pl.Decimal),
    "String": lambda d: d == pl.String,
    "JSON": lambda d: d == pl.String,
    "Date/Time": lambda d: isinstance(d, pl.Datetime) and d.time_zone == "UTC",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    found = Store(tmp_path_factory.mktemp("focus") / "store")
    run_ingest([SAMPLE_LOGS], found)
    return found


def validate(frame: pl.DataFrame) -> None:
    """The FOCUS 1.2 rules an export must keep: names, types, mandatory columns, nulls, value rules."""
    spec = {row["column"]: row for row in SPEC}
    unknown = [c for c in frame.columns if c not in spec and not c.startswith("x_")]
    assert not unknown, f"not FOCUS 1.2 columns (nor x_ custom ones): {unknown}"
    mandatory = {c for c, row in spec.items() if row["feature_level"] == "Mandatory"}
    assert mandatory <= set(frame.columns), mandatory - set(frame.columns)
    for column in frame.columns:
        if column.startswith("x_"):
            continue
        assert TYPES[spec[column]["data_type"]](frame.schema[column]), (column, frame.schema[column])
        if spec[column]["allows_nulls"] == "False":
            assert frame[column].null_count() == 0, column
    usage = frame.filter(pl.col("ChargeCategory") == "Usage")
    other = frame.filter(pl.col("ChargeCategory") != "Usage")
    assert set(frame["ChargeCategory"]) <= {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
    assert usage["ConsumedQuantity"].null_count() == 0 and usage["SkuPriceId"].null_count() == 0
    assert other["ConsumedQuantity"].null_count() == other.height
    assert set(usage["ConsumedUnit"]) == {"Tokens"} and set(frame["ServiceCategory"]) == {
        "AI and Machine Learning"
    }
    assert (frame["ChargePeriodEnd"] > frame["ChargePeriodStart"]).all()
    for tags in frame["Tags"]:
        doc = json.loads(tags)
        assert isinstance(doc, dict) and all(not isinstance(v, dict | list) for v in doc.values())


def test_focus_rows_keep_the_spec_and_bill_the_report_cost(store: Store) -> None:
    frame = build_focus(store, ["user"], Filters())
    validate(frame)
    report = build_report(store, ["user"], Filters(), use_rollups=False)
    assert frame["BilledCost"].sum() == report.totals["cost_usd"].item()  # exact decimals
    by_user = (
        frame.with_columns(user=pl.col("Tags").str.json_path_match("$.user"))
        .group_by("user")
        .agg(pl.col("BilledCost").sum())
    )
    expected = dict(zip(report.rows["user"], report.rows["cost_usd"], strict=True))
    assert dict(zip(by_user["user"], by_user["BilledCost"], strict=True)) == expected
    tokens = frame.filter(pl.col("SkuId").str.ends_with("/output"))["ConsumedQuantity"].sum()
    assert tokens == report.totals["output_tokens"].item()
    kinds = frame.filter(pl.col("ChargeCategory") == "Usage")["SkuId"].str.extract(r"/([a-z_]+)$")
    input_total = frame.filter(kinds.is_in(["input", "cache_read", "cache_write"]))["ConsumedQuantity"].sum()
    assert input_total == report.totals["input_tokens"].item()


def test_a_week_in_another_zone_is_one_charge_period_of_seven_local_days(store: Store) -> None:
    frame = build_focus(store, ["week", "model"], Filters(tz="Europe/Berlin"))
    validate(frame)
    starts = frame["ChargePeriodStart"].dt.convert_time_zone("Europe/Berlin")
    assert set(starts.dt.weekday()) == {1} and set(starts.dt.hour()) == {0}  # Mondays, local midnight
    assert set(frame["ChargePeriodEnd"] - frame["ChargePeriodStart"]) == {timedelta(days=7)}
    assert set(frame["Tags"]) == {"{}"}  # model is the SKU, not a tag


def test_rows_without_provider_or_model_keep_the_spec(tmp_path: Path) -> None:
    """A row whose provider or model is unknown (the old store's Copilot row) used to get a null SkuId
    and SkuPriceId, which FOCUS forbids for usage charges."""
    shutil.copytree(REPO / "tests" / "data" / "old-store", tmp_path / "store")
    frame = build_focus(Store(tmp_path / "store"), [], Filters())
    validate(frame)
    assert "copilot/(unknown)/input" in set(frame["SkuId"])


def test_week_start_sets_the_charge_period(store: Store) -> None:
    """--week-start applies to FOCUS weeks as to the report's (it used to be ignored: Monday weeks)."""
    frame = build_focus(store, ["week"], Filters(week_start="sunday"))
    validate(frame)
    assert set(frame["ChargePeriodStart"].dt.weekday()) == {7}
    report = build_report(store, ["week"], Filters(week_start="sunday"), use_rollups=False)
    assert {str(d.date()) for d in frame["ChargePeriodStart"]} == set(report.rows["week"].cast(pl.String))


def test_the_command_writes_focus_csv_and_parquet(isolated_store: Path, tmp_path: Path) -> None:
    run_ingest([SAMPLE_LOGS], Store(isolated_store))
    total = build_report(Store(isolated_store), [], Filters(), use_rollups=False).totals["cost_usd"].item()
    text = run_cli("report", "--format", "focus", "--by", "user")
    assert text.returncode == 0, text.stderr
    rows = list(csv.DictReader(io.StringIO(text.stdout)))
    assert rows and all(
        r["ChargePeriodStart"].endswith("T00:00:00Z") and len(r["ChargePeriodStart"]) == 20 for r in rows
    )
    assert abs(sum(Decimal(r["BilledCost"]) for r in rows) - total) < Decimal("1e-8")
    assert all(r["ConsumedQuantity"].isdigit() for r in rows if r["ChargeCategory"] == "Usage")
    target = tmp_path / "focus.parquet"
    written = run_cli("report", "--format", "focus", "--since", "2026-11-02", "--output", str(target))
    assert written.returncode == 0, written.stderr
    frame = pl.read_parquet(target)
    validate(frame)
    assert frame["ChargePeriodStart"].min().date() == date(2026, 11, 2)
    duckdb = pytest.importorskip("duckdb")  # the README's DuckDB query over the export
    by_day = duckdb.sql(
        f"select ChargePeriodStart::date as day, sum(BilledCost) as cost from '{target}' group by all"
    ).pl()
    assert by_day["cost"].sum() == frame["BilledCost"].sum() and by_day.height == 3


def test_the_charge_period_is_the_finest_period_asked_for_and_tags_the_other_dimensions() -> None:
    from tokmeter.report.focus import focus_dims

    assert focus_dims([]) == ("day", ["user"])
    assert focus_dims(["month", "week", "provider", "service_tier"]) == ("week", ["service_tier"])
    assert focus_dims(["model"]) == ("day", [])
