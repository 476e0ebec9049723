"""The store: one row per request id after any sequence of ingests, atomic commits, real Parquet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pytest

from tokmeter.errors import StoreBusyError, StoreError
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.schema import polars_schema
from tokmeter.store.local import Store
from tokmeter.store.transaction import JOURNAL, Transaction

T0 = datetime(2026, 11, 3, 10, tzinfo=UTC)


def usage_row(request_id: str, when: datetime = T0, **fields: object) -> dict:
    base = {
        "request_id": request_id,
        "response_id": None,
        "timestamp": when,
        "user": "u",
        "provider": "openai",
        "model": "gpt-4o",
        "endpoint": "/v1/chat/completions",
        "stream": False,
        "status": 200,
        "input_tokens": 10,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 5,
        "reasoning_tokens": 0,
        "usage_source": "reported",
        "complete": True,
        "source": "f",
        "source_offset": 0,
    }
    return base | fields


def commit(store: Store, *rows: dict):  # noqa: ANN201
    with store.writing():
        return store.commit(pl.DataFrame(list(rows), schema=polars_schema()))


def stored(store: Store) -> pl.DataFrame:
    with store.reading():
        return store.scan().collect().sort("request_id")


def test_commit_then_scan_roundtrip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    result = commit(store, usage_row("a"), usage_row("b", T0 + timedelta(days=1)))
    assert result.rows_written == 2
    frame = stored(store)
    assert frame["request_id"].to_list() == ["a", "b"]
    assert sorted(p.parent.name for p in store.part_files()) == ["date=2026-11-03", "date=2026-11-04"]


def test_same_rows_twice_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"), usage_row("b"))
    before = sorted(store.part_files())
    again = commit(store, usage_row("a"), usage_row("b"))
    assert (again.rows_written, again.duplicates_dropped, again.duplicates_disagreeing) == (0, 2, 0)
    assert sorted(store.part_files()) == before


def test_duplicates_within_one_batch(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    result = commit(store, usage_row("a"), usage_row("a", output_tokens=9, complete=False), usage_row("a"))
    assert (result.rows_written, result.duplicates_dropped, result.duplicates_disagreeing) == (1, 2, 1)
    assert stored(store)["output_tokens"].to_list() == [5]


def test_unknown_and_zero_copies_disagree(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    result = commit(store, usage_row("a", reasoning_tokens=None), usage_row("a"), usage_row("b"))
    assert (result.rows_written, result.duplicates_dropped, result.duplicates_disagreeing) == (2, 1, 1)
    assert stored(store)["reasoning_tokens"].to_list() == [0, 0]  # the copy that knows, kept


def test_duplicates_straddling_midnight_are_one_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    late = datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC)
    commit(store, usage_row("a", late))
    commit(store, usage_row("a", late + timedelta(seconds=2)))
    frame = stored(store)
    assert frame.height == 1
    assert frame["timestamp"][0] == late + timedelta(seconds=2)  # the later copy wins, in its own day
    assert [p.parent.name for p in store.part_files()] == ["date=2026-11-04"]


PREFERENCES = [
    (
        "complete over incomplete",
        {"complete": True},
        {"complete": False, "timestamp": T0 + timedelta(seconds=9)},
    ),
    (
        "reported over missing",
        {"usage_source": "reported"},
        {
            "usage_source": "missing",
            "input_tokens": 0,
            "output_tokens": 0,
            "timestamp": T0 + timedelta(seconds=9),
        },
    ),
    ("2xx over others", {"status": 200}, {"status": 500, "timestamp": T0 + timedelta(seconds=9)}),
    (
        "known over unknown",
        {"reasoning_tokens": 0},
        {"reasoning_tokens": None, "cache_write_1h_tokens": None, "timestamp": T0 + timedelta(seconds=9)},
    ),
    ("latest timestamp", {"timestamp": T0 + timedelta(seconds=1)}, {"timestamp": T0}),
]


@pytest.mark.parametrize("name, winner, loser", PREFERENCES, ids=[p[0] for p in PREFERENCES])
@pytest.mark.parametrize("winner_first", [True, False])
def test_preferred_copy_wins_in_any_order(
    tmp_path: Path, name: str, winner: dict, loser: dict, winner_first: bool
) -> None:
    store = Store(tmp_path / "s")
    good, bad = usage_row("a", **winner), usage_row("a", source="other", **loser)
    for one in (good, bad) if winner_first else (bad, good):
        commit(store, one)
    frame = stored(store)
    assert frame.height == 1
    kept = frame.row(0, named=True)
    assert all(kept[k] == v for k, v in winner.items()), name
    assert len(store.part_files()) == 1  # the loser's part was replaced, not left beside it


def test_replacing_a_row_keeps_its_neighbours(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a", complete=False), usage_row("b"), usage_row("c"))
    commit(store, usage_row("a", output_tokens=50))
    frame = stored(store)
    assert frame["request_id"].to_list() == ["a", "b", "c"]
    assert frame["output_tokens"].to_list() == [50, 5, 5]


def test_ingest_duplicates_across_files(tmp_path: Path) -> None:
    record = {
        "ts": "2026-11-03T10:00:00Z",
        "request_id": "r1",
        "provider": "openai",
        "body": {
            "id": "c",
            "object": "chat.completion",
            "model": "gpt-4o",
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        },
    }
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text(json.dumps(record) + "\n")
    store = Store(tmp_path / "s")
    report = run_ingest([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], store)
    assert (report.rows_written, report.duplicates_dropped) == (1, 1)
    second = run_ingest([tmp_path], store)
    assert (second.rows_written, second.duplicates_dropped) == (0, 2)
    assert stored(store).height == 1


def test_store_is_readable_by_duckdb_as_it_is(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"), usage_row("b", T0 + timedelta(days=1), input_tokens=7))
    con = duckdb.connect()
    result = con.execute(
        "select count(*), sum(input_tokens), min(date) from read_parquet(?, hive_partitioning=true)",
        [str(store.usage_dir / "*" / "*.parquet")],
    ).fetchone()
    assert result[0] == 2 and result[1] == 17 and str(result[2]) == "2026-11-03"


def test_unfinished_transaction_is_finished_by_the_next_writer(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"))
    old_part = store.part_files()[0]
    # A writer that crashed right after writing its journal: new part staged, old part still there.
    txn = Transaction(store.root)
    txn.stage_part(
        old_part.with_name("part-new.parquet"),
        pl.DataFrame([usage_row("a", output_tokens=99)], schema=polars_schema()),
    )
    txn.stage_remove(old_part)
    (store.root / JOURNAL).write_bytes(orjson.dumps({"add": txn.adds, "remove": txn.removes}))
    with pytest.raises(StoreError, match="unfinished transaction"):
        stored(store)
    with store.writing():
        pass
    assert not (store.root / JOURNAL).exists()
    assert stored(store)["output_tokens"].to_list() == [99]


def test_stray_temporaries_from_a_crash_before_the_journal_are_cleared(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"))
    stray = store.part_files()[0].parent / ".part-x.parquet.1234.tmp"
    stray.write_bytes(b"half a parquet file")
    with store.writing():
        pass
    assert not stray.exists()
    assert stored(store).height == 1


def test_second_writer_fails_fast_with_no_wait(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    with store.writing():
        with pytest.raises(StoreBusyError) as info:
            with Store(store.root).writing(wait=False):
                pass
    assert info.value.exit_code == 75


def test_empty_store_scans_to_an_empty_frame(tmp_path: Path) -> None:
    frame = stored(Store(tmp_path / "nothing-here"))
    assert frame.height == 0 and "request_id" in frame.columns


def _with_date(rows: list[dict]) -> pl.LazyFrame:
    frame = pl.DataFrame(rows, schema=polars_schema())
    return frame.lazy().with_columns(date=pl.col("timestamp").dt.date())


def test_best_nearby_matches_copies_a_day_apart_and_not_further() -> None:
    """The rule of a shared (remote) store: copies at most a day apart are one row, as in a local store."""
    from tokmeter.store.dedup import best_nearby

    rows = [
        usage_row("a", T0, complete=False),
        usage_row("a", T0 + timedelta(hours=20)),  # one day apart
        usage_row("b", T0),
        usage_row("b", T0 + timedelta(days=2, hours=1), complete=False),
    ]  # two days
    kept = best_nearby(_with_date(rows)).collect().sort("request_id", "timestamp")
    assert kept["request_id"].to_list() == ["a", "b", "b"]
    assert kept.filter(pl.col("request_id") == "a")["complete"].to_list() == [True]


def test_best_nearby_gives_the_same_rows_whatever_days_are_read() -> None:
    """A report over all days, a rollup of one period and Spark over a span read different days: for the
    days they keep, reading the day on either side is enough to agree."""
    import random

    from tokmeter.store.dedup import best_nearby

    rng = random.Random(5)
    rows = [
        usage_row(
            f"r{rng.randint(0, 60)}",
            T0 + timedelta(hours=rng.randint(0, 24 * 9)),
            complete=rng.random() < 0.7,
            output_tokens=rng.randint(0, 9),
            source_offset=i,
        )
        for i in range(400)
    ]
    everything = best_nearby(_with_date(rows)).collect()
    days = sorted(everything["date"].unique().to_list())
    for first, last in [(days[0], days[0]), (days[2], days[4]), (days[3], days[-1]), (days[5], days[5])]:
        window = _with_date(rows).filter(
            pl.col("date").is_between(first - timedelta(days=1), last + timedelta(days=1))
        )
        got = best_nearby(window).filter(pl.col("date").is_between(first, last)).collect()
        want = everything.filter(pl.col("date").is_between(first, last))
        assert got.sort("request_id", "date").equals(want.sort("request_id", "date"))
