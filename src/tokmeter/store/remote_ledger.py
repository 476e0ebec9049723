"""The ledger of a store on object storage, and how its objects are folded so that listing it stays cheap.

Each writing process appends its own hash chain as small objects, ``ledger/<ingester>/<session>/<seq>-<txn>.jsonl``
(see ``remote``): a follower committing every second writes tens of thousands a day. ``fold`` (run by
``tokmeter compact``) copies loose objects, whole and unchanged, into one fold object
``ledger/_folds/<tier>/<stamp>-<random>.jsonl``, then deletes them; ``FANOUT`` folds of a tier are
merged into one of the next tier the same way. A fold holds, one per line, ``{"object": KEY, "entries":
[...]}``: each folded object under its own key, with its entries as they were (the hashes still chain).
Listing the ledger therefore costs a few requests however long it grows, and every reader still sees
the same objects under the same keys, so change positions (each chain's last key) and ``verify`` do not
change when objects are folded.

Safe beside writers, readers and other folds, without locks: a fold deletes only objects it has read and
written into a fold first, so the content of every deleted object is in an object written before the
deletion, and that one in turn is only deleted by a fold that copied it. A reader listing meanwhile may
see an object both loose and folded (the same bytes: keys are unique), or miss one that was folded
between its listing and its read: it lists again. Fold objects are immutable, so each host reads one once
and keeps it in its cache.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ..errors import StoreError
from .atomic import replace_file
from .objects import Bucket

FOLDS = "ledger/_folds/"  # ingester ids never start with '_' (remote.safe_name)
FOLD_AT = 64  # loose ledger objects from which a fold gathers them
FANOUT = 8  # folds of one tier merged into one of the next
_THREADS = 8
_ATTEMPTS = 5


class RemoteLedger:
    """The ledger objects under a bucket prefix, folded ones included; ``cache``: where folds are kept."""

    def __init__(self, bucket: Bucket, cache: Path) -> None:
        self.bucket = bucket
        self.cache = cache
        self._folded: dict[str, list[dict]] = {}  # object key -> its entries, from the folds read so far
        self._folds: dict[str, list[str]] = {}  # fold key -> the object keys it holds

    # ---- reading -------------------------------------------------------------------------------------
    def objects(self) -> dict[str, list[str]]:
        """chain name (``<ingester>/<session>``) -> its ledger objects' keys, in order, loose or folded."""
        for _attempt in range(_ATTEMPTS):
            loose, folds = self._list()
            try:
                held = {key for fold in folds for key in self._read_fold(fold)}
            except FileNotFoundError:
                continue  # merged into a newer fold since we listed: list again
            chains: dict[str, list[str]] = {}
            for key in sorted({*loose, *held}):
                chains.setdefault(chain_of(key), []).append(key)
            return chains
        raise _moving()

    def entries(self, keys: Iterable[str]) -> list[dict]:
        """The entries of ledger objects, in the order of ``keys``."""
        keys = list(keys)
        with ThreadPoolExecutor(_THREADS) as pool:
            return [entry for found in pool.map(self._entries_of, keys) for entry in found]

    def _entries_of(self, key: str) -> list[dict]:
        for _attempt in range(_ATTEMPTS):
            if key in self._folded:
                return self._folded[key]
            try:
                return _parse(self.bucket.get(key))
            except FileNotFoundError:
                self.objects()  # folded since it was listed: its fold is there now
        raise _moving()

    def _list(self) -> tuple[list[str], list[str]]:
        """(loose object keys, fold keys)."""
        loose, folds = [], []
        for obj in self.bucket.list("ledger/"):
            if not obj.key.endswith(".jsonl"):
                continue
            if obj.key.startswith(FOLDS):
                folds.append(obj.key)
            elif chain_of(obj.key).count("/") == 1:
                loose.append(obj.key)
        return loose, folds

    def _read_fold(self, key: str) -> list[str]:
        """The keys of a fold's objects (their entries kept), from the cache or the bucket (then cached:
        folds never change)."""
        if key in self._folds:
            return self._folds[key]
        local = self.cache / key
        if local.exists():
            data = local.read_bytes()
        else:
            data = self.bucket.get(key)
            replace_file(local, lambda temp: temp.write_bytes(data))
        objects = {}
        for line in data.splitlines():
            if line.strip():
                doc = orjson.loads(line)
                objects[doc["object"]] = doc["entries"]
        self._folded.update(objects)
        self._folds[key] = list(objects)
        return self._folds[key]

    # ---- folding -------------------------------------------------------------------------------------
    def fold(self, *, at: int = FOLD_AT, fanout: int = FANOUT) -> int:
        """Fold the loose objects into one fold once there are ``at`` of them, then merge ``fanout`` folds
        of a tier into one of the next, tier after tier. Returns how many objects were folded away."""
        loose, folds = self._list()
        folded = 0
        tiers: dict[int, list[str]] = {}
        for fold in folds:
            tiers.setdefault(_tier(fold), []).append(fold)
        if len(loose) >= at:
            with ThreadPoolExecutor(_THREADS) as pool:
                read = dict(zip(loose, pool.map(self._loose, loose), strict=True))
            found = {key: entries for key, entries in read.items() if entries is not None}
            if found:
                tiers.setdefault(1, []).append(self._write(1, found))
            self.bucket.delete(list(found))
            folded += len(found)
        tier = 1
        while tier <= max(tiers, default=0):
            group = tiers.get(tier, [])
            if len(group) >= fanout:
                try:
                    merged = {key: self._folded[key] for fold in group for key in self._read_fold(fold)}
                except FileNotFoundError:
                    break  # another fold is merging these: leave them to it
                tiers.setdefault(tier + 1, []).append(self._write(tier + 1, merged))
                self.bucket.delete(group)
                folded += len(group)
            tier += 1
        return folded

    def _loose(self, key: str) -> list[dict] | None:
        try:
            return _parse(self.bucket.get(key))
        except FileNotFoundError:
            return None  # another fold took it: it is in that fold

    def _write(self, tier: int, objects: dict[str, list[dict]]) -> str:
        key = f"{FOLDS}{tier}/{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.jsonl"
        self.bucket.put(
            key,
            b"".join(
                orjson.dumps({"object": name, "entries": entries}) + b"\n"
                for name, entries in sorted(objects.items())
            ),
        )
        self._folded.update(objects)
        self._folds[key] = list(objects)
        return key


def added_parts(entries: Iterable[dict]) -> list[str]:
    """The parts that ``entries`` (the ledger after a position, in order) add and that may hold rows no
    part recorded before that position held, in order: every part added, except the merge of a
    transaction that removes only parts recorded before (``RemoteStore.replace_parts``: the merge holds
    their rows, deduplicated, and nothing else) and parts removed again after being added (a later merge
    holds their rows)."""
    entries = list(entries)
    added = [e["part"] for e in entries if e.get("op") == "add"]
    removed_by: dict[str, set[str]] = {}
    for e in entries:
        if e.get("op") == "remove":
            removed_by.setdefault(e.get("txn", ""), set()).add(e["part"])
    new, gone = set(added), set().union(*removed_by.values())
    old_merges = {txn for txn, parts in removed_by.items() if not parts & new}
    merged_old = {e["part"] for e in entries if e.get("op") == "add" and e.get("txn") in old_merges}
    return [part for part in added if part not in merged_old and part not in gone]


def chain_of(key: str) -> str:
    """``ledger/<ingester>/<session>/<name>`` -> ``<ingester>/<session>``."""
    return key[len("ledger/") :].rpartition("/")[0]


def _tier(fold: str) -> int:
    name = fold[len(FOLDS) :].split("/", 1)[0]
    return int(name) if name.isdigit() else 1


def _parse(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def _moving() -> StoreError:
    return StoreError(
        "the ledger's objects kept being folded while being read",
        hint="retry; if it persists, check that only one tokmeter compact runs at a time per store",
    )
