"""A followed file's identity across rotations, copies in progress and restarts: no content is read
twice. Each test replays one order of events that used to read a whole rotated file again, with the
real follower process, and checks the captures it read against the records written since it started
(and ``duplicates dropped 0``: nothing it read was in the store already).
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from capture_lines import input_tokens, records
from conftest import run_cli
from test_follow import append, assert_clean_stop, follower, status, stored, wait_for, wait_rows
from tokmeter.ingest import checkpoints
from tokmeter.ingest.follow import FollowOptions, run_follow
from tokmeter.ingest.tail import Tailer
from tokmeter.sources import BadCapture
from tokmeter.store.local import Store


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


@pytest.mark.parametrize(("pause", "first"), [(0.6, 0.33), (2.5, 0.33), (0.6, 0.0)])
def test_a_copy_seen_while_it_is_being_copied_is_not_read_again(
    tmp_path: Path, isolated_store: Path, pause: float, first: float
) -> None:
    """The copier pauses within, then past, the settle time, after a third of the file, or after its
    first 600 bytes (too few to compare with the original's fingerprint)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    live, copy = logs / "app.jsonl", logs / "app.jsonl.1"
    data = records(range(300))
    live.write_bytes(data)
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 300)
        with open(copy, "wb") as out:  # copytruncate's copy, written slowly: seen half-copied
            out.write(data[: int(len(data) * first) + 600])  # mid-line
            out.flush()
            time.sleep(pause)
            out.write(data[int(len(data) * first) + 600 :])
        with open(live, "r+b") as handle:
            handle.truncate(0)
        append(live, records(range(300, 310)))
        wait_rows(isolated_store, 310)
        time.sleep(1.5)  # the copy settles
        assert_clean_stop(f)
    assert_read_once(f.stdout, 310)
    with follower(tmp_path, logs) as f:  # and a restart finds the copy where it stands
        time.sleep(1.5)
        assert_clean_stop(f)
    assert_read_once(f.stdout, 0)


def test_checkpoints_of_content_gone_and_read_are_pruned(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live, rotated = logs / "app.jsonl", logs / "app.jsonl.1"
    store = Store(tmp_path / "store")
    stop = threading.Event()
    options = FollowOptions(flush_interval=0.05, prune_after=0.5)
    thread = threading.Thread(target=run_follow, args=([logs], store, options), kwargs={"stop": stop})
    live.write_bytes(records(range(10)))
    thread.start()
    try:
        for turn in range(1, 4):  # rename rotation keeping one old log: each rotation deletes one
            wait_rows(store.root, 10 * turn)
            os.rename(live, rotated)
            live.write_bytes(records(range(10 * turn, 10 * turn + 10)))
        wait_rows(store.root, 40)

        def places() -> list[tuple[int, int]]:
            with store.reading():
                return sorted((cp.dev, cp.ino) for cp in checkpoints.load(store))

        there = sorted((st.st_dev, st.st_ino) for st in (live.stat(), rotated.stat()))
        wait_for(lambda: places() == there, "one checkpoint per file still there", timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert int(stored(store.root)["input_tokens"].sum()) == input_tokens(range(40))


def test_a_gzip_being_written_is_read_once_complete(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_bytes(records(range(10)))
    packed = gzip.compress(records(range(10, 400)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 10)
        with open(logs / "app.jsonl.1.gz", "wb") as out:  # the compressor pauses longer than the settle time
            out.write(packed[: len(packed) // 2])
            out.flush()
            time.sleep(2.5)
            out.write(packed[len(packed) // 2 :])
        wait_rows(isolated_store, 400)
        assert_clean_stop(f)
    assert "bad captures       0" in f.stdout
    assert_read_once(f.stdout, 400)
    assert run_cli("quarantine", "--format", "jsonl").stdout.strip() == ""


def test_a_gzip_that_stays_truncated_is_one_bad_capture_with_its_size(tmp_path: Path) -> None:
    gz = tmp_path / "app.jsonl.1.gz"
    packed = gzip.compress(records(range(300)))
    gz.write_bytes(packed[: len(packed) // 2])
    tailer = Tailer([tmp_path], [], settle=0.0)
    tailer.scan()
    assert not [i for chunk in tailer.read() for i in chunk.items]  # recent: being written, not an error yet
    assert not [i for chunk in tailer.read() for i in chunk.items]  # unchanged and recent: still waiting
    long_ago = time.time() - 120
    os.utime(gz, (long_ago, long_ago))
    [bad] = [i for chunk in tailer.read() for i in chunk.items]
    assert isinstance(bad, BadCapture) and f"{gz.stat().st_size:,} bytes" in bad.reason, bad
    assert not [i for chunk in tailer.read() for i in chunk.items]  # once
    tailer.close()


def test_unreadable_files_and_directories_are_reported_and_read_once_readable(
    tmp_path: Path, isolated_store: Path
) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "open.jsonl").write_bytes(records(range(10), "a"))
    locked, inner = logs / "locked.jsonl", logs / "sub" / "inner.jsonl"
    locked.write_bytes(records(range(10), "b"))
    inner.write_bytes(records(range(10), "c"))
    locked.chmod(0)
    (logs / "sub").chmod(0)
    # as root, permissions bind only without the capabilities that override them
    jail = (
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search",
        ]
        if os.geteuid() == 0
        else []
    )
    out, err = tmp_path / "follow.out", tmp_path / "follow.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(
            [
                *jail,
                sys.executable,
                "-m",
                "tokmeter",
                "ingest",
                str(logs),
                "--follow",
                "--flush-interval",
                "0.1",
            ],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_rows(isolated_store, 10)
        wait_for(lambda: err.read_text().count("unreadable: permission denied") == 2, "both reported at once")
        wait_for(
            lambda: len([s for s in status(isolated_store) if s["state"].startswith("unreadable")]) == 2,
            "both in status",
        )
        shown = {
            s["path"]: s for s in status(isolated_store) if s["state"] == "unreadable: permission denied"
        }
        assert shown[str(locked)]["lag_bytes"] == locked.stat().st_size, shown
        assert str(logs / "sub") in shown
        locked.chmod(0o644)
        (logs / "sub").chmod(0o755)
        wait_rows(isolated_store, 30)
        wait_for(
            lambda: not [s for s in status(isolated_store) if s["state"].startswith("unreadable")],
            "no longer unreadable in status",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert_read_once(out.read_text(), 30)
    assert "readable now" in err.read_text()


def test_a_copy_of_a_log_that_was_empty_at_its_last_checkpoint(tmp_path: Path, isolated_store: Path) -> None:
    """Its checkpoint has no fingerprint yet (no first bytes to take): it is lengthened as soon as the
    log is found again, so a copy seen in the same pass is still known for one."""
    logs = tmp_path / "logs"
    logs.mkdir()
    live, copy = logs / "app.jsonl", logs / "app.jsonl.1"
    live.write_bytes(records(range(10)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 10)
        with open(live, "r+b") as handle:
            handle.truncate(0)
        time.sleep(1.0)  # the emptied log's checkpoint is committed
        assert_clean_stop(f)
    data = records(range(10, 68))
    append(live, data)
    with follower(tmp_path, logs) as f:
        with open(copy, "wb") as out:  # copytruncate's copy, seen half-copied at start-up
            out.write(data[: len(data) // 2])
            out.flush()
            time.sleep(2.0)
            out.write(data[len(data) // 2 :])
        with open(live, "r+b") as handle:
            handle.truncate(0)
        wait_rows(isolated_store, 68)
        time.sleep(1.5)
        assert_clean_stop(f)
    assert_read_once(f.stdout, 58)
