"""``run_ingest``: sources -> extract -> store, with the counts the CLI renders."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..capture import BadCapture
from ..pricing.memo import PriceMemo
from ..pricing.resolve import is_priced
from ..pricing.unpriced import price_problem
from ..schema import UsageRow
from ..sources import STDIN, Input, ReadOptions, detect_format, find_inputs, read_captures
from ..sources.options import DEFAULT_READ
from ..store.local import CommitResult
from ..store.protocol import StoreBackend
from . import parallel
from .recent import refresh_summary
from .rows import Columns, IngestReport, columns_frame, empty_columns, row_of, to_columns, unreadable

if TYPE_CHECKING:
    import polars as pl

# Rows per commit. Rows wait by column (about 1 KB a row as Python objects) and are packed into a polars
# frame (about 0.2 KB a row, repeating text as Categorical: ``rows.REPEATING``) every PACK_ROWS. Fewer,
# larger commits save the deduplication lookup each commit makes against the parts written before it;
# smaller ones overlap with reading and keep memory down (5 GB of captures, 225k rows: 100k-row commits
# took 15.8 s and 375 MB, one 225k-row commit 20.0 s and 510 MB). Packing every 10k rows rather than 50k
# keeps fewer rows as Python objects at once (the 786 MB Claude Code tree: parent peak 150-165 MB
# against 155-170 MB).
DEFAULT_BATCH_ROWS = 100_000
PACK_ROWS = 10_000
ProgressFn = Callable[[Path, int], None]


def run_ingest(
    paths: Iterable[str | Path | Input],
    store: StoreBackend,
    *,
    fmt: str = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    wait: bool = True,
    on_file_done: ProgressFn | None = None,
    check_prices: bool = True,
    read_options: ReadOptions = DEFAULT_READ,
) -> IngestReport:
    """Read every capture under ``paths`` into ``store``. Bad captures are counted and listed in the
    report, never raised; the good captures beside them are kept. ``check_prices`` lists the models
    genai-prices has no price for (``unpriced_models``; through the price memo: loading the price data
    takes ~0.2 s).
    ``read_options``: what the files cannot tell (the Claude Code user), the same in every worker."""
    report = IngestReport()
    files = find_inputs(paths)
    pending = PendingRows()
    priced_check: Counter[tuple[str | None, str | None]] = Counter()
    recorded = 0  # bad captures already in the quarantine
    with store.writing(wait=wait):
        for path, columns in _columns_by_file(files, fmt, report, read_options):
            pending.add(columns)
            if check_prices:
                priced_check.update(zip(columns["provider"], columns["model"], strict=True))
            if pending.rows >= batch_rows:
                report.commit += _commit(store, pending.take(), report.bad[recorded:])
                recorded = len(report.bad)
            if on_file_done is not None and path is not None:
                on_file_done(path, report.captures)
        report.commit += _commit(store, pending.take(), report.bad[recorded:])
        refresh_summary(store, report.rows_written)  # what the status line reads
    if check_prices:
        report.unpriced_models = unpriced(priced_check)
    return report


class PendingRows:
    """Rows waiting for a commit: by column, packed into frames every ``PACK_ROWS``."""

    def __init__(self) -> None:
        self._frames: list[pl.DataFrame] = []
        self._columns = empty_columns()
        self._unpacked = 0
        self.rows = 0

    def add(self, columns: Columns) -> None:
        added = len(columns["request_id"])
        for name, values in self._columns.items():
            values.extend(columns[name])
        self._unpacked += added
        self.rows += added
        if self._unpacked >= PACK_ROWS:
            self._pack()

    def take(self) -> pl.DataFrame | None:
        """All pending rows as one frame (None when there are none); the buffer is then empty."""
        import polars as pl

        self._pack()
        frames, self._frames, self.rows = self._frames, [], 0
        return pl.concat(frames) if frames else None

    def _pack(self) -> None:
        if self._unpacked:
            self._frames.append(columns_frame(self._columns, compact=True))
            self._columns, self._unpacked = empty_columns(), 0


def _columns_by_file(
    files: list[Input], fmt: str, report: IngestReport, read_options: ReadOptions
) -> Iterable[tuple[Path | None, Columns]]:
    """(file when finished, rows by column), read in this process or, for large inputs, by worker
    processes on every core (``parallel.py``); the rows and counts are the same either way."""
    report.files = len(files)
    if not parallel.worth_it([found.path for found in files]) or any(
        str(found.path) == STDIN for found in files
    ):
        for path, hint in files:  # standard input is read here, once
            chunk: list[UsageRow] = []
            for row in _rows_of_file(path, fmt, report, hint, read_options):
                chunk.append(row)
                if len(chunk) >= PACK_ROWS:
                    yield None, to_columns(chunk)
                    chunk = []
            yield path, to_columns(chunk)
        return
    lines_before: dict[Path, int] = {}
    for result in parallel.run_tasks(
        parallel.plan(files, fmt, read_options)
    ):  # in task order, as they finish
        parallel.fix_line_numbers(result, lines_before)
        report.captures += result.captures
        report.by_format.update(result.by_format)
        report.bad += result.bad
        report.tally += result.tally
        last = result.task.end is None or result.task.end >= parallel.size_of(result.task.path)
        yield (result.task.path if last else None), result.columns


def _rows_of_file(
    path: Path, fmt: str, report: IngestReport, hint: str | None, read_options: ReadOptions
) -> Iterable[UsageRow]:
    try:
        file_format = detect_format(path, hint) if fmt == "auto" else fmt
        for item in read_captures(path, file_format, options=read_options):
            row = row_of(item, report, read_options.keep)
            if row is not None:
                yield row
    except (OSError, EOFError, zlib.error) as exc:  # unreadable file, or a compressed file that is corrupt
        report.bad.append(unreadable(path, fmt, exc))


def _commit(store: StoreBackend, rows: pl.DataFrame | None, bad: list[BadCapture]) -> CommitResult:
    if rows is None and not bad:
        return CommitResult()
    return store.commit(rows if rows is not None else columns_frame(empty_columns()), quarantine=bad)


def unpriced(seen: Counter[tuple[str | None, str | None]]) -> list[tuple[str | None, str | None, int]]:
    """(provider, model, rows) for the models seen that genai-prices has no price for, or a price that cannot
    be applied (``unpriced.price_problem``), most rows first. Answers come through the price memo, so an
    ingest of models seen before does not load genai-prices (~0.2 s)."""
    memo = PriceMemo.load(None)
    found = sorted(
        (
            (provider, model, count)
            for (provider, model), count in seen.items()
            if not memo.priced(provider, model, partial(_has_price, provider, model))
        ),
        key=lambda item: (-item[2], str(item[1])),
    )
    memo.save()
    return found


def _has_price(provider: str | None, model: str | None) -> bool:
    return is_priced(provider, model) and price_problem(provider, model or "") is None
