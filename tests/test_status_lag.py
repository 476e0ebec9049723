"""``tokmeter status`` reports lag per piece of content: the bytes written and not yet committed, after
rotations with the follower running or down, and nothing for content that is fully committed (even
when its inode now holds other, longer content)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from capture_lines import records
from test_follow import append, assert_clean_stop, follower, status, wait_for, wait_rows


def total_lag(sources: list[dict]) -> int:
    return sum(s["lag_bytes"] or 0 for s in sources)


def test_no_phantom_lag_for_content_fully_read_when_its_inode_grows_new_content(
    tmp_path: Path, isolated_store: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.jsonl"
    live.write_bytes(records(range(30)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 30)
        with open(live, "r+b") as handle:  # truncated in place (no copy takes its checkpoint over)
            handle.truncate(0)
        append(live, records(range(30, 100)))  # past the old content's size, in the same inode
        wait_rows(isolated_store, 100)
        wait_for(lambda: total_lag(status(isolated_store)) == 0, "no lag once caught up", timeout=10)
        assert_clean_stop(f)
    sources = status(isolated_store)
    assert total_lag(sources) == 0, sources
    live_now = [s for s in sources if s["path"] == str(live) and s["lag_bytes"] is not None]
    assert [s["offset"] for s in live_now] == [live.stat().st_size], sources


def test_lag_of_files_rotated_while_the_follower_was_down(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live, rotated = logs / "app.jsonl", logs / "app.jsonl.1"
    live.write_bytes(records(range(20)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 20)
        assert_clean_stop(f)
    unread = records(range(20, 220))
    append(live, unread)
    os.rename(live, rotated)
    fresh = records(range(220, 270))
    live.write_bytes(fresh)
    sources = {Path(s["path"]).name: s for s in status(isolated_store)}
    assert sources["app.jsonl.1"]["lag_bytes"] == len(unread), sources  # found where it was rotated to
    assert (sources["app.jsonl"]["state"], sources["app.jsonl"]["lag_bytes"]) == ("new", len(fresh)), sources
    assert total_lag(list(sources.values())) == len(unread) + len(fresh)
    with gzip.open(logs / "app.jsonl.1.gz", "wb") as out:  # compressed while still down
        out.write(rotated.read_bytes())
    rotated.unlink()
    sources = {Path(s["path"]).name: s for s in status(isolated_store)}
    assert sources["app.jsonl.1.gz"]["lag_bytes"] == len(unread), sources
    assert total_lag(list(sources.values())) == len(unread) + len(fresh)
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 270)
        wait_for(lambda: total_lag(status(isolated_store)) == 0, "no lag once caught up", timeout=10)
        assert_clean_stop(f)
    assert "duplicates dropped 0" in f.stdout
