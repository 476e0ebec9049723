"""Faults: disk full, read-only store, two writers, a report during an ingest, file permissions.

Disk-full and read-only cases mount a small tmpfs (they need root, which CI has; they skip otherwise)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import SAMPLE_LOGS, run_cli


@pytest.fixture
def tiny_fs(tmp_path: Path):  # noqa: ANN201
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def big_log(path: Path, captures: int) -> None:
    with open(path, "w") as out:
        for i in range(captures):
            body = {
                "id": f"c{i}",
                "object": "chat.completion",
                "model": "gpt-4o-mini",
                "usage": {"prompt_tokens": 10 + i, "completion_tokens": 1},
            }
            out.write(
                json.dumps(
                    {
                        "ts": f"2026-11-0{1 + i % 9}T10:00:00Z",
                        "request_id": f"r{i:06d}-{os.urandom(16).hex()}",
                        "user": f"user-{i % 97}",
                        "provider": "openai",
                        "body": body,
                    }
                )
                + "\n"
            )


def totals() -> dict:
    return json.loads(run_cli("report", "--format", "json").stdout)["totals"]


def test_disk_full_fails_cleanly_and_the_next_run_completes(tiny_fs: Path, tmp_path: Path) -> None:
    store = tiny_fs / "store"
    log = tmp_path / "big.jsonl"
    big_log(log, 12_000)  # far more than 256 KiB of Parquet
    env = {"TOKMETER_STORE": str(store)}
    failed = run_cli("ingest", str(log), env=env)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "cannot write to the store" in failed.stderr and "No space left" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (store / "_txn.json").exists()
    assert not list(store.rglob(".*.tmp")), "the failed commit's temporary parts stay behind"
    debug = run_cli("ingest", str(log), env={**env, "TOKMETER_DEBUG": "1"})
    assert debug.returncode == 3 and "Traceback" in debug.stderr  # debug adds the traceback, same exit code
    assert "cannot write to the store" in debug.stderr and not list(store.rglob(".*.tmp"))
    visible = [p for p in store.rglob("*.parquet")]
    for part in visible:  # whatever is visible is whole and in the ledger
        assert part.stat().st_size > 0
    moved = tmp_path / "store"
    subprocess.run(["cp", "-a", str(store), str(moved)], check=True)
    done = run_cli("ingest", str(log), env={"TOKMETER_STORE": str(moved)})
    assert done.returncode == 0, done.stderr
    report = json.loads(run_cli("report", "--format", "json", env={"TOKMETER_STORE": str(moved)}).stdout)
    assert report["totals"]["requests"] == 12_000
    assert report["totals"]["input_tokens"] == sum(10 + i for i in range(12_000))
    assert run_cli("verify", env={"TOKMETER_STORE": str(moved)}).returncode == 0


def test_read_only_store_is_one_clear_message(tiny_fs: Path) -> None:
    store = tiny_fs / "store"
    assert run_cli("ingest", str(SAMPLE_LOGS), env={"TOKMETER_STORE": str(store)}).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    result = run_cli("ingest", str(SAMPLE_LOGS), env={"TOKMETER_STORE": str(store)})
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "Read-only file system" in result.stderr and "Hint:" in result.stderr


def test_files_are_readable_by_the_owner_only(isolated_store: Path) -> None:
    assert run_cli("ingest", str(SAMPLE_LOGS)).returncode == 0
    assert run_cli("rollup", "-q").returncode == 0
    for path in isolated_store.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_two_ingests_one_fails_fast_with_no_wait(isolated_store: Path) -> None:
    import fcntl

    isolated_store.mkdir(parents=True, exist_ok=True)
    fd = os.open(isolated_store / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = run_cli("ingest", "--no-wait", str(SAMPLE_LOGS))
        assert result.returncode == 75 and "locked by another tokmeter process" in result.stderr
    finally:
        os.close(fd)
    assert run_cli("ingest", str(SAMPLE_LOGS)).returncode == 0
    assert totals()["requests"] == 10
