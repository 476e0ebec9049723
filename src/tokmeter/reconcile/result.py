"""``reconcile``: read bill exports, meter the same days and providers from the store, match them and
explain every gap. Collect happens here, once; rendering is ``render/reconcile.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from ..attribution import Attribution
from ..errors import UsageError
from ..pricing.costs import COST_DTYPE
from ..pricing.overrides import PriceOverrides
from ..pricing.resolve import price_data
from ..schema import polars_schema
from ..store.protocol import StoreBackend
from . import BY
from .explain import ZERO, Reason, at_metered_rates, group_reasons, summary
from .files import Bill, read_bills
from .match import TOKENS, bill_groups, joined, key_columns, metered_groups, scope
from .registry import FORMATS, BillLine, Skipped

_SIDES = ("requests", *TOKENS, "cost_usd")
COLUMNS = (
    "day",
    "provider",
    "model",
    *(f"{side}_{m}" for m in _SIDES for side in ("billed", "metered")),
    "coverage_pct",
    "token_coverage_pct",
    "price_difference_usd",
    "estimated_requests",
    "reasons",
)


@dataclass(slots=True)
class Reconciliation:
    """Per group: both sides, the coverage and the reasons; the totals, the summary line, and what was
    set aside (bill records) or could not be metered (quarantined captures)."""

    by: list[str]
    rows: pl.DataFrame
    totals: dict[str, Any]
    summary: str
    coverage_pct: Decimal | None  # of the billed cost, else (no cost in the exports) of the billed tokens
    coverage_of: str  # "cost" or "tokens"
    period: str
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    formats: dict[str, list[str]] = field(default_factory=dict)
    price_data: dict[str, str | None] = field(default_factory=price_data)

    @property
    def dims(self) -> list[str]:
        """The columns a row is named by: day, provider, model, the --by columns (and the provider's key
        ids beside api_key)."""
        return ["day", "provider", "model", *_with_key_ids(self.by)]


def _with_key_ids(by: Sequence[str]) -> list[str]:
    return [name for column in by for name in ((column, "api_key_id") if column == "api_key" else (column,))]


def check_by(store: StoreBackend, by: Sequence[str]) -> list[str]:
    """``by`` without repeats, each a column bills carry (``BY``) and the store's rows have; call under
    ``store.reading()``."""
    for column in by:
        if column not in BY:
            raise UsageError(f"unknown --by value {column!r}", hint=f"use any of: {', '.join(BY)}")
        if column not in polars_schema().names():  # the rows' columns (a bucket's parts are not fetched)
            raise UsageError(
                f"the store's rows have no {column} column, so they cannot be matched by it",
                hint="reconcile per day and model (without --by), or ingest with a tokmeter that records it",
            )
    return list(dict.fromkeys(by))


def reconcile(
    store: StoreBackend,
    paths: Sequence[Path],
    by: Sequence[str] = (),
    overrides: PriceOverrides | None = None,
    attribution: Attribution | None = None,
) -> Reconciliation:
    """``attribution``: the rules owners (a project, ...) are read with, and its ``[[key]]`` tables, which
    map the bill's key ids to the store's fingerprints for ``by=["api_key"]``."""
    bill = _read(paths)
    key_ids = attribution.key_ids if attribution is not None else ()
    days = sorted({line["day"] for line in bill.lines})
    providers = sorted({line["provider"] for line in bill.lines})
    with store.reading():
        by = check_by(store, by)
        metered, per_day = metered_groups(store, scope(days, providers, attribution), by, overrides)
        quarantined = [e for e in store.quarantined() if str(e.get("time", "")) >= days[0].isoformat()]
    captured = {(p, d): n for p, d, n in per_day.iter_rows()}
    spans = {p: (min(d), max(d)) for p, d in _days_by_provider(bill.lines).items()}
    rows, reasons = [], []
    both = key_columns(joined(bill_groups(bill.lines, by, overrides, key_ids), metered, by), by, key_ids)
    for row in _unsplit(both, by).iter_rows(named=True):
        first, last = spans[row["provider"]]
        if not row["on_bill"] and not first.isoformat() <= row["day"] <= last.isoformat():
            continue  # a day this provider's exports do not cover
        found = group_reasons(row, captured.get((row["provider"], row["day"]), 0))
        reasons += found
        rows.append(_with_figures(row, found))
    frame = (
        pl.DataFrame(rows, infer_schema_length=None)
        .select(*COLUMNS[:3], *_with_key_ids(by), *COLUMNS[3:])
        .with_columns(pl.col(c).cast(COST_DTYPE) for c in COLUMNS if c.endswith("_usd"))
    )
    totals = _totals(frame)
    coverage_of = "cost" if totals["billed_cost_usd"] else "tokens"
    coverage = totals["coverage_pct"] if coverage_of == "cost" else totals["token_coverage_pct"]
    period = _period(days[0], days[-1])
    return Reconciliation(
        by=by,
        rows=frame,
        totals=totals,
        summary=summary(coverage, coverage_of, period, reasons, totals["billed_cost_usd"]),
        coverage_pct=coverage,
        coverage_of=coverage_of,
        period=period,
        notes=_notes(quarantined, days[0], totals, reasons) + _key_notes(by, key_ids),
        skipped=bill.skipped,
        formats={source: sorted(names) for source, names in bill.formats.items()},
        price_data=price_data(overrides),
    )


def _unsplit(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """``unsplit_by``: the first --by column a bill-only group lacks (its export does not group by it)."""
    missing = [pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in by]
    bill_only = pl.col("on_bill") & ~pl.col("in_store")
    return frame.with_columns(
        unsplit_by=pl.when(bill_only).then(pl.coalesce(missing)) if by else pl.lit(None)
    )


def _read(paths: Sequence[Path]) -> Bill:
    bill = read_bills(paths)
    if not bill.lines:
        raise UsageError(
            "no usage or cost line could be read from " + ", ".join(map(str, paths)),
            hint="known exports: " + ", ".join(FORMATS) + "; see the README's reconcile section for how to "
            "download each"
            + (f" ({bill.skipped[0].source}: {bill.skipped[0].reason})" if bill.skipped else ""),
        )
    return bill


def _days_by_provider(lines: Sequence[BillLine]) -> dict[str, list[date]]:
    found: dict[str, list[date]] = {}
    for line in lines:
        found.setdefault(line["provider"], []).append(line["day"])
    return found


def _ratio(part: Any, whole: Any) -> Decimal | None:
    if part is None or not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


def _io(row: dict[str, Any], side: str) -> int | None:
    values = (row.get(f"{side}_input_tokens"), row.get(f"{side}_output_tokens"))
    return None if None in values else sum(v or 0 for v in values)


def _with_figures(row: dict[str, Any], reasons: list[Reason]) -> dict[str, Any]:
    expected = at_metered_rates(row) if row["on_bill"] and row["in_store"] else None
    billed = row.get("billed_cost_usd")
    return {
        **row,
        "coverage_pct": _ratio(row.get("metered_cost_usd") or ZERO, billed) if billed is not None else None,
        "token_coverage_pct": _ratio(_io(row, "metered") or 0, _io(row, "billed")),
        "price_difference_usd": billed - expected if billed is not None and expected is not None else None,
        "estimated_requests": row.get("estimated_requests") or 0,
        "reasons": [r.text for r in reasons],
    }


def _totals(frame: pl.DataFrame) -> dict[str, Any]:
    sums: dict[str, Any] = {}
    for column in frame.columns:
        if column.startswith(("billed_", "metered_")) or column in (
            "price_difference_usd",
            "estimated_requests",
        ):
            values = [v for v in frame[column].to_list() if v is not None]
            sums[column] = sum(values, Decimal(0) if column.endswith("_usd") else 0) if values else None
    billed_io = _io(sums, "billed")
    sums["coverage_pct"] = _ratio(sums.get("metered_cost_usd") or ZERO, sums.get("billed_cost_usd"))
    sums["token_coverage_pct"] = _ratio(_io(sums, "metered") or 0, billed_io)
    return sums


def _period(first: date, last: date) -> str:
    if (first.year, first.month) == (last.year, last.month):
        return f"in {first:%B %Y}"
    return f"from {first} to {last}"


def _notes(quarantined: list[dict], first: date, totals: dict[str, Any], reasons: list[Reason]) -> list[str]:
    notes = []
    if quarantined:
        notes.append(
            f"{len(quarantined):,} capture(s) set aside as bad since {first} (tokmeter quarantine lists them): "
            "their usage is not metered"
        )
    if totals.get("estimated_requests"):
        notes.append(f"{totals['estimated_requests']:,} metered request(s) estimated (usage counted offline)")
    if any(r.code == "unpriced" for r in reasons):
        notes.append("some metered requests have no price: tokmeter prices check names them")
    return notes


def _key_notes(by: Sequence[str], key_ids: Sequence[Any]) -> list[str]:
    if "api_key" not in by or key_ids:
        return []
    return [
        "--by api_key without a [[key]] table in the attribution file: the bill's key ids meet only stored "
        "values equal to them, never a fingerprint (see the README's reconcile section)"
    ]
