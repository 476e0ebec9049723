"""Reading a bucket in place: a query fetches only the date partitions it needs (counted in bytes), the
mirror is a cache of what was read, and the figures are those of a local store holding the same
captures. The ledger's objects are folded without changing what it says. A real S3 server (moto's) on
127.0.0.1, as in test_remote_store.py."""

from __future__ import annotations

import json
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
    assert select_rows(fresh, filters).equals(select_rows(local, filters))
    assert fresh.bucket.bytes_read == again


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
