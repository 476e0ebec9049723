"""The store's two low-level helpers, on real files and real processes: atomic writes
(``store/atomic.py``) and locks (``store/locking.py``)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokmeter.errors import StoreBusyError
from tokmeter.store.atomic import replace_file, write_temp
from tokmeter.store.locking import file_lock, follower_lock, follower_running


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replace_file_gives_the_exact_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "doc.json"
    old = os.umask(0o077)
    try:
        replace_file(target, lambda temp: temp.write_bytes(b"{}"), mode=0o644)
    finally:
        os.umask(old)
    assert target.read_bytes() == b"{}" and mode_of(target) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["doc.json"]


def test_a_failed_write_leaves_the_target_as_it_was_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_bytes(b"old")

    def half_then_fail(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_file(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_write_temp_creates_the_file_owner_only_before_any_content(tmp_path: Path) -> None:
    seen: list[int] = []

    def write(temp: Path) -> None:
        seen.append(mode_of(temp))  # what another user could do while the content goes in
        temp.write_bytes(b"rows")

    temp = write_temp(tmp_path / "part.parquet", write, mode=0o600)
    assert seen == [0o600] and mode_of(temp) == 0o600
    assert temp.name.startswith(".part.parquet.") and temp.name.endswith(".tmp")
    assert not (tmp_path / "part.parquet").exists()  # the caller (a journal) renames it


def test_shared_holders_coexist_and_an_exclusive_one_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    busy = StoreBusyError("busy here", hint="wait")
    with file_lock(path, exclusive=False), file_lock(path, exclusive=False):
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info, file_lock(path, exclusive=True, wait=False, busy=busy):
            pass
        assert info.value is busy and time.monotonic() - started < 1
    with file_lock(path, exclusive=True, wait=False):
        pass  # released when the holders left


def test_a_timed_wait_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with file_lock(path, exclusive=True):
        started = time.monotonic()
        with pytest.raises(StoreBusyError), file_lock(path, exclusive=False, timeout=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 3


HOLD = """
import sys, time
from pathlib import Path
from tokmeter.store.locking import file_lock, follower_lock
root = Path(sys.argv[1])
with file_lock(root / ".lock", exclusive=True), follower_lock(root):
    print("held", flush=True)
    time.sleep(60)
"""


def test_locks_die_with_their_process_even_on_kill_9(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert follower_running(tmp_path)
        with pytest.raises(StoreBusyError), file_lock(tmp_path / ".lock", exclusive=False, wait=False):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not follower_running(tmp_path)
    with file_lock(tmp_path / ".lock", exclusive=True, wait=False), follower_lock(tmp_path):
        assert follower_running(tmp_path)  # a follower again: this one
