"""Ingest on every core gives exactly what one process gives: rows, counts, bad captures and their lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from generate import write_capture_log  # noqa: E402


def make_input(tmp_path: Path) -> Path:
    log = tmp_path / "mixed.jsonl"
    write_capture_log(log, mb=3, seed=11)
    lines = log.read_bytes().splitlines(keepends=True)
    for at in (5, 40, len(lines) // 2, len(lines) - 3):  # bad lines scattered across the chunks
        lines.insert(at, b'{"provider": "openai", "body": "{\\"cut\n')
    # an over-long line (see MAX_LINE) that spans more than one chunk, and no line break at the very end
    lines.insert(len(lines) // 3, b'{"provider": "openai", "body": "' + b"x" * 600_000 + b'"}\n')
    log.write_bytes(b"".join(lines).rstrip(b"\n"))
    return log


MAX_LINE = str(300_000)


def ingest(log: Path, store: Path, **env: str) -> tuple[str, list[dict], dict]:
    result = run_cli("ingest", str(log), env={"TOKMETER_STORE": str(store), **env})
    assert result.returncode == 0, result.stderr
    rows = run_cli("rows", "--format", "jsonl", env={"TOKMETER_STORE": str(store)}).stdout.splitlines()
    report = json.loads(run_cli("report", "--format", "json", env={"TOKMETER_STORE": str(store)}).stdout)
    return result.stdout, sorted(rows), report["totals"]


def test_parallel_equals_serial(tmp_path: Path) -> None:
    log = make_input(tmp_path)
    serial = ingest(log, tmp_path / "serial", TOKMETER_WORKERS="1", TOKMETER_MAX_LINE_BYTES=MAX_LINE)
    parallel = ingest(
        log,
        tmp_path / "parallel",
        TOKMETER_WORKERS="2",
        TOKMETER_PARALLEL_MIN_BYTES="0",
        TOKMETER_CHUNK_BYTES=str(256 * 1024),
        TOKMETER_MAX_LINE_BYTES=MAX_LINE,
    )
    assert parallel[1] == serial[1] and parallel[2] == serial[2]
    bad_lines = lambda out: sorted(
        l.strip() for l in out.splitlines() if "not valid JSON" in l or "longer" in l
    )  # noqa: E731
    assert bad_lines(parallel[0]) == bad_lines(serial[0]) and len(bad_lines(serial[0])) == 5
    assert "rows written" in parallel[0]


def test_rows_by_column_give_the_same_frame_as_rows() -> None:
    """Rows travel from workers by column with epoch-microsecond timestamps (``pipeline.to_columns``);
    the frame they become equals the one made from the row dicts, whatever the time zone or epoch side."""
    from datetime import UTC, datetime, timedelta, timezone

    from polars.testing import assert_frame_equal

    from tokmeter.ingest.rows import columns_frame, rows_frame, to_columns
    from tokmeter.schema import COLUMNS

    base = dict.fromkeys(COLUMNS) | {
        "input_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 7,
        "reasoning_tokens": 0,
        "stream": True,
        "complete": True,
        "source_offset": 0,
    }
    times = [
        datetime(2026, 11, 24, 12, 34, 56, 789012, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ]
    rows = [base | {"request_id": f"r{i}", "timestamp": ts} for i, ts in enumerate(times)]
    assert_frame_equal(columns_frame(to_columns(rows)), rows_frame(rows), check_exact=True)


def test_a_bom_counts_only_at_the_start_of_the_file() -> None:
    """A range read by a worker starts at line 1 of its own count: a BOM there (mid-file) is still bad, as
    it is when one process reads the whole file."""
    import io

    from tokmeter.capture import BadCapture, Capture
    from tokmeter.sources.capture_log import read_capture_log

    line = b'\xef\xbb\xbf{"provider": "openai", "status": 200, "body": "{}"}\n'
    at_start = list(read_capture_log(io.BytesIO(line), "f", None, 0, 1))
    mid_file = list(read_capture_log(io.BytesIO(line), "f", None, 4096, 1))
    assert isinstance(at_start[0], Capture) and isinstance(mid_file[0], BadCapture)


def test_parallel_and_serial_print_the_same_summary(tmp_path: Path) -> None:
    """The summary's counts (estimates, missing usage and why, fallback ids) travel back from the workers:
    the same captures read in one process and by forked workers print the same summary."""
    log = make_input(tmp_path)
    chat = {"ts": "2026-11-03T10:00:00Z", "provider": "openai", "path": "/v1/chat/completions", "status": 200}
    unread = (
        'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,'
        '"delta":{"content":"Hello there"},"finish_reason":null}]}\n\n'
    )
    special = [  # each kind of count, a few of each, spread over the chunks below
        {
            **chat,
            "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]},
            "body": unread,
        },
        {**chat, "request": {"model": "gpt-4o", "stream": True}, "body": unread},
        {**chat, "request": {"stream": True}, "body": ": ping\n\n"},
        {**chat, "status": 429, "body": '{"error": {"message": "slow down"}}'},
        {
            **chat,
            "body": {"object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        },
    ]
    lines = log.read_bytes().splitlines(keepends=True)
    step = len(lines) // 8
    for n, at in enumerate(range(step, len(lines), step)):
        for k, record in enumerate(special):
            lines.insert(
                at + k,
                json.dumps(
                    {**record, "request_id": f"special-{n}-{k}"}
                    if k < 4
                    else {**record, "ts": f"2026-11-03T10:{n:02d}:00Z"}
                ).encode()
                + b"\n",
            )
    log.write_bytes(b"".join(lines))
    serial = ingest(log, tmp_path / "serial", TOKMETER_WORKERS="1", TOKMETER_MAX_LINE_BYTES=MAX_LINE)
    parallel = ingest(
        log,
        tmp_path / "parallel",
        TOKMETER_WORKERS="2",
        TOKMETER_PARALLEL_MIN_BYTES="0",
        TOKMETER_CHUNK_BYTES=str(256 * 1024),
        TOKMETER_MAX_LINE_BYTES=MAX_LINE,
    )
    summaries = [
        [line for line in out.splitlines() if not line.startswith("Ingested into")]
        for out in (serial[0], parallel[0])
    ]
    assert summaries[1] == summaries[0]
    for label in ("estimated usage", "no usage", "fallback ids"):
        assert any(line.strip().startswith(label) for line in summaries[0]), (label, serial[0])


def test_serial_parallel_and_resume_bill_the_same_claude_code_user(tmp_path: Path) -> None:
    """The user travels with each read (worker tasks too), not through state a forked worker inherits."""
    transcripts = Path(__file__).parent / "data" / "transcripts" / "claude"
    modes = {
        "serial": ([], {"TOKMETER_WORKERS": "1"}),
        "parallel": ([], {"TOKMETER_WORKERS": "2", "TOKMETER_PARALLEL_MIN_BYTES": "0"}),
        "resume": (["--resume"], {}),
    }
    users: dict[str, set[str]] = {}
    for mode, (flags, env) in modes.items():
        store = {"TOKMETER_STORE": str(tmp_path / mode)}
        done = run_cli(
            "ingest", str(transcripts), *flags, "--claude-code-user", "alice", env={**store, **env}
        )
        assert done.returncode == 0, done.stderr
        listed = run_cli("rows", "--format", "jsonl", env=store).stdout.splitlines()
        users[mode] = {json.loads(line)["user"] for line in listed}
    assert users == {mode: {"alice"} for mode in modes}
