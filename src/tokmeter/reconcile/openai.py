"""OpenAI's organization exports: the Usage API's completions pages
(``GET /v1/organization/usage/completions``) and the Costs API's pages (``GET /v1/organization/costs``).

Shapes from the OpenAPI description (github.com/openai/openai-openapi, ``UsageCompletionsResult``,
``CostsResult``, ``UsageTimeBucket``): a page of daily buckets (``start_time``, Unix seconds) whose
``results`` carry the group-by fields asked for (``model``, ``project_id``, ``api_key_id``, ``batch``,
``service_tier``; null when not grouped by). Usage: ``input_tokens`` (cached and cache-write tokens
included, as tokmeter counts input), ``input_cached_tokens``, ``input_cache_write_tokens``,
``output_tokens``, ``num_model_requests``. Costs: ``amount.value`` in ``amount.currency``; with
``group_by=line_item`` a ``line_item`` such as ``gpt-4o-2024-08-06, input``, ``..., cached input`` or
``..., output`` (the model, then what the cost is for).
"""

from __future__ import annotations

from typing import Any

from .pages import BadValue, amount, count, first_result, read_results, tier, unix_day
from .registry import BillFormat, BillLine, Read, register

USAGE = "organization.usage.completions.result"
COSTS = "organization.costs.result"
REFERENCE = "https://github.com/openai/openai-openapi (openapi.yaml: UsageCompletionsResult, CostsResult)"
LINE_KINDS = {
    "input": "input",
    "cached input": "cache_read",
    "input cached": "cache_read",
    "cache write": "cache_write",
    "output": "output",
    "input_tokens": "input",
    "input_cached_tokens": "cache_read",
    "output_tokens": "output",
}
HINT = "export the page unchanged, as GET /v1/organization/{} returned it"


def _is(kind: str) -> Any:
    def detect(page: Any) -> bool:
        first = first_result(page)
        return first is not None and first.get("object") == kind

    return detect


def read_usage(page: Any, source: str) -> Read:
    return read_results(page, source, HINT.format("usage/completions"), _usage_line)


def _usage_line(bucket: dict, result: dict) -> BillLine:
    tier_name = "batch" if result.get("batch") is True else tier(result.get("service_tier"))
    return BillLine(
        day=unix_day(bucket.get("start_time"), "start_time"),
        provider="openai",
        model=result.get("model"),
        service_tier=tier_name,
        api_key=result.get("api_key_id"),
        project=result.get("project_id"),
        requests=count(result, "num_model_requests", required=True),
        input_tokens=count(result, "input_tokens", required=True),
        cache_read_tokens=count(result, "input_cached_tokens"),
        cache_write_tokens=count(result, "input_cache_write_tokens"),
        output_tokens=count(result, "output_tokens", required=True),
    )


def line_item(text: Any) -> tuple[str | None, str | None]:
    """(model, cost kind) of a cost line item: ``gpt-4o-2024-08-06, cached input`` -> (gpt-4o-2024-08-06,
    cache_read); a line item that names no token kind (a tool's calls) has kind None."""
    if not isinstance(text, str):
        return None, None
    model, comma, what = text.rpartition(",")
    if not comma:
        return None, LINE_KINDS.get(text.strip().lower())
    return model.strip() or None, LINE_KINDS.get(what.strip().lower())


def read_costs(page: Any, source: str) -> Read:
    return read_results(page, source, HINT.format("costs"), _costs_line)


def _costs_line(bucket: dict, result: dict) -> BillLine:
    money = result.get("amount")
    if not isinstance(money, dict):
        raise BadValue(f"amount is {money!r}, not an object with value and currency")
    if str(money.get("currency", "usd")).lower() != "usd":
        raise BadValue(f"amount.currency is {money.get('currency')!r}; tokmeter compares USD")
    model, kind = line_item(result.get("line_item"))
    return BillLine(
        day=unix_day(bucket.get("start_time"), "start_time"),
        provider="openai",
        model=model,
        api_key=result.get("api_key_id"),
        project=result.get("project_id"),
        cost_usd=amount(money.get("value"), "amount.value"),
        cost_kind=kind,
    )


register(BillFormat("openai-usage", "openai", "json", _is(USAGE), read_usage, REFERENCE))
register(BillFormat("openai-costs", "openai", "json", _is(COSTS), read_costs, REFERENCE))
