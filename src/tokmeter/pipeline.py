"""``run_ingest``: sources -> extract -> store, with the counts the CLI renders."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadCaptureError
from .sources import BadCapture, Capture, detect_format, find_files, read_captures
from .sources.capture import fingerprint
from .store import CommitResult, Store

if TYPE_CHECKING:
    import polars as pl

DEFAULT_BATCH_ROWS = 50_000


@dataclass(slots=True)
class IngestReport:
    files: int = 0
    captures: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    commit: CommitResult = field(default_factory=CommitResult)
    bad: list[BadCapture] = field(default_factory=list)
    unpriced_models: list[tuple[str | None, str | None, int]] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return self.commit.rows_written

    @property
    def duplicates_dropped(self) -> int:
        return self.commit.duplicates_dropped


ProgressFn = Callable[[Path, int], None]


def run_ingest(
    paths: Iterable[str | Path],
    store: Store,
    *,
    fmt: str = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    wait: bool = True,
    on_file_done: ProgressFn | None = None,
) -> IngestReport:
    """Read every capture under ``paths`` into ``store``. Bad captures are counted and listed in the
    report, never raised; the good captures beside them are kept."""
    report = IngestReport()
    files = find_files(paths)
    buffer: list[dict[str, Any]] = []
    priced_check: Counter[tuple[str | None, str | None]] = Counter()
    recorded = 0  # bad captures already in the quarantine
    with store.writing(wait=wait):
        for path, rows in _rows_by_file(files, fmt, report):
            for row in rows:
                buffer.append(row)
                priced_check[(row["provider"], row["model"])] += 1
                if len(buffer) >= batch_rows:
                    report.commit += _commit(store, buffer, report.bad[recorded:])
                    buffer, recorded = [], len(report.bad)
            if on_file_done is not None and path is not None:
                on_file_done(path, report.captures)
        report.commit += _commit(store, buffer, report.bad[recorded:])
    report.unpriced_models = _unpriced(priced_check)
    return report


def _rows_by_file(files: list[Path], fmt: str, report: IngestReport) -> Iterable[tuple[Path | None, Iterable[dict]]]:
    """(file when finished, its rows), read in this process or, for large inputs, by worker processes
    on every core (``parallel.py``); the rows and counts are the same either way."""
    from . import parallel

    report.files = len(files)
    if not parallel.worth_it(files):
        for path in files:
            yield path, _rows_of_file(path, fmt, report)
        return
    lines_before: dict[Path, int] = {}
    for result in parallel.run_tasks(parallel.plan(files, fmt)):  # in task order, as they finish
        parallel.fix_line_numbers(result, lines_before)
        report.captures += result.captures
        report.by_format.update(result.by_format)
        report.bad += result.bad
        last = result.task.end is None or result.task.end >= parallel.size_of(result.task.path)
        yield (result.task.path if last else None), result.rows


def _rows_of_file(path: Path, fmt: str, report: IngestReport) -> Iterable[dict[str, Any]]:
    try:
        file_format = detect_format(path) if fmt == "auto" else fmt
        for item in read_captures(path, file_format):
            row = row_of(item, report)
            if row is not None:
                yield row
    except (OSError, EOFError, zlib.error) as exc:  # unreadable file, or a compressed file that is corrupt
        report.bad.append(unreadable(path, fmt, exc))


def unreadable(path: Path, fmt: str, exc: BaseException) -> BadCapture:
    reason = getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__
    return BadCapture(str(path), 0, f"cannot read file: {reason}", None, fmt)


def row_of(item: Capture | BadCapture, report: IngestReport) -> dict[str, Any] | None:
    """The usage row of one capture, counted in ``report``; None (and listed as bad) when it has none."""
    from .extract import extract_row

    report.captures += 1
    report.by_format[item.format] += 1
    if isinstance(item, BadCapture):
        report.bad.append(item)
        return None
    try:
        return extract_row(item)
    except BadCaptureError as exc:
        report.bad.append(_bad(item, exc.message))
        return None


def _bad(capture: Capture, reason: str) -> BadCapture:
    return BadCapture(capture.source, capture.offset, reason, capture.line, capture.format,
                      fingerprint(capture.raw), None if capture.raw is None else len(capture.raw))


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Usage rows (dicts) as a frame in the schema."""
    import polars as pl

    from .schema import polars_schema

    return pl.DataFrame(rows, schema=polars_schema())


def _commit(store: Store, rows: list[dict[str, Any]], bad: list[BadCapture]) -> CommitResult:
    if not rows and not bad:
        return CommitResult()
    return store.commit(rows_frame(rows), quarantine=bad)


def unpriced(seen: Counter[tuple[str | None, str | None]]) -> list[tuple[str | None, str | None, int]]:
    """(provider, model, rows) for the models seen that genai-prices has no price for, most rows first."""
    return _unpriced(seen)


def _unpriced(seen: Counter[tuple[str | None, str | None]]) -> list[tuple[str | None, str | None, int]]:
    from .pricing import is_priced

    return sorted(
        ((provider, model, count) for (provider, model), count in seen.items() if not is_priced(provider, model)),
        key=lambda item: (-item[2], str(item[1])),
    )
