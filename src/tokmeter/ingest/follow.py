"""``tokmeter ingest --follow``: read capture files as they grow into the store, losing and repeating
nothing, whatever moment the process is stopped or killed at.

Two threads and a bounded buffer between them:

* the **reader** (``Tailer`` passes) turns complete records into usage rows and puts them, with the
  checkpoint just past them, into the buffer. When the buffer is full it waits: reading pauses while
  writing catches up, nothing is dropped;
* the **writer** (the main thread) takes them out and commits every ``flush_interval`` seconds or
  every ``batch_size`` rows: rows and checkpoints in one store transaction (``Store.commit(rows,
  extra_files=...)``), holding the store's lock only for that commit, so reports run in between.

A checkpoint therefore never points past a row that is not committed, nor before one that is: after
``kill -9`` the next run starts exactly where the store stands. SIGTERM / SIGINT stop reading, drain
the buffer, commit it with its checkpoints and return (exit 0); a second signal kills at once (which is
safe too).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from ..errors import StoreBusyError, UsageError
from ..schema import UsageRow
from ..sources import BadCapture, Input, ReadOptions, as_input
from ..sources.options import DEFAULT_READ
from ..store.locking import follower_lock
from ..store.protocol import StoreBackend
from . import checkpoints
from .identity import PRUNE_AFTER_SECONDS
from .pipeline import unpriced
from .recent import SUMMARY_EVERY, refresh_summary
from .rows import IngestReport, row_of, rows_frame
from .tail import SETTLE_SECONDS, Tailer
from .tail_io import Chunk

DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_BATCH_SIZE = 5000
TICK_SECONDS = 0.1
MIN_PASS_SECONDS = 0.02
RATE_WINDOW_SECONDS = 5.0
COMPACT_FANOUT = 8
REFRESH_SECONDS = 0.1


@dataclass(slots=True)
class FollowOptions:
    """How to follow. ``follow=False`` reads what is new since the checkpoints once and returns
    (``ingest --resume``). ``buffer_rows`` bounds the buffer between reading and writing (default:
    twice ``batch_size``). ``read``: what the files cannot tell (the Claude Code user)."""

    fmt: str = "auto"
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    poll: bool = False
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    batch_size: int = DEFAULT_BATCH_SIZE
    buffer_rows: int | None = None
    settle: float = SETTLE_SECONDS
    follow: bool = True
    prune_after: float = PRUNE_AFTER_SECONDS
    wait: bool = True
    read: ReadOptions = DEFAULT_READ


@dataclass(slots=True)
class Batch:
    """What the reader hands the writer: the rows of one chunk and the checkpoint just past them."""

    rows: list[UsageRow]
    checkpoint: checkpoints.Checkpoint | None
    read_at: float
    nbytes: int
    bad: list[BadCapture] = field(default_factory=list)
    documents: dict[str, bytes] = field(default_factory=dict)  # other store documents to replace with them


@dataclass(slots=True)
class FollowStats:
    """What the live view shows; updated by the writer."""

    report: IngestReport
    started: float = field(default_factory=time.monotonic)
    phase: str = "catching up"
    rate: float = 0.0
    lag_bytes: int = 0
    lag_seconds: float = 0.0
    buffered_rows: int = 0
    buffer_capacity: int = 0
    commits: int = 0
    last_commit_seconds: float = 0.0
    sources: int = 0


class FollowView(Protocol):
    def event(self, message: str) -> None: ...
    def update(self, stats: FollowStats) -> None: ...
    def committed(self, frame: Any) -> None: ...
    def close(self, stats: FollowStats) -> None: ...


class QuietView:
    def event(self, message: str) -> None:
        pass

    def update(self, stats: FollowStats) -> None:
        pass

    def committed(self, frame: Any) -> None:
        pass

    def close(self, stats: FollowStats) -> None:
        pass


class BufferClosed(Exception):
    pass


class BoundedBuffer:
    """A FIFO holding at most ``capacity`` rows (captures, counted by the reader; one item always fits,
    however large). ``put`` waits while it is full: the reader pauses, nothing is dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: deque[Any] = deque()
        self.rows = 0
        self.nbytes = 0
        self.oldest: float | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: Any, rows: int = 0, nbytes: int = 0) -> None:
        with self._cond:
            while self.rows and self.rows + rows > self.capacity and not self._closed:
                self._cond.wait()
            if self._closed:
                raise BufferClosed
            self._items.append((item, rows, nbytes))
            self.rows += rows
            self.nbytes += nbytes
            self._cond.notify_all()

    def put_always(self, item: Any) -> None:
        """For the end-of-stream marker and errors: never waits, even when closed."""
        with self._cond:
            self._items.append((item, 0, 0))
            self._cond.notify_all()

    def get(self, timeout: float) -> Any | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item, rows, nbytes = self._items.popleft()
            self.rows -= rows
            self.nbytes -= nbytes
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


_CAUGHT_UP = object()
_DONE = object()


@dataclass(slots=True)
class _Failure:
    error: BaseException


@dataclass(slots=True)
class _Notice:
    message: str


def run_follow(
    paths: Iterable[str | Path | Input],
    store: StoreBackend,
    options: FollowOptions | None = None,
    view: FollowView | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Read ``paths`` into ``store`` from their checkpoints, then (``options.follow``) keep following
    until SIGTERM / SIGINT or ``stop`` is set. Returns the counts of this run."""
    return Follower(paths, store, options or FollowOptions(), view or QuietView(), stop).run()


class Follower:
    def __init__(
        self,
        paths: Iterable[str | Path | Input],
        store: StoreBackend,
        options: FollowOptions,
        view: FollowView,
        stop: threading.Event | None = None,
    ) -> None:
        self.inputs = [as_input(p) for p in paths]  # with the format their location implies, if any
        self.roots = [found.path for found in self.inputs]
        for root in self.roots:
            if not root.exists():
                raise UsageError(
                    f"{root}: no such file or directory", hint="check the path you passed to ingest"
                )
        self.store, self.options, self.view = store, options, view
        self.report = IngestReport()
        capacity = options.buffer_rows or 2 * options.batch_size
        self.buffer = BoundedBuffer(capacity)
        self.stats = FollowStats(self.report, buffer_capacity=self.buffer.capacity)
        self.stop = stop or threading.Event()
        self.tailer: Tailer | None = None
        self._rates: deque[tuple[float, int]] = deque()
        self._models: Counter[tuple[str | None, str | None]] = Counter()
        self._summary_due = 0.0  # monotonic time from which the status line's summary is rewritten again
        self._files: set[str] = set()
        self._refreshed = 0.0

    def run(self) -> IngestReport:
        with self.store.writing(wait=self.options.wait):
            known = checkpoints.load(self.store)
        with follower_lock(self.store.root):  # tells status that the checkpoints are being followed
            return self._run(known)

    def _run(self, known: list[checkpoints.Checkpoint]) -> IngestReport:
        opts = self.options
        self.tailer = Tailer(
            self.inputs,
            known,
            fmt=opts.fmt,
            include=opts.include,
            exclude=opts.exclude,
            ignore=[self.store.root.absolute()],
            settle=opts.settle,
            follow=opts.follow,
            prune_after=opts.prune_after,
            read_options=opts.read,
        )
        reader = threading.Thread(target=self._produce, name="tokmeter-reader", daemon=True)
        try:
            with self._signals():
                if opts.follow:
                    self.tailer.watch(poll=opts.poll)
                reader.start()
                self._consume()
        finally:
            self.stop.set()
            self.buffer.close()
            self.tailer.wake()
            if reader.is_alive():
                reader.join(timeout=10)
            self.tailer.close()
            self.view.close(self.stats)
        self.report.files = len(self._files)
        self.report.unpriced_models = unpriced(self._models)
        return self.report

    # ---- reading (the reader thread) -------------------------------------------------------------
    def _produce(self) -> None:
        assert self.tailer is not None
        try:
            self.tailer.scan()
            first = True
            while not self.stop.is_set():
                began = time.monotonic()
                for chunk in self.tailer.read():
                    batch = self._batch(chunk)
                    self.buffer.put(batch, max(1, len(chunk.items)), batch.nbytes)
                    if self.stop.is_set():
                        break
                self._hand_notices()
                if first:
                    self.buffer.put_always(_CAUGHT_UP)
                    first = False
                if not self.options.follow:
                    break
                self.tailer.wait(TICK_SECONDS)
                time.sleep(max(0.0, MIN_PASS_SECONDS - (time.monotonic() - began)))
        except BufferClosed:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which re-raises it
            self.buffer.put_always(_Failure(exc))
        finally:
            self.buffer.put_always(_DONE)

    def _hand_notices(self) -> None:
        """The tailer's messages go to the view; a change in the unreadable files is committed (status)."""
        assert self.tailer is not None
        notices, unreadable = self.tailer.take_notices()
        for message in notices:
            self.buffer.put_always(_Notice(message))
        if unreadable is not None:
            document = orjson.dumps({"unreadable": unreadable}, option=orjson.OPT_INDENT_2)
            self.buffer.put(
                Batch([], None, time.monotonic(), 0, documents={checkpoints.UNREADABLE_DOCUMENT: document}), 1
            )

    def _batch(self, chunk: Chunk) -> Batch:
        rows: list[UsageRow] = []
        if chunk.items:
            self._files.add(chunk.path)
        first_bad = len(self.report.bad)  # only this thread appends to it
        for item in chunk.items:
            row = row_of(item, self.report, self.options.read.keep)
            if row is not None:
                rows.append(row)
        return Batch(rows, chunk.checkpoint, chunk.read_at, chunk.nbytes, self.report.bad[first_bad:])

    # ---- writing (the main thread) ---------------------------------------------------------------
    def _consume(self) -> None:
        """Commit what the reader hands over: every ``flush_interval`` seconds after the oldest pending
        record was read, or as soon as ``batch_size`` rows wait. Everything already in the buffer is
        taken before deciding, so a writer that fell behind catches up in whole batches."""
        pending: list[Batch] = []
        rows = 0
        since: float | None = None
        interval, limit = self.options.flush_interval, self.options.batch_size
        while True:
            timeout = (
                TICK_SECONDS
                if since is None
                else max(0.0, min(TICK_SECONDS, since + interval - time.monotonic()))
            )
            item = self.buffer.get(timeout)
            while isinstance(item, Batch):
                pending.append(item)
                rows += len(item.rows)
                since = since if since is not None else item.read_at
                item = self.buffer.get(0.0) if rows < limit else None
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                self._flush(pending)
                raise item.error
            if isinstance(item, _Notice):
                self.view.event(item.message)
            if item is _CAUGHT_UP:
                self._flush(pending)
                pending, rows, since = [], 0, None
                self.stats.phase = "following" if self.options.follow else "done"
                self.view.event(
                    f"caught up: {self.report.captures:,} captures read, "
                    f"{self.report.rows_written:,} rows written"
                )
            if pending and (rows >= limit or time.monotonic() - (since or 0.0) >= interval):
                self._flush(pending)
                pending, rows, since = [], 0, None
            self._refresh(pending)
        self._flush(pending)
        self._refresh([], force=True)

    def _flush(self, pending: list[Batch]) -> None:
        if not pending:
            return
        rows = [row for batch in pending for row in batch.rows]
        latest: dict[str, checkpoints.Checkpoint] = {}
        for batch in pending:
            if batch.checkpoint is not None:
                latest[batch.checkpoint.name] = batch.checkpoint
        frame = rows_frame(rows)
        began = time.monotonic()
        bad = [item for batch in pending for item in batch.bad]  # quarantined with the checkpoint past them
        kept = [cp for cp in latest.values() if cp.state != checkpoints.PRUNED]
        pruned = [cp.rel_path for cp in latest.values() if cp.state == checkpoints.PRUNED]
        documents = checkpoints.as_extra_files(kept)
        for batch in pending:
            documents.update(batch.documents)
        with self.store.writing():
            self.report.commit += self.store.commit(
                frame, extra_files=documents, quarantine=bad, drop_files=pruned
            )
            if frame.height and time.monotonic() >= self._summary_due:  # what the status line reads
                refresh_summary(self.store, frame.height)
                self._summary_due = time.monotonic() + SUMMARY_EVERY
        self.stats.commits += 1
        self.stats.last_commit_seconds = time.monotonic() - began
        self._models.update((row["provider"], row["model"]) for row in rows)
        self.view.committed(frame)
        if frame.height:
            self._compact(set(frame["timestamp"].dt.date().unique().to_list()))

    def _compact(self, days: set[Any]) -> None:
        """Keep the parts of the days just written to few (one small part per flush adds up), in
        separate transactions, so the lock is released in between."""
        for day in sorted(days):
            try:
                with self.store.compacting(wait=False):
                    if len(self.store.compactable_parts(day)) >= COMPACT_FANOUT:
                        self.store.compact(day, fanout=COMPACT_FANOUT)
            except StoreBusyError:
                return  # a report or another writer holds the store: merge at a later commit

    def _refresh(self, pending: list[Batch], *, force: bool = False) -> None:
        assert self.tailer is not None
        now = time.monotonic()
        if not force and now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        stats = self.stats
        unread, waited = self.tailer.backlog()
        stats.lag_bytes = unread + self.buffer.nbytes + sum(b.nbytes for b in pending)
        oldest = min((b.read_at for b in pending), default=None)
        stats.lag_seconds = max(waited, now - oldest if oldest is not None else 0.0)
        stats.buffered_rows = self.buffer.rows + sum(len(b.rows) for b in pending)
        stats.sources = len(self.tailer.known)
        self._rates.append((now, self.report.captures))
        while self._rates and now - self._rates[0][0] > RATE_WINDOW_SECONDS:
            self._rates.popleft()
        span = now - self._rates[0][0]
        stats.rate = (self.report.captures - self._rates[0][1]) / span if span > 0.5 else 0.0
        self.view.update(stats)

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM / SIGINT: stop reading, drain, commit, return. A second one kills at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.stop.set()
            if self.tailer is not None:
                self.tailer.wake()
            self.stats.phase = "stopping"
            signal.signal(signum, signal.SIG_DFL)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
