"""What every provider module returns, and the helpers they share to read provider numbers safely."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import BadCaptureError
from ..schema import TokenCounts


@dataclass(slots=True)
class Extracted:
    """A provider module's reading of one response body, in tokmeter's token convention.

    Input and output are always known (0 when no usage arrived). Their subsets (cache reads and writes,
    1-hour writes, reasoning) are None when the source structurally cannot carry them (an api-proxy
    token log has no reasoning count): *unknown*, stored as null. A provider's own usage object is
    different: what it does not report is 0 (``token_count``), as the real captures confirm."""

    model: str | None = None
    response_id: str | None = None
    input_tokens: int = 0
    cache_read_tokens: int | None = 0
    cache_write_tokens: int | None = 0
    cache_write_1h_tokens: int | None = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = 0
    usage_source: str = "missing"
    complete: bool = True
    service_tier: str | None = None  # normalized (``service_tier``); None: the response does not say
    speed: str | None = None  # "fast" or "standard" (Anthropic ``usage.speed``); None: not said
    notes: list[str] = field(default_factory=list)

    def tokens(self) -> TokenCounts:
        return {
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


# What providers call their service tiers -> tokmeter's vocabulary (schema.py, column service_tier).
_TIERS = {
    "standard": "standard",
    "default": "standard",
    "auto": "standard",
    "standard_only": "standard",
    "on_demand": "standard",
    "priority": "priority",
    "flex": "flex",
    "batch": "batch",
    "scale": "scale",
    "reserved": "reserved",
    "provisioned": "reserved",
    "provisioned_throughput": "reserved",
}
_SPEEDS = ("standard", "fast")


def service_tier(value: Any) -> str | None:
    """A response's service tier in tokmeter's vocabulary: standard, priority, flex, batch, scale,
    reserved, or "other" for a tier tokmeter does not know (never the text itself: a hostile capture
    may put anything there). None when absent, null or empty."""
    if isinstance(value, Mapping):  # Bedrock: {"type": "priority"}
        value = value.get("type")
    if not isinstance(value, str) or not value:
        return None
    return _TIERS.get(value.strip().lower(), "other")


def speed(value: Any) -> str | None:
    """Anthropic's ``usage.speed``: "fast", "standard", "other" (unknown), None when absent."""
    if not isinstance(value, str) or not value:
        return None
    value = value.strip().lower()
    return value if value in _SPEEDS else "other"


# No single request comes near a billion tokens (the largest context windows hold a few million); a count
# above is corrupt, and the capture is bad rather than a row that would swamp every total.
MAX_TOKENS = 10**9
_NOT_A_COUNT = "token counts must be non-negative integers"


def token_count(container: Mapping[str, Any] | None, key: str, where: str = "usage") -> int:
    """A token count from a provider's usage object: absent or null is 0, anything else must be a
    non-negative whole number (an integral float such as ``12.0`` is accepted)."""
    if not container:
        return 0
    value = container.get(key)
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # the usual case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadCaptureError(f"{where}.{key} is {_show(value)}: {_NOT_A_COUNT}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise BadCaptureError(f"{where}.{key} is {_show(value)}: {_NOT_A_COUNT}")
        value = int(value)
    if value < 0:
        raise BadCaptureError(f"{where}.{key} is {value}: {_NOT_A_COUNT}")
    if value > MAX_TOKENS:
        raise BadCaptureError(f"{where}.{key} is {_show(value)}: over {MAX_TOKENS:,}, absurd for one request")
    return value


def require_counts(usage: Mapping[str, Any], keys: tuple[str, ...], where: str = "usage") -> None:
    """A usage object must carry one of its API's token counts: one that carries none (another API's or
    tool's field names, such as pi's ``input`` / ``output``) would read as 0 tokens, a free request."""
    if usage and not any(key in usage for key in keys):
        raise BadCaptureError(f"{where} has none of {', '.join(keys)}: not this API's usage object")


def _show(value: Any) -> str:
    """A bad value, described without echoing text (a hostile capture may put a prompt anywhere)."""
    if isinstance(value, str):
        return f"a string of {len(value)} character(s)"
    if isinstance(value, list | dict):
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    # a dict (what JSON decodes to) and None (an absent field) first: the ABC check is ten times slower
    if type(value) is dict:
        return value
    return None if value is None or not isinstance(value, Mapping) else value


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def loads_or_none(text: str | bytes) -> Any:
    """JSON-decode, or None when the text is not (or not whole) JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
