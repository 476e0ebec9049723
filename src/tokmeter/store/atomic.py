"""Atomic writes: a file appears whole or not at all. It is written under a temporary name beside its
target (``.<name>.<random>.tmp``, which crash clean-ups look for), given its mode, fsynced, then renamed
over the target. ``write_temp`` stops before the rename, for a commit whose journal does the renames
(``transaction.Transaction``); ``replace_file`` does all of it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_temp(final: Path, write: Callable[[Path], object], *, mode: int | None = None) -> Path:
    """Fill a temporary file beside ``final`` with ``write`` (it is created with ``mode`` first, so the
    content is never readable by others), fsync it and return its path; removed if ``write`` fails."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if mode is not None:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        write(temp)
        if mode is not None:
            os.chmod(temp, mode)  # exactly ``mode``: the umask may have narrowed it
        fsync_file(temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def replace_file(
    final: Path, write: Callable[[Path], object], *, mode: int | None = None, sync_dir: bool = False
) -> None:
    """Make ``final`` appear whole or not at all (see the module docstring); ``sync_dir``: fsync its
    directory too, so the rename itself survives a power cut (a journal needs it, a cache does not)."""
    temp = write_temp(final, write, mode=mode)
    try:
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    if sync_dir:
        fsync_dir(final.parent)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
