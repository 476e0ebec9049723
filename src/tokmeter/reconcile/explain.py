"""The reasons tokmeter can name for a gap between what it metered and what the provider billed, per group
and for the whole bill.

Per group (a day, provider and model): no captures at all that day for the provider; a model only one side
has (by api_key: a key id or fingerprint the attribution file's [[key]] tables do not map); requests tokmeter estimated; requests it could not price; a price difference; usage it did not see.
The price difference is the billed cost minus the billed tokens priced at the rates tokmeter used for that
group (its metered cost by token kind over its metered tokens of that kind, the service tier's share spread
over the kinds): what the provider charged per token, against genai-prices. What remains of the gap
(billed tokens at tokmeter's rates minus the metered cost) is usage tokmeter did not capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .match import KINDS
from .models import NO_MODEL

ZERO = Decimal(0)
SMALL = Decimal("0.001")  # a price or volume gap under 0.1% of the group's billed cost is not named


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a group's gap: a code, a sentence, and the cost it accounts for (USD, billed minus
    metered; None when it cannot be put in money)."""

    code: str  # no_captures, bill_only, metered_only, unmapped_key, unsplit_by, price, unmetered, unsplit, estimated, unpriced
    text: str
    amount: Decimal | None = None
    label: str = ""  # what the summary names it by: a day or a model


def _tokens_by_kind(row: dict[str, Any], side: str) -> dict[str, int] | None:
    """Tokens by kind (input: uncached), or None when the side does not say its input and output."""
    prompt, output = row.get(f"{side}_input_tokens"), row.get(f"{side}_output_tokens")
    if prompt is None or output is None:
        return None
    read, write = row.get(f"{side}_cache_read_tokens") or 0, row.get(f"{side}_cache_write_tokens") or 0
    return {"input": prompt - read - write, "cache_read": read, "cache_write": write, "output": output}


def metered_rates(row: dict[str, Any]) -> dict[str, Decimal] | None:
    """USD per token by kind, as tokmeter priced this group; None for a kind it metered no token of."""
    tokens = _tokens_by_kind(row, "metered")
    found = {k: row.get(f"metered_cost_{k}_usd") for k in KINDS}
    total = row.get("metered_cost_usd")
    if tokens is None or total is None or any(c is None for c in found.values()):
        return None
    costs: dict[str, Decimal] = {k: Decimal(v or 0) for k, v in found.items()}
    standard = sum(costs.values(), ZERO)
    scale = total / standard if standard else Decimal(1)  # the modifier's share, spread over the kinds
    return {k: costs[k] * scale / tokens[k] for k in KINDS if tokens[k] > 0}


def at_metered_rates(row: dict[str, Any]) -> Decimal | None:
    """The billed tokens priced at tokmeter's rates for the group; None when a billed kind has no rate."""
    billed, rates = _tokens_by_kind(row, "billed"), metered_rates(row)
    if billed is None or rates is None or any(n > 0 and k not in rates for k, n in billed.items()):
        return None
    return sum((rates[k] * n for k, n in billed.items() if n > 0), ZERO)


def _pct(part: Decimal, whole: Decimal) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "-"


def _money(value: Decimal) -> str:
    """Dollars, to the cent from $100, else to a hundredth of a cent (small groups stay readable)."""
    text = f"{abs(value):,.2f}" if abs(value) >= 100 else f"{abs(value):,.4f}"
    return f"-${text}" if value < 0 else f"${text}"


def group_reasons(row: dict[str, Any], captured_rows: int) -> list[Reason]:
    """Why this group's metered cost differs from its billed cost (``captured_rows``: the store's rows
    for its provider that day)."""
    billed, metered = row.get("billed_cost_usd"), row.get("metered_cost_usd")
    gap = (billed or ZERO) - (metered or ZERO)
    model = row["model"]
    reasons = _one_sided(row, captured_rows, gap)
    if row.get("estimated_requests"):
        reasons.append(
            Reason("estimated", f"{row['estimated_requests']:,} estimated request(s)", None, model)
        )
    if row.get("unpriced_requests"):
        reasons.append(
            Reason(
                "unpriced", f"{row['unpriced_requests']:,} request(s) tokmeter has no price for", None, model
            )
        )
    if row["on_bill"] and row["in_store"]:
        reasons += (
            _price_and_volume(row, billed, metered or ZERO, model) if billed else _tokens_only(row, model)
        )
    return reasons


def _one_sided(row: dict[str, Any], captured_rows: int, gap: Decimal) -> list[Reason]:
    """Why a group is on one side only: no captures that day, no model or no --by value on the bill, a
    key no [[key]] maps, or a model only that side has."""
    model, day = row["model"], row["day"]
    if row["on_bill"] and not row["in_store"]:
        if row["key"] == NO_MODEL:
            text = "billed cost the export names no model for (export it grouped by model or line item)"
            return [Reason("bill_only", text, gap, "costs of no model")]
        if captured_rows == 0:
            return [Reason("no_captures", f"no captures of {row['provider']} on {day}", gap, day)]
        if row.get("unsplit_by"):
            column = row["unsplit_by"]
            text = f"{model} billed with no {column} (the export is not grouped by it, or names none)"
            return [Reason("unsplit_by", text, gap, f"{model} billed with no {column}")]
        if row.get("key_mapped") is False:
            text = f"{model} on the bill under key id {row['api_key_id']}, which no [[key]] maps to a fingerprint"
            return [Reason("unmapped_key", text, gap, f"key {row['api_key_id']}")]
        return [Reason("bill_only", f"{model} is on the bill, never in a capture", gap, model)]
    if row["in_store"] and not row["on_bill"]:
        if row.get("key_mapped") is False:
            text = f"{model} metered with key {row['api_key']}, which no [[key]] maps to a provider key id"
            return [Reason("unmapped_key", text, gap, f"key {row['api_key']}")]
        return [Reason("metered_only", f"{model} was metered, it is not on the bill", gap, model)]
    return []


def _tokens_only(row: dict[str, Any], model: str) -> list[Reason]:
    """Without a billed cost (a usage export alone): the input + output tokens tokmeter did not see."""
    billed, metered = _tokens_by_kind(row, "billed"), _tokens_by_kind(row, "metered")
    if billed is None or metered is None:
        return []
    seen, due = sum(metered.values()), sum(billed.values())
    if abs(due - seen) <= due * SMALL:
        return []
    text = (
        f"tokens not captured: {due - seen:,} of {due:,} billed"
        if due > seen
        else f"{seen - due:,} tokens more than billed"
    )
    return [Reason("unmetered", text, None, model)]


def _price_and_volume(row: dict[str, Any], billed: Decimal, metered: Decimal, model: str) -> list[Reason]:
    expected = at_metered_rates(row)
    if expected is None:
        gap = billed - metered
        if abs(gap) <= billed * SMALL:
            return []
        text = "the export gives no tokens to tell a price difference from usage not captured (add its usage export)"
        return [Reason("unsplit", text, gap, model)]
    reasons = []
    price, volume = billed - expected, expected - metered
    if abs(price) > billed * SMALL:
        tiers = row.get("service_tier") or row.get("metered_tiers")
        tier = f" ({tiers})" if tiers and tiers != "standard" else ""
        text = (
            f"price difference: billed {_money(billed)}, the billed tokens at tokmeter's prices "
            f"{_money(expected)} ({price * 100 / expected if expected else 0:+.1f}%)"
        )
        reasons.append(Reason("price", text, price, f"{model}{tier}"))
    if abs(volume) > billed * SMALL:
        requests = ""
        if row.get("billed_requests") is not None and row.get("metered_requests") is not None:
            requests = f"; {row['metered_requests']:,} of {row['billed_requests']:,} requests metered"
        text = f"usage not captured: {_money(volume)} of billed tokens at tokmeter's prices{requests}"
        if volume < 0:
            text = f"metered more usage than billed: {_money(-volume)} at tokmeter's prices{requests}"
        reasons.append(Reason("unmetered", text, volume, model))
    return reasons


SUMMARY = {
    "no_captures": "{pct} on {label} with no captures",
    "bill_only": "{pct} on {label}, never captured",
    "metered_only": "{pct} metered on {label}, not billed",
    "unmapped_key": "{pct} on {label}, not in the [[key]] table",
    "unsplit_by": "{pct} on {label}",
    "price": "{pct} price difference on {label}",
    "unmetered": "{pct} usage of {label} not captured",
    "unsplit": "{pct} on {label}, billed without tokens",
}


def summary(
    coverage: Decimal | None,
    what: str,
    period: str,
    reasons: list[Reason],
    billed: Decimal | None,
    top: int = 4,
) -> str:
    """ "metered 97.3% of billed cost in November 2026; 2.1% on 2026-11-14 with no captures; 0.6% price
    difference on gpt-5 (flex)": the coverage and the largest reasons, as shares of the billed cost."""
    head = (
        f"metered {coverage:.1f}% of billed {what} {period}"
        if coverage is not None
        else f"nothing billed {period}"
    )
    if not billed:
        return head
    totals: dict[tuple[str, str], Decimal] = {}
    for reason in reasons:
        if reason.amount is not None and reason.code in SUMMARY:
            totals[(reason.code, reason.label)] = (
                totals.get((reason.code, reason.label), ZERO) + reason.amount
            )
    largest = sorted(totals.items(), key=lambda item: -abs(item[1]))[:top]
    parts = [
        SUMMARY[code].format(pct=_pct(amount, billed), label=label)
        for (code, label), amount in largest
        if abs(amount) >= billed * SMALL
    ]
    return "; ".join([head, *parts])
