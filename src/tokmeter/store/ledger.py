"""Tamper evidence: an append-only, hash-chained ledger of every part the store commits or removes.

``STORE/ledger.jsonl`` holds one JSON entry per line::

    {"seq": 7, "txn": "...", "time": "...", "op": "add", "part": "usage/date=.../part-....parquet",
     "rows": 120, "sha256": "<digest of the part's canonical rows>", "prev": "<hash of entry 6>",
     "hash": "<sha256 of this entry without its hash>"}

``op`` is ``add`` or ``remove``; a transaction that rewrites parts (a better copy of a request replacing a
stored one, or compaction) writes its ``remove`` entries and its ``add`` entries together, so the
chain says which parts replaced which. The canonical rows of a part are its rows as stored, in file
order, each serialized as a JSON array of the schema's columns that the part holds (timestamps in ISO
8601 with microseconds), one per line: anything that changes a stored value changes the digest. (A part
written before a column was added to the schema lacks it, and its digest never covered it.)

``verify`` recomputes the chain and every live part, and reports modified, missing and unexpected parts.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl

from ..schema import polars_schema

LEDGER = "ledger.jsonl"
GENESIS = "0" * 64


def rows_digest(frame: pl.DataFrame) -> str:
    """SHA-256 of a part's canonical rows (see the module docstring)."""
    lined = with_canonical_lines(frame)
    if lined is not None:
        return lines_digest(lined[LINE])
    digest = hashlib.sha256()
    frame = _canonical_values(frame)
    for start in range(0, frame.height, _DIGEST_SLICE):  # in slices: memory stays bounded
        digest.update(canonical_lines(frame.slice(start, _DIGEST_SLICE).rows()))
    return digest.hexdigest()


# The column ``with_canonical_lines`` adds: each row's canonical line
LINE = "_canonical_line"


def with_canonical_lines(frame: pl.DataFrame) -> pl.DataFrame | None:
    """``frame`` with each row's canonical line (line break included) in a ``LINE`` column, built by
    polars: a commit computes them once for all its parts, then ``lines_digest`` of a part's rows is its
    digest. None when this polars cannot write them byte for byte as orjson does."""
    if not _polars_writes_as_orjson():
        return None
    values = _canonical_values(frame)
    lines = _polars_lines(values.schema)
    return None if lines is None else frame.with_columns(values.select(lines.alias(LINE)).to_series())


def lines_digest(lines: pl.Series) -> str:
    """SHA-256 of canonical lines, in order (``with_canonical_lines``)."""
    digest = hashlib.sha256()
    for start in range(0, lines.len(), _DIGEST_SLICE):  # in slices: memory stays bounded
        digest.update(lines.slice(start, _DIGEST_SLICE).str.join("").item().encode())
    return digest.hexdigest()


def _canonical_values(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(name for name in polars_schema().names() if name in frame.columns).with_columns(
        pl.col("timestamp").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )


_DIGEST_SLICE = 20_000
# Types whose values polars writes as orjson does (integers in decimal, true/false)
_POLARS_WRITES = frozenset(
    {pl.String, pl.Boolean, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)


def canonical_lines(rows: list[tuple]) -> bytes:
    """``orjson.dumps(row)`` of each row, each followed by a line break: the canonical rows.

    One ``dumps`` of the whole list is twenty times faster than one per row; its ``],[`` between rows
    become line breaks. A ``],[`` inside a string would too, but JSON strings hold no raw line break, so
    exactly ``len(rows) - 1`` of them means every one was between rows; otherwise rows go one by one.
    """
    if not rows:
        return b""
    lines = orjson.dumps(rows)[1:-1].replace(b"],[", b"]\n[")
    if lines.count(b"\n") != len(rows) - 1:
        lines = b"\n".join(map(orjson.dumps, rows))
    return lines + b"\n"


def _polars_lines(schema: pl.Schema) -> pl.Expr | None:
    """The canonical rows as one polars expression (a string per row, line break included): twice as
    fast as ``canonical_lines``, which needs a Python tuple per row. None when a column has a type
    polars may write otherwise. Strings are escaped by polars' JSON writer (``{"":VALUE}`` -> VALUE)."""
    if not all(dtype in _POLARS_WRITES for dtype in schema.dtypes()):
        return None
    values = []
    for name, dtype in schema.items():
        if dtype == pl.String:
            value = (
                pl.struct(pl.col(name).alias(""))
                .struct.json_encode()
                .str.strip_prefix('{"":')
                .str.strip_suffix("}")
            )
        else:
            value = pl.col(name).cast(pl.String)
        values.append(value.fill_null("null"))
    return pl.concat_str([pl.lit("["), pl.concat_str(values, separator=","), pl.lit("]\n")])


# Every ASCII character, and the kinds of characters JSON writers treat differently
_ESCAPE_PROBE = ["".join(map(chr, range(128))), "é€\u2028\u2029\ufeff\uffff😀", '"\\/', "", None]


@functools.cache
def _polars_writes_as_orjson() -> bool:
    """Whether this polars writes the canonical rows byte for byte as ``canonical_lines`` does (checked
    once per process, so that another polars version can never change a digest: orjson is then used)."""
    probe = pl.DataFrame(
        {
            "text": _ESCAPE_PROBE,
            "number": [-(2**63), 2**63 - 1, 0, None, 7],
            "flag": [True, False, None, True, False],
        },
        schema={"text": pl.String, "number": pl.Int64, "flag": pl.Boolean},
    )
    lines = _polars_lines(probe.schema)
    return lines is not None and probe.select(lines.str.join("")).item().encode() == canonical_lines(
        probe.rows()
    )


def _entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def read_entries(root: Path) -> list[dict]:
    path = root / LEDGER
    if not path.exists():
        return []
    entries = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            entries.append(orjson.loads(line))
    return entries


def tail_entries(path: Path, max_bytes: int = 256 * 1024) -> list[dict]:
    """The last whole entries of a JSONL file (reading only its end: appends stay O(1) as it grows).
    A transaction's entries are appended together, so its own are all in this window."""
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - max_bytes))
        data = handle.read()
    lines = data.split(b"\n")
    if size > max_bytes:
        lines = lines[1:]  # the first one may be cut
    return [orjson.loads(line) for line in lines if line.strip()]


def _repair_torn_tail(path: Path) -> None:
    """Drop a last line a crash left without its newline (its transaction is re-applied whole)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = max(0, size - 16 * 1024 * 1024)
        handle.seek(start)
        data = handle.read()
        handle.truncate(start + data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def chained(changes: Iterable[dict], txn: str, last: dict | None) -> list[dict]:
    """One transaction's entries, numbered and hash-chained after ``last`` (None: a new chain)."""
    prev = last["hash"] if last else GENESIS
    seq = last["seq"] + 1 if last else 1
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    out = []
    for change in changes:
        entry = {"seq": seq, "txn": txn, "time": now, **change, "prev": prev}
        entry["hash"] = prev = _entry_hash(entry)
        out.append(entry)
        seq += 1
    return out


def append(root: Path, txn: str, changes: Iterable[dict]) -> None:
    """Append one transaction's entries, chained; a no-op when this transaction is already there."""
    path = root / LEDGER
    _repair_torn_tail(path)
    entries = tail_entries(path)
    if any(e.get("txn") == txn for e in entries):
        return
    lines = [orjson.dumps(entry) + b"\n" for entry in chained(changes, txn, entries[-1] if entries else None)]
    if not lines:
        return
    # appended, not replaced (atomic.replace_file would rewrite the whole ledger): a torn last line is
    # dropped by _repair_torn_tail and its transaction re-applied from the journal
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"".join(lines))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Verification:
    entries: int = 0
    parts_checked: int = 0
    chain_errors: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # remote stores: being committed while we looked

    @property
    def ok(self) -> bool:
        return not (self.chain_errors or self.modified or self.missing or self.unexpected)


def verify(root: Path, part_files: Iterable[Path]) -> Verification:
    """Recompute the chain and every live part's digest."""
    return verify_chains({"": read_entries(root)}, {p.relative_to(root).as_posix(): p for p in part_files})


def verify_chains(chains: dict[str, list[dict]], present: dict[str, Path]) -> Verification:
    """Recompute each chain (name -> its entries in order; a remote store has one per writing process)
    and the digest of every part the chains leave live; ``present`` maps each part found (path relative
    to the store) to a local copy. A part is added once (names are unique) and removed at most once, so
    the live set does not depend on how the chains interleave."""
    result = Verification()
    live: dict[str, str] = {}
    removed: set[str] = set()
    for name, entries in sorted(chains.items()):
        prev, where = GENESIS, f"{name}: " if name else ""
        for index, entry in enumerate(entries, start=1):
            result.entries += 1
            if entry.get("prev") != prev or entry.get("seq") != index:
                result.chain_errors.append(f"{where}entry {index}: does not follow entry {index - 1}")
            if _entry_hash(entry) != entry.get("hash"):
                result.chain_errors.append(f"{where}entry {index}: its hash does not match its content")
            prev = entry.get("hash", "")
            if entry.get("op") == "add" and entry["part"] not in removed:
                live[entry["part"]] = entry["sha256"]
            elif entry.get("op") == "remove":
                live.pop(entry["part"], None)
                removed.add(entry["part"])
    for rel, expected in sorted(live.items()):
        if rel not in present:
            result.missing.append(rel)
            continue
        result.parts_checked += 1
        try:
            held = pl.read_parquet_schema(present[rel])
            actual = rows_digest(
                pl.read_parquet(present[rel], schema={k: v for k, v in polars_schema().items() if k in held})
            )
        except Exception as exc:  # noqa: BLE001 - an unreadable part is a modified part
            actual = f"unreadable: {type(exc).__name__}"
        if actual != expected:
            result.modified.append(rel)
    result.unexpected = sorted(set(present) - set(live))
    return result
