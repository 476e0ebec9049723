"""Reading a bucket in place: a query fetches only the date partitions it needs (counted in bytes), the
mirror is a cache of what was read, and the figures are those of a local store holding the same
captures. The ledger's objects are folded without changing what it says. A real S3 server (moto's) on
127.0.0.1, as in test_remote_store.py."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from test_remote_store import bucket, record, s3_endpoint  # noqa: F401 - fixtures

pytest.importorskip("moto.server")
pytest.importorskip("s3fs")

WEEK = (date(2026, 11, 9), date(2026, 11, 15))


def spread_log(path: Path, ids: range, days: int = 28) -> Path:
    """Capture-log lines spread over ``days`` UTC days from 2026-11-01 (request id ``r-{i}``)."""
    lines = []
    for i in ids:
        doc = json.loads(record(i))
        day = day_of(i, days)
        doc["ts"] = f"{day.isoformat()}T{i % 24:02d}:{i % 60:02d}:00Z"
        lines.append(json.dumps(doc).encode() + b"\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    return path


def day_of(i: int, days: int = 28) -> date:
    return date(2026, 11, 1) + timedelta(days=i % days)


def ingest(url: str, ingester: str, *paths: Path) -> None:
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store.backends import open_store

    run_ingest(list(paths), open_store(url, ingester=ingester))


def week_bytes(url: str, first: date, last: date) -> int:
    """What the bucket holds for the days ``first``..``last``: the bytes of their parts."""
    from tokmeter.store.objects import Bucket

    return sum(
        o.size for o in Bucket(url).list("usage/") if first.isoformat() <= o.key[11:21] <= last.isoformat()
    )


def test_a_week_from_a_fresh_host_fetches_only_that_week(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from tokmeter.report.queries import Filters, build_report, select_rows
    from tokmeter.store.local import Store
    from tokmeter.store.remote import RemoteStore

    logs = [
        spread_log(tmp_path / f"in{n}.jsonl", ids) for n, ids in enumerate((range(0, 900), range(600, 1500)))
    ]
    for n, log in enumerate(logs):
        ingest(bucket, f"gw-{n}", log)
    local = Store(tmp_path / "local")
    from tokmeter.ingest.pipeline import run_ingest

    run_ingest(logs, local)
    filters = Filters(since=WEEK[0], until=WEEK[1])

    fresh = RemoteStore(bucket, cache=tmp_path / "fresh-host")
    report = build_report(fresh, ["model", "day"], filters, use_rollups=False)
    expected = build_report(local, ["model", "day"], filters, use_rollups=False)
    assert report.rows.equals(expected.rows) and report.totals.equals(expected.totals)
    assert report.totals["requests"][0] == sum(WEEK[0] <= day_of(i) <= WEEK[1] for i in range(1500))

    assert 0 < fresh.bucket.bytes_read <= 2 * week_bytes(bucket, *WEEK)
    mirrored = {p.parent.name for p in (tmp_path / "fresh-host" / "usage").glob("*/*.parquet")}
    assert mirrored == {
        f"date={WEEK[0] + timedelta(days=k - 1)}" for k in range(9)
    }  # the week and a day each side

    again = fresh.bucket.bytes_read  # a second read of the same week is served by the cache
    # the same rows, but for the host that stored them (gw-0 / gw-1 in the bucket, this machine locally)
    assert select_rows(fresh, filters).drop("host").equals(select_rows(local, filters).drop("host"))
    assert fresh.bucket.bytes_read == again


def test_budgets_from_the_rows_fetch_only_the_days_they_price(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    """README: nothing but what needs every row downloads the whole store; a budget needs its period and
    the forecast's 14 days (and, in another zone, a day each side)."""
    from datetime import UTC, datetime

    from tokmeter.budgets.definitions import Budget
    from tokmeter.budgets.status import evaluate
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store.local import Store
    from tokmeter.store.remote import RemoteStore

    log = spread_log(tmp_path / "in.jsonl", range(0, 840))
    ingest(bucket, "gw-0", log)
    local = Store(tmp_path / "local")
    run_ingest([log], local)
    budgets = [Budget("week", 1.0, period="week"), Budget("alice", 1.0, where={"user": ("alice",)})]
    now = datetime(2026, 11, 12, 12, tzinfo=UTC)  # span: 2026-10-29 (14 days back) .. 2026-11-12
    for tz in ("UTC", "Europe/Berlin"):
        fresh = RemoteStore(bucket, cache=tmp_path / f"fresh-{tz.replace('/', '-')}")
        got = evaluate(fresh, budgets, tz, now=now)
        expected = evaluate(local, budgets, tz, now=now)
        assert [(s.spent_usd, s.forecast_usd, s.source) for s in got.statuses] == [
            (s.spent_usd, s.forecast_usd, s.source) for s in expected.statuses
        ]
        assert got.statuses[0].spent_usd > 0
        mirrored = {p.parent.name for p in fresh.root.glob("usage/*/*.parquet")}
        last = date(2026, 11, 13 if tz == "UTC" else 14)  # and the day after, which deduplication compares
        assert mirrored and max(mirrored) <= f"date={last}", sorted(mirrored)


def test_reconcile_by_a_column_fetches_only_the_bill_s_days(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from tokmeter.reconcile.result import reconcile
    from tokmeter.store.remote import RemoteStore

    ingest(bucket, "gw-0", spread_log(tmp_path / "in.jsonl", range(0, 280)))  # 2026-11-01 .. 2026-11-28
    bill = Path(__file__).parent / "data" / "bills" / "openai-usage-completions.json"  # 2026-11-01 .. 03
    fresh = RemoteStore(bucket, cache=tmp_path / "fresh")
    assert reconcile(fresh, [bill], by=["project"]).rows.height > 0
    mirrored = {p.parent.name for p in fresh.root.glob("usage/*/*.parquet")}
    assert mirrored == {f"date=2026-11-0{d}" for d in range(1, 5)}  # the bill's days and the day after


def test_other_time_zones_and_open_ranges_give_the_rows_of_a_local_store(
    bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.store.local import Store
    from tokmeter.store.remote import RemoteStore

    log = spread_log(tmp_path / "in.jsonl", range(0, 400), days=20)
    ingest(bucket, "gw", log)
    local = Store(tmp_path / "local")
    from tokmeter.ingest.pipeline import run_ingest

    run_ingest([log], local)
    for filters in (
        Filters(since=date(2026, 11, 18), tz="America/Los_Angeles"),
        Filters(until=date(2026, 11, 3), tz="Asia/Tokyo"),
        Filters(since=date(2026, 11, 5), until=date(2026, 11, 5)),
        Filters(since=date(2027, 1, 1)),  # no data there: an empty report, nothing fetched
    ):
        fresh = RemoteStore(bucket, cache=tmp_path / f"fresh-{uuid.uuid4().hex[:6]}")
        got = build_report(fresh, ["model", "day"], filters, use_rollups=False)
        want = build_report(local, ["model", "day"], filters, use_rollups=False)
        assert got.rows.equals(want.rows) and got.totals.equals(want.totals), filters.describe()
        if filters.since == date(2027, 1, 1):
            assert fresh.bucket.bytes_read == 0 and got.totals["requests"][0] == 0

    # the Prometheus lag reads the newest request from the last dates only, and equals the whole store's
    import time

    import polars as pl

    from tokmeter.rollup import DEFAULT_DIMS
    from tokmeter.rollup.prometheus import metrics_text
    from tokmeter.rollup.spec import RollupSpec
    from tokmeter.rollup.tables import RollupTable

    table = RollupTable(
        RemoteStore(bucket, cache=tmp_path / "rollup-host"), RollupSpec("month", DEFAULT_DIMS, "UTC")
    )
    table.update()
    lag = float(re.search(r"^tokmeter_ingest_lag_seconds (\S+)$", metrics_text(table), re.M)[1])
    newest = local.scan().select(pl.col("timestamp").max()).collect().item()
    assert abs(lag - (time.time() - newest.timestamp())) < 120


def test_folding_the_ledger_changes_nothing_it_says(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    """Folded ledger objects: the same chains, entries and change positions; verify holds; a rollup made
    before the fold stays fresh, and one made after commits that follow it is still incremental."""
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.rollup.spec import RollupSpec
    from tokmeter.rollup.tables import RollupTable
    from tokmeter.store.backends import open_store
    from tokmeter.store.objects import Bucket
    from tokmeter.store.remote_ledger import RemoteLedger

    writers = {name: open_store(bucket, ingester=name) for name in ("a", "b", "c")}
    folder = RemoteLedger(Bucket(bucket), tmp_path / "folder-cache")
    folded = []
    for k in range(2):
        for n, (name, store) in enumerate(writers.items()):
            run_ingest(
                [spread_log(tmp_path / f"{name}{k}.jsonl", range(40 * k + n, 40 * k + 40, 3), days=3)], store
            )
        if k == 0:
            folded.append(folder.fold(at=2, fanout=2))  # three loose objects -> one fold of tier 1
    reader = open_store(bucket, ingester="reader")
    table = RollupTable(reader, RollupSpec("day", ("model", "provider"), "UTC"))
    table.update()
    before = (reader.change_position(), reader.ledger_entries())
    assert len(before[1]) >= 6 and len(Bucket(bucket).list("ledger/")) == 1 + 3

    folded.append(folder.fold(at=2, fanout=2))  # three more -> a second tier-1 fold; both -> one of tier 2
    assert folded == [3, 3 + 2]
    assert [o.key.split("/")[2] for o in Bucket(bucket).list("ledger/")] == ["2"]
    fresh = open_store(bucket, ingester="reader")  # another process: reads the folds from the bucket
    assert (fresh.change_position(), fresh.ledger_entries()) == before
    assert table.is_fresh(None) and build_report(fresh, ["model"], Filters()).source == "rollups"
    with fresh.reading():
        assert fresh.verify().ok

    run_ingest([spread_log(tmp_path / "late.jsonl", range(2000, 2010))], writers["a"])
    assert not table.is_fresh(None)
    result = table.update()
    assert not result.full and result.periods_rewritten  # only the days the late commit touched
    assert build_report(fresh, ["model"], Filters()).source == "rollups"
    by_rows = build_report(open_store(bucket, ingester="x"), ["model"], Filters(), use_rollups=False)
    assert build_report(fresh, ["model"], Filters()).totals.equals(by_rows.totals)


def test_folds_racing_with_readers_and_each_other_lose_nothing(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store.backends import open_store
    from tokmeter.store.objects import Bucket
    from tokmeter.store.remote_ledger import RemoteLedger

    writer = open_store(bucket, ingester="w")
    for k in range(5):
        run_ingest([spread_log(tmp_path / f"w{k}.jsonl", range(10 * k, 10 * k + 10), days=1)], writer)
    expected = writer.ledger_entries()

    def fold(n: int) -> int:
        return RemoteLedger(Bucket(bucket), tmp_path / f"fold-{n}").fold(at=2, fanout=2)

    def read(n: int) -> list[dict]:
        return open_store(bucket, ingester=f"r{n}").ledger_entries()

    with ThreadPoolExecutor(4) as pool:
        folds = [pool.submit(fold, n) for n in range(2)]
        reads = [pool.submit(read, n) for n in range(3)]
        assert all(f.result() >= 0 for f in folds)
        assert all(r.result() == expected for r in reads)
    assert read(99) == expected
    reader = open_store(bucket, ingester="v")
    with reader.reading():
        assert reader.verify().ok


@pytest.mark.slow
def test_compact_folds_the_ledger_past_its_threshold(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from test_remote_store import cli_ok
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store.backends import open_store
    from tokmeter.store.objects import Bucket
    from tokmeter.store.remote_ledger import FOLD_AT, FOLDS

    writer = open_store(bucket, ingester="w")
    for k in range(FOLD_AT):
        run_ingest([spread_log(tmp_path / f"w{k}.jsonl", range(k, k + 1))], writer)
    expected = writer.ledger_entries()
    done = cli_ok("compact", "--ingester-id", "cron")  # its merges add one ledger object: 65 folded
    folded = re.search(r"(\d+) ledger object\(s\) folded", done.stderr)
    assert folded and int(folded[1]) > FOLD_AT  # the ingests' objects and those of the merges
    assert all(o.key.startswith(FOLDS) for o in Bucket(bucket).list("ledger/"))
    after = open_store(bucket, ingester="r").ledger_entries()
    assert all(entry in after for entry in expected) and len(after) > len(expected)
    reader = open_store(bucket, ingester="v")
    with reader.reading():
        assert reader.verify().ok
