"""What ``ingest --follow`` shows while it runs: a Rich live view on a terminal (captures/s, rows, lag,
spend so far by model), plain periodic log lines on stderr otherwise."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..ingest.follow import FollowStats, QuietView
from ..pricing.table import price_rows

LOG_EVERY_SECONDS = 5.0
IDLE_LOG_EVERY_SECONDS = 60.0
TOP_MODELS = 5
SPEND_BUDGET_SECONDS = 0.25  # pricing a flush may take at most this long, else spend is switched off
SHOW_BAD = 20


class SpendTally:
    """Spend of the rows committed this run, by model, priced per flush (genai-prices, exact decimals).
    Rows later dropped as duplicates of stored ones are counted too (it is a live estimate). Switches
    itself off, saying so, when pricing a flush takes longer than ``SPEND_BUDGET_SECONDS`` (the first
    flush, which loads the price data, is not held against it) or fails."""

    def __init__(self) -> None:
        self.by_model: dict[str, Decimal] = defaultdict(Decimal)
        self.unpriced_rows = 0
        self.note: str | None = None
        self._calls = 0

    def add(self, frame: Any) -> None:
        if self.note is not None or frame.height == 0:
            return
        import polars as pl

        began = time.perf_counter()
        try:
            costs = (
                price_rows(frame.lazy())
                .group_by("model")
                .agg(cost=pl.col("cost_usd").sum(), unpriced=pl.col("cost_usd").is_null().sum())
                .collect()
            )
        except Exception as exc:  # noqa: BLE001 - the live view must never stop the ingest
            self.note = f"spend off: pricing failed ({type(exc).__name__})"
            return
        for model, cost, missing in costs.iter_rows():
            self.by_model[model or "(no model)"] += cost or Decimal(0)
            self.unpriced_rows += missing
        took = time.perf_counter() - began
        self._calls += 1
        if self._calls > 1 and took > SPEND_BUDGET_SECONDS:
            self.note = f"spend off: pricing took {took:.2f} s per flush"

    def top(self, n: int = TOP_MODELS) -> list[tuple[str, Decimal]]:
        return sorted(self.by_model.items(), key=lambda item: -item[1])[:n]


def make_view(*, quiet: bool, live: bool | None = None) -> Any:
    """The live view on a terminal, log lines on stderr otherwise, nothing with ``quiet``."""
    if quiet:
        return QuietView()
    if live if live is not None else sys.stdout.isatty():
        return LiveView(Console(highlight=False))
    return LogView(sys.stderr)


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


class LogView:
    """A line every ``LOG_EVERY_SECONDS`` while captures arrive (every ``IDLE_LOG_EVERY_SECONDS`` when
    idle), and one per event, on a stream: for logs and pipes."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._last = 0.0
        self._last_captures = -1
        self._bad_shown = 0

    def _print(self, message: str) -> None:
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        print(f"{stamp} tokmeter: {message}", file=self.stream, flush=True)

    def event(self, message: str) -> None:
        self._print(message)

    def committed(self, frame: Any) -> None:
        pass

    def update(self, stats: FollowStats) -> None:
        self._show_bad(stats)
        now = time.monotonic()
        busy = stats.report.captures != self._last_captures or stats.lag_bytes
        if now - self._last >= (LOG_EVERY_SECONDS if busy else IDLE_LOG_EVERY_SECONDS):
            self._last, self._last_captures = now, stats.report.captures
            self._print(_summary_line(stats))

    def close(self, stats: FollowStats) -> None:
        self._show_bad(stats)
        stats.phase = "stopped"
        self._print(_summary_line(stats))

    def _show_bad(self, stats: FollowStats) -> None:
        bad = stats.report.bad
        while self._bad_shown < min(len(bad), SHOW_BAD):
            item = bad[self._bad_shown]
            self._print(f"bad capture {item.where}: {item.reason}")
            self._bad_shown += 1


def _summary_line(stats: FollowStats) -> str:
    report = stats.report
    return (
        f"{stats.phase}: {report.captures:,} captures ({stats.rate:,.0f}/s), "
        f"{report.rows_written:,} rows written, {report.duplicates_dropped:,} duplicates, "
        f"{len(report.bad):,} bad, lag {_bytes(stats.lag_bytes)} / {stats.lag_seconds:.1f} s, "
        f"buffer {stats.buffered_rows:,}/{stats.buffer_capacity:,} rows, {stats.commits:,} commits "
        f"(last {stats.last_commit_seconds * 1000:,.0f} ms)"
    )


class LiveView:
    """A Rich live panel, redrawn four times a second."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self.console = console
        self.spend = SpendTally()
        self._events: list[str] = []
        self._live = Live(console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def event(self, message: str) -> None:
        self._events = [*self._events, f"{datetime.now():%H:%M:%S} {message}"][-3:]

    def committed(self, frame: Any) -> None:
        self.spend.add(frame)

    def update(self, stats: FollowStats) -> None:
        self._live.update(self._render(stats))

    def close(self, stats: FollowStats) -> None:
        stats.phase = "stopped"
        self._live.update(self._render(stats))
        self._live.stop()

    def _render(self, stats: FollowStats) -> Group:
        report = stats.report
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column(justify="right")
        table.add_row("state", f"[bold]{stats.phase}[/]  ({time.monotonic() - stats.started:,.0f} s)")
        table.add_row("captures", f"{report.captures:,}  ([bold]{stats.rate:,.0f}[/]/s)")
        table.add_row("rows written", f"{report.rows_written:,}")
        table.add_row("duplicates dropped", f"{report.duplicates_dropped:,}")
        table.add_row("bad captures", f"[yellow]{len(report.bad):,}[/]" if report.bad else "0")
        table.add_row("lag", f"{_bytes(stats.lag_bytes)}  /  {stats.lag_seconds:.1f} s")
        table.add_row("buffer", f"{stats.buffered_rows:,} / {stats.buffer_capacity:,} rows")
        table.add_row("commits", f"{stats.commits:,}  (last {stats.last_commit_seconds * 1000:,.0f} ms)")
        table.add_row("sources", f"{stats.sources:,} checkpointed")
        parts: list[Any] = [table, self._spend_table()]
        parts += [Text(line, style="dim") for line in self._events]
        return Group(*parts)

    def _spend_table(self) -> Any:
        if self.spend.note:
            return Text(self.spend.note, style="dim")
        spend = Table.grid(padding=(0, 2))
        spend.add_column(style="dim")
        spend.add_column(justify="right")
        spend.add_row("[bold]spend so far[/]", "[dim]USD, this run, before deduplication[/]")
        for model, cost in self.spend.top():
            spend.add_row(model, f"{cost:,.6f}")
        if self.spend.unpriced_rows:
            spend.add_row("unpriced rows", f"{self.spend.unpriced_rows:,}")
        return spend
