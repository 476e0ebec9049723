"""Replaying a kept result, and keeping one: the file a report's output is kept in, the recording of
standard output and error while the report runs, and the checks before it is kept (``kept.py`` says which
reports, and computes their key). Plain Python: no polars."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .kept import FORMAT, KEEP, MAX_BYTES, RACY_NS, Plan, Unkeyable, compute, note, stat_of


# ---- a kept result on disk ------------------------------------------------------------------------------
# FORMAT, the exit code (4 bytes), then each chunk written: its stream (1 byte: 1 stdout, 2 stderr), its
# length (4 bytes) and its bytes, then the SHA-256 of all that: a torn or altered file is not replayed.
def encode(code: int, chunks: Sequence[tuple[int, bytes | bytearray]]) -> bytes:
    body: list[bytes | bytearray] = [FORMAT, code.to_bytes(4, "big", signed=True)]
    for stream, data in chunks:
        body += [bytes([stream]), len(data).to_bytes(4, "big"), data]
    joined = b"".join(body)
    return joined + hashlib.sha256(joined).digest()


def decode(data: bytes) -> tuple[int, list[tuple[int, bytes]]] | None:
    """(exit code, chunks) of a kept result, or None when it is not one whole."""
    body, digest = data[:-32], data[-32:]
    if not body.startswith(FORMAT) or hashlib.sha256(body).digest() != digest:
        return None
    at = len(FORMAT) + 4
    code = int.from_bytes(body[len(FORMAT) : at], "big", signed=True)
    chunks = []
    while at < len(body):
        stream, size = body[at], int.from_bytes(body[at + 1 : at + 5], "big")
        if stream not in (1, 2):
            return None
        chunks.append((stream, body[at + 5 : at + 5 + size]))
        at += 5 + size
    return (code, chunks) if at == len(body) else None


def replay(plan: Plan) -> int | None:
    """Write the kept result of ``plan`` back and return its exit code; None when there is none."""
    try:
        with open(plan.path, "rb") as handle:
            refused = _untrusted(os.fstat(handle.fileno()))
            data = b"" if refused else handle.read()
    except OSError:
        return None
    if refused:
        note(plan.debug, f"a kept result is ignored: {refused}: {plan.path}")
        return None
    kept = decode(data)
    if kept is None:
        note(plan.debug, f"a kept result was not whole and is ignored: {plan.path}")
        return None
    code, chunks = kept
    streams = {1: sys.stdout, 2: sys.stderr}
    try:
        for stream, chunk in chunks:
            streams[stream].flush()
            streams[stream].buffer.write(chunk)
            streams[stream].buffer.flush()
    except BrokenPipeError:  # the reader went away (| head): exit 1 quietly, as the report itself does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    with contextlib.suppress(OSError):
        os.utime(plan.path)  # the most recently used, last to be pruned
    note(plan.debug, f"replayed the kept result {plan.path}")
    return code


def _untrusted(info: os.stat_result) -> str | None:
    """Why a kept result's file is not replayed, or None: it must be a regular file of this user that no
    one else may write (a shared store's folder could hold another's), and not larger than a kept result
    can be (a forged one is not read into memory)."""
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o022:
        return "not a file only its owner may write"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "another user's file"
    if info.st_size > 2 * MAX_BYTES:
        return "larger than a kept result can be"
    return None


# ---- recording a report as it runs, keeping it ---------------------------------------------------------
@dataclass(slots=True)
class Recording:
    """What a command wrote, in order: (1 for standard output or 2 for error, the bytes)."""

    chunks: list[tuple[int, bytearray]] = field(default_factory=list)
    size: int = 0

    def add(self, stream: int, data: bytes) -> None:
        self.size += len(data)
        if self.size > MAX_BYTES:
            self.chunks.clear()
        elif self.chunks and self.chunks[-1][0] == stream:
            self.chunks[-1][1].extend(data)
        else:
            self.chunks.append((stream, bytearray(data)))


class _Tee(io.BufferedIOBase):
    """A binary stream that writes through to ``target`` and records what it wrote; a terminal when the
    target is one, so what the command prints does not change for being recorded."""

    def __init__(self, target: BinaryIO, stream: int, recording: Recording) -> None:
        super().__init__()
        self._target, self._stream, self._recording = target, stream, recording

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        written = bytes(data)
        self._target.write(written)
        self._recording.add(self._stream, written)
        return len(written)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()


def _recorded(stream: Any, number: int, recording: Recording) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        _Tee(stream.buffer, number, recording),  # type: ignore[arg-type]
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=True,
    )


def answer(plan: Plan, command: Callable[[], None]) -> None:
    """Replay the kept result of ``plan`` if there is one; else run ``command`` (the command line) with
    its output recorded, and keep the result when it may be (see the module docstring)."""
    code = replay(plan)
    if code is not None:
        sys.exit(code)
    recording = Recording()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _recorded(saved[0], 1, recording), _recorded(saved[1], 2, recording)
    exit_code: object = 1
    try:
        command()
        exit_code = 0
    except SystemExit as done:
        exit_code = 0 if done.code is None else done.code
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
        _keep(plan, recording, exit_code)


def _keep(plan: Plan, recording: Recording, exit_code: object) -> None:
    try:
        reason = _why_not(plan, recording, exit_code)
        if reason is None:
            write_result(plan.path, encode(0, recording.chunks))
    except Exception as exc:  # noqa: BLE001 - keeping is an optimisation: it never fails the report
        reason = f"cannot keep {plan.path}: {exc}"
    note(plan.debug, f"result not kept: {reason}" if reason else f"kept the result as {plan.path}")


def _why_not(plan: Plan, recording: Recording, exit_code: object) -> str | None:
    if exit_code != 0:
        return f"exit code {exit_code}"
    if recording.size > MAX_BYTES:
        return f"more than {MAX_BYTES} bytes of output"
    if plan.fresh():
        return f"a file it depends on changed less than {RACY_NS // 1_000_000_000} s before it started"
    try:
        again = compute(plan.inputs, plan.store, plan.files, plan.zones, time.time_ns())
    except (Unkeyable, OSError) as exc:
        return str(exc)
    if again.hash.hexdigest() != plan.key:
        return "what it depends on changed while it ran"
    return None


def write_result(path: Path, data: bytes) -> None:
    """Write a kept result whole or not at all, owner-only; keep the ``KEEP`` most recently used."""
    from ..store.atomic import replace_file  # start-up time: only when a result is kept

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_file(path, lambda temp: temp.write_bytes(data), mode=0o600)
    kept = []
    for entry in os.scandir(path.parent):
        stat = stat_of(entry.path) if len(entry.name) == 64 else None  # a result, not another's temporary
        if stat is not None:
            kept.append((stat.st_mtime_ns, entry.path))
    for _used, old in sorted(kept, reverse=True)[KEEP:]:
        Path(old).unlink(missing_ok=True)
