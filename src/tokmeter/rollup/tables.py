"""Rollup tables: per period x dimensions totals, kept up to date incrementally under the store.

Layout: ``ROOT/<name>/period=YYYY-MM-DD/part.parquet`` (hive-partitioned by the first local day of the
period), ``ROOT/<name>/_state.json``; ``ROOT`` is ``STORE/rollups`` unless ``--output`` says otherwise
and ``<name>`` spells the table's period, time zone and dimensions (``day.UTC.user+model+provider``).

Incremental: the store's ledger lists every part a commit added or removed, so the state keeps the
ledger's position at the last run (``Store.change_position``: the byte length of ``ledger.jsonl``, or for
a remote store the last ledger object of each writer); the next run reads only the entries after it,
maps their UTC dates to the local periods they overlap, and recomputes exactly those periods from the
rows (late data recomputes last week's period like any other). On a remote store, whose commits only add
parts, the run instead folds the rows of the parts added since into their periods (``incremental``),
fetching no other part, unless a new row may be a copy of one the table holds. A run with nothing new
reads one file size and stops. Changing the price data (genai-prices version or the price file), or the cost type
tokmeter writes (``COST_FORMAT``) or the table's columns (``TABLE_FORMAT``), both in the state's
``spec``, recomputes everything; so does another attribution file (its digest, with its maps', is in the
``spec`` too: an edited map moves rows between owners in every period); reports read a table only while
it is fresh (``is_fresh``).

Safe under concurrency: one rollup at a time per store (``STORE/.rollup.lock``, non-blocking: a second run
exits 75 at once); rows are read under the store's shared lock, so a running ``ingest --follow`` never
shows a rollup half a commit; each period partition is replaced by one atomic rename.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson
import polars as pl

from ..attribution import Attribution, attributed, tag_names
from ..errors import StoreBusyError, UsageError
from ..pricing.costs import COST_DTYPE
from ..pricing.memo import PriceMemo
from ..pricing.overrides import PriceOverrides
from ..pricing.resolve import genai_prices_files, price_data
from ..store.atomic import replace_file
from ..store.dedup import best_nearby
from ..store.local import ChangePosition
from ..store.locking import file_lock
from ..store.protocol import StoreBackend
from ..store.scan import scan_files
from . import DEFAULT_DIMS, ENGINES, PERIODS, ROLLUP_DIMS, incremental
from .spec import (
    RollupSpec,
    period_end,
    period_start,
    periods_of_utc_day,
    rollup_rows,
    utc_days_of_period,
)
from .transforms import REPORT_TOKENS, UNKNOWN_COUNTS, _cost_sum, selection, week_label

STATE = "_state.json"
COST_FORMAT = str(COST_DTYPE)  # in the state's spec: a table written with another cost type is recomputed
# The columns' version, in the state's spec: a table written before the unknown_* counts existed is
# recomputed in full by the next rollup, and not used by reports until then.
TABLE_FORMAT = 2
# genai-prices' files (``pricing.genai_prices_files``): its price data can change under one version, and a
# table priced with the old data is then not fresh. A table written before this key stays as it was.
PRICE_FILES = "genai_prices_files"


def _same_price_files(state: dict) -> bool:
    return state.get(PRICE_FILES) in (None, genai_prices_files())


@dataclass(slots=True)
class RollupResult:
    table: Path
    periods_rewritten: list[date] = field(default_factory=list)
    full: bool = False
    rows: int = 0


# ---- the table on disk ------------------------------------------------------------------------------
class RollupTable:
    def __init__(
        self,
        store: StoreBackend,
        spec: RollupSpec,
        root: Path | None = None,
        attribution: Attribution | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.dir = (root or store.root / "rollups") / spec.name
        self.attribution = attribution  # the rules the rows are attributed with (None: the captures' own)

    def state(self) -> dict:
        path = self.dir / STATE
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def is_fresh(self, overrides: PriceOverrides | None) -> bool:
        state = self.state()
        return (
            bool(state)
            and state.get("ledger_offset") == self.store.change_position()
            and state.get("price_data") == price_data(overrides)
            and _same_price_files(state)
            and state.get("spec") == self._spec_doc()
        )

    def scan(self) -> pl.LazyFrame | None:
        """The table's rows (None while it has none)."""
        if next(self.dir.glob("period=*/*.parquet"), None) is None:
            return None
        return pl.scan_parquet(
            self.dir / "period=*/*.parquet", hive_partitioning=True, hive_schema={"period": pl.Date}
        )

    def update(
        self, overrides: PriceOverrides | None = None, *, full: bool = False, engine: str = "polars"
    ) -> RollupResult:
        """Bring the table up to date; see the module docstring. ``engine``: ``polars`` (in this process)
        or ``spark`` (``spark_engine``: the same figures). Raises StoreBusyError (exit 75)."""
        if engine not in ENGINES:
            raise UsageError(f"unknown engine {engine!r}", hint=f"use one of: {', '.join(ENGINES)}")
        if engine == "spark" and (self.attribution is not None or set(self.spec.dims) - set(ROLLUP_DIMS[:3])):
            raise UsageError(
                "the Spark engine rolls up by user, model and provider without an attribution file",
                hint="use --engine polars (the default) for team, project, api_key, session, tag:NAME "
                "or --attribution",
            )
        busy = StoreBusyError(
            f"another tokmeter rollup is running on {self.store.root}",
            hint="this run did nothing; the next scheduled run will catch up",
        )
        with file_lock(self.store.root / ".rollup.lock", exclusive=True, wait=False, busy=busy):
            return self._update(overrides, full, engine)

    def _update(self, overrides: PriceOverrides | None, full: bool, engine: str) -> RollupResult:
        result = RollupResult(self.dir)
        for stray in self.dir.rglob(".*.tmp"):  # left by a run that crashed; we hold the rollup lock
            stray.unlink(missing_ok=True)
        state = self.state()
        prices = price_data(overrides)
        full = full or not state or state.get("price_data") != prices or state.get("spec") != self._spec_doc()
        full = full or not _same_price_files(state)
        # the position first, then the rows: a commit in between is read now and counted as new next
        # time (recomputed twice, harmless); the other order could mark rows done that were never read
        with self.store.reading_documents():  # a local store: under the read lock (no half-written entry)
            size = self.store.change_position()
        if not full and state.get("ledger_offset") == size:
            return result
        since = state.get("ledger_offset", 0)
        with self.store.reading():
            # Spark reads the parts itself (a cluster: from the bucket), so its tables keep no ids
            added, indexed = self._added(since, size, full) if engine == "polars" else (None, False)
            held = state.get("ids") == incremental.ID_HASH and incremental.holds_ids(self.dir)
            full = full or (indexed and not held)  # no ids held yet
            folded = self._fold(added, overrides, prices) if added is not None and not full else None
            if folded is None:
                periods = sorted(self._all_periods() if full else self._touched_periods(since, size))
                folded = periods, self._recompute(periods, full, overrides, prices, engine, indexed)
                result.full = full
            result.periods_rewritten, result.rows = folded
        self._write_state(
            {
                "ledger_offset": size,
                "price_data": prices,
                PRICE_FILES: genai_prices_files(),
                "spec": self._spec_doc(),
                "last_success": datetime.now(UTC).isoformat(),
                **({"ids": incremental.ID_HASH} if indexed else {}),
            }
        )
        return result

    def _recompute(
        self,
        periods: list[date],
        full: bool,
        overrides: PriceOverrides | None,
        prices: dict,
        engine: str,
        indexed: bool,
    ) -> int:
        """Recompute ``periods`` from all their rows (``full``: the whole table); returns the rows written.
        ``indexed``: hold the ids of the rows read (``incremental``; a full run: of every part)."""
        if full:
            self._drop_stale(periods)
            incremental.drop_ids(self.dir)
        written = self._rewrite(periods, overrides, prices, engine)
        if indexed:
            incremental.hold_ids_of(
                self.dir, self.store.part_files(None if full else self._days_read(periods))
            )
        return written

    def _added(
        self, since: ChangePosition, until: ChangePosition, full: bool
    ) -> tuple[list[Path] | None, bool]:
        """(the parts added since the last run, fetched, or None when the run must recompute the periods
        they touched; whether the table holds the ids of its rows, ``incremental``): a store on object
        storage holds them, a local store (whose commits rewrite parts) does not."""
        try:
            files = self.store.added_part_files(until if full else since, until)
        except FileNotFoundError:  # merged since it was recorded: recompute the periods instead
            return None, True
        return files, files is not None

    def _fold(
        self, files: list[Path], overrides: PriceOverrides | None, prices: dict
    ) -> tuple[list[date], int] | None:
        """Fold the rows of new parts into the periods they fall in (``incremental``): (the periods
        rewritten, the rows written), or None when a new row may be a copy of one the table holds."""
        if not files:  # nothing but merges of parts already read: no row changes
            return [], 0
        raw = scan_files(files)
        hashes = incremental.id_hashes(raw).collect()
        if incremental.holds_copies(self.dir, hashes):
            return None
        rows = attributed(best_nearby(raw), self.attribution, tag_names(self.spec.dims))
        memo = PriceMemo.load(overrides)
        new = rollup_rows(rows, self.spec, overrides, memo=memo).collect()
        memo.save()
        incremental.add_ids(self.dir, hashes)  # first: a run stopped after it recomputes these periods
        starts, written = [], 0
        for (start,), frame in sorted(new.group_by("period"), key=lambda group: group[0]):
            old = self._period_rows(start)
            both = incremental.merged(old, frame, self.spec.dims) if old is not None else frame
            written += self._write_period(start, both, prices)
            starts.append(start)
        return starts, written

    def _period_rows(self, start: date) -> pl.DataFrame | None:
        path = self.dir / f"period={start.isoformat()}" / "part.parquet"
        if not path.exists():
            return None
        return pl.read_parquet(path, hive_partitioning=False).with_columns(period=pl.lit(start, pl.Date))

    def _days_read(self, periods: Iterable[date]) -> set[date]:
        """The UTC days a recompute of ``periods`` reads (theirs and the day on either side)."""
        days: set[date] = set()
        for start in periods:
            first, last = utc_days_of_period(start, self.spec)
            days |= {first + timedelta(days=k) for k in range(-1, (last - first).days + 2)}
        return days

    def _spec_doc(self) -> dict:
        # the week start only where it matters (weeks not starting on Monday): older tables stay fresh
        other_start = self.spec.period == "week" and self.spec.week_start != "monday"
        return {
            "period": self.spec.period,
            "dims": list(self.spec.dims),
            "tz": self.spec.tz,
            **({"week_start": self.spec.week_start} if other_start else {}),
            "format": TABLE_FORMAT,
            "cost_dtype": COST_FORMAT,
            # only with an attribution file: tables built without one stay as they were
            **({"attribution": self.attribution.digest} if self.attribution is not None else {}),
        }

    def _all_periods(self) -> set[date]:
        periods: set[date] = set()
        for day in self.store.stored_days():
            periods |= periods_of_utc_day(day, self.spec)
        return periods

    def _touched_periods(self, since: ChangePosition, until: ChangePosition) -> set[date]:
        periods: set[date] = set()
        for day in self.store.days_changed(since, until):
            periods |= periods_of_utc_day(day, self.spec)
        return periods

    def _rewrite(
        self, starts: list[date], overrides: PriceOverrides | None, prices: dict, engine: str
    ) -> int:
        """Recompute and replace the periods ``starts``; returns the rows written."""
        frames = self._spark_frames(starts, overrides) if engine == "spark" and starts else None
        memo = PriceMemo.load(overrides)  # one for all periods, written once at the end
        written = 0
        for start in starts:
            if frames is not None:
                frame = frames.filter(pl.col("period") == start)
            else:
                rows = attributed(
                    self.store.scan(days=utc_days_of_period(start, self.spec)),
                    self.attribution,
                    tag_names(self.spec.dims),
                )
                frame = (
                    rollup_rows(rows, self.spec, overrides, memo=memo)
                    .filter(pl.col("period") == start)
                    .collect()
                )
            written += self._write_period(start, frame, prices)
        memo.save()
        return written

    def _spark_frames(self, starts: list[date], overrides: PriceOverrides | None) -> pl.DataFrame:
        """The rollup rows of every period in ``starts``, computed by Spark in one job over their UTC days
        (and the day on either side, so copies of a request straddling midnight are deduplicated as
        ``Store.scan(days=...)`` does)."""
        from .spark_engine import (  # the optional engine: pyspark, only for --engine spark
            spark_rollup,
            spark_session,
        )

        spans = [utc_days_of_period(start, self.spec) for start in starts]
        days = (min(s[0] for s in spans) - timedelta(days=1), max(s[1] for s in spans) + timedelta(days=1))
        with spark_session(None) as session:
            source = self.store.spark_source(local=(session.sparkContext.master or "").startswith("local"))
            return spark_rollup(source, self.spec, overrides, spark=session, days=days)

    def _write_period(self, start: date, frame: pl.DataFrame, prices: dict) -> int:
        folder = self.dir / f"period={start.isoformat()}"
        if frame.height == 0:
            for old in folder.glob("*.parquet"):
                old.unlink()
            return 0
        metadata = {"tokmeter.price_data": orjson.dumps(prices).decode()}
        replace_file(
            folder / "part.parquet", lambda temp: frame.drop("period").write_parquet(temp, metadata=metadata)
        )
        return frame.height

    def _drop_stale(self, keep: Iterable[date]) -> None:
        wanted = {f"period={d.isoformat()}" for d in keep}
        for folder in self.dir.glob("period=*"):
            if folder.name not in wanted:
                for old in folder.glob("*"):
                    old.unlink()
                folder.rmdir()

    def _write_state(self, doc: dict) -> None:
        replace_file(
            self.dir / STATE, lambda temp: temp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        )


def find_tables(
    store: StoreBackend, root: Path | None = None, attribution: Attribution | None = None
) -> list[RollupTable]:
    """Every rollup table under the store (or ``root``), seen by a reader with ``attribution``: a table
    built with other rules is not fresh for it."""
    base = root or store.root / "rollups"
    tables = []
    for state in sorted(base.glob(f"*/{STATE}")):
        doc = orjson.loads(state.read_bytes()).get("spec") or {}
        try:
            spec = RollupSpec(
                doc.get("period", "day"),
                tuple(doc.get("dims", DEFAULT_DIMS)),
                doc.get("tz", "UTC"),
                doc.get("week_start", "monday"),
            )
        except UsageError:
            continue
        tables.append(RollupTable(store, spec, base, attribution))
    return tables


def dims_answerable(spec: RollupSpec, dims: Sequence[str]) -> bool:
    """Whether a report grouped by ``dims`` can be answered from this table."""
    non_time = [d for d in dims if d not in PERIODS]
    times = [d for d in dims if d in PERIODS]
    if any(d not in spec.dims for d in non_time):
        return False
    order = {"day": 0, "week": 1, "month": 2}
    return all(t == spec.period or (spec.period == "day" and order[t] > 0) for t in times)


# ---- answering reports from a table ------------------------------------------------------------------
def _aligned(spec: RollupSpec, since: date | None, until: date | None) -> bool:
    if spec.period == "day":
        return True
    start = period_start(until, spec.period, spec.week_start) if until is not None else None
    starts_ok = since is None or period_start(since, spec.period, spec.week_start) == since
    ends_ok = start is None or until is None or period_end(start, spec.period) == until + timedelta(days=1)
    return starts_ok and ends_ok


class RowFilters(Protocol):
    """What a rollup table needs of a report's filters (``report.Filters`` has it; report is above rollup)."""

    since: date | None
    until: date | None
    week_start: str

    def selected(self) -> dict[str, Sequence[str]]:
        """The columns filtered on (``tag:NAME`` for a tag) and the values each may take."""
        ...


def table_answers(spec: RollupSpec, dims: Sequence[str], filters: RowFilters) -> bool:
    """Whether this table holds exactly what a report with ``dims`` and ``filters`` needs."""
    needed = {"provider", "model"}  # the unpriced-models list is keyed by them
    needed |= set(filters.selected())
    return (
        needed <= set(spec.dims)
        and dims_answerable(spec, dims)
        and (spec.period != "week" or spec.week_start == filters.week_start)
        and _aligned(spec, filters.since, filters.until)
    )


def table_report(table: pl.LazyFrame, dims: Sequence[str], filters: RowFilters) -> tuple[pl.DataFrame, ...]:
    """(rows, totals, unpriced) computed from rollup rows, shaped like ``rollup.group_usage``'s."""
    lf = table
    if filters.since is not None:
        lf = lf.filter(pl.col("period") >= filters.since)
    if filters.until is not None:
        lf = lf.filter(pl.col("period") <= filters.until)
    for column, values in filters.selected().items():
        lf = lf.filter(selection(column, values))
    labels = {
        "day": pl.col("period").dt.strftime("%Y-%m-%d"),
        "week": week_label(pl.col("period"), filters.week_start),
        "month": pl.col("period").dt.strftime("%Y-%m"),
    }
    lf = lf.with_columns(**{d: labels[d] for d in dims if d in labels})
    sums = [
        pl.col("requests").sum().cast(pl.UInt32),
        *(pl.col(c).sum() for c in REPORT_TOKENS),
        _cost_sum("cost_usd"),
        pl.col("unpriced_requests").sum(),
        pl.col("modifier_unknown_requests").sum(),
        pl.col("estimated_requests").sum(),
        *(pl.col(c).sum() for c in UNKNOWN_COUNTS),
    ]
    rows = (
        lf.group_by(list(dims))
        .agg(sums)
        .sort(["cost_usd", "requests", *dims], descending=[True, True, *[False] * len(dims)], nulls_last=True)
        if dims
        else lf.select(sums)
    )
    unpriced = (
        lf.filter(pl.col("unpriced_requests") > 0)
        .group_by("provider", "model")
        .agg(
            pl.col("unpriced_requests").sum().cast(pl.UInt32).alias("requests"),
            pl.col("unpriced_input_tokens").sum().alias("input_tokens"),
            pl.col("unpriced_output_tokens").sum().alias("output_tokens"),
        )
        .sort(["requests", "provider", "model"], descending=[True, False, False], nulls_last=True)
    )
    return tuple(pl.collect_all([rows, lf.select(sums), unpriced]))
