"""What the JSON exports have in common: a page of time buckets, each with its results, and the checks a
value must pass before it counts (a count is a non-negative integer, an amount a finite number)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .registry import BillLine, Read, Skipped


class BadValue(ValueError):
    """A field of one result that cannot be read; the result is set aside with this reason."""


def buckets(page: Any) -> list[Any]:
    data = page.get("data") if isinstance(page, dict) else None
    return data if isinstance(data, list) else []


def results(bucket: Any) -> list[Any]:
    """A bucket's results (``results``; ``result`` in older OpenAI references)."""
    if not isinstance(bucket, dict):
        return []
    found = bucket.get("results", bucket.get("result"))
    return found if isinstance(found, list) else []


def first_result(page: Any) -> dict | None:
    return next((r for b in buckets(page) for r in results(b) if isinstance(r, dict)), None)


def walk(page: Any, source: str) -> Iterator[tuple[str, dict, dict] | Skipped]:
    """(where, bucket, result) for every result of a page, or a ``Skipped`` for one that is not an object."""
    for i, bucket in enumerate(buckets(page), 1):
        for j, result in enumerate(results(bucket), 1):
            where = f"bucket {i}, result {j}"
            if isinstance(bucket, dict) and isinstance(result, dict):
                yield where, bucket, result
            else:
                yield Skipped(
                    source, where, "not a JSON object", "export the page unchanged, as the API sent it"
                )


def read_results(page: Any, source: str, hint: str, line_of: Callable[[dict, dict], BillLine]) -> Read:
    """Each result of a page as a bill line, ``line_of(bucket, result)``; a result that is no object, or
    that ``line_of`` refuses with ``BadValue``, is set aside with its place, the reason and ``hint``."""
    lines: list[BillLine] = []
    skipped: list[Skipped] = []
    for item in walk(page, source):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        where, bucket, result = item
        try:
            lines.append(line_of(bucket, result))
        except BadValue as exc:
            skipped.append(Skipped(source, where, str(exc), hint))
    return lines, skipped


def count(result: dict, key: str, *, required: bool = False) -> int | None:
    value = result.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadValue(f"{key} is {value!r}, not a count of tokens or requests")
    return value


def amount(value: Any, field: str) -> Decimal:
    """A money amount given as a JSON number or a decimal string, exactly (a float through its repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadValue(f"{field} is {value!r}, not an amount")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadValue(f"{field} is {value!r}, not an amount") from None
    if not number.is_finite():
        raise BadValue(f"{field} is {value!r}, not a finite amount")
    return number


def unix_day(value: Any, field: str) -> date:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"{field} is {value!r}, not a Unix time")
    try:
        return datetime.fromtimestamp(value, UTC).date()
    except (OverflowError, OSError, ValueError):  # NaN, or beyond any calendar
        raise BadValue(f"{field} is {value!r}, not a Unix time") from None


def rfc3339_day(value: Any, field: str) -> date:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).date()
    except (OverflowError, ValueError):  # also year 1 east of UTC
        raise BadValue(f"{field} is {value!r}, not an RFC 3339 time") from None


TIERS = {"default": "standard", "auto": "standard", "on_demand": "standard"}


def tier(value: Any) -> str | None:
    """A service tier as the usage rows name it (``schema.SERVICE_TIERS``: OpenAI's default is standard)."""
    if not isinstance(value, str) or not value:
        return None
    return TIERS.get(value.lower(), value.lower())
