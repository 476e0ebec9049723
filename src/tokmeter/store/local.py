"""The store: a Parquet dataset ``usage/date=YYYY-MM-DD/part-*.parquet`` (hive-partitioned by UTC date)
holding one row per request id.

Every change is one transaction (``transaction``): new parts are written under temporary names and fsynced, a journal
(``_txn.json``) naming the parts to add and to remove is written atomically, then applied (renames and
deletes) and removed. A crash leaves either no journal (nothing happened; stray temporaries are
cleared by the next writer) or a whole journal (the next writer, or reader, finishes it). Writers
hold the store's lock exclusively, readers shared, so readers always see a committed state.

Deduplication happens at commit: a new row is compared with the stored copies of its request id in
its own UTC day and the days either side of it (so a retry that straddles midnight is still one row);
the preferred copy (see ``dedup``) is kept and the other removed. The work is bounded by the new rows
and the partitions they touch, never the whole store. A per-session running total first takes the time of
its first stored copy (``sessions``), so it meets that copy whatever day it is read again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from ..capture import BadCapture
from ..errors import StoreError
from ..schema import polars_schema
from .batch import CommitResult, count_dropped, day_parts, estimated, kept_of_batch, stored
from .dedup import best_per_request
from .ledger import LEDGER, Verification
from .locking import store_lock
from .quarantine import entries_for as quarantine_entries
from .scan import PART_GLOB, DayRange, in_days, parts_per_day, scan_parts, within
from .sessions import TIMES, first_times, pinned_sessions, read_times, session_copies, settled
from .transaction import JOURNAL, Transaction, failed, part_name, write_failed

_ID_TIME = ("request_id", "timestamp")  # what the lookup of stored copies reads of new rows
DEDUP_WINDOW_DAYS = 1
ChangePosition = int | dict[str, str]  # how far a ledger goes: its size; remotely each chain's last object


class Store:
    """A store in a local directory (see the module docstring). ``remote.RemoteStore`` is the same
    interface (``protocol.StoreBackend``) over object storage."""

    def __init__(self, root: str | Path, *, ingester: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.usage_dir = self.root / "usage"
        self.ingester = ingester or host_name()  # the rows' ``host``

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def location(self) -> str:
        """Where the store is, for people: its directory or URL."""
        return str(self.root)

    def holds_store(self) -> bool:
        """Whether a store is there: a directory some tokmeter ingest has written to (its lock file,
        ledger or usage folder). Decided here, once, for every command that reads a store."""
        return self.root.is_dir() and any((self.root / name).exists() for name in (".lock", LEDGER, "usage"))

    # ---- locking -------------------------------------------------------------------------------
    @contextmanager
    def writing(self, *, wait: bool = True) -> Iterator[Store]:
        """Hold the write lock; finishes any transaction a crashed writer left behind."""
        with store_lock(self.root, exclusive=True, wait=wait):
            try:
                self._recover()
            except OSError as exc:
                raise write_failed(self.root, exc, journal_written=True) from None
            yield self

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """Hold the read lock: the store cannot change while you read."""
        if not self.root.exists():
            yield self
            return
        with store_lock(self.root, exclusive=False):
            if (self.root / JOURNAL).exists():
                raise StoreError(
                    f"the store {self.root} has an unfinished transaction from a crashed writer",
                    hint="run any tokmeter ingest (even on an empty directory) to finish it",
                )
            yield self

    # ---- reading -------------------------------------------------------------------------------
    def part_files(self, days: set[date] | None = None) -> list[Path]:
        if days is None:
            return sorted(self.usage_dir.glob(PART_GLOB))
        files: list[Path] = []
        for day in sorted(days):
            files += sorted((self.usage_dir / f"date={day.isoformat()}").glob("*.parquet"))
        return files

    def stored_days(self, days: DayRange = (None, None)) -> set[date]:
        """The UTC dates within ``days`` that hold parts."""
        found = {date.fromisoformat(part.parent.name.split("=", 1)[1]) for part in self.part_files()}
        return {day for day in found if within(day, days)}

    def parts_per_day(self) -> dict[date, int]:
        return parts_per_day(self.part_files())

    def scan(self, days: DayRange | None = None) -> pl.LazyFrame:
        """The stored usage rows, one per request id (schema columns plus the hive ``date``), of the UTC
        dates ``days`` (first, last; inclusive; either may be None) or all. Hold ``reading()`` while you
        collect it to see one committed state."""
        lf = scan_parts(self.usage_dir, bool(self.part_files()))
        return lf if days is None else lf.filter(in_days(days))

    @contextmanager
    def reading_documents(self) -> Iterator[Store]:
        """Hold what ``documents`` reads still (here: the read lock; the rows are not needed)."""
        with self.reading():
            yield self

    def documents(self, folder: str) -> list[tuple[str, bytes]]:
        """(where, content) of every JSON document in ``folder`` (e.g. the checkpoints)."""
        return [(str(doc), doc.read_bytes()) for doc in sorted((self.root / folder).glob("*.json"))]

    def quarantined(self) -> list[dict]:
        """Every capture set aside (``quarantine.read``)."""
        from .quarantine import read

        return read(self.root)

    # ---- the ledger: what changed, and tamper evidence -----------------------------------------------
    def ledger_entries(self) -> list[dict]:
        from .ledger import read_entries

        return read_entries(self.root)

    def change_position(self) -> ChangePosition:
        """A marker of how far the ledger goes (its size): equal markers, same store content."""
        path = self.root / LEDGER
        return path.stat().st_size if path.exists() else 0

    def days_changed(self, since: ChangePosition, until: ChangePosition) -> set[date]:
        """The UTC dates of the parts added or removed between two ``change_position`` markers."""
        start = since if isinstance(since, int) else 0  # not a local marker: read the whole ledger
        with open(self.root / LEDGER, "rb") as handle:
            handle.seek(start)
            tail = handle.read(until - start if isinstance(until, int) else -1)
        return days_of_entries(orjson.loads(line) for line in tail.splitlines() if line.strip())

    def added_part_files(self, since: ChangePosition, until: ChangePosition) -> list[Path] | None:
        return None  # commits rewrite parts here (deduplication): rollups recompute ``days_changed``

    def fold_ledger(self) -> int:
        """Nothing to fold: a local ledger is one file (a remote one folds its objects, ``remote_ledger``)."""
        return 0

    def spark_source(self, *, local: bool) -> str:
        """Where Spark reads the parts (``spark_engine``): the ``usage`` directory."""
        return str(self.usage_dir)

    def verify(self) -> Verification:
        """Recompute the ledger's chain and every live part's digest. Hold ``reading()``."""
        from .ledger import verify

        return verify(self.root, self.part_files())

    # ---- writing -------------------------------------------------------------------------------
    def commit(
        self,
        rows: pl.DataFrame,
        extra_files: Mapping[str, bytes] | None = None,
        quarantine: Sequence[BadCapture] = (),
        drop_files: Sequence[str] = (),
    ) -> CommitResult:
        """Add usage rows (deduplicated against each other and the store) in one transaction.
        ``extra_files`` (path relative to the store -> content) are replaced, ``drop_files`` (relative
        paths) deleted, and the ``quarantine``d captures recorded, in the same transaction. Call inside
        ``writing()``."""
        result = CommitResult()
        txn = Transaction(self.root)
        txn.quarantine = quarantine_entries(quarantine)
        try:
            rows, times = pinned_sessions(self, rows)
            extra_files = {**(extra_files or {}), **times}
            if rows.height:
                self._stage_rows(with_host(rows, self.ingester), txn, result)
            for rel, content in (extra_files or {}).items():
                txn.stage_bytes(rel, content)
            txn.removes += drop_files  # documents, not parts: no ledger entry
            txn.commit()
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise failed(self.root, exc, txn) from None
        return result

    def session_times(self) -> dict[str, datetime] | None:
        """The first stored time of each per-session total (``sessions``), None before the store kept them."""
        where = self.root / TIMES
        return read_times(where.read_bytes()) if where.exists() else None

    def first_session_times(self) -> dict[str, datetime]:
        """The first stored times read from the session rows held (``sessions``), once; a session held more
        than once (more than a day apart, before they were kept) is first settled to its preferred copy."""
        files = self.part_files()
        if not files:
            return {}
        copies = session_copies(
            pl.scan_parquet(
                files, schema=polars_schema(), missing_columns="insert", include_file_paths="_file"
            )
        )
        best = settled(copies)
        if best.height:
            self._settle(copies.join(best, on="request_id", how="semi"), best.drop("_file"))
        return first_times(copies)

    def _settle(self, stale: pl.DataFrame, best: pl.DataFrame) -> None:
        """Replace the ``stale`` copies (with their ``_file``) by ``best``, in one transaction."""
        txn = Transaction(self.root)
        try:
            for (file,), ids in stale.group_by("_file"):
                self._stage_rewrite(Path(str(file)), set(ids["request_id"]), txn)
            for (day,), part in best.group_by(pl.col("timestamp").dt.date()):
                txn.stage_part(self._new_part_path(day), part.sort("timestamp"))
            txn.commit()
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise failed(self.root, exc, txn) from None

    def _stage_rows(self, rows: pl.DataFrame, txn: Transaction, result: CommitResult) -> None:
        batch, keep = kept_of_batch(rows, result)
        existing = self._stored_copies(batch if keep is None else batch.select(_ID_TIME).filter(keep))
        if existing.height:
            keep = self._against_stored(batch, keep, existing, txn, result)
        for day, part in day_parts(batch, keep):  # one part at a time: the batch is never copied whole
            txn.stage_part(self._new_part_path(day), part)
        result.rows_written += batch.height if keep is None else int(keep.sum())

    def _against_stored(
        self,
        batch: pl.DataFrame,
        keep: pl.Series | None,
        existing: pl.DataFrame,
        txn: Transaction,
        result: CommitResult,
    ) -> pl.Series:
        """Compare the kept rows whose request ids are stored with their stored copies: the stored part
        losing a copy is rewritten without it (in ``txn``), a new row losing to a stored copy is dropped.
        Returns the mask of the batch's rows still kept."""
        stored_ids = existing["request_id"].implode()
        kept = pl.lit(True) if keep is None else pl.lit(keep)
        met = stored(batch.with_row_index("_row").filter(kept & pl.col("request_id").is_in(stored_ids)))
        combined = pl.concat([existing, met.with_columns(_new=pl.lit(True))], how="diagonal_relaxed")
        winners = best_per_request(
            combined.lazy().with_columns(_keep_old=~pl.col("_new")), prefer="_keep_old"
        ).collect()
        count_dropped(
            combined.lazy().drop("_file", "_new", "_row"),
            winners.drop("_file", "_new", "_keep_old", "_row"),
            result,
        )
        replaced = existing.join(winners.filter("_new").select("request_id"), on="request_id", how="semi")
        for file, ids in replaced.group_by("_file"):
            self._stage_rewrite(Path(str(file[0])), set(ids["request_id"]), txn)
        lost = combined.filter("_new").join(winners.filter("_new").select("_row"), on="_row", how="anti")
        result.estimated_dropped += estimated(lost)
        mask = pl.repeat(True, batch.height, eager=True) if keep is None else keep.clone()
        return mask.scatter(lost["_row"], False)

    def _stored_copies(self, best: pl.DataFrame) -> pl.DataFrame:
        days: set[date] = set()
        for day in best["timestamp"].dt.date().unique().to_list():
            days |= {day + timedelta(days=k) for k in range(-DEDUP_WINDOW_DAYS, DEDUP_WINDOW_DAYS + 1)}
        files = self.part_files(days)
        if not files:
            return pl.DataFrame()
        return (
            pl.scan_parquet(
                files, schema=polars_schema(), include_file_paths="_file", missing_columns="insert"
            )
            .filter(pl.col("request_id").is_in(best["request_id"].implode()))
            .with_columns(_new=pl.lit(False))
            .collect()
        )

    def _stage_rewrite(self, file: Path, drop_ids: set[str], txn: Transaction) -> None:
        kept = pl.read_parquet(file, schema=polars_schema(), missing_columns="insert").filter(
            ~pl.col("request_id").is_in(list(drop_ids))
        )
        if kept.height:
            txn.stage_part(file.with_name(part_name()), kept)
        txn.stage_remove(file)

    def _new_part_path(self, day: date) -> Path:
        return self.usage_dir / f"date={day.isoformat()}" / part_name()

    def compact(self, day: date, *, fanout: int = 8) -> int:
        """Merge the parts of one UTC day whose sizes are of the same order (base ``fanout``) as soon as
        ``fanout`` of them are; returns how many parts were merged away.

        A follower commits a small part every second or so; without this, each commit's deduplication
        lookup would read more and more files. Size-tiered merging keeps the parts of a day logarithmic in
        its size, and rewrites each row about log(rows) times. Call inside ``writing()``."""
        import math
        from collections import defaultdict

        tiers: dict[int, list[Path]] = defaultdict(list)
        for file in self.compactable_parts(day):
            tiers[int(math.log(max(file.stat().st_size, 1), fanout))].append(file)
        merged = 0
        for _tier, group in sorted(tiers.items()):
            if len(group) >= fanout:
                self.replace_parts(day, merge_parts(group)[0], group)
                merged += len(group) - 1
        return merged

    @contextmanager
    def compacting(self, *, wait: bool = True) -> Iterator[Store]:
        """What a compaction holds: the write lock."""
        with self.writing(wait=wait):
            yield self

    def compactable_parts(self, day: date) -> list[Path]:
        """The parts of one UTC day that ``compact`` may merge: all of them (one writer at a time)."""
        return self.part_files({day})

    def replace_parts(self, day: date, frame: pl.DataFrame, old: Sequence[Path]) -> None:
        """Replace the parts ``old`` of one UTC day by one part holding ``frame``, in one transaction
        (the ledger records both). Call inside ``writing()``."""
        txn = Transaction(self.root)
        txn.stage_part(self._new_part_path(day), frame)
        for file in old:
            txn.stage_remove(file)
        try:
            txn.commit()
        except OSError as exc:
            raise failed(self.root, exc, txn) from None

    def _recover(self) -> None:
        journal = self.root / JOURNAL
        if journal.exists():
            Transaction.apply(self.root, orjson.loads(journal.read_bytes()))
        for stray in self.root.rglob(".*.tmp"):
            if "rollups" not in stray.relative_to(self.root).parts[:1]:  # rollups clean their own
                stray.unlink(missing_ok=True)


def merge_parts(files: Sequence[Path]) -> tuple[pl.DataFrame, int]:
    """The rows of several parts as one, one row per request id (the preferred copy, as at ingest), in
    time order: what every compaction writes; and how many rows the parts held."""
    frame = pl.read_parquet(list(files), schema=polars_schema(), missing_columns="insert")
    return best_per_request(frame.lazy()).collect().sort("timestamp", "request_id"), frame.height


def days_of_entries(entries: Iterable[dict]) -> set[date]:
    """The UTC dates of the parts that ledger entries name."""
    days: set[date] = set()
    for entry in entries:
        part = entry.get("part", "")
        if "date=" in part:
            days.add(date.fromisoformat(part.split("date=", 1)[1].split("/", 1)[0]))
    return days


def host_name() -> str:
    """This machine's name (a row's ``host`` when no ingester id is given)."""
    return socket.gethostname() or "localhost"


def with_host(rows: pl.DataFrame, ingester: str) -> pl.DataFrame:
    """Rows whose ``host`` is null get the ingester's name (a capture may have named its own)."""
    return rows.with_columns(pl.col("host").fill_null(ingester)) if "host" in rows.columns else rows
