"""Chaos against ``ingest --follow``: the real follower process beside a log that is appended to (half
lines included), rotated by rename and by copytruncate (a slow copy, seen half-copied), whose rotated
files are shifted (``app.jsonl.1`` -> ``.2`` ...) and gzipped slowly (the compressor pausing past the
settle time), while the follower is killed (``kill -9``, also in the middle of a copy or a gzip),
stopped (SIGTERM) and restarted, or down across rotations.

Checked: the store holds every record once (ids and token sum), ``verify`` is clean, no run of the
follower dropped a duplicate (every log line and summary says 0: nothing was read twice), a last
``--resume`` reads nothing, and ``status`` lag equals the bytes written and not yet committed: exactly
while the follower is down, and 0 once it has caught up.

One short trial here (well under a minute); ``pytest -m slow tests/test_follow_chaos.py`` runs
``TOKMETER_CHAOS_TRIALS`` (default 5) longer ones.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from capture_lines import input_tokens, records
from conftest import run_cli
from test_follow import stored, stored_ids, wait_for

LIVE = "app.jsonl"


class Logs:
    """The log and its rotated files, written by this process; ``next_id`` records written so far."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.dir, self.rng = folder, rng
        self.live = folder / LIVE
        self.live.touch()
        self.next_id = 0

    def append(self, count: int, *, half: bool = True) -> int:
        data = records(range(self.next_id, self.next_id + count), "x")
        self.next_id += count
        with open(self.live, "ab", buffering=0) as out:
            if half and self.rng.random() < 0.3:  # a line written in two pieces
                cut = len(data) - self.rng.randint(1, 200)
                out.write(data[:cut])
                time.sleep(self.rng.uniform(0.01, 0.2))
                out.write(data[cut:])
            else:
                out.write(data)
        return len(data)

    def rotated(self, k: int, gz: bool = False) -> Path:
        return self.dir / f"{LIVE}.{k}{'.gz' if gz else ''}"

    def shift(self) -> None:
        """app.jsonl.k(.gz) -> app.jsonl.k+1(.gz), oldest first."""
        found = sorted({int(p.name.split(".")[2]) for p in self.dir.glob(f"{LIVE}.*")}, reverse=True)
        for k in found:
            for gz in (False, True):
                if self.rotated(k, gz).exists():
                    os.rename(self.rotated(k, gz), self.rotated(k + 1, gz))

    def rename_rotation(self) -> None:
        self.shift()
        os.rename(self.live, self.rotated(1))
        self.live.touch()

    def copytruncate(self, during: Callable[[], None]) -> None:
        """A slow copy (the follower sees it half-copied), then the truncation."""
        self.shift()
        data = self.live.read_bytes()
        cut = self.rng.randint(0, len(data))
        with open(self.rotated(1), "wb") as out:
            out.write(data[:cut])
            out.flush()
            during()
            out.write(data[cut:])
        with open(self.live, "r+b") as handle:
            handle.truncate(0)

    def compress(self, during: Callable[[], None]) -> None:
        """gzip app.jsonl.2 slowly (delaycompress), then delete it."""
        source = self.rotated(2)
        if not source.exists():
            return
        packed = gzip.compress(source.read_bytes())
        cut = self.rng.randint(0, len(packed))
        with open(self.rotated(2, gz=True), "wb") as out:
            out.write(packed[:cut])
            out.flush()
            during()
            out.write(packed[cut:])
        source.unlink()


class Runs:
    """The follower processes, one at a time; every run's output is kept to check."""

    def __init__(self, folder: Path, logs: Path) -> None:
        self.folder, self.logs = folder, logs
        self.proc: subprocess.Popen | None = None
        self.outputs: list[tuple[Path, Path, bool]] = []  # stdout, stderr, stopped by SIGTERM

    def start(self) -> None:
        n = len(self.outputs)
        out, err = self.folder / f"run{n}.out", self.folder / f"run{n}.err"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tokmeter",
                    "ingest",
                    str(self.logs),
                    "--follow",
                    "--flush-interval",
                    "0.1",
                ],
                stdout=stdout,
                stderr=stderr,
            )
        self.outputs.append((out, err, False))

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            err = self.outputs[-1][1]  # its signal handlers are in place once it has caught up
            wait_for(lambda: "caught up" in err.read_text(), "the follower to start", 30.0)
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=30) == 0, self.outputs[-1][1].read_text()
            self.proc = None
            out, err, _ = self.outputs[-1]
            self.outputs[-1] = (out, err, True)

    def check(self) -> None:
        for out, err, stopped in self.outputs:
            log = err.read_text()
            assert "Traceback" not in log, log
            assert set(re.findall(r"([\d,]+) duplicates", log)) <= {"0"}, log  # nothing read twice
            if stopped:
                assert "duplicates dropped 0" in out.read_text(), out.read_text()


def note(folder: Path, what: str) -> None:
    """The trial's steps, in ``steps.log`` beside its runs' output (to replay a failure)."""
    with open(folder / "steps.log", "a") as out:
        out.write(f"{time.monotonic():.2f} {what}\n")


def lag(store: Path) -> int:
    result = run_cli("status", "--format", "json", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return sum(s["lag_bytes"] or 0 for s in json.loads(result.stdout)["sources"])


def caught_up(store: Path, logs: Logs, timeout: float = 60.0) -> None:
    wait_for(lambda: len(stored_ids(store)) == logs.next_id, f"{logs.next_id} rows", timeout)
    wait_for(lambda: lag(store) == 0, "no lag once caught up", 10.0)


def chaos_trial(folder: Path, store: Path, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    (folder / "logs").mkdir(parents=True)
    logs = Logs(folder / "logs", rng)
    runs = Runs(folder, logs.dir)
    logs.append(rng.randint(0, 300), half=False)
    runs.start()

    def maybe_kill() -> None:  # in the middle of a copy or a gzip
        time.sleep(rng.uniform(0.2, 1.6))
        if runs.proc is not None and rng.random() < 0.4:
            note(folder, "  killed mid-way")
            runs.kill()
            runs.start()

    try:
        for _ in range(steps):
            step = rng.choices(
                ["append", "rename", "copytruncate", "compress", "kill", "down"], [6, 2, 2, 2, 2, 1]
            )[0]
            note(folder, f"{step} (run {len(runs.outputs) - 1}, {logs.next_id} records)")
            if step == "append":
                logs.append(rng.randint(1, 80))
            elif step == "rename":
                logs.rename_rotation()
            elif step == "copytruncate":
                logs.copytruncate(maybe_kill)
            elif step == "compress":
                logs.compress(maybe_kill)
            elif step == "kill":
                time.sleep(rng.uniform(0, 0.5))
                runs.kill()
                runs.start()
            else:  # down across writes and rotations: status shows exactly what waits
                caught_up(store, logs)
                runs.stop()
                unread = 0
                for _ in range(rng.randint(1, 3)):
                    unread += logs.append(rng.randint(1, 50), half=False)
                    if rng.random() < 0.5:
                        logs.rename_rotation()
                assert lag(store) == unread, f"seed {seed}: status lag while down"
                runs.start()
            time.sleep(rng.uniform(0, 0.2))
        if runs.proc is None:
            runs.start()
        caught_up(store, logs)
        runs.stop()
    finally:
        runs.kill()
    runs.check()
    assert stored_ids(store) == {f"x-{i}" for i in range(logs.next_id)}, f"seed {seed}"
    assert int(stored(store)["input_tokens"].sum()) == input_tokens(range(logs.next_id))
    assert run_cli("verify", "--store", str(store)).returncode == 0
    last = run_cli("ingest", "--resume", str(logs.dir), "--store", str(store))
    assert "captures           0" in last.stdout and "duplicates dropped 0" in last.stdout, last.stdout


def test_chaos_short(tmp_path: Path, isolated_store: Path) -> None:
    chaos_trial(tmp_path / "trial", isolated_store, int(os.environ.get("TOKMETER_CHAOS_SEED", "1")), steps=25)


@pytest.mark.slow
def test_chaos_long(tmp_path: Path, isolated_store: Path) -> None:
    seed = int(os.environ.get("TOKMETER_CHAOS_SEED", str(random.randrange(10**6))))
    for trial in range(int(os.environ.get("TOKMETER_CHAOS_TRIALS", "5"))):
        shutil.rmtree(isolated_store, ignore_errors=True)
        chaos_trial(tmp_path / f"trial{trial}", isolated_store, seed + trial, steps=120)
