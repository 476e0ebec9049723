"""ccusage's views over the store: ``report --by session`` (with each session's first and last activity
and its models) and ``--by project``, for Claude Code and Codex alike (tests/data/transcripts)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from conftest import REPO, run_cli
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.chart_data import period_labels
from tokmeter.report.queries import Filters, build_report, select_rows
from tokmeter.rollup.spec import DEFAULT_DIMS, RollupSpec
from tokmeter.rollup.tables import RollupTable
from tokmeter.store.local import Store

DATA = REPO / "tests" / "data" / "transcripts"


def agents_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    run_ingest([DATA / "claude", DATA / "codex"], store, check_prices=False)
    return store


def test_report_by_session_has_activity_and_models(tmp_path: Path) -> None:
    store = agents_store(tmp_path)
    rows = select_rows(store, Filters())
    expected = (
        rows.group_by("session")
        .agg(
            pl.len().alias("requests"),
            pl.col("timestamp").min().alias("first_activity"),
            pl.col("timestamp").max().alias("last_activity"),
            pl.col("model").unique().sort().str.join(", ").alias("models"),
        )
        .sort("session")
    )
    assert expected.height == 3 and expected["session"].null_count() == 0  # two Claude Code, one Codex
    report = build_report(store, ["session"], Filters())
    got = report.rows.select(expected.columns).sort("session")
    assert got.to_dicts() == expected.to_dicts()
    assert report.extras == ("first_activity", "last_activity", "models")
    assert build_report(store, ["model"], Filters()).extras == ()


def test_report_by_project_covers_both_agents(tmp_path: Path) -> None:
    store = agents_store(tmp_path)
    rows = select_rows(store, Filters())
    report = build_report(store, ["project"], Filters())
    assert dict(report.rows.select("project", "requests").iter_rows()) == dict(
        rows.group_by("project").len().iter_rows()
    )
    assert "/home/alice/work/cli" in report.rows["project"].to_list()  # Codex: its working directory


def test_by_session_table_and_csv(isolated_store: Path) -> None:
    run_ingest([DATA / "codex"], Store(isolated_store), check_prices=False)
    table = run_cli("report", "--by", "session")
    assert table.returncode == 0, table.stderr
    assert "first activity" in table.stdout and "gpt-5-codex, gpt-5.1-codex-mini" in table.stdout
    csv = run_cli("report", "--by", "session", "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines()[0].endswith("first_activity,last_activity,models")


def test_report_by_host_names_each_ingester(tmp_path: Path) -> None:
    """Each ingester stamps the rows it stores; parts written before the column read null."""
    root = tmp_path / "store"
    run_ingest([DATA / "claude"], Store(root, ingester="laptop"), check_prices=False)
    run_ingest([DATA / "codex"], Store(root, ingester="build-box"), check_prices=False)
    store = Store(root)
    rows = select_rows(store, Filters())
    by_source = rows.with_columns(
        pl.when(pl.col("source").str.contains("/codex/"))
        .then(pl.lit("build-box"))
        .otherwise(pl.lit("laptop"))
    )
    report = build_report(store, ["host"], Filters())
    assert dict(report.rows.select("host", "requests").iter_rows()) == dict(
        by_source.group_by("literal").len().iter_rows()
    )
    old = (
        rows.head(1)
        .drop("host", "cost_usd", "priced_as", "unpriced_reason")
        .with_columns(request_id=pl.lit("older-part"))
    )
    old.write_parquet(root / "usage" / f"date={old['timestamp'][0].date()}" / "part-old.parquet")
    hosts = build_report(store, ["host"], Filters()).rows
    assert hosts.filter(pl.col("host").is_null())["requests"].to_list() == [1]


def test_weeks_start_on_the_day_asked_for(tmp_path: Path) -> None:
    """--week-start sunday: weeks labelled by their Sunday, the same from the rows and from a rollup table
    of Sunday weeks (which a Monday-week report does not use)."""
    store = agents_store(tmp_path)
    rows = select_rows(store, Filters())
    expected: dict[str, int] = {}
    for moment in rows["timestamp"]:
        day = moment.date()
        label = (day - timedelta(days=(day.weekday() + 1) % 7)).isoformat()
        expected[label] = expected.get(label, 0) + 1
    sunday = Filters(week_start="sunday")
    from_rows = build_report(store, ["week"], sunday, use_rollups=False)
    assert dict(from_rows.rows.select("week", "requests").iter_rows()) == expected
    assert all(date.fromisoformat(w).weekday() == 6 for w in expected)
    RollupTable(store, RollupSpec("week", DEFAULT_DIMS, "UTC", "sunday")).update(None)
    from_table = build_report(store, ["week"], sunday)
    assert from_table.source == "rollups"
    assert from_table.rows.to_dicts() == from_rows.rows.select(from_table.rows.columns).to_dicts()
    iso = build_report(store, ["week"], Filters())
    assert iso.source == "rows" and all("-W" in w for w in iso.rows["week"])
    monday = RollupTable(store, RollupSpec("week", DEFAULT_DIMS, "UTC"))
    monday.update(None)
    state = json.loads((monday.dir / "_state.json").read_text())["spec"]
    assert "week_start" not in state  # a Monday table's spec is as before: older tables stay fresh
    assert build_report(store, ["week"], Filters()).source == "rollups"
    first = min(expected)
    filled = period_labels("week", [first, (date.fromisoformat(first) + timedelta(weeks=2)).isoformat()])
    assert filled == [(date.fromisoformat(first) + timedelta(weeks=n)).isoformat() for n in range(3)]
