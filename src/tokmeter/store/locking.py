"""Locks: POSIX ``flock`` on a file, released when it is closed or the process ends, however it ends
(``kill -9`` included), so no lock outlives its holder. ``file_lock`` is the one way tokmeter takes one:
the store's lock (``store_lock``: writers exclusive, readers shared, so a reader never sees a commit
half-applied and two writers never interleave), the followers' (``follower_lock``) and the rollups'."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from ..errors import StoreBusyError, StoreError


@contextmanager
def file_lock(
    path: Path,
    *,
    exclusive: bool,
    wait: bool = True,
    timeout: float | None = None,
    busy: StoreBusyError | None = None,
) -> Iterator[None]:
    """Hold a ``flock`` on ``path`` (created owner-only): exclusive or shared; ``wait``: queue behind
    another holder (for at most ``timeout`` seconds), else raise ``busy`` (default: the store is busy)."""
    fd = _open(path)
    try:
        if not _acquire(fd, exclusive=exclusive, wait=wait, timeout=timeout):
            raise busy or _store_busy(path.parent)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot open the lock file {path}: {exc.strerror}",
            hint="check that the store directory exists and is writable",
        ) from None


def _acquire(fd: int, *, exclusive: bool, wait: bool, timeout: float | None) -> bool:
    """Take the lock; False when another process holds it and we may not (or no longer) wait."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | (fcntl.LOCK_NB if not wait or deadline else 0))
            return True
        except BlockingIOError:
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(0.05)


def _store_busy(root: Path) -> StoreBusyError:
    return StoreBusyError(
        f"the store {root} is locked by another tokmeter process",
        hint="wait for it to finish, or run without --no-wait to queue behind it",
    )


def store_lock(
    root: Path, *, exclusive: bool, wait: bool = True, timeout: float | None = None
) -> AbstractContextManager[None]:
    return file_lock(root / ".lock", exclusive=exclusive, wait=wait, timeout=timeout)


FOLLOWER_LOCK = ".follower.lock"


def follower_lock(root: Path) -> AbstractContextManager[None]:
    """Held, shared, by every running follower (``ingest --follow`` / ``--resume``) for as long as it runs,
    on ``STORE/.follower.lock`` (a remote store's local mirror); followers never wait for one another:
    only ``follower_running`` tries it."""
    return file_lock(root / FOLLOWER_LOCK, exclusive=False)


def follower_running(root: Path) -> bool:
    """Whether a follower holds ``follower_lock`` on this store now (tries the lock, never waits)."""
    try:
        fd = os.open(root / FOLLOWER_LOCK, os.O_RDONLY)
    except OSError:
        return False  # no follower has ever run here
    try:
        return not _acquire(fd, exclusive=True, wait=False, timeout=None)
    finally:
        os.close(fd)  # closing releases the lock if it was taken
