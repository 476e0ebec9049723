"""Which model a name means, on both sides of a reconciliation: the bill says ``gpt-4o-2024-08-06`` or
``Claude3.5Sonnet`` (an AWS usage type) where the store says ``gpt-4o-2024-08-06`` or
``anthropic.claude-3-5-sonnet-20240620-v1:0``. A name is first resolved the way pricing resolves it
(``pricing.resolve.model_id``: genai-prices' id, after the price file's aliases), then reduced to a key: no
vendor or region prefix, no version or snapshot date, and its words and numbers in sorted order, so
``claude-3-5-sonnet`` and ``Claude3.5Sonnet`` (or ``claude-sonnet-4`` and ``Claude4Sonnet``) meet."""

from __future__ import annotations

import re
from functools import lru_cache

from ..pricing.overrides import PriceOverrides
from ..pricing.resolve import model_id

NO_MODEL = "(no model)"  # the key of a bill's cost that names no model (a tool's calls, ungrouped costs)
_PREFIX = re.compile(r"^(?:[a-z]+\.)+")  # regional.anthropic., us.anthropic., openai.
_SUFFIXES = (
    re.compile(r":(?:flex|priority|batch)$"),
    re.compile(r"-v\d+(?::\d+)*$"),
    re.compile(r":\d+$"),
    re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$"),  # a dated snapshot
    re.compile(r"-(?:latest|0)$"),
)


def model_name(
    provider: str | None, model: str | None, overrides: PriceOverrides | None = None
) -> str | None:
    """The name a group is shown by: genai-prices' id of the model (``gpt-4o`` for
    ``gpt-4o-2024-08-06``) or the name as given, whichever is shorter."""
    if not model:
        return None
    found = model_id(provider, model, overrides)
    return found if found and len(found) <= len(model) else model


@lru_cache(maxsize=4096)
def loose_key(name: str) -> str:
    text = _PREFIX.sub("", name.strip().lower())
    for _ in range(3):  # -20240620-v1:0 takes two passes
        for pattern in _SUFFIXES:
            text = pattern.sub("", text)
    return "-".join(sorted(re.findall(r"[a-z]+|\d+", text)))


def match_key(provider: str | None, model: str | None, overrides: PriceOverrides | None = None) -> str:
    """The key both sides are matched by (``(no model)`` for a cost the bill gives no model)."""
    name = model_name(provider, model, overrides)
    return loose_key(name) if name else NO_MODEL
