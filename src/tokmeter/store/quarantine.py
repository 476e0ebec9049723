"""The quarantine log: every capture set aside, recorded under the store so nothing is lost silently.

``STORE/quarantine.jsonl`` holds one entry per bad capture: when, the source file, byte offset and line,
the format, the reason, and the SHA-256 and length of the bad bytes — never the bytes themselves, which
may hold prompts. Entries are appended in the same transaction as the rows read beside them (so a
checkpoint never moves past a bad capture that was not recorded), once per transaction even if a crashed
commit is finished twice. ``tokmeter quarantine`` lists them, one per (source, offset, digest).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ..capture import BadCapture
from .ledger import tail_entries

QUARANTINE = "quarantine.jsonl"


def entries_for(bad: Iterable[BadCapture]) -> list[dict]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [
        {
            "time": now,
            "source": b.source,
            "offset": b.offset,
            "line": b.line,
            "format": b.format,
            "reason": b.reason,
            "sha256": b.digest,
            "bytes": b.size,
        }
        for b in bad
    ]


def append(root: Path, txn: str, entries: list[dict]) -> None:
    path = root / QUARANTINE
    if not entries or any(e.get("txn") == txn for e in tail_entries(path)):
        return
    data = b"".join(orjson.dumps({**entry, "txn": txn}) + b"\n" for entry in entries)
    # appended, not replaced (as the ledger): atomic.replace_file would rewrite the whole file each time
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(root: Path) -> list[dict]:
    """Every quarantined capture once (the latest entry of each source, offset and digest)."""
    path = root / QUARANTINE
    return unique_entries(path.read_bytes().splitlines()) if path.exists() else []


def unique_entries(lines: Iterable[bytes]) -> list[dict]:
    """The entries of quarantine JSONL lines, once per (source, offset, digest, reason)."""
    unique: dict[tuple, dict] = {}
    for line in lines:
        if line.strip():
            entry = orjson.loads(line)
            entry.pop("txn", None)
            unique[(entry.get("source"), entry.get("offset"), entry.get("sha256"), entry.get("reason"))] = (
                entry
            )
    return list(unique.values())
