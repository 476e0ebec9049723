"""Checkpoints: how far each capture log has been read into the store.

One small JSON document per followed file, ``STORE/checkpoints/<name>.json``. A file is known by its
identity, not its name: device and inode, plus a fingerprint (SHA-256) of its first bytes (of the
decompressed bytes for ``.gz``), so a renamed file keeps its place and a compressed copy of a file
already read is recognised. ``offset`` counts bytes of complete lines read *and committed*:
checkpoints are only ever written by ``Store.commit(rows, extra_files=...)``, in the same journaled
transaction as the rows they cover, so after a crash a checkpoint never points past a committed row
and no committed row lies past it.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import orjson

from ..errors import StoreError
from ..store.protocol import StoreBackend

CHECKPOINT_DIR = "checkpoints"
UNREADABLE_DOCUMENT = "follow/unreadable.json"  # the files a follower cannot read (for status)
VERSION = 1
FINGERPRINT_BYTES = 1024
LIVE, FINISHED = "live", "finished"
PRUNED = "pruned"  # never stored: a checkpoint in this state is deleted by the commit
STATES = (LIVE, FINISHED)
STOPPED = "stopped"  # shown, never stored: a live checkpoint whose follower is not running


@dataclass(slots=True)
class Checkpoint:
    """Where reading one capture log stands.

    ``offset`` / ``line``: the byte offset (in decompressed bytes for ``.gz``) and line number of the
    first byte not yet in the store. ``fingerprint``: hex SHA-256 of the first ``fingerprint_bytes``
    bytes (1024, or fewer while the file is shorter; always at least one whole line). ``size``: the
    file's size when last read. ``state``: ``live`` (followed) or ``finished`` (rotated away, deleted,
    truncated or compressed: nothing more will be read from it). ``updated``: epoch seconds of the
    commit that wrote it.
    """

    name: str
    path: str
    dev: int
    ino: int
    fingerprint: str
    fingerprint_bytes: int
    offset: int = 0
    line: int = 1
    size: int = 0
    compressed: bool = False
    state: str = LIVE
    updated: float = 0.0

    @property
    def rel_path(self) -> str:
        return f"{CHECKPOINT_DIR}/{self.name}.json"

    def to_json(self) -> bytes:
        return orjson.dumps({"version": VERSION, **asdict(self)}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, where: str | Path) -> Checkpoint:
        try:
            doc = orjson.loads(data)
            if doc.pop("version", None) != VERSION:
                raise ValueError(f"unknown checkpoint version in {Path(where).name}")
            return cls(**doc)
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise StoreError(
                f"checkpoint {where} is not readable ({str(exc)[:80]})",
                hint="delete it: the file it tracks is then read again from its start "
                "(the store's deduplication drops the rows already there)",
            ) from None

    def snapshot(self) -> Checkpoint:
        return replace(self)


def new_name(path: str | Path) -> str:
    """A fresh, stable name for a checkpoint document: the file's name and a random suffix."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).name)[:60] or "file"
    return f"{stem}-{uuid.uuid4().hex[:10]}"


def fingerprint(prefix: bytes) -> str:
    return hashlib.sha256(prefix).hexdigest()


def usable_prefix(head: bytes) -> bytes | None:
    """The part of a file's first bytes that identifies it: ``FINGERPRINT_BYTES`` bytes, or, in a
    shorter file, everything up to and including its last newline (a capture record carries its
    request id, so one whole line is already distinctive). None while not even one line is complete."""
    if len(head) >= FINGERPRINT_BYTES:
        return head[:FINGERPRINT_BYTES]
    cut = head.rfind(b"\n")
    return head[: cut + 1] if cut >= 0 else None


def load(store: StoreBackend) -> list[Checkpoint]:
    """Every checkpoint in the store. Hold ``store.writing()`` or ``store.reading()``."""
    return [Checkpoint.from_json(data, where) for where, data in store.documents(CHECKPOINT_DIR)]


def as_extra_files(checkpoints: Iterable[Checkpoint], *, now: float | None = None) -> dict[str, bytes]:
    """The documents to hand to ``Store.commit(..., extra_files=...)``, stamped with the commit time."""
    stamp = time.time() if now is None else now
    out: dict[str, bytes] = {}
    for checkpoint in checkpoints:
        checkpoint.updated = stamp
        out[checkpoint.rel_path] = checkpoint.to_json()
    return out


@dataclass(slots=True)
class SourceStatus:
    """One piece of followed content as it stands now (``lag.source_status``). ``state``: ``live``
    (followed by a running follower), ``stopped`` (live, but no follower is running), ``finished`` (read
    to its end: rotated, compressed, truncated), ``gone`` (its content is nowhere beside its last path),
    ``new`` (a file with no checkpoint yet at a followed log's name or a rotated name of it),
    ``unreadable: <why>``. ``checkpoint.path`` is where the content is now. ``lag_bytes``: bytes of the
    content not yet committed (None when unknown: gone, or compressed other than ``.gz``);
    ``lag_seconds``: how long the checkpoint has not moved while bytes wait (0 when caught up)."""

    checkpoint: Checkpoint
    state: str
    size: int | None
    lag_bytes: int | None
    lag_seconds: float | None
