"""An incremental rollup of a bucket store fetches only the parts added since its last run (not the other
parts of the periods they touch), even from a cache that kept nothing, and its tables are those of a local
store holding the same captures: new requests are folded in, a copy of a request the table holds makes it
recompute the periods, and a compaction (a merge of parts already read) changes nothing. A real S3 server
(moto's) on 127.0.0.1, as in test_remote_store.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from test_remote_reads import ingest, spread_log
from test_remote_store import bucket, s3_endpoint  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from tokmeter.rollup.tables import RollupTable

pytest.importorskip("moto.server")
pytest.importorskip("s3fs")

SPECS = (("day", "UTC"), ("month", "America/New_York"))


def part_keys(url: str) -> set[str]:
    from tokmeter.store.objects import Bucket

    return {o.key for o in Bucket(url).list("usage/")}


def table_rows(table: RollupTable) -> pl.DataFrame:
    frame = table.scan().collect()
    return frame.sort(frame.columns, nulls_last=True)


def test_a_second_rollup_fetches_only_the_new_parts_and_equals_a_local_store(
    bucket: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.rollup.spec import RollupSpec
    from tokmeter.rollup.tables import RollupResult, RollupTable
    from tokmeter.store.compact import compact
    from tokmeter.store.local import Store
    from tokmeter.store.remote import RemoteStore

    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "0")  # every command starts from an empty cache
    local = Store(tmp_path / "local")
    remote = RemoteStore(bucket, cache=tmp_path / "rollup-host")
    specs = [RollupSpec(period, ("user", "model", "provider"), tz) for period, tz in SPECS]
    tables = [(RollupTable(remote, spec), RollupTable(local, spec)) for spec in specs]

    def add(ingester: str, ids: range) -> set[str]:
        log = spread_log(tmp_path / f"{ingester}-{ids.start}.jsonl", ids, days=8)
        before = part_keys(bucket)
        ingest(bucket, ingester, log)
        run_ingest([log], local)
        return part_keys(bucket) - before

    def roll() -> list[tuple[set[str], RollupResult]]:
        """Each table brought up to date (one command each): the parts it fetched, its result."""
        runs = []
        for theirs, ours in tables:
            fetched = len(remote.fetched)
            result = theirs.update()
            runs.append((set(remote.fetched[fetched:]), result))
            assert len(remote.fetched) - fetched == len(runs[-1][0])  # none twice
            ours.update()
            assert_frame_equal(table_rows(theirs), table_rows(ours))
            assert not list(remote.usage_dir.glob("*/*.parquet"))  # the cache kept nothing
        return runs

    first = add("gw-0", range(0, 160))  # 2026-11-01 .. 08
    assert all(fetched == first and result.full for fetched, result in roll())

    new = add("gw-1", range(160, 164))  # new requests on 4 of the 8 days
    assert len(new) == 4
    for fetched, result in roll():
        assert fetched == new and not result.full and result.periods_rewritten

    copies = add("gw-2", range(162, 166))  # two copies of requests the tables hold: recomputed
    for fetched, result in roll():
        assert fetched > copies and not result.full and result.periods_rewritten

    assert compact(remote).partitions  # every day's parts merged: rows already read, nothing to do
    for fetched, result in roll():
        assert fetched == set() and result.periods_rewritten == [] and not result.full

    last = add("gw-3", range(166, 168))
    assert all(fetched == last for fetched, _result in roll())


def test_the_parts_a_rollup_folds_in_leave_out_merges_of_parts_it_has_read() -> None:
    from tokmeter.store.remote_ledger import added_parts

    def entry(txn: str, op: str, part: str) -> dict:
        return {"txn": txn, "op": op, "part": part}

    entries = [
        entry("t1", "add", "a"),
        entry("t2", "add", "b"),
        entry("t3", "remove", "old-1"),  # a merge of parts recorded before: nothing new
        entry("t3", "remove", "old-2"),
        entry("t3", "add", "merge-old"),
        entry("t4", "remove", "old-3"),  # a merge of an older part and a new one: its rows are new
        entry("t4", "remove", "a"),
        entry("t4", "add", "merge-mixed"),
        entry("t5", "add", "c"),
    ]
    assert added_parts(entries) == ["b", "merge-mixed", "c"]  # 'a' is in its merge now
    assert added_parts([]) == []
