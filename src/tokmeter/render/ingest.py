"""The ingest summary, as people read it."""

from __future__ import annotations

from rich.console import Console

from ..extract import Tally
from ..extract.rule import MISSING_REASONS
from ..ingest.rows import IngestReport
from ..sources.selection import NOT_CAPTURE_NAME
from ..store.protocol import StoreBackend

SHOW_BAD = 20


def render_ingest_report(report: IngestReport, store: StoreBackend, console: Console) -> None:
    formats = ", ".join(f"{count:,} {name}" for name, count in sorted(report.by_format.items()))
    commit = report.commit
    console.print(f"Ingested into [bold]{store.location}[/]")
    console.print(f"  files              {report.files:,}")
    for line in skipped_lines(report):
        console.print(f"  [bold yellow]skipped[/]            {line}", soft_wrap=True, highlight=False)
    console.print(f"  captures           {report.captures:,}" + (f"  ({formats})" if formats else ""))
    console.print(f"  rows written       {commit.rows_written:,}")
    console.print(
        f"  duplicates dropped {commit.duplicates_dropped:,}"
        + (
            f"  ({commit.duplicates_disagreeing:,} disagreed on usage)"
            if commit.duplicates_disagreeing
            else ""
        )
    )
    style = "bold yellow" if report.bad else ""
    console.print(
        f"  bad captures       [{style}]{len(report.bad):,}[/]" if style else "  bad captures       0"
    )
    for bad in report.bad[:SHOW_BAD]:
        console.print(f"    {bad.where}: {bad.reason}", soft_wrap=True, highlight=False, markup=False)
    if len(report.bad) > SHOW_BAD:
        console.print(f"    ... and {len(report.bad) - SHOW_BAD:,} more")
    if report.unpriced_models:
        console.print(
            "  [bold yellow]unpriced models[/] (no price in genai-prices, or one that cannot be applied: "
            "cost unknown, not $0; tokmeter prices check says why)"
        )
        for provider, model, count in report.unpriced_models:
            console.print(
                f"    {provider or '?'} / {model or '(no model)'}: {count:,} row(s)",
                markup=False,
                emoji=False,
            )


def render_tally(tally: Tally, console: Console, estimated_dropped: int = 0) -> None:
    """The rows whose usage was estimated or is missing (and why), and the captures stored under a
    fallback id: counts of what was extracted in this run, before deduplication (``estimated_dropped``:
    the estimated copies the commit dropped as duplicates, said so the report's count is no surprise)."""
    if tally.estimated:
        details = [f"{tally.estimated_partial:,} partial: output only"] if tally.estimated_partial else []
        if tally.estimated_without_prompt:
            details.append(f"{tally.estimated_without_prompt:,} without a captured prompt: input 0")
        _line(
            console,
            f"  estimated usage    {tally.estimated:,} stream(s) ended without their usage"
            + (f" ({'; '.join(details)})" if details else ""),
        )
        if estimated_dropped:
            count = min(estimated_dropped, tally.estimated)
            _line(
                console,
                f"                     {count:,} of them {'was a copy' if count == 1 else 'were copies'} of "
                "a request already counted, dropped as duplicates (the report counts each request once)",
            )
    missing = sum(tally.missing.values())
    if missing:
        order = sorted(
            tally.missing.items(), key=lambda item: (-item[1], list(MISSING_REASONS).index(item[0]))
        )
        reasons = ", ".join(
            f"{count:,} {reason if count == 1 else MISSING_REASONS[reason]}" for reason, count in order
        )
        _line(console, f"  no usage           {missing:,} row(s) with no usage: {reasons}")
    if tally.fallback_ids:
        console.print(
            f"  [bold yellow]fallback ids[/]       {tally.fallback_ids:,} capture(s) carried no request or "
            "response id: stored under a digest of the capture (see README, The usage row)",
            highlight=False,
        )


def _line(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


def skipped_lines(report: IngestReport) -> list[str]:
    """Why files in the directories given were not read, e.g. ``3 files: not a capture file name (*.log); use
    --include '*.log' or --format FORMAT``. Markup-free."""
    from rich.markup import escape

    lines = []
    for reason in sorted({reason for reason, _ in report.skipped}):
        patterns = [(p, n) for (r, p), n in report.skipped.most_common() if r == reason]
        total = sum(n for _, n in patterns)
        shown = ", ".join(f"{n:,} {p}" if len(patterns) > 1 else p for p, n in patterns[:5])
        more = f", {len(patterns) - 5:,} more kinds" if len(patterns) > 5 else ""
        fix = f"; use --include '{patterns[0][0]}' or --format FORMAT" if reason == NOT_CAPTURE_NAME else ""
        lines.append(escape(f"{total:,} file{'s' if total != 1 else ''}: {reason} ({shown}{more}){fix}"))
    return lines
