"""Which checkpoint a followed file's content belongs to, across every rotation order and restart.

A checkpoint belongs to content: device and inode, a fingerprint of the first bytes, and the offset it
was read to. There is no separate index to keep in step: files are matched against the checkpoints
themselves, so a takeover never loses another file's entry.

The state machine of a capture log's content (``Checkpoint.state``; the tailer drives it)::

    unseen --(first bytes match no checkpoint)------------------> live at 0
    unseen --(first bytes match one: a copy, a .gz; or, plain,
              under 1 KiB and written within the settle time)---> waiting
    waiting --(unchanged for the settle time)-------------------> live at the twin's offset; takes
                                                                  the twin's checkpoint over when
                                                                  the twin's path no longer holds it
    live --(renamed within the watched set)---------------------> live (same checkpoint, new path)
    live --(moved out or deleted; quiet 5 s)--------------------> finished (read to its end)
    live --(first bytes changed: truncated, written again)------> finished; the inode's new content
                                                                  is unseen (live at 0)
    live --(shorter than its offset, same first bytes)----------> live, nothing read until it grows
                                                                  past it (a copy still being written)
    live --(idle 60 s)------------------------------------------> live, handle closed (reopened by
                                                                  the next event)
    compressed, complete ---------------------------------------> finished (read once)
    live/finished, read to its end, gone from its last place
      for ``prune_after`` seconds ------------------------------> pruned (document deleted)

At start-up each file found takes the checkpoint with its inode and first bytes (a live one first,
then the furthest); checkpoints of the same inode with other first bytes are finished (their content
was rewritten in place, or the inode reused).
"""

from __future__ import annotations

import os
import time
from collections.abc import Container, Iterable
from pathlib import Path

from .checkpoints import (
    FINGERPRINT_BYTES,
    FINISHED,
    LIVE,
    PRUNED,
    Checkpoint,
    fingerprint,
    new_name,
    usable_prefix,
)

PRUNE_CHECK_SECONDS = 5.0
PRUNE_AFTER_SECONDS = 300.0


class Identities:
    """The checkpoints known, and the ones changed since the tailer last handed them on (``changed``:
    to commit even when no record moved them, e.g. a copy with nothing left to read)."""

    def __init__(
        self,
        known: Iterable[Checkpoint],
        *,
        settle: float,
        follow: bool,
        prune_after: float = PRUNE_AFTER_SECONDS,
    ) -> None:
        self.known: dict[str, Checkpoint] = {cp.name: cp for cp in known}
        self.changed: list[Checkpoint] = []
        self.settle, self.follow, self.prune_after = settle, follow, prune_after
        self._gone: dict[str, float] = {}
        self._last_prune = time.monotonic()

    def own(self, st: os.stat_result, head: bytes, path: Path, *, compressed: bool) -> Checkpoint | None:
        """The checkpoint of this content: same device and inode, same first bytes (a live one first,
        then the furthest). Checkpoints of the inode's earlier content are finished."""
        mine: Checkpoint | None = None
        for cp in self.known.values():
            if (cp.dev, cp.ino) != (st.st_dev, st.st_ino):
                continue
            if cp.compressed == compressed and head_matches(cp, head):
                if mine is None or (cp.state == LIVE, cp.offset) > (mine.state == LIVE, mine.offset):
                    mine = cp
            elif cp.state != FINISHED:
                cp.state = FINISHED
                self.changed.append(cp)
        if mine is not None:
            mine.path = str(path)
            extend_fingerprint(mine, head)  # at once: a copy seen in the same pass is compared with it
        return mine

    def new(
        self,
        path: Path,
        st: os.stat_result,
        head: bytes,
        *,
        compressed: bool,
        busy: Container[str],
        plain: bool = False,
    ) -> Checkpoint | None:
        """A checkpoint for content seen for the first time (None while it cannot be placed: less than
        one line, or a ``plain`` copy that has not stopped growing). ``busy``: names of the checkpoints
        being followed through an open handle."""
        prefix = usable_prefix(head)
        if prefix is None:
            return None  # not even one whole line yet: looked at again when it grows
        cp = Checkpoint(
            new_name(path),
            str(path),
            st.st_dev,
            st.st_ino,
            fingerprint(prefix),
            len(prefix),
            compressed=compressed,
            state=FINISHED if compressed else LIVE,
        )
        twin = self._twin(head, exclude=cp)
        short = len(head) < FINGERPRINT_BYTES  # too short yet to tell from the start of a copy
        if (twin is not None or short) and plain and self.follow and time.time() - st.st_mtime < self.settle:
            return None  # a copy still being written: inherits nothing while it grows
        if twin is not None:  # even when shorter (still being copied): what it holds was read
            cp.offset, cp.line = twin.offset, twin.line
        if twin is not None and twin.name not in busy and not still_there(twin):
            cp.name = twin.name  # the content it stood for is gone from there: this one takes it over
            self.changed = [c for c in self.changed if c.name != twin.name]
        self.add(cp)
        return cp

    def add(self, cp: Checkpoint) -> None:
        self.known[cp.name] = cp
        self.changed.append(cp)  # its identity is committed even when there is nothing to read

    def _twin(self, head: bytes, exclude: Checkpoint) -> Checkpoint | None:
        """The furthest checkpoint of another file whose first bytes this file begins with."""
        best: Checkpoint | None = None
        digests: dict[int, str] = {}
        for cp in self.known.values():
            if cp.fingerprint_bytes < FINGERPRINT_BYTES and not cp.compressed:
                lengthen_from_its_file(cp)  # in whatever order a pass meets the two files
            n = cp.fingerprint_bytes
            if n == 0 or n > len(head) or (cp.dev, cp.ino) == (exclude.dev, exclude.ino):
                continue
            if n not in digests:
                digests[n] = fingerprint(head[:n])
            if digests[n] == cp.fingerprint and (best is None or cp.offset > best.offset):
                best = cp
        return best

    def prune_due(self) -> bool:
        return self.follow and time.monotonic() - self._last_prune >= min(
            PRUNE_CHECK_SECONDS, self.prune_after
        )

    def prune(self, busy: Container[str]) -> None:
        """Forget the checkpoints of content read to its end that has been gone from its last place for
        ``prune_after`` seconds (one stays per rotation otherwise). The wait lets a copy of it (a ``.gz``
        written before its original is deleted) still find it; a restart starts the wait again."""
        now = self._last_prune = time.monotonic()
        for cp in list(self.known.values()):
            read = cp.compressed or cp.offset >= cp.size
            if cp.name in busy or not read or still_there(cp):
                self._gone.pop(cp.name, None)
            elif now - self._gone.setdefault(cp.name, now) >= self.prune_after:
                del self.known[cp.name], self._gone[cp.name]
                cp.state = PRUNED
                self.changed.append(cp)


def head_matches(cp: Checkpoint, head: bytes) -> bool:
    n = cp.fingerprint_bytes
    return n == 0 or (len(head) >= n and fingerprint(head[:n]) == cp.fingerprint)


def extend_fingerprint(cp: Checkpoint, head: bytes) -> None:
    """Lengthen a short fingerprint (a file that was empty or under 1 KiB) to the bytes there now."""
    if cp.fingerprint_bytes < FINGERPRINT_BYTES:
        prefix = usable_prefix(head)
        if prefix is not None and len(prefix) > cp.fingerprint_bytes:
            cp.fingerprint, cp.fingerprint_bytes = fingerprint(prefix), len(prefix)


def lengthen_from_its_file(cp: Checkpoint) -> None:
    """Lengthen a short fingerprint from the bytes its own file holds now (when that file is still its
    content), so a copy met before the file itself in a pass is still known for one."""
    try:
        with open(cp.path, "rb") as handle:
            st = os.fstat(handle.fileno())
            head = handle.read(FINGERPRINT_BYTES)
    except OSError:
        return
    if (st.st_dev, st.st_ino) == (cp.dev, cp.ino) and head_matches(cp, head):
        extend_fingerprint(cp, head)


def still_there(cp: Checkpoint) -> bool:
    """The file at the checkpoint's path is still its content (same inode, same first bytes)."""
    try:
        with open(cp.path, "rb") as handle:
            st = os.fstat(handle.fileno())
            head = handle.read(cp.fingerprint_bytes)
    except OSError:
        return False
    same = (st.st_dev, st.st_ino) == (cp.dev, cp.ino)
    return same and (cp.compressed or head_matches(cp, head))  # a .gz's fingerprint is of what it holds
