"""Cron-scheduled rollups: incremental, idempotent, safe beside a running ingest; compaction; Prometheus."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, SAMPLE_LOGS, run_cli
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.queries import Filters, build_report
from tokmeter.rollup.spec import RollupSpec
from tokmeter.rollup.tables import RollupTable
from tokmeter.store.compact import compact
from tokmeter.store.ledger import verify
from tokmeter.store.local import Store


def capture(request_id: str, ts: str, user: str = "erin", output: int = 7) -> str:
    body = {
        "id": f"c-{request_id}",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": 100, "completion_tokens": output},
    }
    return (
        json.dumps(
            {
                "ts": ts,
                "request_id": request_id,
                "user": user,
                "provider": "openai",
                "path": "/v1/chat/completions",
                "status": 200,
                "body": json.dumps(body),
            }
        )
        + "\n"
    )


def ingest_lines(store: Store, tmp: Path, *lines: str) -> None:
    path = tmp / f"batch-{time.monotonic_ns()}.jsonl"
    path.write_text("".join(lines))
    run_ingest([path], store)


def partition_mtimes(table: RollupTable) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in table.dir.glob("period=*/*.parquet")}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    run_ingest([SAMPLE_LOGS], store)
    return store


def test_rollup_then_again_is_idempotent_and_rewrites_nothing(store: Store) -> None:
    table = RollupTable(store, RollupSpec())
    first = table.update()
    assert first.full and sorted(first.periods_rewritten) == [date(2026, 11, d) for d in (1, 2, 3, 4)]
    frames = table.scan().collect().sort("period", "user", "model")
    before = partition_mtimes(table)
    second = table.update()
    assert second.periods_rewritten == [] and not second.full
    assert partition_mtimes(table) == before
    assert table.scan().collect().sort("period", "user", "model").equals(frames)


def test_only_touched_periods_are_recomputed_and_late_data_lands(store: Store, tmp_path: Path) -> None:
    table = RollupTable(store, RollupSpec())
    table.update()
    before = partition_mtimes(table)
    ingest_lines(store, tmp_path, capture("late-1", "2026-11-02T12:00:00Z"))  # a capture from days ago
    result = table.update()
    assert result.periods_rewritten == [date(2026, 11, 2)]
    after = partition_mtimes(table)
    assert [k for k in after if after[k] != before[k]] == ["period=2026-11-02"]
    erin = table.scan().collect().filter(user="erin")
    assert erin["requests"].to_list() == [1] and erin["input_tokens"].to_list() == [100]


def test_a_day_partition_maps_to_local_periods(store: Store, tmp_path: Path) -> None:
    ingest_lines(store, tmp_path, capture("tz-1", "2026-11-03T23:30:00Z"))
    table = RollupTable(store, RollupSpec("day", ("user",), "Europe/Berlin"))
    table.update()
    erin = table.scan().collect().filter(user="erin")
    assert erin["period"].to_list() == [date(2026, 11, 4)]  # 00:30 in Berlin
    report = build_report(store, ["day"], Filters(tz="Europe/Berlin", users=("erin",)), use_rollups=False)
    assert report.rows["day"].to_list() == ["2026-11-04"]


@pytest.mark.parametrize("dims", [[], ["model"], ["user", "model"], ["day"], ["week", "provider"], ["month"]])
@pytest.mark.parametrize("since", [None, date(2026, 11, 2)])
def test_report_from_rollups_equals_report_from_rows(
    store: Store, dims: list[str], since: date | None
) -> None:
    RollupTable(store, RollupSpec()).update()
    filters = Filters(since=since)
    fast, slow = build_report(store, dims, filters), build_report(store, dims, filters, use_rollups=False)
    assert fast.source == "rollups" and slow.source == "rows"
    for a, b in ((fast.rows, slow.rows), (fast.totals, slow.totals), (fast.unpriced, slow.unpriced)):
        assert a.to_dicts() == b.to_dicts()


def test_report_falls_back_to_rows_when_the_rollup_is_stale(store: Store, tmp_path: Path) -> None:
    RollupTable(store, RollupSpec()).update()
    ingest_lines(store, tmp_path, capture("new-1", "2026-11-04T08:00:00Z"))
    report = build_report(store, ["user"], Filters())
    assert report.source == "rows" and report.totals["requests"].item() == 11


TOKEN_LOG = REPO / "tests" / "data" / "transcripts" / "token-usage.jsonl"


@pytest.mark.parametrize("dims", [[], ["provider"], ["day", "model"]])
def test_rows_with_unknown_counts_roll_up_as_the_rows_report_them(store: Store, dims: list[str]) -> None:
    run_ingest([TOKEN_LOG], store)  # nulls (token log, estimate) beside the sample logs' 0s
    with store.reading():
        rows = store.scan().collect()
    nulls = {
        c: rows[c].null_count() for c in ("cache_read_tokens", "cache_write_1h_tokens", "reasoning_tokens")
    }
    assert all(nulls.values()) and (rows["reasoning_tokens"] == 0).any()
    RollupTable(store, RollupSpec()).update()
    fast, slow = build_report(store, dims, Filters()), build_report(store, dims, Filters(), use_rollups=False)
    assert fast.source == "rollups" and slow.source == "rows"
    assert fast.rows.to_dicts() == slow.rows.to_dicts() and fast.totals.to_dicts() == slow.totals.to_dicts()
    totals = fast.totals.row(0, named=True)
    assert {c: totals[f"unknown_{c}"] for c in nulls} == nulls
    assert all(totals[c] == rows[c].sum() for c in ("input_tokens", "cache_read_tokens", "reasoning_tokens"))


def test_a_table_from_before_the_unknown_counts_is_rebuilt_and_not_read_until_then(store: Store) -> None:
    table = RollupTable(store, RollupSpec())
    table.update()
    state = table.state()
    state["spec"].pop("format")  # as an older tokmeter wrote it
    (table.dir / "_state.json").write_text(json.dumps(state))
    assert build_report(store, ["user"], Filters()).source == "rows"
    assert table.update().full
    assert build_report(store, ["user"], Filters()).source == "rollups"


def test_compaction_preserves_exact_totals(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    for index in range(12):  # twelve small commits, as a follower writes them
        ingest_lines(
            store,
            tmp_path,
            capture(f"c{index}", f"2026-11-0{1 + index % 3}T10:{index:02d}:00Z", output=index),
        )
    ingest_lines(store, tmp_path, capture("c3", "2026-11-01T10:03:00Z", output=3))  # a duplicate
    before = build_report(store, ["day"], Filters(), use_rollups=False)
    assert len(store.part_files()) == 12
    result = compact(store)
    assert (result.parts_before, result.parts_after) == (12, 3)
    after = build_report(store, ["day"], Filters(), use_rollups=False)
    assert (
        after.rows.to_dicts() == before.rows.to_dicts()
        and after.totals.to_dicts() == before.totals.to_dicts()
    )
    assert verify(store.root, store.part_files()).ok


def test_prometheus_textfile_parses(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "textfile" / "tokmeter.prom"
    out.parent.mkdir()  # node_exporter's folder: tokmeter never creates it
    result = run_cli("rollup", "--prometheus", str(out), "--store", str(store.root))
    assert result.returncode == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    tokens = {
        (s.labels["user"], s.labels["model"], s.labels["kind"]): s.value
        for s in families["tokmeter_tokens"].samples
    }
    assert tokens[("bob", "claude-sonnet-4-5-20250929", "cache_read")] == 8000
    assert sum(v for (_, _, kind), v in tokens.items() if kind == "input") == 18523
    cost = sum(s.value for s in families["tokmeter_cost_usd"].samples)
    assert (
        abs(cost - float(build_report(store, [], Filters(), use_rollups=False).totals["cost_usd"].item()))
        < 1e-12
    )
    assert families["tokmeter_ingest_lag_seconds"].samples[0].value > 0
    assert families["tokmeter_rollup_last_success_timestamp_seconds"].samples[0].value > 0


def test_a_second_rollup_exits_75_at_once(store: Store) -> None:
    fd = os.open(store.root / ".rollup.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        result = run_cli("rollup", "--store", str(store.root))
        assert result.returncode == 75
        assert len(result.stderr.strip().splitlines()) == 2  # the error and its hint
        assert "another tokmeter rollup is running" in result.stderr
        assert time.monotonic() - started < 10
    finally:
        os.close(fd)


def test_rollup_beside_a_running_ingest_is_never_torn(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    logs = tmp_path / "logs"
    logs.mkdir()
    for batch in range(6):
        (logs / f"b{batch}.jsonl").write_text(
            "".join(
                capture(f"b{batch}-{i}", f"2026-11-0{1 + i % 4}T1{batch}:00:00Z", user=f"u{i % 3}")
                for i in range(40)
            )
        )
    env = {**os.environ, "TOKMETER_STORE": str(store.root)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tokmeter", "ingest", "-q", str(logs / f"b{b}.jsonl")], env=env
        )
        for b in range(6)
    ]
    try:
        table = RollupTable(store, RollupSpec())
        while any(w.poll() is None for w in writers):
            table.update()
            frame = table.scan()
            if frame is not None:
                frame.collect()  # every partition file is whole at every moment
    finally:
        for writer in writers:
            writer.wait(timeout=120)
    assert all(w.returncode == 0 for w in writers)
    table.update()
    rolled = table.scan().collect()
    assert rolled["requests"].sum() == 240 and rolled["output_tokens"].sum() == 240 * 7
    assert build_report(store, ["user"], Filters()).source == "rollups"


def test_documented_cron_command_runs_in_a_cron_like_environment(store: Store, tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    line = next(l for l in readme.splitlines() if re.match(r"^\*/\d+ \* \* \* \* ", l))
    command = line.split(" ", 5)[5]
    command = command.replace("/srv/tokmeter", str(store.root)).replace(
        "/opt/tokmeter/.venv/bin/tokmeter", f"{sys.executable} -m tokmeter"
    )
    command = command.replace("/var/lib/node_exporter/textfile_collector", str(tmp_path / "textfile"))
    (tmp_path / "textfile").mkdir()  # node_exporter's package makes it; tokmeter never does
    env = {
        "PATH": "/usr/bin:/bin",
        "SHELL": "/bin/sh",
        "PYTHONPATH": str(REPO / "src"),
    }  # cron's minimal env, no HOME
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no colour off a terminal
    assert (tmp_path / "textfile" / "tokmeter.prom").exists()
    assert RollupTable(store, RollupSpec()).is_fresh(None)
