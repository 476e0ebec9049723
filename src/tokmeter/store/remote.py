"""A store on object storage (``--store s3://bucket/prefix``, ``gs://``, ``az://``) that many ingesters,
one per host, write at once with no coordination beyond the bucket.

Layout under the prefix (a public contract, see ``docs/store-layout.md``)::

    usage/date=YYYY-MM-DD/part-<utc stamp>-<ingester>-<random>.parquet   the usage rows
    ledger/<ingester>/<session>/<seq>.jsonl        hash-chained ledger, one chain per writing process
    quarantine/<ingester>/<session>/<txn>.jsonl    captures set aside (never their bytes)
    ingesters/<ingester>/checkpoints/<name>.json   how far each followed file was read, per ingester

How it stays correct without locks:

* Every object is written whole by one PUT and never modified; part names cannot collide (time, the
  ingester id and 48 random bits), and each process writes its own ledger chain (``<session>``).
* A commit writes its parts first, then its ledger entry, then its checkpoints. A crash in between
  leaves rows whose checkpoint did not move: the next run reads those captures again and writes them
  again, and the second copy is dropped by the deduplication below. Nothing is lost; nothing counts twice.
* Deduplication by request id happens when reading (``scan``), compacting and rolling up: several
  ingesters may hold the same capture (overlapping inputs, a retry seen by two gateways), so the
  store may hold several copies and every read keeps the preferred one among copies at most a day apart
  (``dedup.best_nearby``: the rule a local store applies at commit).
* Compaction lists a day's parts, writes their merge, records it, then deletes exactly the parts it
  listed; parts written meanwhile are untouched, and a reader that sees both the merge and its inputs
  deduplicates them. Two compactions at once only make duplicate copies, which reads drop.

Readers work on a local mirror of the parts they read (immutable objects, so a copy is valid for ever),
under a lock on the mirror (``$TOKMETER_CACHE`` or the platform's user cache directory), kept under a size
cap: when a hold of the mirror that fetched parts ends, the least recently used parts are evicted
(``cache``). A ``reading()``
fetches nothing up front: ``scan(days=...)`` lists only the date folders of those days (and the day on
either side, for deduplication), downloads the parts not yet mirrored and drops deleted ones; each day is
brought up to date once per ``reading()``, so one reading sees one snapshot of it. Rollup tables of a
remote store live in that mirror unless ``--output`` says otherwise.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from ..capture import BadCapture
from ..config import cache_max_bytes, cache_root, settings
from ..errors import StoreError
from . import cache
from .atomic import replace_file
from .batch import CommitResult, day_parts, kept_of_batch
from .dedup import best_nearby
from .ledger import Verification, chained, rows_digest, verify_chains
from .local import ChangePosition, Store, days_of_entries, with_host
from .locking import store_lock
from .objects import Bucket
from .quarantine import entries_for as quarantine_entries
from .quarantine import unique_entries
from .remote_ledger import RemoteLedger, added_parts
from .scan import DayRange, in_days, parts_per_day, scan_files, within
from .sessions import TIMES, first_times, pinned_sessions, read_times, session_copies

IN_FLIGHT_MINUTES = 15
_PART_NAME = re.compile(r"^part-\d{8}T\d{12}-[A-Za-z0-9._-]+-[0-9a-f]{12}\.parquet$")
DOWNLOAD_THREADS = 8


def safe_name(name: str) -> str:
    """An ingester id usable in object keys."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:64]
    if not cleaned:
        raise StoreError(
            f"ingester id {name!r} has no usable characters", hint="use letters, digits, '.', '_', '-'"
        )
    return cleaned


def default_ingester() -> str:
    return safe_name(socket.gethostname() or "ingester")


def cache_dir(url: str) -> Path:
    """Where a remote store's local mirror lives."""

    root = cache_root() if settings().cache else cache_root() / "stores"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[-1]).strip("-")[:60]
    return root / f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


class RemoteStore(Store):
    """The store's interface (``protocol.StoreBackend``) over a bucket; ``root`` is the local mirror. It
    reuses the local store's reading of the mirror's parts and its compaction."""

    def __init__(self, url: str, *, ingester: str | None = None, cache: Path | None = None) -> None:
        self.bucket = Bucket(url)
        self.url = self.bucket.url
        self.ingester = safe_name(ingester) if ingester else default_ingester()
        self.session = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        super().__init__(cache or cache_dir(self.url), ingester=self.ingester)
        self.ledger = RemoteLedger(self.bucket, self.root)
        self._last_entry: dict | None = None  # the end of this process's ledger chain
        self._locked = False
        self._fresh: set[date] | None = None  # inside reading(): the days brought up to date (None: outside)
        self._fresh_all = False  # inside reading(): every day brought up to date
        self._days: list[date] | None = None  # inside reading(): the days the bucket holds, once listed
        self._modified: dict[str, datetime | None] = {}  # part key -> when the bucket says it was written
        self._used: set[Path] = set()  # the mirror's parts the current hold of the mirror reads
        self.fetched: list[str] = []  # the keys of the parts this store has downloaded, in order

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r}, ingester={self.ingester!r})"

    @property
    def location(self) -> str:
        return self.url

    def holds_store(self) -> bool:
        """Whether a store is there: some ingester has recorded a commit or a checkpoint under the prefix."""
        return bool({"ledger", "ingesters"} & set(self.bucket.folders("")))  # one listing, not the ledger

    # ---- the local mirror ------------------------------------------------------------------------
    @contextmanager
    def _mirror_lock(self, wait: bool = True, *, spare: bool = False) -> Iterator[None]:
        """Hold the mirror to this process. When the outermost hold ends having fetched parts, the cache
        is brought under its cap (``cache.evict``); ``spare``: the caller reads the parts it brought after
        the hold ends (``part_files`` outside ``reading()``), so they are not evicted."""
        if self._locked:
            yield
            return
        with store_lock(self.root, exclusive=True, wait=wait):
            self._locked, self._used, fetched = True, set(), len(self.fetched)
            try:
                yield
            finally:
                self._locked = False
                if len(self.fetched) > fetched:  # this hold added to the cache: keep it under its cap
                    cache.evict(self.usage_dir, cache_max_bytes(), keep=self._used if spare else ())
                self._used = set()

    @contextmanager
    def writing(self, *, wait: bool = True) -> Iterator[RemoteStore]:
        """No lock: writers never need one (see the module docstring), so a report or a backfill on the
        same host never holds up a follower's commits."""
        yield self

    @contextmanager
    def compacting(self, *, wait: bool = True) -> Iterator[RemoteStore]:
        """Hold the local mirror still while merging parts read from it."""
        with self._mirror_lock(wait):
            yield self

    @contextmanager
    def reading(self) -> Iterator[RemoteStore]:
        """Hold the mirror still while you read. Nothing is fetched up front: each day a read needs
        (``scan``, ``part_files``) is brought up to date with the bucket the first time it is read, and then
        stays as it was until the end (a nested reading() keeps the outer one's snapshot)."""
        with self._mirror_lock():
            if self._fresh is not None:
                yield self
                return
            self._fresh, self._fresh_all, self._days = set(), False, None
            try:
                yield self
            finally:
                self._fresh, self._fresh_all, self._days = None, False, None

    def part_files(self, days: set[date] | None = None) -> list[Path]:
        """The mirror's copies of the parts of ``days`` (or all), fetched first if this reading has not."""
        self._bring(days)
        return super().part_files(days)

    def _bring(self, days: set[date] | None) -> None:
        """Bring ``days`` (None: all) of the mirror up to date, once per ``reading()``."""
        if self._fresh is None:
            with self._mirror_lock(spare=True):
                self._sync(days)
        elif days is None:
            if not self._fresh_all:
                self._sync(None)
                self._fresh_all = True
        elif not self._fresh_all and days - self._fresh:
            self._sync(days - self._fresh)
            self._fresh |= days

    def stored_days(self, days: DayRange = (None, None)) -> set[date]:
        """The UTC dates within ``days`` that the bucket holds parts of (one listing of the date folders)."""
        if self._days is None or self._fresh is None:
            listed = [
                date.fromisoformat(name.split("=", 1)[1])
                for name in self.bucket.folders("usage/")
                if re.fullmatch(r"date=\d{4}-\d{2}-\d{2}", name)
            ]
            if self._fresh is None:
                return {day for day in listed if within(day, days)}
            self._days = listed
        return {day for day in self._days if within(day, days)}

    def parts_per_day(self) -> dict[date, int]:
        """How many parts each UTC date holds in the bucket (one listing; nothing fetched)."""
        return parts_per_day(Path(o.key) for o in self.bucket.list("usage/") if o.key.endswith(".parquet"))

    def compactable_parts(self, day: date) -> list[Path]:
        """This ingester's own parts of the day: each follower merges only what it wrote, so followers
        on many hosts never race over the same parts (``tokmeter compact`` merges across ingesters)."""
        with self._mirror_lock(spare=True):
            self._sync({day}, own=True)
        return [p for p in Store.part_files(self, {day}) if self._owns(p.name)]

    def _owns(self, name: str) -> bool:
        """Whether a part is this ingester's: ``part-<21-char stamp>-<ingester>-<12 hex>.parquet``."""
        return name.startswith("part-") and name.endswith(".parquet") and name[27:-21] == self.ingester

    def _sync(self, days: set[date] | None, *, own: bool = False) -> None:
        """Make the mirror's parts (of ``days``, or all; with ``own``, only this ingester's) those of the
        bucket: download new ones, drop deleted ones."""
        prefixes = ["usage/"] if days is None else [f"usage/date={d.isoformat()}/" for d in sorted(days)]
        for _attempt in range(5):
            with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
                listings = list(pool.map(self.bucket.list, prefixes))
            listed = [
                o
                for objs in listings
                for o in objs
                if o.key.endswith(".parquet") and (not own or self._owns(o.key.rsplit("/", 1)[-1]))
            ]
            self._modified.update({o.key: o.modified for o in listed})
            remote = {o.key: o.size for o in listed}
            local = {
                p.relative_to(self.root).as_posix(): p
                for p in Store.part_files(self, days)
                if not own or self._owns(p.name)
            }
            for rel, path in local.items():
                if rel not in remote:
                    path.unlink(missing_ok=True)
            wanted = [k for k, size in remote.items() if k not in local or local[k].stat().st_size != size]
            try:
                with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
                    list(pool.map(self._download, wanted))
                used = [self.root / key for key in remote]
                cache.mark_used(used)  # the cache's LRU clock; spared by this hold's eviction
                self._used.update(used)
                return
            except FileNotFoundError:
                continue  # a compaction deleted a part after we listed it: its merge is there now
        raise StoreError(
            f"the parts of {self.url} kept changing while being read",
            hint="retry; if it persists, check for a runaway compaction loop",
        )

    def _download(self, key: str) -> None:
        replace_file(self.root / key, lambda temp: self.bucket.download(key, str(temp)))
        self.fetched.append(key)  # list.append is atomic under the GIL (downloads run in threads)

    # ---- reading ---------------------------------------------------------------------------------
    def scan(self, days: DayRange | None = None) -> pl.LazyFrame:
        """One row per request id across every ingester's parts: the preferred copy among copies at most
        a day apart (``dedup.best_nearby``), whether all days are read or only ``days``. Only the parts of
        ``days`` and the day on either side are fetched (the date partitions the query needs); the rest of
        the bucket is not read."""
        if days is None:
            return best_nearby(scan_files(self.part_files()))
        first, last = days
        wider = (first - timedelta(days=1) if first else None, last + timedelta(days=1) if last else None)
        return best_nearby(scan_files(self.part_files(self.stored_days(wider)))).filter(in_days(days))

    @contextmanager
    def reading_documents(self) -> Iterator[RemoteStore]:
        """Documents are read from the bucket itself: no need to bring the mirror's parts up to date."""
        yield self

    def documents(self, folder: str) -> list[tuple[str, bytes]]:
        """This ingester's documents in ``folder`` (its checkpoints: each host follows its own files)."""
        out = []
        for obj in self.bucket.list(f"ingesters/{self.ingester}/{folder}/"):
            if obj.key.endswith(".json"):
                try:
                    out.append((f"{self.url}/{obj.key}", self.bucket.get(obj.key)))
                except FileNotFoundError:
                    continue
        return out

    def quarantined(self) -> list[dict]:
        lines: list[bytes] = []
        for obj in self.bucket.list("quarantine/"):
            lines += self.bucket.get(obj.key).splitlines()
        return unique_entries(lines)

    # ---- writing ---------------------------------------------------------------------------------
    def commit(
        self,
        rows: pl.DataFrame,
        extra_files: Mapping[str, bytes] | None = None,
        quarantine: Sequence[BadCapture] = (),
        drop_files: Sequence[str] = (),
    ) -> CommitResult:
        """Write the rows (one per request id within the batch), then the ledger entry, the quarantined
        captures and last the checkpoints (``extra_files``; ``drop_files`` deleted), each as whole objects."""
        result = CommitResult()
        rows, times = pinned_sessions(self, rows)
        extra_files = {**(extra_files or {}), **times}
        txn = uuid.uuid4().hex
        changes: list[dict] = []
        if rows.height:
            batch, keep = kept_of_batch(with_host(rows, self.ingester), result)
            for day, part in day_parts(batch, keep):  # one part at a time: the batch is never copied whole
                changes.append(self._put_part(day, part))
            result.rows_written += batch.height if keep is None else int(keep.sum())
        self._record(txn, changes)
        entries = quarantine_entries(quarantine)
        if entries:
            data = b"".join(orjson.dumps({**entry, "txn": txn}) + b"\n" for entry in entries)
            self.bucket.put(f"quarantine/{self.ingester}/{self.session}/{txn}.jsonl", data)
        for rel, content in (extra_files or {}).items():
            self.bucket.put(f"ingesters/{self.ingester}/{rel}", content)
        if drop_files:
            self.bucket.delete([f"ingesters/{self.ingester}/{rel}" for rel in drop_files])
        return result

    def session_times(self) -> dict[str, datetime] | None:
        """This ingester's first stored times of per-session totals (``sessions``; each host reads its own
        agents' files), None before it kept them."""
        try:
            return read_times(self.bucket.get(f"ingesters/{self.ingester}/{TIMES}"))
        except FileNotFoundError:
            return None

    def first_session_times(self) -> dict[str, datetime]:
        """The first stored times read from this ingester's own parts (never the whole bucket), once. Copies
        of a session other ingesters hold, or held more than a day apart, are left as they are (reads keep
        copies at most a day apart as one)."""
        with self._mirror_lock():  # read before the hold ends: its end may evict them (the cache's cap)
            self._sync(None, own=True)
            own = [p for p in Store.part_files(self) if self._owns(p.name)]
            return first_times(session_copies(scan_files(own))) if own else {}

    def replace_parts(self, day: date, frame: pl.DataFrame, old: Sequence[Path]) -> None:
        """Write the merge, record it (adds and removes together), then delete the parts it replaces."""
        keys = [path.relative_to(self.root).as_posix() for path in old]
        added = self._put_part(day, frame)
        self._record(uuid.uuid4().hex, [*({"op": "remove", "part": key} for key in keys), added])
        self.bucket.delete(keys)
        for path in old:
            path.unlink(missing_ok=True)

    def _put_part(self, day: date, frame: pl.DataFrame) -> dict:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        key = f"usage/date={day.isoformat()}/part-{stamp}-{self.ingester}-{uuid.uuid4().hex[:12]}.parquet"
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        self.bucket.put(key, buffer.getvalue())
        return {"op": "add", "part": key, "rows": frame.height, "sha256": rows_digest(frame)}

    def _record(self, txn: str, changes: list[dict]) -> None:
        entries = chained(changes, txn, self._last_entry)
        if not entries:
            return
        data = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
        # named by seq and txn: a PUT that landed though the client saw an error is never overwritten
        self.bucket.put(
            f"ledger/{self.ingester}/{self.session}/{entries[0]['seq']:09d}-{txn[:12]}.jsonl", data
        )
        self._last_entry = entries[-1]

    # ---- the ledger ------------------------------------------------------------------------------
    def _ledger_objects(self) -> dict[str, list[str]]:
        """chain name (``<ingester>/<session>``) -> its ledger objects' keys, in order (folded or not)."""
        return self.ledger.objects()

    def _entries(self, keys: Sequence[str]) -> list[dict]:
        return self.ledger.entries(keys)

    def fold_ledger(self) -> int:
        """Fold the ledger's small objects (``remote_ledger``): listing it stays cheap as it grows."""
        return self.ledger.fold()

    def ledger_entries(self) -> list[dict]:
        chains = self._ledger_objects()
        return sorted((e for keys in chains.values() for e in self._entries(keys)), key=lambda e: e["time"])

    def change_position(self) -> dict[str, str]:
        """The last ledger object of every chain: equal positions, same store content."""
        return {chain: keys[-1] for chain, keys in sorted(self._ledger_objects().items())}

    def added_part_files(self, since: ChangePosition, until: ChangePosition) -> list[Path]:
        """The mirror's copies (fetched if missing) of the parts recorded after position ``since`` up to
        ``until`` that may hold rows the store did not hold at ``since`` (``remote_ledger.added_parts``:
        merges of older parts are left out); FileNotFoundError when one has left the bucket since (merged).
        Commits here only add parts, so a rollup can fold these in alone (``rollup.incremental``)."""
        keys = added_parts(self._entries(self._keys_between(since, until))) if since != until else []
        with self._mirror_lock():
            wanted = [key for key in keys if not (self.root / key).exists()]
            with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
                list(pool.map(self._download, wanted))
            paths = [self.root / key for key in keys]
            cache.mark_used(paths)
            self._used.update(paths)
            return paths

    def _keys_between(self, since: ChangePosition, until: ChangePosition) -> list[str]:
        old = since if isinstance(since, dict) else {}
        new = until if isinstance(until, dict) else {}
        return [
            key
            for chain, keys in self._ledger_objects().items()
            for key in keys
            if old.get(chain, "") < key <= new.get(chain, "")
        ]

    def days_changed(self, since: ChangePosition, until: ChangePosition) -> set[date]:
        """The UTC dates of the parts recorded after position ``since`` up to ``until``. A chain's objects
        are written in order, and each after the parts it names, so a position never runs ahead of the
        parts it covers."""
        days = days_of_entries(self._entries(self._keys_between(since, until)))
        # a new copy on day d can change which copy is kept on d-1 or d+1 (``dedup.best_nearby``)
        return {day + timedelta(days=k) for day in days for k in (-1, 0, 1)}

    def spark_source(self, *, local: bool) -> str:
        """Spark in local mode reads the mirror (brought up to date by ``reading()``); on a cluster the
        executors read the bucket itself (``s3a://`` for S3, with hadoop-aws on the cluster)."""
        if local:
            self.part_files()  # every part, brought into the mirror
            return str(self.usage_dir)
        scheme, rest = self.url.split("://", 1)
        return f"{'s3a' if scheme in ('s3', 's3a') else scheme}://{rest}/usage"

    def verify(self) -> Verification:
        """Every chain, and every live part's digest against the mirror. Hold ``reading()``.

        Ingesters keep writing meanwhile, so the ledger is listed before and after the mirror is brought
        up to date: parts named by ledger objects that appeared in between, and unrecorded parts younger
        than ``IN_FLIGHT_MINUTES`` (written, their ledger object not yet), are reported as in flight, not
        as missing or unexpected. An older unrecorded part is unexpected: injected, or left by a writer
        that crashed between writing it and recording it (its rows were read again and recorded)."""
        before = {key for keys in self._ledger_objects().values() for key in keys}
        self._sync(None)
        objects = self._ledger_objects()
        chains = {chain: self._entries(keys) for chain, keys in objects.items()}
        present = {path.relative_to(self.root).as_posix(): path for path in Store.part_files(self)}
        result = verify_chains(chains, present)
        moving = {
            e["part"]
            for e in self._entries([k for keys in objects.values() for k in keys if k not in before])
        }
        cutoff = datetime.now(UTC) - timedelta(minutes=IN_FLIGHT_MINUTES)
        young = {
            rel
            for rel in result.unexpected
            if _PART_NAME.match(rel.rsplit("/", 1)[-1]) and (self._modified.get(rel) or cutoff) > cutoff
        }  # by the bucket's clock, not the name
        result.in_flight = sorted(moving & {*result.missing, *result.unexpected} | young)
        result.missing = [rel for rel in result.missing if rel not in result.in_flight]
        result.unexpected = [rel for rel in result.unexpected if rel not in result.in_flight]
        return result
