"""The registry of bill exports ``reconcile`` reads: one ``BillFormat`` per provider export, each
registered by its own module (``openai.py``, ``anthropic.py``, ``aws_cur.py``, ``gcp_billing.py``) and
told apart by content.

A JSON export is read page by page (a page: the decoded body of one API response; for Google Cloud's
billing export, one row); a table export (CSV or
Parquet) as one frame whose column names were normalized (``columns.snake``). A reader returns the
``BillLine``s it understood and a ``Skipped`` for each record it could not, never raising for bad data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypedDict

KINDS = ("input", "cache_read", "cache_write", "output")  # what a cost line can be for (None: other)


class BillLine(TypedDict, total=False):
    """One line of a bill as tokmeter reads it: tokens in tokmeter's convention (``input_tokens`` is the
    whole prompt, cache reads and writes included), a cost in USD, and what it was for (``cost_kind``).
    A key absent or None is unknown (not zero)."""

    day: date
    provider: str
    model: str | None
    service_tier: str | None
    api_key: str | None
    project: str | None
    requests: int | None
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    cost_kind: str | None  # one of KINDS, or None (a cost for anything else, or not split)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record of a bill export that was set aside: where, why, and how to fix it."""

    source: str
    where: str  # "page 2, bucket 3, result 1" or "row 17"
    reason: str
    hint: str


Read = tuple[list[BillLine], list[Skipped]]


@dataclass(frozen=True, slots=True)
class BillFormat:
    """A provider export: its name, the provider its lines are for, how to recognise it and read it."""

    name: str
    provider: str
    shape: Literal["json", "table"]
    detect: Callable[[Any], bool]  # a page (json) or the set of column names (table)
    read: Callable[[Any, str], Read]  # (page or frame, source) -> lines and skipped records
    source: str  # where its shape was learnt (the API reference)


FORMATS: dict[str, BillFormat] = {}


def register(fmt: BillFormat) -> None:
    FORMATS[fmt.name] = fmt


def detect(shape: Literal["json", "table"], probe: Any) -> BillFormat | None:
    return next((f for f in FORMATS.values() if f.shape == shape and f.detect(probe)), None)
