"""One change to a local store as a transaction: new files are written under temporary names and fsynced,
a journal (``_txn.json``) naming the files to add and to remove is written atomically, then applied
(renames and deletes) and removed. A crash leaves either no journal (nothing happened; stray temporaries
are cleared by the next writer) or a whole journal (the next writer, or reader, finishes it); ``apply`` is
idempotent. Also the errors a failed transaction becomes, in the terms of their cause."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl

from ..errors import StoreError
from .atomic import fsync_dir, replace_file, write_temp
from .ledger import append as append_to_ledger
from .ledger import rows_digest
from .quarantine import append as append_to_quarantine

JOURNAL = "_txn.json"


def failed(root: Path, exc: BaseException, txn: Transaction) -> StoreError:
    """The error of a failed transaction; its temporary files are removed unless its journal was written
    (the next writer finishes it). The reason is read first: it looks at the free space they take."""
    journal_written = (root / JOURNAL).exists()
    error = write_failed(root, exc, journal_written=journal_written)
    if not journal_written:
        txn.discard()
    return error


def write_failed(root: Path, exc: BaseException, *, journal_written: bool) -> StoreError:
    reason = failure_reason(root, exc)
    if journal_written:
        return StoreError(
            f"the store {root} could not finish a commit: {reason}",
            hint="fix the cause (space, permissions); the next tokmeter run finishes it",
        )
    return StoreError(
        f"cannot write to the store {root}: {reason}",
        hint="free space or fix permissions; nothing was committed and no checkpoint moved, "
        "so the next run picks up exactly where this one stopped",
    )


LOW_SPACE = 1 << 20  # bytes: below this, a failed write is put down to a full disk


def failure_reason(root: Path, exc: BaseException) -> str:
    """Why a write failed, in the terms of the cause: the OS error, else the writer's message; a Parquet
    writer that hits a full disk may report only a damaged file ("File out of specification: Invalid
    thrift"), so when the disk is (nearly) full that is said first."""
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:200]
    if "No space left" in reason or getattr(exc, "errno", None) == errno.ENOSPC:
        return reason
    where = next((p for p in (root, *root.parents) if p.exists()), None)
    try:
        low = where is not None and shutil.disk_usage(where).free < LOW_SPACE
    except OSError:
        low = False
    return f"No space left on device (the writer said: {reason})" if low else reason


def part_name() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"


class Transaction:
    """Files staged under temporary names, then made visible together through a journal."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.adds: list[tuple[str, str]] = []
        self.removes: list[str] = []
        self.ledger: list[dict] = []  # tamper-evidence entries for the usage parts (see ledger.py)
        self.quarantine: list[dict] = []  # bad captures read beside these rows (see quarantine.py)
        self.temps: list[Path] = []  # every temporary file begun, whole or not

    def _stage(self, final: Path, write: Callable[[Path], object]) -> None:
        """Write ``final``'s content under a temporary name (owner-only: usage rows are the owner's
        business), fsynced; the journal renames it."""
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = write_temp(final, write, mode=0o600)
        self.temps.append(temp)
        self.adds.append((self._rel(temp), self._rel(final)))

    def discard(self) -> None:
        """Remove the temporary files of a transaction that failed before its journal was written."""
        for temp in self.temps:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                continue  # the next writer's clean-up removes it

    def stage_part(self, final: Path, frame: pl.DataFrame, digest: str | None = None) -> None:
        """Write ``frame`` as the part ``final`` (``digest``: its ``rows_digest``, when known)."""
        self._stage(final, lambda temp: frame.write_parquet(temp, compression="zstd", statistics=True))
        self.ledger.append(
            {
                "op": "add",
                "part": self._rel(final),
                "rows": frame.height,
                "sha256": digest or rows_digest(frame),
            }
        )

    def stage_bytes(self, rel: str, content: bytes) -> None:
        self._stage(self.root / rel, lambda temp: temp.write_bytes(content))

    def stage_remove(self, path: Path) -> None:
        self.removes.append(self._rel(path))
        self.ledger.insert(0, {"op": "remove", "part": self._rel(path)})

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def commit(self) -> None:
        if not self.adds and not self.removes and not self.quarantine:
            return
        plan = {
            "txn": uuid.uuid4().hex,
            "add": self.adds,
            "remove": self.removes,
            "ledger": self.ledger,
            "quarantine": self.quarantine,
        }
        replace_file(
            self.root / JOURNAL, lambda temp: temp.write_bytes(orjson.dumps(plan)), mode=0o600, sync_dir=True
        )
        self.apply(self.root, plan)

    @staticmethod
    def apply(root: Path, plan: dict) -> None:
        """Idempotent: safe to run again on a journal that was partly applied."""
        dirs: set[Path] = set()
        for temp, final in plan["add"]:
            if (root / temp).exists():  # written and fsynced by write_temp; renamed only now, all together
                os.replace(root / temp, root / final)
            dirs.add((root / final).parent)
        for rel in plan["remove"]:
            (root / rel).unlink(missing_ok=True)
            dirs.add((root / rel).parent)
        for directory in dirs:
            fsync_dir(directory)
        if plan.get("ledger"):
            append_to_ledger(root, plan["txn"], plan["ledger"])
        if plan.get("quarantine"):
            append_to_quarantine(root, plan["txn"], plan["quarantine"])
        (root / JOURNAL).unlink(missing_ok=True)
        fsync_dir(root)
