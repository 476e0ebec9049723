"""What ``tokmeter status`` shows: the lag of each piece of content the follower reads.

A checkpoint belongs to content (device, inode and the fingerprint of the first bytes), not to a path.
Its content is looked for where it was last read and, when it was rotated away, beside it (same
inode, same first bytes): its lag is the bytes there not yet committed. Content that is no longer
anywhere is ``gone`` (no lag: there is nothing left to read); a path whose inode now holds other
bytes (copytruncate, or an inode reused) is not lag of the old checkpoint.

Beside the checkpoints, files with none that stem from a followed log (the new file at its name after
a rotation while the follower was down, or a rotated name of it such as ``app.jsonl.1``,
``app.jsonl-20261103.gz``) are listed as ``new`` with their whole size as lag, or, for a copy of
content already read, the part past where the copy would start. Files and directories the follower
cannot read are listed as ``unreadable: <why>`` (as it last committed them), with their size as lag
when it is known.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import orjson

from ..sources import open_bytes
from ..sources.selection import compressed_name, log_base_name, rotated_log_name
from ..store.protocol import StoreBackend
from .checkpoints import (
    FINGERPRINT_BYTES,
    LIVE,
    STOPPED,
    UNREADABLE_DOCUMENT,
    Checkpoint,
    SourceStatus,
    load,
)
from .identity import head_matches

NEW, GONE, UNREADABLE = "new", "gone", "unreadable"


def source_status(store: StoreBackend, *, following: bool, now: float | None = None) -> list[SourceStatus]:
    """Every checkpointed piece of content with where it is now, its size and lag, and the unread files
    beside them: live ones first. ``following``: whether a follower runs on the store
    (``locking.follower_running``); without one, nothing is live (``stopped``)."""
    with store.reading_documents():
        found = load(store)
        unreadable = _unreadable(store)
    stamp = time.time() if now is None else now
    places = _Places()
    out = [_status_of(cp, stamp, places) for cp in found]
    out += [s for s in _new_files(found, places, stamp) if s.checkpoint.path not in unreadable]
    out += [_unreadable_status(Path(path), why, stamp) for path, why in sorted(unreadable.items())]
    if not following:
        out = [replace(s, state=STOPPED) if s.state == LIVE else s for s in out]
    return sorted(out, key=lambda s: (s.state != LIVE, s.state, s.checkpoint.path))


class _Places:
    """Files beside the checkpointed ones, listed once per directory: (path, stat) of each."""

    def __init__(self) -> None:
        self._dirs: dict[Path, list[tuple[Path, os.stat_result]]] = {}
        self.claimed: set[tuple[int, int]] = set()

    def files(self, directory: Path) -> list[tuple[Path, os.stat_result]]:
        if directory not in self._dirs:
            self._dirs[directory] = _listing(directory)
        return self._dirs[directory]


def _listing(directory: Path) -> list[tuple[Path, os.stat_result]]:
    out = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and not entry.name.startswith("."):
            out.append((Path(entry.path), st))
    return out


def _unreadable(store: StoreBackend) -> dict[str, str]:
    for where, data in store.documents(Path(UNREADABLE_DOCUMENT).parent.name):
        if where.endswith(Path(UNREADABLE_DOCUMENT).name):
            return dict(orjson.loads(data).get("unreadable", {}))
    return {}


def _unreadable_status(path: Path, why: str, now: float) -> SourceStatus:
    state = f"{UNREADABLE}: {why}"
    cp = Checkpoint("", str(path), 0, 0, "", 0, state=state)
    try:
        st = os.stat(path)
    except OSError:
        return SourceStatus(cp, state, None, None, None)
    if not stat.S_ISREG(st.st_mode):
        return SourceStatus(cp, state, None, None, None)
    return SourceStatus(cp, state, st.st_size, st.st_size, max(0.0, now - st.st_mtime) if st.st_size else 0.0)


def _status_of(cp: Checkpoint, now: float, places: _Places) -> SourceStatus:
    where = _locate(cp, places)
    if where is None:
        return SourceStatus(cp, GONE, None, None, None)
    path, st = where
    places.claimed.add((st.st_dev, st.st_ino))
    here = replace(cp, path=str(path))
    total = _content_size(path, st, cp.compressed)
    if total is None:
        return SourceStatus(here, cp.state, st.st_size, None, None)
    lag = max(0, total - cp.offset)
    return SourceStatus(here, cp.state, st.st_size, lag, max(0.0, now - cp.updated) if lag else 0.0)


def _locate(cp: Checkpoint, places: _Places) -> tuple[Path, os.stat_result] | None:
    """Where the checkpoint's content is now: at its path, or renamed in the same directory."""
    last = Path(cp.path)
    candidates = [
        (p, st) for p, st in places.files(last.parent) if (st.st_dev, st.st_ino) == (cp.dev, cp.ino)
    ]
    candidates.sort(key=lambda item: item[0] != last)
    for path, _ in candidates:
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                head = handle.read(cp.fingerprint_bytes)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (cp.dev, cp.ino) and (cp.compressed or head_matches(cp, head)):
            return path, st
    return None


def _content_size(path: Path, st: os.stat_result, compressed: bool) -> int | None:
    """Bytes of content: the file's size, or for a ``.gz`` its trailer's size (None when unknown)."""
    if not compressed:
        return st.st_size
    if not path.name.endswith(".gz") or st.st_size < 20:
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return int.from_bytes(handle.read(4), "little")
    except OSError:
        return None


def _new_files(found: list[Checkpoint], places: _Places, now: float) -> list[SourceStatus]:
    """Files with no checkpoint at a followed log's name or a rotated name of it."""
    names: dict[Path, set[str]] = {}
    for cp in found:
        names.setdefault(Path(cp.path).parent, set()).add(log_base_name(Path(cp.path).name))
    out = []
    for directory, bases in names.items():
        for path, st in places.files(directory):
            if (st.st_dev, st.st_ino) in places.claimed or not _stems_from(path.name, bases):
                continue
            out.append(_new_status(path, st, found, now))
    return out


def _stems_from(name: str, bases: set[str]) -> bool:
    return name in bases or (rotated_log_name(name) and log_base_name(name) in bases)


def _new_status(path: Path, st: os.stat_result, found: list[Checkpoint], now: float) -> SourceStatus:
    compressed = compressed_name(path.name)
    total = _content_size(path, st, compressed)
    start = min(total or 0, _copy_start(path, found))
    cp = Checkpoint(
        "",
        str(path),
        st.st_dev,
        st.st_ino,
        "",
        0,
        offset=start,
        size=st.st_size,
        compressed=compressed,
        state=NEW,
    )
    if total is None:
        return SourceStatus(cp, NEW, st.st_size, None, None)
    lag = total - start
    return SourceStatus(cp, NEW, st.st_size, lag, max(0.0, now - st.st_mtime) if lag else 0.0)


def _copy_start(path: Path, found: list[Checkpoint]) -> int:
    """Where the follower starts a file it has no checkpoint for: 0, or for a copy of content already
    read, where that content's checkpoint stands."""
    try:
        with open_bytes(path) as handle:
            head = handle.read(FINGERPRINT_BYTES)
    except (OSError, EOFError):
        return 0
    twins = [cp for cp in found if not cp.compressed and cp.fingerprint_bytes and head_matches(cp, head)]
    return max((cp.offset for cp in twins), default=0)
