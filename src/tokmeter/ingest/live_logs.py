"""The plain capture logs being followed, each through an open handle (one per inode): where each
stands (its checkpoint), reading the whole lines past it, and what happens when the file is renamed,
moved out of the watched set, deleted, truncated and written again (copytruncate) or goes idle (see
``tail``'s module doc). ``Tailer`` finds the files and hands the plain capture logs to ``LiveLogs``.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ..sources import read_lines
from ..sources.capture_log import read_capture_log
from ..sources.options import DEFAULT_READ, ReadOptions
from .checkpoints import FINGERPRINT_BYTES, FINISHED, LIVE, Checkpoint, fingerprint, new_name, usable_prefix
from .identity import Identities, extend_fingerprint, head_matches
from .tail_io import Chunk, complete_lines, whole_record

CAPTURE_LOG = "capture-log"
DETACHED_QUIET_SECONDS = 5.0
IDLE_CLOSE_SECONDS = 60.0


class _Log:
    """A capture log being followed: its checkpoint (offset = bytes read so far) and open handle."""

    __slots__ = ("behind_since", "cp", "fd", "first_read", "fmt", "grew_at", "size")

    def __init__(self, cp: Checkpoint, fd: int, fmt: str = CAPTURE_LOG) -> None:
        self.cp, self.fd, self.fmt = cp, fd, fmt  # fmt: capture-log, or a logged format (FOLLOWED_LOGS)
        self.size = cp.offset
        self.grew_at = time.monotonic()
        self.behind_since: float | None = None
        self.first_read = True


class LiveLogs:
    """The followed logs by checkpoint name. ``accepts``: whether a path is in the watched set;
    ``on_unreadable`` / ``on_readable``: how a file that cannot (or now can) be opened is reported.
    ``follow=False`` reads what is there: a last line without its newline is taken when it is a whole
    record, and detached files are finished at once."""

    def __init__(
        self,
        ids: Identities,
        accepts: Callable[[Path], bool],
        *,
        follow: bool,
        on_unreadable: Callable[[Path, OSError], None],
        on_readable: Callable[[Path], None],
        read_options: ReadOptions = DEFAULT_READ,
    ) -> None:
        self.ids, self.follow, self.read_options = ids, follow, read_options
        self.handles: dict[str, _Log] = {}
        self._accepts = accepts
        self._on_unreadable, self._on_readable = on_unreadable, on_readable

    def read_all(self) -> Iterator[Chunk]:
        """What became complete in every followed log since the last pass."""
        for name in list(self.handles):
            log = self.handles.get(name)
            if log is not None:
                yield from self.read_log(log)

    def backlog(self) -> tuple[int, float]:
        """Bytes not read yet, and for how long the oldest of them has waited."""
        now, total, oldest = time.monotonic(), 0, 0.0
        for log in list(self.handles.values()):
            total += max(0, log.size - log.cp.offset)
            if log.behind_since is not None:
                oldest = max(oldest, now - log.behind_since)
        return total, oldest

    def close(self) -> None:
        for log in self.handles.values():
            os.close(log.fd)
        self.handles.clear()

    def open_log(self, st: os.stat_result) -> _Log | None:
        """The log being followed through an open handle on this file (one per inode), if any."""
        for log in self.handles.values():
            if (log.cp.dev, log.cp.ino) == (st.st_dev, st.st_ino):
                return log
        return None

    def attach(self, path: Path, st: os.stat_result, fmt: str = CAPTURE_LOG) -> bool:
        """Start following a plain capture log: at its checkpoint if it has one (same inode and first
        bytes), else where a checkpoint with the same first bytes stands, else at 0. False while it
        cannot be placed yet (less than a line, or a copy still being written): looked at again."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except PermissionError as exc:
            self._on_unreadable(path, exc)
            return False
        except OSError:
            return True
        self._on_readable(path)
        st = os.fstat(fd)
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        cp = self.ids.own(st, head, path, compressed=False) or self.ids.new(
            path, st, head, compressed=False, busy=self.handles, plain=True
        )
        if cp is None:
            os.close(fd)
            return False
        if st.st_size <= cp.offset and time.time() - st.st_mtime > IDLE_CLOSE_SECONDS and cp.state == LIVE:
            os.close(fd)  # nothing to read and not being written: no handle kept (the next event reopens)
            return True
        cp.path, cp.state = str(path), LIVE
        self.handles[cp.name] = _Log(cp, fd, fmt)
        return True

    def read_log(self, log: _Log) -> Iterator[Chunk]:
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
        then counts even without a newline); take a last line that is already a whole record when reading
        once, or once it has been quiet for the settle time; close the handles of idle files."""
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
        elif cp.offset < st.st_size and (not self.follow or quiet >= self.ids.settle):
            # a whole record left unterminated (an object LiteLLM's bucket loggers write, no newline)
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
        return (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino) and self._accepts(path)

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
        del self.handles[old.name]
        log.cp, log.size = cp, 0
        self.handles[cp.name] = log
        yield from self.read_log(log)

    def _chunk(self, log: _Log, data: bytes, st: os.stat_result) -> Chunk:
        cp = log.cp
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        if log.fmt == CAPTURE_LOG:
            items = list(read_capture_log(io.BytesIO(data), cp.path, when, cp.offset, cp.line))
        else:
            start = (cp.offset, cp.line)
            items = list(read_lines(log.fmt, io.BytesIO(data), cp.path, when, start, self.read_options))
        cp.offset += len(data)
        cp.line += data.count(b"\n")  # an unterminated last line keeps its number for its newline
        cp.size = st.st_size
        first, log.first_read = log.first_read, False
        return Chunk(cp.path, items, cp.snapshot(), first, time.monotonic(), len(data))

    def _drop(self, log: _Log) -> None:
        os.close(log.fd)
        self.handles.pop(log.cp.name, None)
