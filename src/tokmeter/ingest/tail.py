"""Following capture files as they grow, yielding complete records only.

``Tailer`` watches files and directories (watchdog: inotify where it works, polling with
``poll=True``) and reads, on each ``read()`` pass, whatever became complete since the last one:

* **Capture logs** are known by identity, not name: device + inode, and a fingerprint of their first
  bytes (``identity``, which also writes down the state machine). Each has a byte offset; a pass reads
  the whole lines past it. The last line is held back until its newline arrives, never parsed
  half-written. A renamed file keeps its place (rename-and-create rotation: the old file is read to its
  end, the new one from its start); a file moved out of the watched set or deleted is read from the
  open handle until it has been quiet for ``live_logs.DETACHED_QUIET_SECONDS``, then finished. A file
  whose first bytes changed (copytruncate: truncated, then written again) starts again from 0; one
  shorter than its offset with the same first bytes (a copy still being written) waits until it grows
  past it. A new
  file whose first bytes match a known checkpoint (a ``.gz`` of a rotated log, a copy) waits until it
  has stopped growing, then starts where that checkpoint stands, so it is not read twice.
* **Single-response files** (``.sse``, ``.json``, ``.har``) are read whole once complete: their sidecar
  ``NAME.meta.json`` is there (and is whole JSON), or the file has not changed for ``settle`` seconds.
  They are read again if they change. They have no checkpoint: a restart reads them again and the
  store's deduplication keeps one row per request.

The plain capture logs being followed through an open handle are ``live_logs.LiveLogs``' (their
offsets, rotations, truncation, detaching); this module finds the files, tells their kind, and reads the
compressed logs and single-response files itself.

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
    FOLLOWED_LOGS,
    META_SUFFIX,
    BadCapture,
    Input,
    ReadOptions,
    as_input,
    detect_format,
    hint_of,
    open_bytes,
    open_whole_lines,
    read_captures,
)
from ..sources.capture_log import read_capture_log
from ..sources.options import DEFAULT_READ
from ..sources.selection import FileFilter, compressed_name, rotated_log_name, walk_all
from .checkpoints import FINGERPRINT_BYTES, FINISHED, Checkpoint, new_name
from .identity import PRUNE_AFTER_SECONDS, Identities
from .live_logs import LiveLogs
from .tail_io import (
    READ_BYTES,
    Chunk,
    WatchHandler,
    ended_early,
    signature,
    skip,
)

SETTLE_SECONDS = 1.0
RESCAN_SECONDS = 30.0
COMPRESSED_SETTLE_SECONDS = 30.0  # a compressed file that ends early is being written until then
POLL_SECONDS = 0.5
CAPTURE_LOG = "capture-log"


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
        self.logs = LiveLogs(
            self.ids,
            self.filter.accepts,
            follow=follow,
            on_unreadable=self._unreadable_at,
            on_readable=self._readable,
            read_options=read_options,
        )
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
        self.logs.close()

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
        yield from self.logs.read_all()
        for path in list(self._waiting):
            yield from self._visit(path)
        if self.ids.prune_due():
            self.ids.prune(busy=self.logs.handles)
        while self.ids.changed:
            cp = self.ids.changed.pop(0)
            yield Chunk(cp.path, [], cp.snapshot(), False, time.monotonic())

    def backlog(self) -> tuple[int, float]:
        """Bytes of followed logs not read yet, and for how long the oldest of them has waited."""
        return self.logs.backlog()

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
        log = self.logs.open_log(st)
        if log is not None:
            log.cp.path = str(path)  # renamed: same file, same place
            return
        if not self.filter.accepts(path):
            return
        kind = self._kind(path, st)
        if kind is None:
            return
        if kind in (CAPTURE_LOG, *FOLLOWED_LOGS) and not compressed_name(path.name):
            if self.logs.attach(path, st, kind):
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

    # ---- compressed capture logs (plain ones are LiveLogs') --------------------------------------
    def _read_compressed_log(self, path: Path, st: os.stat_result) -> Iterator[Chunk]:
        """A compressed capture log (``.gz``, ...) is complete: read it once, past its own checkpoint or
        past the checkpoint of the file it is a compressed copy of (found by fingerprint)."""
        try:
            with open_bytes(path) as handle:
                head = handle.read(FINGERPRINT_BYTES)
                cp = self.ids.own(st, head, path, compressed=True) or self.ids.new(
                    path, st, head, compressed=True, busy=self.logs.handles
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
            items = list(read_captures(path, fmt, options=self.read_options, opener=open_whole_lines))
        except FileNotFoundError:
            return
        except (OSError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            items = [BadCapture(str(path), 0, f"cannot read file: {reason}", None, fmt)]
        yield Chunk(str(path), items, None, True, time.monotonic())
