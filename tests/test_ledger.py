"""Tamper evidence: the ledger chains every committed part; verify finds modified, missing, unexpected."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE_LOGS, run_cli
from test_store import commit, usage_row
from tokmeter.schema import polars_schema
from tokmeter.store import ledger
from tokmeter.store.ledger import LEDGER, canonical_lines, read_entries, rows_digest, verify
from tokmeter.store.local import Store

T0 = datetime(2026, 11, 3, 10, tzinfo=UTC)


def check(store: Store):
    return verify(store.root, store.part_files())


def test_every_commit_is_chained(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"), usage_row("b", T0 + timedelta(days=1)))
    commit(store, usage_row("a", output_tokens=50))  # replaces a's part: remove + add entries
    entries = read_entries(store.root)
    assert [e["op"] for e in entries] == ["add", "add", "remove", "add"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[2]["txn"] == entries[3]["txn"]  # the replacement is one transaction
    result = check(store)
    assert result.ok and result.parts_checked == 2


def test_modified_missing_unexpected_are_reported(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(
        store, usage_row("a"), usage_row("b", T0 + timedelta(days=1)), usage_row("c", T0 + timedelta(days=2))
    )
    first, second, third = store.part_files()
    frame = pl.read_parquet(first)
    frame.with_columns(output_tokens=pl.col("output_tokens") + 1).write_parquet(first)  # forged usage
    second.unlink()
    shutil.copy(third, third.with_name("part-smuggled.parquet"))
    result = check(store)
    assert result.modified == [first.relative_to(store.root).as_posix()]
    assert result.missing == [second.relative_to(store.root).as_posix()]
    assert result.unexpected == [third.with_name("part-smuggled.parquet").relative_to(store.root).as_posix()]
    assert not result.ok


def test_a_rewritten_ledger_breaks_the_chain(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a"))
    commit(store, usage_row("b"))
    lines = (store.root / LEDGER).read_bytes().splitlines()
    entry = orjson.loads(lines[0])
    entry["rows"] = 99
    lines[0] = orjson.dumps(entry)
    (store.root / LEDGER).write_bytes(b"\n".join(lines) + b"\n")
    assert check(store).chain_errors


def test_digest_is_of_values_not_of_file_bytes(tmp_path: Path) -> None:
    frame = pl.DataFrame([usage_row("a")], schema=Store(tmp_path).scan().drop("date").collect_schema())
    frame.write_parquet(tmp_path / "x.parquet", compression="snappy")
    assert rows_digest(pl.read_parquet(tmp_path / "x.parquet")) == rows_digest(frame)


def test_canonical_lines_are_each_rows_json_on_its_line() -> None:
    # the fast form (one dumps of all rows) must give the bytes of one dumps per row, whatever the strings
    # hold: brackets and commas as between rows, quotes, escapes, line breaks, non-ASCII, nulls
    tricky = ["a],[b", "],[", 'x"],["y', "line\nbreak", "tab\t\\", "\u2028é€😀", "", None, "]", "["]
    rows = [(text, index, index % 2 == 0, None) for index, text in enumerate(tricky)]
    for count in range(len(rows) + 1):
        part = rows[:count]
        assert canonical_lines(part) == b"".join(orjson.dumps(row) + b"\n" for row in part)
    clean = [("req", 1, True, None), ("r2", 2, False, "s")]
    assert canonical_lines(clean) == b'["req",1,true,null]\n["r2",2,false,"s"]\n'


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(), st.one_of(st.none(), st.text()), st.integers(-(2**63), 2**63 - 1)),
        min_size=1,
        max_size=30,
    )
)
def test_digest_is_of_each_rows_json(values: list[tuple[str, str | None, int]]) -> None:
    # the digest polars builds equals sha256 of orjson's canonical lines, whatever the strings hold
    rows = [
        usage_row(
            text or "id",
            T0 + timedelta(microseconds=n % 10**9),
            model=model,
            source=text,
            user=text[::-1],
            source_offset=n,
            status=None if n % 3 else 204,
            complete=n % 2 == 0,
        )
        for text, model, n in values
    ]
    frame = pl.DataFrame(rows, schema=polars_schema())
    canonical = frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    assert ledger._polars_writes_as_orjson()  # so the digest below is the one polars builds
    assert rows_digest(frame) == hashlib.sha256(canonical_lines(canonical.rows())).hexdigest()


def test_verify_command(isolated_store: Path) -> None:
    assert run_cli("ingest", str(SAMPLE_LOGS)).returncode == 0
    ok = run_cli("verify")
    assert ok.returncode == 0 and "ok: every part matches the ledger" in ok.stdout
    part = next(isolated_store.rglob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-20])  # damage
    bad = run_cli("verify")
    assert bad.returncode == 5
    assert "modified" in bad.stdout and "Error:" in bad.stderr


OLD_STORE = Path(__file__).parent / "data" / "old-store"


def test_a_store_written_before_null_counts_verifies_and_reads_as_before(tmp_path: Path) -> None:
    root = tmp_path / "old"
    shutil.copytree(OLD_STORE, root, ignore=shutil.ignore_patterns("README.md"))
    before = {p.name: p.read_bytes() for p in root.rglob("*.parquet")}
    done = run_cli("verify", "--store", str(root))
    assert done.returncode == 0 and "ok: every part matches the ledger" in done.stdout, (
        done.stdout + done.stderr
    )
    listed = run_cli("rows", "--format", "jsonl", "--store", str(root))
    rows = [orjson.loads(line) for line in listed.stdout.splitlines()]
    stored = pl.read_parquet(next(root.rglob("*.parquet")))
    assert len(rows) == stored.height and all(r["reasoning_tokens"] == 0 for r in rows)  # its 0s stay 0
    report = orjson.loads(run_cli("report", "--format", "json", "--store", str(root)).stdout)
    assert report["totals"]["unknown_reasoning_tokens"] == 0
    assert report["totals"]["output_tokens"] == stored["output_tokens"].sum()
    assert {p.name: p.read_bytes() for p in root.rglob("*.parquet")} == before  # nothing rewritten


def test_null_and_zero_counts_have_different_digests_by_either_writer(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    commit(store, usage_row("a", reasoning_tokens=None, cache_write_1h_tokens=None), usage_row("b"))
    assert check(store).ok
    frame = pl.read_parquet(store.part_files()[0])
    zeros = frame.with_columns(pl.col("reasoning_tokens", "cache_write_1h_tokens").fill_null(0))
    canonical = frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    assert rows_digest(frame) == hashlib.sha256(canonical_lines(canonical.rows())).hexdigest()
    assert rows_digest(frame) != rows_digest(zeros)
