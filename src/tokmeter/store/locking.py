"""The store's lock: writers take it exclusively, readers shared, so a reader never sees a commit
half-applied and two writers never interleave. POSIX ``flock`` on ``STORE/.lock``."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreBusyError, StoreError


@contextmanager
def store_lock(
    root: Path, *, exclusive: bool, wait: bool = True, timeout: float | None = None
) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot open the store's lock file in {root}: {exc.strerror}",
            hint="check that the store directory exists and is writable",
        ) from None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        _acquire(fd, mode, wait=wait, timeout=timeout, root=root)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, mode: int, *, wait: bool, timeout: float | None, root: Path) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | (fcntl.LOCK_NB if not wait or deadline else 0))
            return
        except BlockingIOError:
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                raise StoreBusyError(
                    f"the store {root} is locked by another tokmeter process",
                    hint="wait for it to finish, or run without --no-wait to queue behind it",
                ) from None
            time.sleep(0.05)


FOLLOWER_LOCK = ".follower.lock"


@contextmanager
def follower_lock(root: Path) -> Iterator[None]:
    """Held, shared, by every running follower (``ingest --follow`` / ``--resume``) for as long as it runs,
    on ``STORE/.follower.lock`` (a remote store's local mirror). The kernel drops it when the process
    ends, however it ends (``kill -9`` included), so ``follower_running`` never sees a stale one."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / FOLLOWER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot open the follower's lock file in {root}: {exc.strerror}",
            hint="check that the store directory exists and is writable",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # followers never wait for one another: only status tries it
        yield
    finally:
        os.close(fd)


def follower_running(root: Path) -> bool:
    """Whether a follower holds ``follower_lock`` on this store now (tries the lock, never waits)."""
    try:
        fd = os.open(root / FOLLOWER_LOCK, os.O_RDONLY)
    except OSError:
        return False  # no follower has ever run here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if it was taken
    return False
