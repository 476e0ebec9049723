"""Following capture files as they grow, yielding complete records only.

``Tailer`` watches files and directories (watchdog: inotify where it works, polling with
``poll=True``) and reads, on each ``read()`` pass, whatever became complete since the last one:

* **Capture logs** are known by identity, not name: device + inode, and a fingerprint of their first
  bytes (see ``checkpoints``). Each has a byte offset; a pass reads the whole lines past it. The last
  line is held back until its newline arrives, never parsed half-written. A renamed file keeps its
  place (rename-and-create rotation: the old file is read to its end, the new one from its start); a
  file moved out of the watched set or deleted is read from the open handle until it has been quiet
  for ``DETACHED_QUIET_SECONDS``, then finished. A file shorter than its offset, or whose first bytes
  changed (copytruncate), starts again from 0. A new file whose first bytes match a known checkpoint (a
  ``.gz`` of a rotated log, a copy) starts where that checkpoint stands, so it is not read twice.
* **Single-response files** (``.sse``, ``.json``, ``.har``) are read whole once complete: their sidecar
  ``NAME.meta.json`` is there (and is whole JSON), or the file has not changed for ``settle`` seconds.
  They are read again if they change. They have no checkpoint: a restart reads them again and the
  store's deduplication keeps one row per request.

Each pass yields ``Chunk`` s: records of one file and, for a capture log, a copy of its checkpoint
just past them. The caller commits the records and the checkpoints together (``follow``).
"""

from __future__ import annotations

import io
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from watchdog.events import FileSystemEventHandler

from ..errors import UsageError
from ..sources import (
    META_SUFFIX,
    BadCapture,
    Capture,
    Input,
    as_input,
    detect_format,
    hint_of,
    open_bytes,
    read_captures,
)
from ..sources.capture_log import read_capture_log
from ..sources.selection import FileFilter, compressed_name, rotated_log_name, walk_all
from .checkpoints import FINGERPRINT_BYTES, FINISHED, LIVE, Checkpoint, fingerprint, new_name, usable_prefix

READ_BYTES = 256 * 1024
SETTLE_SECONDS = 1.0
DETACHED_QUIET_SECONDS = 5.0
IDLE_CLOSE_SECONDS = 60.0
RESCAN_SECONDS = 30.0
POLL_SECONDS = 0.5
CAPTURE_LOG = "capture-log"
# Rotated capture logs: app.jsonl.1, app.jsonl.2.gz, app.jsonl-20261103(.gz)
_IGNORED_EVENTS = {"opened", "closed_no_write"}

Item = Capture | BadCapture


@dataclass(slots=True)
class Chunk:
    """Complete records from one file, in file order. ``checkpoint`` (capture logs only) is a copy of
    the file's checkpoint just past them; None for single-response files."""

    path: str
    items: list[Item]
    checkpoint: Checkpoint | None
    first_read: bool
    read_at: float
    nbytes: int = 0


class _Log:
    """A capture log being followed: its checkpoint (offset = bytes read so far) and open handle."""

    __slots__ = ("behind_since", "cp", "fd", "first_read", "grew_at", "size")

    def __init__(self, cp: Checkpoint, fd: int) -> None:
        self.cp, self.fd = cp, fd
        self.size = cp.offset
        self.grew_at = time.monotonic()
        self.behind_since: float | None = None
        self.first_read = True


class Tailer:
    """Reads complete records from capture files, resuming from ``known`` checkpoints.

    ``follow=False`` reads what is there and finishes: single-response files need no settle time and
    an unterminated last line is taken when it is a whole JSON object. Not thread-safe except
    ``wake()``, ``backlog()`` and the watchdog handler."""

    def __init__(self, roots: Iterable[str | Path | Input], known: Iterable[Checkpoint], *, fmt: str = "auto",
                 include: Sequence[str] = (), exclude: Sequence[str] = (), ignore: Sequence[Path] = (),
                 settle: float = SETTLE_SECONDS, follow: bool = True) -> None:
        self.inputs = [as_input(r) for r in roots]  # with the format their location implies, if any
        self.roots = [found.path for found in self.inputs]
        self.filter = FileFilter(self.roots, include, exclude, ignore)
        self.fmt, self.settle, self.follow = fmt, settle, follow
        self.known: dict[str, Checkpoint] = {cp.name: cp for cp in known}
        self._by_inode: dict[tuple[int, int], str] = {}
        for cp in sorted(self.known.values(), key=lambda c: (c.state == LIVE, c.updated)):
            self._by_inode[(cp.dev, cp.ino)] = cp.name  # a live checkpoint wins over a finished one
        self._changed: list[Checkpoint] = []
        self._logs: dict[str, _Log] = {}
        self._waiting: dict[Path, float] = {}
        self._done: dict[Path, tuple[int, int, int, int]] = {}
        self._kinds: dict[Path, str] = {}
        self._dirty: set[Path] = set()
        self._dirty_lock = threading.Lock()
        self._wake = threading.Event()
        self._observer: Any = None
        self._last_scan = 0.0

    # ---- watching --------------------------------------------------------------------------------
    def watch(self, *, poll: bool = False) -> None:
        """Start watchdog: inotify (or the platform's native API), or polling with ``poll``."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=POLL_SECONDS) if poll else Observer()
        handler = _Handler(self)
        scheduled: set[tuple[Path, bool]] = set()
        for root in self.roots:
            target = (root, True) if root.is_dir() else (root.parent, False)
            if target not in scheduled:
                scheduled.add(target)
                observer.schedule(handler, str(target[0]), recursive=target[1])
        observer.daemon = True
        try:
            observer.start()
        except OSError as exc:
            raise UsageError(f"cannot watch {', '.join(map(str, self.roots))}: {exc.strerror or exc}",
                             hint="use --poll, or raise the inotify limits (sysctl fs.inotify.max_user_watches, "
                                  "fs.inotify.max_user_instances)") from None
        self._observer = observer

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        for log in self._logs.values():
            os.close(log.fd)
        self._logs.clear()

    def mark(self, *paths: str | Path) -> None:
        with self._dirty_lock:
            self._dirty.update(Path(p) for p in paths)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def wait(self, timeout: float) -> None:
        self._wake.wait(timeout)
        self._wake.clear()

    def scan(self) -> None:
        """Queue every capture file under the roots for the next pass."""
        self._last_scan = time.monotonic()
        found: list[Path] = []
        for root in self.roots:
            found += self._walk(root) if root.is_dir() else [root]
        with self._dirty_lock:
            self._dirty.update(found)

    def _walk(self, top: Path) -> list[Path]:
        return [p for p in walk_all(top) if self.filter.accepts(p)]

    # ---- one pass --------------------------------------------------------------------------------
    def read(self) -> Iterator[Chunk]:
        """Everything complete since the last pass."""
        if self.follow and time.monotonic() - self._last_scan > RESCAN_SECONDS:
            self.scan()
        with self._dirty_lock:
            dirty, self._dirty = sorted(self._dirty), set()
        for path in dirty:
            yield from self._visit(path)
        for name in list(self._logs):
            log = self._logs.get(name)
            if log is not None:
                yield from self._read_log(log)
        for path in list(self._waiting):
            yield from self._visit(path)
        while self._changed:
            cp = self._changed.pop(0)
            yield Chunk(cp.path, [], cp.snapshot(), False, time.monotonic())

    def backlog(self) -> tuple[int, float]:
        """Bytes of followed logs not read yet, and for how long the oldest of them has waited."""
        now, total, oldest = time.monotonic(), 0, 0.0
        for log in list(self._logs.values()):
            total += max(0, log.size - log.cp.offset)
            if log.behind_since is not None:
                oldest = max(oldest, now - log.behind_since)
        return total, oldest

    def _visit(self, path: Path) -> Iterator[Chunk]:
        try:
            st = os.stat(path)
        except OSError:
            self._waiting.pop(path, None)
            return
        if stat.S_ISDIR(st.st_mode):
            with self._dirty_lock:
                self._dirty.update(self._walk(path))
            return
        if not stat.S_ISREG(st.st_mode):
            return
        name = self._by_inode.get((st.st_dev, st.st_ino))
        if name is not None and name in self._logs:
            self._logs[name].cp.path = str(path)  # renamed: same file, same place
            return
        if not self.filter.accepts(path):
            return
        kind = self._kind(path, st)
        if kind is None:
            return
        if kind == CAPTURE_LOG and not compressed_name(path.name):
            self._attach(path, st)
        elif self._done.get(path) == _signature(st):
            self._waiting.pop(path, None)
        elif self._ready(path, st):
            self._waiting.pop(path, None)
            self._done[path] = _signature(st)
            yield from (self._read_compressed_log(path, st) if kind == CAPTURE_LOG else self._read_single(path, kind))
        else:
            self._waiting.setdefault(path, time.monotonic())

    def _kind(self, path: Path, st: os.stat_result) -> str | None:
        """The file's format, told once it holds a whole line (until then it may still look like another)."""
        if self.fmt != "auto":
            return self.fmt
        if path in self._kinds:
            return self._kinds[path]
        if st.st_size == 0:
            return None
        try:
            kind = detect_format(path, hint_of(path, self.inputs))
            with open_bytes(path) as handle:
                settled = b"\n" in handle.read(64 * 1024)
        except (OSError, EOFError):
            return None
        if kind == "json" and rotated_log_name(path.name):
            kind = CAPTURE_LOG  # app.jsonl.1: a rotated capture log whose first line did not give it away
        if settled or compressed_name(path.name):
            self._kinds[path] = kind
        return kind

    def _ready(self, path: Path, st: os.stat_result) -> bool:
        """A whole file is complete: reading once, its sidecar is there, or it stopped changing."""
        if not self.follow or time.time() - st.st_mtime >= self.settle:
            return True
        from ..sources.single_file import sidecar_path

        sidecar = sidecar_path(path, META_SUFFIX)
        try:
            return isinstance(orjson.loads(sidecar.read_bytes()), dict)
        except (OSError, orjson.JSONDecodeError):
            return False

    # ---- capture logs ----------------------------------------------------------------------------
    def _attach(self, path: Path, st: os.stat_result) -> None:
        """Start following a plain capture log: at its checkpoint if it has one (same inode and first
        bytes), else where a checkpoint with the same first bytes stands, else at 0."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        st = os.fstat(fd)
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        cp = self._own_checkpoint(st, head, path) or self._new_checkpoint(path, st, head, compressed=False)
        if cp is None:
            os.close(fd)
            return
        if st.st_size == cp.offset and time.time() - st.st_mtime > IDLE_CLOSE_SECONDS and cp.state == LIVE:
            os.close(fd)  # nothing to read and not being written: no handle kept (the next event reopens)
            return
        cp.path, cp.state = str(path), LIVE
        self._logs[cp.name] = _Log(cp, fd)

    def _own_checkpoint(self, st: os.stat_result, head: bytes, path: Path) -> Checkpoint | None:
        name = self._by_inode.get((st.st_dev, st.st_ino))
        if name is None:
            return None
        cp = self.known[name]
        if cp.compressed == compressed_name(path.name) and _head_matches(cp, head):
            cp.path = str(path)
            return cp
        del self._by_inode[(st.st_dev, st.st_ino)]  # rewritten in place, or the inode reused by another file
        if cp.state != FINISHED:
            cp.state = FINISHED
            self._changed.append(cp)
        return None

    def _new_checkpoint(self, path: Path, st: os.stat_result, head: bytes, *, compressed: bool) -> Checkpoint | None:
        prefix = usable_prefix(head)
        if prefix is None:
            return None  # not even one whole line yet: looked at again when it grows
        cp = Checkpoint(new_name(path), str(path), st.st_dev, st.st_ino, fingerprint(prefix), len(prefix),
                        compressed=compressed, state=FINISHED if compressed else LIVE)
        twin = self._match(head, exclude=cp)
        if twin is not None:  # a copy / compressed copy of a file already read: start where it stands
            cp.offset, cp.line = twin.offset, twin.line
            if twin.name not in self._logs and not _still_there(twin):
                cp.name = twin.name  # the file it stood for is gone: this one takes its checkpoint over
                self._by_inode.pop((twin.dev, twin.ino), None)
        self.known[cp.name] = cp
        self._by_inode[(cp.dev, cp.ino)] = cp.name
        return cp

    def _match(self, head: bytes, exclude: Checkpoint) -> Checkpoint | None:
        best: Checkpoint | None = None
        digests: dict[int, str] = {}
        for cp in self.known.values():
            n = cp.fingerprint_bytes
            if n == 0 or n > len(head) or (cp.dev, cp.ino) == (exclude.dev, exclude.ino):
                continue
            if n not in digests:
                digests[n] = fingerprint(head[:n])
            if digests[n] == cp.fingerprint and (best is None or cp.offset > best.offset):
                best = cp
        return best

    def _read_log(self, log: _Log) -> Iterator[Chunk]:
        cp = log.cp
        try:
            st = os.fstat(log.fd)
        except OSError:
            return
        if st.st_size < cp.offset or not self._same_start(log):
            yield from self._restart(log, st)
            return
        end = st.st_size
        if end != log.size:
            log.size, log.grew_at = end, time.monotonic()
        while cp.offset < end:
            data = _complete_lines(log.fd, cp.offset, end)
            if data is None:
                break
            yield self._chunk(log, data, st)
        if cp.offset >= end:
            log.behind_since = None
        elif log.behind_since is None:
            log.behind_since = time.monotonic()
        yield from self._maybe_finish(log, st)

    def _maybe_finish(self, log: _Log, st: os.stat_result) -> Iterator[Chunk]:
        """Finish a file moved out of the watched set or deleted once it has been quiet (its last line
        then counts even without a newline); when reading once, take a last line that is already a whole
        record; close the handles of idle files."""
        cp = log.cp
        attached = st.st_nlink > 0 and self._attached(log, st)
        quiet = time.monotonic() - log.grew_at
        if not attached and (quiet >= DETACHED_QUIET_SECONDS or not self.follow):
            tail = os.pread(log.fd, st.st_size - cp.offset, cp.offset) if cp.offset < st.st_size else b""
            if tail and (self.follow or _whole_record(tail)):
                yield self._chunk(log, tail, st)
            cp.state = FINISHED
            yield Chunk(cp.path, [], cp.snapshot(), False, time.monotonic())
            self._drop(log)
        elif not self.follow and cp.offset < st.st_size:
            tail = os.pread(log.fd, st.st_size - cp.offset, cp.offset)
            if _whole_record(tail):
                yield self._chunk(log, tail, st)
        elif cp.offset == st.st_size and quiet >= IDLE_CLOSE_SECONDS and time.time() - st.st_mtime > IDLE_CLOSE_SECONDS:
            self._drop(log)

    def _attached(self, log: _Log, st: os.stat_result) -> bool:
        path = Path(log.cp.path)
        try:
            here = os.stat(path)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino) and self.filter.accepts(path)

    def _same_start(self, log: _Log) -> bool:
        """The file still begins with the bytes it was known by (extending a short fingerprint)."""
        cp = log.cp
        head = os.pread(log.fd, FINGERPRINT_BYTES, 0)
        if not _head_matches(cp, head):
            return False
        if cp.fingerprint_bytes < FINGERPRINT_BYTES:
            prefix = usable_prefix(head)
            if prefix is not None and len(prefix) > cp.fingerprint_bytes:
                cp.fingerprint, cp.fingerprint_bytes = fingerprint(prefix), len(prefix)
        return True

    def _restart(self, log: _Log, st: os.stat_result) -> Iterator[Chunk]:
        """Truncated or rewritten in place (copytruncate): finish the old content's checkpoint and read
        the file again from 0 under a new one."""
        old = log.cp
        old.state = FINISHED
        yield Chunk(old.path, [], old.snapshot(), False, time.monotonic())
        head = os.pread(log.fd, FINGERPRINT_BYTES, 0)
        prefix = usable_prefix(head) or b""
        cp = Checkpoint(new_name(old.path), old.path, st.st_dev, st.st_ino, fingerprint(prefix) if prefix else "",
                        len(prefix))
        self.known[cp.name] = cp
        self._by_inode[(cp.dev, cp.ino)] = cp.name
        del self._logs[old.name]
        log.cp, log.size = cp, 0
        self._logs[cp.name] = log
        yield from self._read_log(log)

    def _chunk(self, log: _Log, data: bytes, st: os.stat_result) -> Chunk:
        cp = log.cp
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        items = list(read_capture_log(io.BytesIO(data), cp.path, when, cp.offset, cp.line))
        cp.offset += len(data)
        cp.line += data.count(b"\n")  # an unterminated last line keeps its number for its newline
        cp.size = st.st_size
        first, log.first_read = log.first_read, False
        return Chunk(cp.path, items, cp.snapshot(), first, time.monotonic(), len(data))

    def _drop(self, log: _Log) -> None:
        os.close(log.fd)
        self._logs.pop(log.cp.name, None)

    def _read_compressed_log(self, path: Path, st: os.stat_result) -> Iterator[Chunk]:
        """A compressed capture log (``.gz``, ...) is complete: read it once, past its own checkpoint or
        past the checkpoint of the file it is a compressed copy of (found by fingerprint)."""
        try:
            with open_bytes(path) as handle:
                head = handle.read(FINGERPRINT_BYTES)
                cp = self._own_checkpoint(st, head, path) or self._new_checkpoint(path, st, head, compressed=True)
                if cp is None:
                    cp = Checkpoint(new_name(path), str(path), st.st_dev, st.st_ino, "", 0, compressed=True)
                    self.known[cp.name] = cp
                cp.state, cp.compressed, cp.size = FINISHED, True, st.st_size
                if cp.offset <= len(head):
                    rest = head[cp.offset:]
                else:  # a copy of an earlier, shorter state of its twin may end before the twin's offset
                    cp.offset, rest = len(head) + _skip(handle, cp.offset - len(head)), b""
                yield from self._compressed_chunks(handle, cp, path, st, rest)
        except (OSError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            yield Chunk(str(path), [BadCapture(str(path), 0, f"cannot read file: {reason}", None, CAPTURE_LOG)],
                        None, True, time.monotonic())

    def _compressed_chunks(self, handle: Any, cp: Checkpoint, path: Path, st: os.stat_result,
                           rest: bytes) -> Iterator[Chunk]:
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        first = True
        while True:
            block = handle.read(READ_BYTES)
            data = rest + block
            cut = len(data) if not block else data.rfind(b"\n") + 1
            rest, data = data[cut:], data[:cut]
            if data or not block:
                items = list(read_capture_log(io.BytesIO(data), str(path), when, cp.offset, cp.line))
                cp.offset += len(data)
                cp.line += data.count(b"\n")
                yield Chunk(str(path), items, cp.snapshot(), first, time.monotonic(), len(data))
                first = False
            if not block:
                return

    # ---- single-response files -------------------------------------------------------------------
    def _read_single(self, path: Path, fmt: str) -> Iterator[Chunk]:
        try:
            items = list(read_captures(path, fmt))
        except FileNotFoundError:
            return
        except (OSError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            items = [BadCapture(str(path), 0, f"cannot read file: {reason}", None, fmt)]
        yield Chunk(str(path), items, None, True, time.monotonic())


class _Handler(FileSystemEventHandler):
    """watchdog event handler: note the paths touched and wake the reader."""

    def __init__(self, tailer: Tailer) -> None:
        super().__init__()
        self.tailer = tailer

    def dispatch(self, event: Any) -> None:
        if event.event_type in _IGNORED_EVENTS:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        self.tailer.mark(*(os.fsdecode(p) for p in paths if p))


def _skip(handle: Any, count: int) -> int:
    """Read and drop up to ``count`` bytes; how many there were."""
    skipped = 0
    while skipped < count:
        block = handle.read(min(READ_BYTES, count - skipped))
        if not block:
            break
        skipped += len(block)
    return skipped


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _head_matches(cp: Checkpoint, head: bytes) -> bool:
    n = cp.fingerprint_bytes
    return n == 0 or (len(head) >= n and fingerprint(head[:n]) == cp.fingerprint)


def _still_there(cp: Checkpoint) -> bool:
    try:
        st = os.stat(cp.path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (cp.dev, cp.ino)


def _complete_lines(fd: int, offset: int, end: int) -> bytes | None:
    """Up to ``READ_BYTES`` (more for one longer line) of whole lines from ``offset``; None when the
    bytes there are not yet one whole line."""
    size = min(READ_BYTES, end - offset)
    while True:
        data = os.pread(fd, size, offset)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return data[: cut + 1]
        if offset + len(data) >= end or len(data) < size:
            return None
        size = min(size * 2, end - offset)


def _whole_record(tail: bytes) -> bool:
    """An unterminated last line that is already one whole JSON object (a proper prefix of a JSON
    object never is one, so a half-written line never passes)."""
    try:
        return isinstance(orjson.loads(tail), dict)
    except orjson.JSONDecodeError:
        return False
