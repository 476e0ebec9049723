"""Reading and extraction on every core: the input is cut into tasks (byte ranges of large capture logs,
whole other files), worker processes read and extract them, and hand back only the usage rows (a few
hundred bytes per capture, against tens of KB of stream read) while the parent commits.

Workers are forked and never touch polars (only the parent builds frames), so forking is safe. A range
of a capture log holds the lines that *start* inside it; line numbers of bad captures are fixed up from
the newline counts of the ranges before them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import TokmeterError
from ..extract import Tally
from ..schema import UsageRow
from ..sources import BadCapture, Input, ReadOptions, detect_format, open_bytes, read_captures
from ..sources.capture_log import read_capture_log
from ..sources.options import DEFAULT_READ
from ..sources.single_file import file_time
from .rows import IngestReport, row_of, to_columns, unreadable

# A task's largest share of a large capture log, and the input size below which one process is faster
# than starting workers, are settings ($TOKMETER_CHUNK_BYTES, $TOKMETER_PARALLEL_MIN_BYTES;
# $TOKMETER_WORKERS=1 disables). Smaller logs are cut into at least TASKS_PER_WORKER shares per worker,
# so that no worker is left finishing a big last share alone; no share is smaller than MIN_CHUNK_BYTES.
MIN_CHUNK_BYTES = 4 * 1024 * 1024
TASKS_PER_WORKER = 8


@dataclass(slots=True)
class Task:
    path: Path
    fmt: str
    start: int = 0
    end: int | None = None  # None: the whole file
    hint: str | None = None  # the format the file's location implies (sources.Input)
    read: ReadOptions = DEFAULT_READ  # what the file cannot tell (the Claude Code user): sent with the task


@dataclass(slots=True)
class TaskResult:
    task: Task
    columns: dict[str, list[Any]] = field(default_factory=dict)  # the usage rows, by column
    bad: list[BadCapture] = field(default_factory=list)
    captures: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    newlines: int = 0  # in the task's byte range (capture-log ranges only)
    tally: Tally = field(default_factory=Tally)  # the summary's counts travel with the rows


def worth_it(files: list[Path]) -> bool:
    if (os.cpu_count() or 1) < 2 or settings().workers == 1:
        return False
    return sum(size_of(p) for p in files) >= settings().parallel_min_bytes


def workers() -> int:
    return settings().workers or max(1, os.cpu_count() or 1)


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def plan(files: Iterable[Path | Input], fmt: str, read: ReadOptions = DEFAULT_READ) -> list[Task]:
    tasks: list[Task] = []
    count, largest = workers(), settings().chunk_bytes  # once: settings() reads the environment
    for found in files:
        path, hint = found if isinstance(found, Input) else (found, None)
        size = size_of(path)
        chunk = chunk_bytes(size, count, largest)
        if size <= chunk or path.name.endswith((".gz", ".zst")):
            tasks.append(Task(path, fmt, hint=hint, read=read))  # read whole: the worker tells its format
            continue
        try:
            file_format = detect_format(path, hint) if fmt == "auto" else fmt
        except OSError:
            file_format = fmt
        if file_format == "capture-log":
            tasks += [
                Task(path, file_format, start, min(start + chunk, size), read=read)
                for start in range(0, size, chunk)
            ]
        else:
            tasks.append(Task(path, file_format, hint=hint, read=read))
    return tasks


def chunk_bytes(size: int, count: int, largest: int) -> int:
    share = size // (count * TASKS_PER_WORKER)
    return min(largest, max(share, min(MIN_CHUNK_BYTES, largest)))


def run_task(task: Task) -> TaskResult:
    """In a worker: read and extract one task. Never raises for bad input (it is reported instead)."""
    report = IngestReport()
    result = TaskResult(task)
    rows: list[UsageRow] = []
    try:
        for item in _items(task, result):
            row = row_of(item, report, task.read.keep)
            if row is not None:
                rows.append(row)
    except Exception as exc:  # noqa: BLE001 - unreadable or corrupt file: a bad file, as in one process
        report.bad.append(unreadable(task.path, task.fmt, exc))
    result.columns = to_columns(rows)  # by column: a tenth of the pickling work of a list of dicts
    result.bad, result.captures, result.by_format = report.bad, report.captures, report.by_format
    result.tally = report.tally
    return result


def _items(task: Task, result: TaskResult) -> Iterator[Any]:
    if task.end is None:
        yield from read_captures(task.path, task.fmt, task.hint, task.read)
        return
    with open_bytes(task.path) as handle:
        start = task.start
        if start > 0:  # the line that straddles our start belongs to the task before
            handle.seek(start - 1)
            start += len(handle.readline()) - 1
        handle.seek(start)
        # read straight from the file (no copy of the range): the reader counts the line breaks, which
        # fix_line_numbers needs
        lines = _LinesStartingBefore(handle, start, task.end)
        result.newlines = yield from read_capture_log(lines, str(task.path), file_time(task.path), start, 1)


class _LinesStartingBefore:
    """A file's lines that start before ``end`` (the last one read to its end), as ``readline`` calls."""

    def __init__(self, handle: Any, position: int, end: int) -> None:
        self._handle, self._position, self._end = handle, position, end
        self._at_line_start = True

    def readline(self, limit: int = -1) -> bytes:
        if self._at_line_start and self._position >= self._end:
            return b""
        line = self._handle.readline(limit)
        self._position += len(line)
        self._at_line_start = line.endswith(b"\n")
        return line


def run_tasks(tasks: list[Task]) -> Iterator[TaskResult]:
    """Results in task order, computed by a pool of forked workers. A worker that dies (a signal: a crash,
    the OOM killer) raises ``TokmeterError`` naming the first unfinished task; no result of a task
    after it is given. (``multiprocessing.Pool`` waited for ever for the dead worker's task.)"""
    count = workers()
    # thousands of small files (agent transcripts) go out in bundles: one message per task cost more
    # than reading a small file
    bundle = max(1, min(64, len(tasks) // (count * 16)))
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"))
    done = 0
    try:
        for result in pool.map(run_task, tasks, chunksize=bundle):
            done += 1
            yield result
    except BrokenProcessPool:
        raise worker_died(tasks[done]) from None
    finally:  # also when the caller stops early: the tasks not started are dropped, not run
        pool.shutdown(wait=True, cancel_futures=True)


def worker_died(task: Task) -> TokmeterError:
    where = str(task.path) if task.end is None else f"{task.path} (bytes {task.start:,}-{task.end:,})"
    return TokmeterError(
        f"an ingest worker process died while reading {where} or a task after it: "
        "no row from there on was committed",
        hint="it was killed by a signal: out of memory, or a crash reading a line. Run the ingest again "
        "(what was committed is not counted twice); if it dies again, set TOKMETER_NO_ACCEL=1 to read "
        "capture logs without the compiled accelerator, or TOKMETER_WORKERS=1, and report the file",
    )


def fix_line_numbers(result: TaskResult, lines_before: dict[Path, int]) -> None:
    """Turn range-relative line numbers of bad captures into file line numbers; results must come in
    task order (``lines_before`` carries the count from one to the next)."""
    if result.task.end is None:
        return
    base = lines_before.get(result.task.path, 0)
    for bad in result.bad:
        if bad.line is not None:
            bad.line += base
    lines_before[result.task.path] = base + result.newlines
