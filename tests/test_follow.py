"""``ingest --follow`` / ``--resume`` and ``status``, with real files and real processes: the follower is
``python -m tokmeter ingest ... --follow`` in its own process, writers append / rotate / truncate /
compress / delete real files beside it, and the store is checked exactly against what was written.

The crash test kills the follower with SIGKILL at random moments: 3 trials here, 25 with
``pytest -m slow tests/test_follow.py``.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import polars as pl
import pytest

from capture_lines import input_tokens, record, records
from conftest import run_cli
from tokmeter.ingest import checkpoints
from tokmeter.ingest.follow import BoundedBuffer, FollowOptions, run_follow
from tokmeter.store.local import Store

FLUSH = "0.1"
WRITER = """
import random, sys, time
sys.path.insert(0, {tests!r})
from capture_lines import record
path, start, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
with open(path, "ab", buffering=0) as out:
    i = start
    while i < start + count:
        burst = [record(k) for k in range(i, min(i + rng.randint(1, 40), start + count))]
        data = b"".join(burst)
        if rng.random() < 0.3:  # a line written in two pieces: the reader must not parse the first half
            cut = len(data) - rng.randint(1, len(burst[-1]) - 1)
            out.write(data[:cut]); time.sleep(rng.uniform(0.01, 0.15)); out.write(data[cut:])
        else:
            out.write(data)
        i += len(burst)
        time.sleep(rng.uniform(0, 0.03))
"""


# ---- inputs ------------------------------------------------------------------------------------------
def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)


# ---- the store, read from this process ----------------------------------------------------------------
def stored(store: Path) -> pl.DataFrame:
    target = Store(store)
    if not (store / "usage").exists():
        return pl.DataFrame(
            {"request_id": [], "input_tokens": []}, schema={"request_id": pl.String, "input_tokens": pl.Int64}
        )
    with target.reading():
        return target.scan().select("request_id", "input_tokens").collect()


def stored_ids(store: Path) -> set[str]:
    return set(stored(store)["request_id"].to_list())


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_rows(store: Path, n: int, timeout: float = 30.0) -> None:
    wait_for(lambda: len(stored_ids(store)) >= n, f"{n} rows in the store", timeout)
    assert len(stored_ids(store)) == n


def status(store: Path) -> list[dict]:
    result = run_cli("status", "--format", "json", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["sources"]


# ---- the follower process -----------------------------------------------------------------------------
class Follower:
    def __init__(self, proc: subprocess.Popen, out: Path, err: Path) -> None:
        self.proc, self.out, self.err = proc, out, err

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()


@contextmanager
def follower(tmp_path: Path, *paths: Path, args: tuple[str, ...] = ()) -> Iterator[Follower]:
    out, err = tmp_path / f"follow-{time.monotonic_ns()}.out", tmp_path / f"follow-{time.monotonic_ns()}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tokmeter",
                "ingest",
                *map(str, paths),
                "--follow",
                "--flush-interval",
                FLUSH,
                *args,
            ],
            stdout=stdout,
            stderr=stderr,
            env=os.environ.copy(),
        )
    try:
        yield Follower(proc, out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def assert_clean_stop(f: Follower) -> None:
    code = f.stop()
    assert code == 0, f.stderr
    assert "Traceback" not in f.stderr, f.stderr


# ---- tests --------------------------------------------------------------------------------------------
def test_follows_a_writer_process_appending(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "gateway.jsonl"
    log.write_bytes(records(range(100)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 100)
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                WRITER.format(tests=str(Path(__file__).parent)),
                str(log),
                "100",
                "500",
                "7",
            ],
            check=False,
            timeout=60,
            capture_output=True,
            text=True,
        )
        assert writer.returncode == 0, writer.stderr
        wait_rows(isolated_store, 600)
        assert_clean_stop(f)
    assert "captures           600  (600 capture-log)" in f.stdout
    assert "rows written       600" in f.stdout and "duplicates dropped 0" in f.stdout
    assert "bad captures       0" in f.stdout
    assert int(stored(isolated_store)["input_tokens"].sum()) == input_tokens(range(600))
    [source] = status(isolated_store)  # the follower has stopped: its sources wait for the next one
    assert (source["path"], source["state"]) == (str(log), "stopped")
    assert source["offset"] == source["size"] == log.stat().st_size and source["lag_bytes"] == 0


def test_half_written_line_is_held_back_until_its_newline(tmp_path: Path, isolated_store: Path) -> None:
    log = tmp_path / "logs" / "a.jsonl"
    log.parent.mkdir()
    whole, half = records(range(5)), record(5)
    log.write_bytes(whole + half[:40])
    with follower(tmp_path, log.parent) as f:
        wait_rows(isolated_store, 5)
        time.sleep(1.0)  # ten flush intervals: the half line must still not be read
        assert len(stored_ids(isolated_store)) == 5
        [source] = status(isolated_store)
        assert source["offset"] == len(whole) and source["lag_bytes"] == 40 and source["line"] == 6
        append(log, half[40:-1])
        time.sleep(0.5)
        assert len(stored_ids(isolated_store)) == 5  # still no newline
        append(log, b"\n")
        wait_rows(isolated_store, 6)
        assert_clean_stop(f)
    assert "bad captures       0" in f.stdout


def test_rename_rotation_then_gzip_of_the_rotated_file(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live, rotated = logs / "app.jsonl", logs / "app.jsonl.1"
    live.write_bytes(records(range(50)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 50)
        with open(live, "ab") as old:  # the writer still holds the old file across the rename
            old.write(records(range(50, 60)))
            os.rename(live, rotated)
            live.write_bytes(records(range(60, 90)))
            old.write(records(range(90, 95)))  # written to the rotated file: finish it too
        wait_rows(isolated_store, 95)
        with open(rotated, "rb") as src, gzip.open(logs / "app.jsonl.1.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        rotated.unlink()
        append(live, records(range(95, 100)))
        wait_rows(isolated_store, 100)
        wait_for(
            lambda: any(s["compressed"] and s["state"] == "finished" for s in status(isolated_store)),
            "the .gz checkpoint",
        )
        assert_clean_stop(f)
    assert "captures           100  (100 capture-log)" in f.stdout  # the .gz was not read again
    assert "duplicates dropped 0" in f.stdout
    assert int(stored(isolated_store)["input_tokens"].sum()) == input_tokens(range(100))
    sources = {Path(s["path"]).name: s for s in status(isolated_store)}
    assert sources["app.jsonl"]["state"] == "stopped" and sources["app.jsonl"]["lag_bytes"] == 0
    assert sources["app.jsonl.1.gz"]["state"] == "finished"


def test_copytruncate_reads_the_file_again_from_its_start(tmp_path: Path, isolated_store: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.jsonl"
    live.write_bytes(records(range(40)))
    with follower(tmp_path, logs) as f:
        wait_rows(isolated_store, 40)
        append(live, records(range(40, 50)))
        shutil.copyfile(live, logs / "app.jsonl.1")  # logrotate copytruncate: copy, then truncate in place
        with open(live, "r+b") as handle:
            handle.truncate(0)
        append(live, records(range(50, 55)))
        wait_rows(isolated_store, 55)
        append(live, records(range(55, 70)))  # grows past nothing it had: read from its start
        wait_rows(isolated_store, 70)
        assert_clean_stop(f)
    assert int(stored(isolated_store)["input_tokens"].sum()) == input_tokens(range(70))
    live_source = next(
        s for s in status(isolated_store) if s["path"] == str(live) and s["state"] == "stopped"
    )
    assert live_source["offset"] == live.stat().st_size == len(records(range(50, 70)))


def test_new_files_in_new_subdirectories_single_responses_and_a_deleted_file(
    tmp_path: Path, isolated_store: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    doomed = logs / "doomed.jsonl"
    doomed.write_bytes(records(range(20), "d"))
    (logs / "skip.jsonl").write_bytes(records(range(3), "x"))
    with follower(tmp_path, logs, args=("--poll", "--exclude", "skip*")) as f:
        wait_rows(isolated_store, 20)
        append(doomed, records(range(20, 25), "d"))
        doomed.unlink()  # deleted with unread lines: read from the open handle
        deep = logs / "2026" / "11" / "03"
        deep.mkdir(parents=True)
        (deep / "gw.jsonl").write_bytes(records(range(10), "s") + b'{"request_id": "broken\n')
        (deep / "stream.sse").write_text(
            'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-haiku-4-5",'
            '"usage":{"input_tokens":7,"output_tokens":1}}}\n\nevent: message_delta\ndata: {"type":"message_delta",'
            '"delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}\n\nevent: message_stop\n'
            'data: {"type":"message_stop"}\n\n'
        )
        (deep / "stream.meta.json").write_text(
            json.dumps(
                {
                    "ts": "2026-11-03T11:00:00Z",
                    "request_id": "single-1",
                    "provider": "anthropic",
                    "path": "/v1/messages",
                }
            )
        )
        (deep / "body.json").write_text(
            json.dumps(
                {
                    "id": "chatcmpl-single-2",
                    "object": "chat.completion",
                    "model": "gpt-4o-mini",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "x"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
                }
            )
        )  # no sidecar: settles
        wait_rows(isolated_store, 37)
        assert_clean_stop(f)
    ids = stored_ids(isolated_store)
    assert {f"d-{i}" for i in range(25)} | {f"s-{i}" for i in range(10)} | {"single-1"} <= ids
    assert not any(i.startswith("x-") for i in ids)
    assert "bad captures       1" in f.stdout and "gw.jsonl:11: not valid JSON" in f.stdout
    [bad] = [json.loads(line) for line in run_cli("quarantine", "--format", "jsonl").stdout.splitlines()]
    assert (Path(bad["source"]).name, bad["line"]) == ("gw.jsonl", 11)


def test_resume_reads_only_the_new_bytes(tmp_path: Path, isolated_store: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_bytes(records(range(10)) + record(10)[:30])
    first = run_cli("ingest", "--resume", str(log))
    assert first.returncode == 0, first.stderr
    assert "captures           10 " in first.stdout and "bad captures       0" in first.stdout
    append(log, record(10)[30:] + records(range(11, 15)))
    again = run_cli("ingest", "--resume", str(log))
    assert "captures           5 " in again.stdout and "rows written       5" in again.stdout
    assert "duplicates dropped 0" in again.stdout
    plain = run_cli("ingest", str(log))  # plain ingest reads everything, as before
    assert "captures           15 " in plain.stdout and "duplicates dropped 15" in plain.stdout
    append(log, record(15)[:-1])  # a whole record without its newline yet is taken when resuming
    assert "captures           1 " in run_cli("ingest", "--resume", str(log)).stdout
    append(log, b"\n" + record(16))  # its newline then comes, and the next record
    last = run_cli("ingest", "--resume", str(log))
    assert "captures           1 " in last.stdout and "bad captures       0" in last.stdout
    assert stored_ids(isolated_store) == {f"r-{i}" for i in range(17)}
    [source] = status(isolated_store)
    assert (source["offset"], source["line"]) == (log.stat().st_size, 18)


def test_status_knows_whether_a_follower_is_running(tmp_path: Path, isolated_store: Path) -> None:
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    log.write_bytes(b"")
    for n, stop in enumerate((signal.SIGTERM, signal.SIGKILL)):  # a clean stop, and one without clean-up
        append(log, records(range(10 * n, 10 * n + 10)))
        with follower(tmp_path, log.parent) as f:
            wait_rows(isolated_store, 10 * n + 10)  # this follower's commit: it is running
            doc = orjson.loads(run_cli("status", "--format", "json").stdout)
            assert doc["follower_running"] is True, f.stderr
            assert [s["state"] for s in doc["sources"]] == ["live"]
            table = run_cli("status").stdout
            assert " live " in table and "a follower (ingest --follow / --resume) is running" in table
            f.stop(stop)
        doc = orjson.loads(run_cli("status", "--format", "json").stdout)
        assert doc["follower_running"] is False and [s["state"] for s in doc["sources"]] == ["stopped"]
        table = run_cli("status").stdout
        assert " stopped " in table and " live " not in table and "no follower is running" in table


def test_status_without_checkpoints(isolated_store: Path, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    assert run_cli("ingest", str(tmp_path / "nothing"), "--quiet").returncode == 0  # a store, no checkpoints
    result = run_cli("status")
    assert result.returncode == 0, result.stderr
    assert "no checkpoints yet" in result.stdout


# ---- bounded buffer: the reader pauses while the writer is behind ---------------------------------------
def test_bounded_buffer_blocks_the_producer_and_keeps_order() -> None:
    buffer = BoundedBuffer(10)
    seen: list[int] = []
    high = 0

    def produce() -> None:
        for i in range(200):
            buffer.put(i, rows=3)

    thread = threading.Thread(target=produce)
    thread.start()
    while len(seen) < 200:
        high = max(high, buffer.rows)
        item = buffer.get(1.0)
        if item is not None:
            seen.append(item)
            time.sleep(0.001)
    thread.join()
    assert seen == list(range(200)) and high <= 10


class _SlowStore(Store):
    """A store whose commits are slow, recording how full the follower's buffer got."""

    def commit(self, rows, extra_files=None, **more):
        time.sleep(0.05)
        return super().commit(rows, extra_files, **more)


def test_slow_writer_pauses_reading_and_drops_nothing(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    log.write_bytes(records(range(3000)))
    store = _SlowStore(tmp_path / "store")
    options = FollowOptions(follow=False, batch_size=100, buffer_rows=200, flush_interval=0.01)
    report = run_follow([log], store, options)
    assert (report.captures, report.rows_written, report.duplicates_dropped) == (3000, 3000, 0)
    assert len(stored_ids(store.root)) == 3000
    [cp] = checkpoints.load(store)
    assert cp.offset == log.stat().st_size


# ---- kill -9 at random moments ------------------------------------------------------------------------
def _lines_before(path: Path, offset: int) -> set[str]:
    data = path.read_bytes()[:offset]
    return {orjson.loads(line)["request_id"] for line in data.splitlines() if line.strip()}


def crash_trials(tmp_path: Path, store: Path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    tests_dir = str(Path(__file__).parent)
    for trial in range(trials):
        root = tmp_path / f"trial{trial}"
        logs = root / "logs"
        logs.mkdir(parents=True)
        log = logs / "gw.jsonl"
        first, total = rng.randint(0, 1500), 2000
        log.write_bytes(records(range(first)))
        shutil.rmtree(store, ignore_errors=True)
        writer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER.format(tests=tests_dir),
                str(log),
                str(first),
                str(total - first),
                str(seed + trial),
            ]
        )
        try:
            with follower(
                root,
                logs,
                args=(
                    "--batch-size",
                    str(rng.choice([50, 200, 1000])),
                    "--flush-interval",
                    str(rng.choice([0.02, 0.1, 0.5])),
                ),
            ) as f:
                time.sleep(rng.uniform(0.3, 3.0))
                f.proc.send_signal(signal.SIGKILL)
                f.proc.wait(timeout=10)
            writer.wait(timeout=60)
        finally:
            if writer.poll() is None:
                writer.kill()
        with Store(store).writing():  # finishes a commit the kill interrupted, as the next run would
            cps = checkpoints.load(Store(store))
        ids = stored_ids(store)
        committed = _lines_before(log, cps[0].offset) if cps else set()
        assert ids == committed, f"trial {trial} (seed {seed}): store and checkpoint disagree"
        resumed = run_cli("ingest", "--resume", str(logs))
        assert resumed.returncode == 0, resumed.stderr
        assert "duplicates dropped 0" in resumed.stdout, resumed.stdout  # nothing read twice
        assert stored_ids(store) == {f"r-{i}" for i in range(total)}, f"trial {trial} (seed {seed})"
        assert int(stored(store)["input_tokens"].sum()) == input_tokens(range(total))
        [cp] = checkpoints.load(Store(store))
        assert cp.offset == log.stat().st_size


def test_kill_9_at_random_moments_loses_and_repeats_nothing(tmp_path: Path, isolated_store: Path) -> None:
    crash_trials(tmp_path, isolated_store, trials=3, seed=int(os.environ.get("TOKMETER_CRASH_SEED", "11")))


@pytest.mark.slow
def test_kill_9_at_random_moments_many_trials(tmp_path: Path, isolated_store: Path) -> None:
    crash_trials(
        tmp_path,
        isolated_store,
        trials=int(os.environ.get("TOKMETER_CRASH_TRIALS", "25")),
        seed=int(os.environ.get("TOKMETER_CRASH_SEED", str(random.randrange(10**6)))),
    )


def test_compaction_keeps_parts_few_and_rows_unchanged(tmp_path: Path) -> None:
    from tokmeter.ingest.rows import IngestReport, row_of, rows_frame
    from tokmeter.sources.capture_log import parse_record
    from tokmeter.store.ledger import verify

    store = Store(tmp_path / "store")
    report = IngestReport()
    most = 0
    for batch in range(64):
        lines = [record(i) for i in range(batch * 20, batch * 20 + 20)]
        frame = rows_frame([row_of(parse_record(line, "x", 0, 1, None), report) for line in lines])
        with store.writing():
            store.commit(frame)
            store.compact(frame["timestamp"][0].date())
        most = max(most, len(store.part_files()))
    assert most <= 24
    assert stored_ids(store.root) == {f"r-{i}" for i in range(64 * 20)}
    assert int(stored(store.root)["input_tokens"].sum()) == input_tokens(range(64 * 20))
    with store.reading():
        assert verify(store.root, store.part_files()).ok
