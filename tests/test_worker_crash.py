"""A worker process that dies during an ingest (the compiled accelerator crashing on a line, the kernel's
OOM killer) ends the command: it names what failed and exits nonzero, commits no row of the unfinished
tasks, and the next run stores exactly what a run without the crash stores. It used to hang for ever
(multiprocessing.Pool.imap waits for the dead worker's task).

The crash is real: a launcher runs the CLI with the accelerator wrapped so that reading a line with a
marker kills its process with a signal (what a memory fault in the C code does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from generate import write_capture_log

MARKER = b"tokmeter-test-crash"
LAUNCHER = """
import os, runpy, sys
from tokmeter.extract import accel
from tokmeter.ingest import pipeline

class Crashing:
    # the accelerator (or, where it is not built, the pure-Python path), dying on the marker
    def __init__(self, real):
        self.real = real
    def __getattr__(self, name):
        return getattr(self.real, name)
    def read_body(self, line):
        if b"tokmeter-test-crash" in line:
            os.kill(os.getpid(), int(os.environ["CRASH_SIGNAL"]))
        return None if self.real is None else self.real.read_body(line)

accel._accel, accel.BUILT = Crashing(accel._accel), True
if os.environ.get("CRASH_BATCH_ROWS"):  # commits every few rows, so some are committed before the crash
    pipeline.run_ingest.__kwdefaults__["batch_rows"] = int(os.environ["CRASH_BATCH_ROWS"])
sys.argv[0] = "tokmeter"
runpy.run_module("tokmeter", run_name="__main__", alter_sys=True)
"""
PARALLEL = {
    "TOKMETER_WORKERS": "2",
    "TOKMETER_PARALLEL_MIN_BYTES": "0",
    "TOKMETER_CHUNK_BYTES": str(128 * 1024),
}


def crashing_log(tmp_path: Path) -> Path:
    log = tmp_path / "log.jsonl"
    write_capture_log(log, mb=1.5, seed=5)
    lines = log.read_bytes().splitlines(keepends=True)
    crash = b'{"provider": "openai", "path": "/v1/chat/completions", "body": "data: ' + MARKER + b'\\n\\n"}\n'
    lines.insert(len(lines) * 3 // 4, crash)  # late: the tasks before it finish (and commit) first
    log.write_bytes(b"".join(lines))
    return log


def stored_rows(store: Path) -> list[str]:
    if not store.exists():
        return []
    result = run_cli("rows", "--format", "jsonl", env={"TOKMETER_STORE": str(store)})
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.splitlines())


@pytest.mark.parametrize(
    ("sig", "batch_rows"),
    [(signal.SIGSEGV, ""), (signal.SIGKILL, "10")],
    ids=["segfault", "kill-after-commits"],
)
def test_a_worker_that_dies_ends_the_ingest_and_a_rerun_completes_it(
    tmp_path: Path, sig: signal.Signals, batch_rows: str
) -> None:
    log = crashing_log(tmp_path)
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    store = tmp_path / "store"
    env = {**os.environ, **PARALLEL, "TOKMETER_STORE": str(store), "CRASH_SIGNAL": str(int(sig))}
    env["CRASH_BATCH_ROWS"] = batch_rows
    crashed = subprocess.run(
        [sys.executable, str(launcher), "ingest", str(log)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert crashed.returncode == 1, (crashed.returncode, crashed.stdout, crashed.stderr)
    assert "worker process" in crashed.stderr and str(log) in crashed.stderr, crashed.stderr
    assert "Traceback" not in crashed.stderr and "Hint:" in crashed.stderr, crashed.stderr

    # what the crashed run committed is rows of a clean run (batches finished before the crash), never more
    clean = tmp_path / "clean"
    assert (
        run_cli("ingest", str(log), env={"TOKMETER_STORE": str(clean), "TOKMETER_WORKERS": "1"}).returncode
        == 0
    )
    expected, partial = stored_rows(clean), stored_rows(store)
    assert set(partial) < set(expected)
    if batch_rows:
        assert partial, "the batches before the crash were committed"

    # the rerun (the accelerator no longer crashing) stores exactly the clean run's rows
    rerun = run_cli("ingest", str(log), env={**PARALLEL, "TOKMETER_STORE": str(store)})
    assert rerun.returncode == 0, rerun.stderr
    assert stored_rows(store) == expected
