"""AWS Cost and Usage Report (CUR 2.0, CSV or Parquet; the legacy CUR's ``lineItem/UsageType`` headers
too, normalized by ``files.snake``): the Amazon Bedrock token lines.

Shape from the CUR 2.0 column dictionary (https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html)
and "Understanding your Amazon Bedrock Cost and Usage Report data"
(https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html): one line per
usage type and hour or day, ``line_item_usage_start_date``, ``line_item_product_code`` (``AmazonBedrock``),
``line_item_usage_type`` = region code, model, token type: ``*-input-tokens``, ``*-output-tokens``,
``*-cache-read-input-token-count``, ``*-cache-write-input-token-count`` (e.g.
``USE1-Claude3.5Sonnet-input-tokens``), a service tier or batch named in the usage type,
``line_item_usage_amount`` (tokens; in thousands or millions when ``pricing_unit`` says so) and
``line_item_unblended_cost`` (USD). Lines of other services are left out; Bedrock lines that are not token
lines (provisioned throughput, ...) count as billed cost of no model.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl

from .pages import BadValue, amount
from .registry import BillFormat, BillLine, Read, Skipped, register

REFERENCE = "https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html"
REQUIRED = {"line_item_usage_start_date", "line_item_usage_type", "line_item_usage_amount"}
USAGE_TYPE = re.compile(
    r"^(?:[A-Z]{2,4}\d?-)?(?P<model>.+?)-(?:mantle-)?"
    r"(?P<kind>input-tokens|output-tokens|cache-read-input-token-count|cache-write-input-token-count)"
    r"(?:-(?P<rest>.*))?$",
    re.IGNORECASE,
)
KINDS = {
    "input-tokens": "input",
    "output-tokens": "output",
    "cache-read-input-token-count": "cache_read",
    "cache-write-input-token-count": "cache_write",
}
TIER_WORDS = ("batch", "flex", "priority")
UNITS = (("1m", 1_000_000), ("million", 1_000_000), ("1k", 1_000), ("thousand", 1_000))
HINT = "export CUR 2.0 with the line_item_* columns, unchanged"


def _detect(columns: Any) -> bool:
    return set(columns) >= REQUIRED


def usage_type(text: str) -> tuple[str, str, str | None] | None:
    """(model, token kind, service tier) of a Bedrock token usage type, or None for another usage type."""
    found = USAGE_TYPE.match(text.strip())
    if not found:
        return None
    model, tier = found["model"], None
    for word in TIER_WORDS:  # USE1-Claude3.5Sonnet-batch-input-tokens, ...-input-tokens-flex
        if re.search(rf"(^|-){word}($|-)", f"{model}-{found['rest'] or ''}", re.IGNORECASE):
            tier = word
            model = re.sub(rf"-{word}$", "", model, flags=re.IGNORECASE)
    return model, KINDS[found["kind"].lower()], tier


def _scale(unit: str | None) -> int:
    text = (unit or "").lower().replace(" ", "")
    return next((factor for key, factor in UNITS if key in text), 1)


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadValue(f"line_item_usage_start_date is {value!r}, not a date") from None


def _line(row: dict[str, Any]) -> BillLine | None:
    product = (row.get("line_item_product_code") or "") + (row.get("product_servicecode") or "")
    parsed = usage_type(row.get("line_item_usage_type") or "")
    if parsed is None and "bedrock" not in product.lower():
        return None  # another service's line
    cost = row.get("line_item_unblended_cost")
    line = BillLine(
        day=_day(row.get("line_item_usage_start_date")),
        provider="bedrock",
        cost_usd=None if cost in (None, "") else amount(cost, "line_item_unblended_cost"),
    )
    if parsed is None:
        return BillLine(**line, model=None, cost_kind=None)
    model, kind, tier = parsed
    tokens = amount(row.get("line_item_usage_amount"), "line_item_usage_amount") * _scale(
        row.get("pricing_unit")
    )
    if tokens < 0 or tokens != tokens.to_integral_value():
        raise BadValue(f"line_item_usage_amount is {row.get('line_item_usage_amount')!r}, not a token count")
    column = "input_tokens" if kind == "input" else f"{kind}_tokens"
    counts: dict[str, Any] = {column: int(tokens)}
    if kind in ("cache_read", "cache_write"):  # a cache token is a prompt token too (tokmeter's input)
        counts["input_tokens"] = int(tokens)
    return BillLine(**line, model=model, service_tier=tier, cost_kind=kind, **counts)  # type: ignore[typeddict-item]


def read(frame: pl.DataFrame, source: str) -> Read:
    lines: list[BillLine] = []
    skipped: list[Skipped] = []
    for i, row in enumerate(frame.iter_rows(named=True), 1):
        try:
            line = _line(row)
        except BadValue as exc:
            skipped.append(Skipped(source, f"row {i}", str(exc), HINT))
            continue
        if line is not None:
            lines.append(line)
    return lines, skipped


register(BillFormat("aws-cur", "bedrock", "table", _detect, read, REFERENCE))
