"""Anthropic's Usage & Cost Admin API: ``GET /v1/organizations/usage_report/messages`` and
``GET /v1/organizations/cost_report``.

Shapes from the Admin API reference (https://platform.claude.com/docs/en/api/admin/usage_report and
.../cost_report): a page of buckets (``starting_at``, ``ending_at``: RFC 3339) whose ``results`` carry the
group-by fields asked for (``model``, ``api_key_id``, ``workspace_id``, ``service_tier``; null when not
grouped by). Usage: ``uncached_input_tokens``, ``cache_read_input_tokens``, ``cache_creation``
(``ephemeral_5m_input_tokens``, ``ephemeral_1h_input_tokens``), ``output_tokens``; no request count.
Costs: ``amount``, a decimal string in the currency's lowest unit (cents: "123.45" is $1.23), with
``description``, ``cost_type`` (tokens, web_search, code_execution), ``model``, ``token_type``
(``uncached_input_tokens``, ``cache_read_input_tokens``, ``cache_creation.ephemeral_5m_input_tokens``, ...)
when grouped by description. The workspace is the project.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .pages import BadValue, amount, count, first_result, read_results, rfc3339_day, tier
from .registry import BillFormat, BillLine, Read, register

REFERENCE = "https://platform.claude.com/docs/en/api/admin/usage_report, .../cost_report"
TOKEN_TYPES = {
    "uncached_input_tokens": "input",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write",
    "output_tokens": "output",
}
HINT = "export the page unchanged, as GET /v1/organizations/{} returned it"


def _is_usage(page: Any) -> bool:
    first = first_result(page)
    return first is not None and "uncached_input_tokens" in first and "starting_at" in page["data"][0]


def _is_cost(page: Any) -> bool:
    first = first_result(page)
    return (
        first is not None
        and "amount" in first
        and "currency" in first
        and "object" not in first
        and "starting_at" in page["data"][0]
    )


def read_usage(page: Any, source: str) -> Read:
    return read_results(page, source, HINT.format("usage_report/messages"), _usage_line)


def _usage_line(bucket: dict, result: dict) -> BillLine:
    creation = result.get("cache_creation") or {}
    if not isinstance(creation, dict):
        raise BadValue(f"cache_creation is {creation!r}, not an object")
    writes = [count(creation, k) for k in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")]
    cache_write = sum(w or 0 for w in writes)
    cache_read = count(result, "cache_read_input_tokens") or 0
    uncached = count(result, "uncached_input_tokens", required=True) or 0
    return BillLine(
        day=rfc3339_day(bucket.get("starting_at"), "starting_at"),
        provider="anthropic",
        model=result.get("model"),
        service_tier=tier(result.get("service_tier")),
        api_key=result.get("api_key_id"),
        project=result.get("workspace_id"),
        input_tokens=uncached + cache_read + cache_write,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=count(result, "output_tokens", required=True),
    )


def read_cost(page: Any, source: str) -> Read:
    return read_results(page, source, HINT.format("cost_report"), _cost_line)


def _cost_line(bucket: dict, result: dict) -> BillLine:
    if str(result.get("currency", "USD")).upper() != "USD":
        raise BadValue(f"currency is {result.get('currency')!r}; tokmeter compares USD")
    cost_type = result.get("cost_type")
    kind = TOKEN_TYPES.get(result.get("token_type") or "") if cost_type in (None, "tokens") else None
    return BillLine(
        day=rfc3339_day(bucket.get("starting_at"), "starting_at"),
        provider="anthropic",
        model=result.get("model"),
        service_tier=tier(result.get("service_tier")),
        api_key=result.get("api_key_id"),
        project=result.get("workspace_id"),
        cost_usd=amount(result.get("amount"), "amount") / Decimal(100),  # cents
        cost_kind=kind,
    )


register(BillFormat("anthropic-usage", "anthropic", "json", _is_usage, read_usage, REFERENCE))
register(BillFormat("anthropic-cost", "anthropic", "json", _is_cost, read_cost, REFERENCE))
