"""Following capture files as they grow, yielding complete records only.

``Tailer`` watches files and directories (watchdog: inotify where it works, polling with
``poll=True``) and reads, on each ``read()`` pass, whatever became complete since the last one:

* **Capture logs** are known by identity, not name: device + inode, and a fingerprint of their first
  bytes (``identity``, which also writes down the state machine). Each has a byte offset; a pass reads
  the whole lines past it. The last line is held back until its newline arrives, never parsed
  half-written. A renamed file keeps its place (rename-and-create rotation: the old file is read to its
  end, the new one from its start); a file moved out of the watched set or deleted is read from the
  open handle until it has been quiet for ``DETACHED_QUIET_SECONDS``, then finished. A file whose first
  bytes changed (copytruncate: truncated, then written again) starts again from 0; one shorter than its
  offset with the same first bytes (a copy still being written) waits until it grows past it. A new
  file whose first bytes match a known checkpoint (a ``.gz`` of a rotated log, a copy) waits until it
  has stopped growing, then starts where that checkpoint stands, so it is not read twice.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..errors import UsageError
from ..sources import (
    META_SUFFIX,
    BadCapture,
    Input,
    ReadOptions,
    as_input,
    detect_format,
    hint_of,
    open_bytes,
    read_captures,
)
from ..sources.capture_log import read_capture_log
from ..sources.options import DEFAULT_READ
from ..sources.selection import FileFilter, compressed_name, rotated_log_name, walk_all
from .checkpoints import FINGERPRINT_BYTES, FINISHED, LIVE, Checkpoint, fingerprint, new_name, usable_prefix
from .identity import PRUNE_AFTER_SECONDS, Identities, extend_fingerprint, head_matches
from .tail_io import (
    READ_BYTES,
    Chunk,
    WatchHandler,
    complete_lines,
    ended_early,
    signature,
    skip,
    whole_record,
)

SETTLE_SECONDS = 1.0
DETACHED_QUIET_SECONDS = 5.0
IDLE_CLOSE_SECONDS = 60.0
RESCAN_SECONDS = 30.0
COMPRESSED_SETTLE_SECONDS = 30.0  # a compressed file that ends early is being written until then
POLL_SECONDS = 0.5
CAPTURE_LOG = "capture-log"


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

    def __init__(
        self,
        roots: Iterable[str | Path | Input],
        known: Iterable[Checkpoint],
        *,
        fmt: str = "auto",
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        ignore: Sequence[Path] = (),
        settle: float = SETTLE_SECONDS,
        follow: bool = True,
        prune_after: float = PRUNE_AFTER_SECONDS,
        read_options: ReadOptions = DEFAULT_READ,
    ) -> None:
        self.inputs = [as_input(r) for r in roots]  # with the format their location implies, if any
        self.roots = [found.path for found in self.inputs]
        self.filter = FileFilter(self.roots, include, exclude, ignore)
        self.fmt, self.settle, self.follow = fmt, settle, follow
        self.read_options = read_options
        self.ids = Identities(known, settle=settle, follow=follow, prune_after=prune_after)
        self.known = self.ids.known
        self._logs: dict[str, _Log] = {}
        self._waiting: dict[Path, float] = {}
        self._done: dict[Path, tuple[int, int, int, int]] = {}
        self._incomplete: dict[Path, tuple[int, int, int, int]] = {}
        self.unreadable: dict[str, str] = {}  # path -> why (``permission denied``): retried every pass
        self.notices: list[str] = []  # for the follower's log, taken by ``take_notices``
        self._unreadable_changed = False
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
        handler = WatchHandler(self.mark)
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
            raise UsageError(
                f"cannot watch {', '.join(map(str, self.roots))}: {exc.strerror or exc}",
                hint="use --poll, or raise the inotify limits (sysctl fs.inotify.max_user_watches, "
                "fs.inotify.max_user_instances)",
            ) from None
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
        failed: list[OSError] = []
        found = [p for p in walk_all(top, failed.append) if self.filter.accepts(p)]
        for exc in failed:
            where = Path(exc.filename) if exc.filename else top
            if not isinstance(exc, FileNotFoundError) and not self.filter.ignored(where):
                self._unreadable_at(where, exc)
        if not any(Path(exc.filename or top) == top for exc in failed):
            self._readable(top)
        return found

    # ---- files that cannot be read: reported at once, retried every pass ---------------------------
    def _unreadable_at(self, path: Path, exc: OSError) -> None:
        reason = (exc.strerror or type(exc).__name__).lower()
        if self.unreadable.get(str(path)) != reason:
            self.unreadable[str(path)] = reason
            self._unreadable_changed = True
            self.notices.append(f"{path}: unreadable: {reason}; retried until it can be read")
        self._waiting.setdefault(path, time.monotonic())

    def _readable(self, path: Path, *, gone: bool = False) -> None:
        if self.unreadable.pop(str(path), None) is not None:
            self._unreadable_changed = True
            self.notices.append(f"{path}: {'gone' if gone else 'readable now'}")
            self._waiting.pop(path, None)

    def take_notices(self) -> tuple[list[str], dict[str, str] | None]:
        """The messages since the last call, and the unreadable files when that set changed."""
        notices, self.notices = self.notices, []
        changed, self._unreadable_changed = self._unreadable_changed, False
        return notices, (dict(self.unreadable) if changed else None)

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
        if self.ids.prune_due():
            self.ids.prune(busy=self._logs)
        while self.ids.changed:
            cp = self.ids.changed.pop(0)
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
        except PermissionError as exc:  # in a directory that cannot be entered
            self._unreadable_at(path, exc)
            return
        except OSError:
            self._waiting.pop(path, None)
            self._readable(path, gone=True)
            return
        if stat.S_ISDIR(st.st_mode):
            with self._dirty_lock:
                self._dirty.update(self._walk(path))
            return
        if not stat.S_ISREG(st.st_mode):
            return
        log = self._open_log(st)
        if log is not None:
            log.cp.path = str(path)  # renamed: same file, same place
            return
        if not self.filter.accepts(path):
            return
        kind = self._kind(path, st)
        if kind is None:
            return
        if kind == CAPTURE_LOG and not compressed_name(path.name):
            if self._attach(path, st):
                self._waiting.pop(path, None)
            else:
                self._waiting.setdefault(path, time.monotonic())
        elif self._incomplete.get(path) == signature(st) and not self._given_up(st):
            return  # a compressed file that ended early, unchanged since: still being written
        elif self._done.get(path) == signature(st):
            self._waiting.pop(path, None)
        elif self._ready(path, st):
            self._waiting.pop(path, None)
            self._done[path] = signature(st)
            yield from (
                self._read_compressed_log(path, st) if kind == CAPTURE_LOG else self._read_single(path, kind)
            )
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
        except PermissionError as exc:
            self._unreadable_at(path, exc)
            return None
        except (OSError, EOFError):
            return None
        self._readable(path)
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
    def _open_log(self, st: os.stat_result) -> _Log | None:
        """The log being followed through an open handle on this file (one per inode), if any."""
        for log in self._logs.values():
            if (log.cp.dev, log.cp.ino) == (st.st_dev, st.st_ino):
                return log
        return None

    def _attach(self, path: Path, st: os.stat_result) -> bool:
        """Start following a plain capture log: at its checkpoint if it has one (same inode and first
        bytes), else where a checkpoint with the same first bytes stands, else at 0. False while it
        cannot be placed yet (less than a line, or a copy still being written): looked at again."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except PermissionError as exc:
            self._unreadable_at(path, exc)
            return False
        except OSError:
            return True
        self._readable(path)
        st = os.fstat(fd)
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        cp = self.ids.own(st, head, path, compressed=False) or self.ids.new(
            path, st, head, compressed=False, busy=self._logs, plain=True
        )
        if cp is None:
            os.close(fd)
            return False
        if st.st_size <= cp.offset and time.time() - st.st_mtime > IDLE_CLOSE_SECONDS and cp.state == LIVE:
            os.close(fd)  # nothing to read and not being written: no handle kept (the next event reopens)
            return True
        cp.path, cp.state = str(path), LIVE
        self._logs[cp.name] = _Log(cp, fd)
        return True

    def _read_log(self, log: _Log) -> Iterator[Chunk]:
        cp = log.cp
        try:
            st = os.fstat(log.fd)
        except OSError:
            return
        if not self._same_start(log):  # truncated (copytruncate) and written again, or rewritten
            yield from self._restart(log, st)
            return
        if st.st_size < cp.offset:  # same first bytes: a copy still being written; nothing new yet
            yield from self._maybe_finish(log, st)
            return
        end = st.st_size
        if end != log.size:
            log.size, log.grew_at = end, time.monotonic()
        while cp.offset < end:
            data = complete_lines(log.fd, cp.offset, end)
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
            if tail and (self.follow or whole_record(tail)):
                yield self._chunk(log, tail, st)
            cp.state = FINISHED
            yield Chunk(cp.path, [], cp.snapshot(), False, time.monotonic())
            self._drop(log)
        elif not self.follow and cp.offset < st.st_size:
            tail = os.pread(log.fd, st.st_size - cp.offset, cp.offset)
            if whole_record(tail):
                yield self._chunk(log, tail, st)
        elif (
            cp.offset >= st.st_size
            and quiet >= IDLE_CLOSE_SECONDS
            and time.time() - st.st_mtime > IDLE_CLOSE_SECONDS
        ):
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
        if not head_matches(cp, head):
            return False
        extend_fingerprint(cp, head)
        return True

    def _restart(self, log: _Log, st: os.stat_result) -> Iterator[Chunk]:
        """Truncated or rewritten in place (copytruncate): finish the old content's checkpoint and read
        the file again from 0 under a new one."""
        old = log.cp
        old.state = FINISHED
        yield Chunk(old.path, [], old.snapshot(), False, time.monotonic())
        head = os.pread(log.fd, FINGERPRINT_BYTES, 0)
        prefix = usable_prefix(head) or b""
        cp = Checkpoint(
            new_name(old.path),
            old.path,
            st.st_dev,
            st.st_ino,
            fingerprint(prefix) if prefix else "",
            len(prefix),
        )
        self.ids.add(cp)
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
                cp = self.ids.own(st, head, path, compressed=True) or self.ids.new(
                    path, st, head, compressed=True, busy=self._logs
                )
                if cp is None:
                    cp = Checkpoint(new_name(path), str(path), st.st_dev, st.st_ino, "", 0, compressed=True)
                    self.ids.add(cp)
                cp.state, cp.compressed, cp.size = FINISHED, True, st.st_size
                if cp.offset <= len(head):
                    rest = head[cp.offset :]
                else:  # a copy of an earlier, shorter state of its twin may end before the twin's offset
                    cp.offset, rest = len(head) + skip(handle, cp.offset - len(head)), b""
                yield from self._compressed_chunks(handle, cp, path, st, rest)
        except (OSError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            if ended_early(exc) and not self._given_up(st):
                self._done.pop(path, None)  # read on when it grows, or as it is once it has settled
                self._incomplete[path] = signature(st)
                self._waiting.setdefault(path, time.monotonic())
                return
            if ended_early(exc):
                reason += f"; {st.st_size:,} bytes, unchanged for {COMPRESSED_SETTLE_SECONDS:.0f} s"
            self._incomplete.pop(path, None)
            yield Chunk(
                str(path),
                [BadCapture(str(path), 0, f"cannot read file: {reason}", None, CAPTURE_LOG)],
                None,
                True,
                time.monotonic(),
            )
        else:
            self._incomplete.pop(path, None)

    def _given_up(self, st: os.stat_result) -> bool:
        """A compressed file that ends before its end-of-stream marker is taken as it is (reading once,
        or unchanged for ``COMPRESSED_SETTLE_SECONDS``)."""
        return not self.follow or time.time() - st.st_mtime >= COMPRESSED_SETTLE_SECONDS

    def _compressed_chunks(
        self, handle: Any, cp: Checkpoint, path: Path, st: os.stat_result, rest: bytes
    ) -> Iterator[Chunk]:
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
            items = list(read_captures(path, fmt, options=self.read_options))
        except FileNotFoundError:
            return
        except (OSError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            items = [BadCapture(str(path), 0, f"cannot read file: {reason}", None, fmt)]
        yield Chunk(str(path), items, None, True, time.monotonic())
