"""The ingest summary, as people read it."""

from __future__ import annotations

from rich.console import Console

from .pipeline import IngestReport
from .store import Store

SHOW_BAD = 20


def render_ingest_report(report: IngestReport, store: Store, console: Console) -> None:
    formats = ", ".join(f"{count:,} {name}" for name, count in sorted(report.by_format.items()))
    commit = report.commit
    console.print(f"Ingested into [bold]{store.location}[/]")
    console.print(f"  files              {report.files:,}")
    console.print(f"  captures           {report.captures:,}" + (f"  ({formats})" if formats else ""))
    console.print(f"  rows written       {commit.rows_written:,}")
    console.print(
        f"  duplicates dropped {commit.duplicates_dropped:,}"
        + (f"  ({commit.duplicates_disagreeing:,} disagreed on usage)" if commit.duplicates_disagreeing else "")
    )
    style = "bold yellow" if report.bad else ""
    console.print(f"  bad captures       [{style}]{len(report.bad):,}[/]" if style else "  bad captures       0")
    for bad in report.bad[:SHOW_BAD]:
        console.print(f"    {bad.where}: {bad.reason}", soft_wrap=True, highlight=False, markup=False)
    if len(report.bad) > SHOW_BAD:
        console.print(f"    ... and {len(report.bad) - SHOW_BAD:,} more")
    if report.unpriced_models:
        console.print("  [bold yellow]unpriced models[/] (no price in genai-prices, or one that cannot be applied: "
                      "cost unknown, not $0; tokmeter prices check says why)")
        for provider, model, count in report.unpriced_models:
            console.print(f"    {provider or '?'} / {model or '(no model)'}: {count:,} row(s)", markup=False, emoji=False)
