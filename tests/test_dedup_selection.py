"""The commit's deduplication picks rows without sorting the batch (``dedup.best_rows``): it must keep
exactly the rows the sort-based rule (``dedup.best_per_request``) keeps, on frames with ties, nulls and
repeated copies, and a store must hold what that rule gives for all the copies ever committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tokmeter.ingest.rows import REPEATING
from tokmeter.schema import TOKEN_COLUMNS, polars_schema
from tokmeter.store.dedup import best_per_request, best_rows
from tokmeter.store.local import Store

T0 = datetime(2026, 11, 3, 23, 58, tzinfo=UTC)
# What decides between copies (RANK_KEYS are derived from these), then the tie-breakers
DECIDING = ("complete", "usage_source", "status", *TOKEN_COLUMNS, "timestamp", "source", "source_offset")

small_tokens = st.one_of(st.none(), st.integers(0, 3))
copies = st.fixed_dictionaries(
    {
        "request_id": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e"])),
        "complete": st.one_of(st.none(), st.booleans()),
        "usage_source": st.sampled_from(["reported", "estimated", "missing"]),
        "status": st.sampled_from([None, 200, 204, 429, 500]),
        **{column: small_tokens for column in TOKEN_COLUMNS},
        "timestamp": st.sampled_from([T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)]),
        "source": st.one_of(st.none(), st.sampled_from(["f", "g"])),
        "source_offset": st.one_of(st.none(), st.integers(0, 1)),
    }
)


def as_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows in the schema. Two copies that tie on everything that decides between them are the same
    capture read twice: every other column is made a function of those (the model column names them), so
    which of the two is kept cannot show."""
    full = []
    for row in rows:
        label = "|".join(str(row[column]) for column in ("request_id", *DECIDING))
        full.append({**row, "model": label, "provider": "anthropic", "endpoint": "/v1/messages"})
    return pl.DataFrame(full, schema=polars_schema())


def in_order(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(pl.all(), nulls_last=True)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(copies, min_size=1, max_size=40), prefer=st.lists(st.booleans(), min_size=40, max_size=40)
)
def test_best_rows_keeps_what_the_sort_keeps(rows: list[dict], prefer: list[bool]) -> None:
    frame = as_frame(rows)
    keep = best_rows(frame)
    kept = frame if keep is None else frame.filter(keep)
    assert_frame_equal(in_order(kept), in_order(best_per_request(frame.lazy()).collect()))
    # with a column that wins full ties (the stored copy, at commit), part of what decides
    flagged = frame.with_columns(_old=pl.Series(prefer[: frame.height]))
    flagged = flagged.with_columns(model=pl.col("model") + pl.col("_old").cast(pl.String))
    keep = best_rows(flagged, prefer="_old")
    kept = flagged if keep is None else flagged.filter(keep)
    expected = best_per_request(flagged.lazy(), prefer="_old").collect()
    assert_frame_equal(in_order(kept), in_order(expected))


def test_best_rows_is_none_when_no_request_repeats() -> None:
    frame = as_frame(
        [{**dict.fromkeys(DECIDING), "request_id": rid, "usage_source": "reported"} for rid in "abc"]
    )
    assert best_rows(frame) is None
    assert best_rows(pl.concat([frame, frame.head(1)])).to_list() == [True, True, True, False]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.lists(copies, min_size=1, max_size=12),
    second=st.lists(copies, min_size=1, max_size=12),
    compact=st.booleans(),
)
def test_two_commits_keep_the_best_of_all_copies(
    tmp_path_factory, first: list[dict], second: list[dict], compact: bool
) -> None:
    """The batch is ranked alone, then against the stored copies of its ids (the days either side
    included: T0 is two minutes before midnight). ``compact``: the batch's repeating text is Categorical,
    as rows wait during an ingest; the store holds String all the same."""
    first = [row for row in first if row["request_id"] is not None]
    second = [row for row in second if row["request_id"] is not None]
    store = Store(tmp_path_factory.mktemp("store"))
    results = []
    for batch in (first, second):
        with store.writing():
            frame = as_frame(batch)
            if compact:
                frame = frame.with_columns(pl.col(REPEATING).cast(pl.Categorical))
            results.append(store.commit(frame))
    both = pl.concat(
        [as_frame(first).with_columns(_old=pl.lit(True)), as_frame(second).with_columns(_old=pl.lit(False))]
    )
    expected = best_per_request(both.lazy(), prefer="_old").collect()
    with store.reading():
        held = store.scan().collect().drop("date", "host")
    assert_frame_equal(in_order(held), in_order(expected.drop("_old", "host")))
    assert sum(r.duplicates_dropped for r in results) == both.height - held.height
    assert store.verify().ok
    assert all(pl.read_parquet_schema(part)["source"] == pl.String for part in store.part_files())
    # estimated copies not written: the first batch's losers, then the second's (a stored copy that a new
    # one replaces is not counted)
    kept_first = best_per_request(as_frame(first).lazy()).collect()
    written_second = expected.filter(~pl.col("_old"))
    assert sum(r.estimated_dropped for r in results) == (
        estimated(as_frame(first))
        - estimated(kept_first)
        + estimated(as_frame(second))
        - estimated(written_second)
    )


def estimated(frame: pl.DataFrame) -> int:
    return int((frame["usage_source"] == "estimated").sum())
