"""Google Cloud's billing export (the standard usage cost table ``gcp_billing_export_v1_<ACCOUNT>`` in
BigQuery), as CSV, JSON (an array of rows or one row per line) or Parquet: the Vertex AI and Gemini API
token lines.

Shape from "Structure of Standard data export"
(https://cloud.google.com/billing/docs/how-to/export-data-bigquery-tables/standard-usage): one row per
service, SKU, project and hour (``usage_start_time``, UTC), with ``service.description`` (``Vertex AI``,
``Gemini API``), ``sku.description`` (``Gemini 2.5 Pro Input Tokens``, ``... Output Tokens``, ``... Cached
Input Tokens``), ``usage.amount`` in ``usage.unit`` (the SKU's base unit: a count of tokens, characters,
images, seconds, ...), ``cost`` in ``currency``, ``cost_type`` (regular, tax, adjustment, rounding error),
``project.id``; credits (``credits``, a repeated field) are not subtracted. Nested fields arrive as
objects (JSON), structs (Parquet, flattened by ``files.py``) or columns named ``service.description`` or
``service_description`` (a query's CSV): all are read as ``service_description``.

Lines of other services are left out; a Vertex AI or Gemini API line that is not a token line (a SKU
counted in characters, images or requests, cache storage), not regular usage, or not in USD is set aside
with its reason.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from .pages import BadValue, amount
from .registry import BillFormat, BillLine, Read, Skipped, register

REFERENCE = "https://cloud.google.com/billing/docs/how-to/export-data-bigquery-tables/standard-usage"
REQUIRED = {"service_description", "sku_description", "usage_start_time", "cost"}
SERVICES = (("vertex", "google-vertex"), ("gemini api", "google"), ("generative language", "google"))
TOKEN_UNITS = ("count", "token", "tokens", "1 token")  # a token SKU's base unit
SCALES = (("1m", 1_000_000), ("million", 1_000_000), ("1k", 1_000), ("thousand", 1_000))
TIERS = ("batch", "flex", "priority")
NOISE = re.compile(
    r"\b(?:input|output|text|tokens?|cached|cache|caching|thinking|predictions?|count|generate content|"
    r"long|short|context|audio|online|batch|flex|priority|standard)\b|\(.*?\)|[<>]=?\s*\d+k\b|\s-\s",
    re.IGNORECASE,
)
HINT = "export the standard usage cost table unchanged (bq extract or bq query, as the README shows)"
NOT_TOKENS = "tokmeter compares the token SKUs only: this line's cost is left out of the comparison"


class NotTokens(BadValue):
    """A Vertex AI or Gemini API line that is not a token line."""


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A row's nested objects as ``parent_child`` keys (``{"sku": {"description": x}}`` ->
    ``sku_description``); dotted names (``sku.description``) the same way."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{str(key).replace('.', '_')}"
        if isinstance(item, dict):
            found.update(flat(item, f"{name}_"))
        else:
            found[name] = item
    return found


def _detect_table(columns: Any) -> bool:
    return {str(c).replace(".", "_") for c in columns} >= REQUIRED


def _detect_row(page: Any) -> bool:
    return set(flat(page)) >= REQUIRED


def _provider(service: Any) -> str | None:
    text = str(service or "").lower()
    return next((provider for word, provider in SERVICES if word in text), None)


def sku(description: str) -> tuple[str, str, str | None] | None:
    """(model, token kind, service tier) of a token SKU's description, or None for another SKU."""
    text = description.lower()
    if not re.search(r"\b(?:input|output)\b", text) or re.search(
        r"\b(?:storage|characters?|images?)\b", text
    ):
        return None
    kind = "output" if re.search(r"\boutput\b", text) else "input"
    if kind == "input" and re.search(r"\bcach(?:ed|e|ing)\b", text):
        kind = "cache_read"
    tier = next((word for word in TIERS if re.search(rf"\b{word}\b", text)), None)
    model = re.sub(r"\s+", " ", NOISE.sub(" ", description)).strip(" -")
    return (model.lower().replace(" ", "-"), kind, tier) if model else None


def _day(value: Any) -> date:
    text = str(value or "").strip().removesuffix(" UTC").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(f"usage_start_time is {value!r}, not a time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def _tokens(row: dict[str, Any]) -> int:
    unit = str(row.get("usage_unit") or "count").lower().strip()
    factor = next((n for key, n in SCALES if key in unit.replace(" ", "")), 1)
    if factor == 1 and unit not in TOKEN_UNITS:
        raise NotTokens(
            f"SKU {row.get('sku_description')!r} is counted in {row.get('usage_unit')!r}, not a count of tokens"
        )
    tokens = amount(row.get("usage_amount"), "usage.amount") * factor
    if tokens < 0 or tokens != tokens.to_integral_value():
        raise BadValue(f"usage.amount is {row.get('usage_amount')!r}, not a token count")
    return int(tokens)


def _line(row: dict[str, Any]) -> BillLine | None:
    provider = _provider(row.get("service_description"))
    if provider is None:
        return None  # another service's line
    if str(row.get("cost_type") or "regular").lower() != "regular":
        raise NotTokens(f"cost_type is {row.get('cost_type')!r}: not usage of a model")
    if str(row.get("currency") or "USD").upper() != "USD":
        raise BadValue(f"currency is {row.get('currency')!r}; tokmeter compares USD")
    description = str(row.get("sku_description") or "")
    parsed = sku(description)
    if parsed is None:
        raise NotTokens(f"SKU {description!r} is not a token SKU (its unit: {row.get('usage_unit')!r})")
    model, kind, tier = parsed
    tokens = _tokens(row)
    counts = {"input_tokens": tokens} if kind != "output" else {"output_tokens": tokens}
    if kind == "cache_read":  # a cache token is a prompt token too (tokmeter's input)
        counts["cache_read_tokens"] = tokens
    cost = row.get("cost")
    return BillLine(
        day=_day(row.get("usage_start_time")),
        provider=provider,
        model=model,
        service_tier=tier,
        project=row.get("project_id") or None,
        cost_usd=None if cost in (None, "") else amount(cost, "cost"),
        cost_kind=kind,
        **counts,  # type: ignore[typeddict-item]
    )


def _read_rows(rows: Any, source: str, where: str) -> Read:
    lines: list[BillLine] = []
    skipped: list[Skipped] = []
    for i, row in enumerate(rows, 1):
        try:
            line = _line(row)
        except BadValue as exc:
            hint = NOT_TOKENS if isinstance(exc, NotTokens) else HINT
            skipped.append(Skipped(source, where.format(i), str(exc), hint))
            continue
        if line is not None:
            lines.append(line)
    return lines, skipped


def read_table(frame: pl.DataFrame, source: str) -> Read:
    frame = frame.rename(lambda name: name.replace(".", "_"))
    return _read_rows(frame.iter_rows(named=True), source, "row {}")


def read_row(page: Any, source: str) -> Read:
    return _read_rows([flat(page)], source, "")


register(BillFormat("gcp-billing", "google-vertex", "table", _detect_table, read_table, REFERENCE))
register(BillFormat("gcp-billing-json", "google-vertex", "json", _detect_row, read_row, REFERENCE))
