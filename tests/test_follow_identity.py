"""A followed file's identity across rotations, copies in progress and restarts: no content is read
twice. Each test replays one order of events that used to read a whole rotated file again, with the
real follower process, and checks the captures it read against the records written since it started
(and ``duplicates dropped 0``: nothing it read was in the store already).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from capture_lines import input_tokens, records
from test_follow import append, assert_clean_stop, follower, stored, wait_rows


def captures_read(stdout: str) -> int:
    line = next(line for line in stdout.splitlines() if line.strip().startswith("captures "))
    return int(line.split()[1].replace(",", ""))


def assert_read_once(stdout: str, written: int) -> None:
    """The run read exactly the ``written`` records new to it, none twice."""
    assert captures_read(stdout) == written, stdout
    assert "duplicates dropped 0" in stdout, stdout


def copytruncate(live: Path, copy: Path) -> None:
    shutil.copyfile(live, copy)
    with open(live, "r+b") as handle:
        handle.truncate(0)


def test_copytruncate_then_rename_rotation_then_restart(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.jsonl"
    live.write_bytes(records(range(40)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 40)
        copytruncate(live, logs / "app.jsonl.1")
        append(live, records(range(40, 50)))
        wait_rows(isolated_store, 50)
        time.sleep(1.5)  # the copy settles and is known
        assert_clean_stop(f)
    assert_read_once(f.stdout, 50)
    os.rename(logs / "app.jsonl.1", logs / "app.jsonl.2")  # rename rotation while the follower is down
    os.rename(live, logs / "app.jsonl.1")
    live.write_bytes(records(range(50, 55)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 55)
        append(logs / "app.jsonl.1", records(range(55, 60)))  # the writer still held the rotated file
        wait_rows(isolated_store, 60)
        os.utime(logs / "app.jsonl.2")  # any event on the copy: it is still known
        time.sleep(1.0)
        assert_clean_stop(f)
    assert_read_once(f.stdout, 10)
    assert int(stored(isolated_store)["input_tokens"].sum()) == input_tokens(range(60))


def test_a_copy_seen_while_it_is_being_copied_is_not_read_again(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live, copy = logs / "app.jsonl", logs / "app.jsonl.1"
    data = records(range(300))
    live.write_bytes(data)
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 300)
        with open(copy, "wb") as out:  # copytruncate's copy, written slowly: seen half-copied
            out.write(data[: len(data) // 3])
            out.flush()
            time.sleep(0.6)
            out.write(data[len(data) // 3:])
        with open(live, "r+b") as handle:
            handle.truncate(0)
        append(live, records(range(300, 310)))
        wait_rows(isolated_store, 310)
        time.sleep(1.5)  # the copy settles
        assert_clean_stop(f)
    assert_read_once(f.stdout, 310)
