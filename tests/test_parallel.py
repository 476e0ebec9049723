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
    parallel = ingest(log, tmp_path / "parallel", TOKMETER_WORKERS="2", TOKMETER_PARALLEL_MIN_BYTES="0",
                      TOKMETER_CHUNK_BYTES=str(256 * 1024), TOKMETER_MAX_LINE_BYTES=MAX_LINE)
    assert parallel[1] == serial[1] and parallel[2] == serial[2]
    bad_lines = lambda out: sorted(l.strip() for l in out.splitlines() if "not valid JSON" in l or "longer" in l)  # noqa: E731
    assert bad_lines(parallel[0]) == bad_lines(serial[0]) and len(bad_lines(serial[0])) == 5
    assert "rows written" in parallel[0]
