"""Price modifiers: what a service tier or fast mode does to a model's standard price.

A response says how it was served (``schema``: ``service_tier``, ``speed``) and that changes the bill:
Anthropic fast mode is a multiple of the standard rates, flex and batch are half price, OpenAI priority has
its own rates. genai-prices carries standard prices only (its issues #115, #390, #429), so tokmeter keeps
this small table, each entry with its source, and the price file can add or replace entries
(``[[modifiers]]``, ``price_overrides.Modifier``). README "Price modifiers" shows the table.

Rules:

* ``standard`` and a null tier, and a null or ``standard`` speed, are the standard price.
* A tier (and fast mode) is looked up for the model: price-file entries first, then this table; an entry
  for the model (or a glob matching it) beats the provider-wide ``*``; the entry in force is the one
  with the latest ``effective_from`` on or before the row's UTC day.
* A multiplier scales every coefficient (context tiers and cache rates included); explicit rates replace
  the price (without context tiers). A tier with explicit rates and fast mode: the rates, times fast's
  multiplier.
* A tier or speed with no entry for the model (``other`` included) is priced at standard rates and
  flagged: ``priced_as`` ends with ``UNKNOWN`` and reports count it in ``modifier_unknown_requests``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from .checks import WIDE, rounded
from .overrides import Modifier, PriceOverrides

VERSION = "2026-12-07"  # of the table below: part of the price data (``pricing.price_data``)
UNKNOWN = "(rate unknown: standard rates)"
_STANDARD = (None, "standard")
_READ = f"read {VERSION}"
_D = Decimal

_ANTHROPIC_BATCH = "https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing"
_ANTHROPIC_FAST = "https://platform.claude.com/docs/en/build-with-claude/fast-mode"
_OPENAI_BATCH = "https://platform.openai.com/docs/guides/batch"
_OPENAI_FLEX = "https://developers.openai.com/api/docs/guides/flex-processing"
_OPENAI_PRIORITY = "https://openai.com/api-priority-processing/"
_GEMINI = "https://ai.google.dev/gemini-api/docs/optimization"
_BEDROCK_BATCH = "https://aws.amazon.com/bedrock/pricing/"
_GROQ_FLEX = "https://console.groq.com/docs/flex-processing"


def _rates(input_: str, cache_read: str, output: str) -> tuple[tuple[str, Decimal], ...]:
    return (("input", _D(input_)), ("cache_read", _D(cache_read)), ("output", _D(output)))


# provider ids as genai-prices names them (a row is matched by its stored provider too)
BUILTIN: tuple[Modifier, ...] = (
    Modifier(
        "anthropic",
        ("*",),
        service_tier="batch",
        multiplier=_D("0.5"),
        effective_from=date(2024, 10, 8),
        source=f"{_ANTHROPIC_BATCH} (Message Batches: 50% off), {_READ}",
    ),
    Modifier(
        "anthropic",
        ("claude-opus-4-6", "claude-opus-4-7"),
        speed="fast",
        multiplier=_D(6),
        source=f"{_ANTHROPIC_FAST} (6x standard rates, all context tiers), {_READ}",
    ),
    Modifier(
        "anthropic",
        ("claude-opus-4-8", "claude-opus-5"),
        speed="fast",
        multiplier=_D(2),
        source=f"{_ANTHROPIC_FAST} ($10/$50 per MTok: 2x standard), {_READ}",
    ),
    Modifier(
        "openai",
        ("*",),
        service_tier="batch",
        multiplier=_D("0.5"),
        source=f"{_OPENAI_BATCH} (50% off), {_READ}",
    ),
    Modifier(
        "openai",
        ("o3", "o4-mini"),
        service_tier="flex",
        multiplier=_D("0.5"),
        effective_from=date(2025, 4, 17),
        source=f"{_OPENAI_FLEX} (Batch API rates), {_READ}",
    ),
    Modifier(
        "openai",
        (
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-nano",
            "gpt-5.1",
            "gpt-5.2",
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.4-nano",
            "gpt-5.5",
        ),
        service_tier="flex",
        multiplier=_D("0.5"),
        source=f"{_OPENAI_FLEX} (Batch API rates), {_READ}",
    ),
    *(
        Modifier(
            "openai",
            (model,),
            service_tier="priority",
            rates=_rates(*rates),
            source=f"{_OPENAI_PRIORITY} (excludes long context), {_READ}",
        )
        for model, rates in (
            ("gpt-5.5", ("12.50", "1.25", "75.00")),
            ("gpt-5.4", ("5.00", "0.50", "30.00")),
            ("gpt-5.4-mini", ("1.50", "0.15", "9.00")),
            ("gpt-5.2", ("3.50", "0.35", "28.00")),
            ("gpt-5.1", ("2.50", "0.25", "20.00")),
            ("gpt-5", ("2.50", "0.25", "20.00")),
            ("gpt-5-mini", ("0.45", "0.045", "3.60")),
            ("gpt-4.1", ("3.50", "0.875", "14.00")),
        )
    ),
    Modifier(
        "google",
        ("gemini-*",),
        service_tier="batch",
        multiplier=_D("0.5"),
        source=f"{_GEMINI} (Batch API: 50% off), {_READ}",
    ),
    Modifier(
        "google",
        ("gemini-*",),
        service_tier="flex",
        multiplier=_D("0.5"),
        source=f"{_GEMINI} (Flex: 50% off), {_READ}",
    ),
    Modifier(
        "aws",
        ("*",),
        service_tier="batch",
        multiplier=_D("0.5"),
        source=f"{_BEDROCK_BATCH} (batch inference: 50% of on-demand), {_READ}",
    ),
    Modifier(
        "groq",
        ("*",),
        service_tier="flex",
        multiplier=_D(1),
        source=f"{_GROQ_FLEX} (flex: on-demand pricing), {_READ}",
    ),
)


@dataclass(frozen=True, slots=True)
class Applied:
    """The modifiers that apply to one (tier, speed) of one model on one day."""

    label: str  # "flex x0.5", "fast x6", "priority rates", "priority (rate unknown: standard rates)"
    known: bool  # False: some tier or speed has no entry and was priced at standard rates
    multiplier: Decimal  # of every coefficient (1 when none)
    rates: Modifier | None  # the entry whose explicit rates replace the price
    used: tuple[Modifier, ...]  # the entries that applied (for ``prices show``)


def applied(
    providers: Iterable[str | None],
    models: Iterable[str | None],
    service_tier: str | None,
    speed: str | None,
    day: date,
    overrides: PriceOverrides | None = None,
) -> Applied | None:
    """What the row's tier and speed do to the price of a model (None: the standard price). ``providers``
    and ``models`` are the names to match, most specific first (as stored, aliased, priced)."""
    wanted = [("service_tier", service_tier)] if service_tier not in _STANDARD else []
    wanted += [("speed", speed)] if speed not in _STANDARD else []
    if not wanted:
        return None
    names = [n for n in dict.fromkeys(models) if n]
    owners = {p for p in providers if p}
    labels, used, known, multiplier, rates = [], [], True, Decimal(1), None
    for kind, value in wanted:
        found = _entry(kind, value, owners, names, day, overrides)
        if found is None:
            labels.append(f"{value if kind == 'service_tier' else value + ' speed'} {UNKNOWN}")
            known = False
            continue
        used.append(found)
        if found.rates and rates is None:
            rates = found
            labels.append(f"{value} rates")
        else:
            multiplier *= found.multiplier if found.multiplier is not None else Decimal(1)
            labels.append(f"{value} x{(found.multiplier or Decimal(1)).normalize():f}")
    return Applied(", ".join(labels), known, multiplier, rates, tuple(used))


def _entry(
    kind: str,
    value: str | None,
    providers: set[str],
    models: list[str],
    day: date,
    overrides: PriceOverrides | None,
) -> Modifier | None:
    for table in ((overrides.modifiers if overrides else ()), BUILTIN):
        candidates = [
            m
            for m in table
            if getattr(m, kind) == value
            and (m.provider is None or m.provider in providers)
            and (m.effective_from is None or m.effective_from <= day)
        ]
        for specific in (True, False):
            matching = [m for m in candidates if _matches(m, models, specific)]
            if matching:
                return max(matching, key=lambda m: m.effective_from or date.min)
    return None


def _matches(modifier: Modifier, models: list[str], specific: bool) -> bool:
    """Whether the entry names one of ``models`` (``specific``: by name or glob) or all of them (``*``)."""
    if not specific:
        return "*" in modifier.models
    return any(
        pattern != "*" and fnmatch.fnmatchcase(name, pattern)
        for pattern in modifier.models
        for name in models
    )


def changes_between(
    providers: Iterable[str | None],
    models: Iterable[str | None],
    first: date,
    last: date,
    overrides: PriceOverrides | None = None,
) -> bool:
    """Whether a modifier that can apply to the model starts after ``first`` and on or before ``last`` (its
    rows over those days then need pricing by day). Names as for ``applied``."""
    owners, names = {p for p in providers if p}, [n for n in models if n]
    table = (*(overrides.modifiers if overrides else ()), *BUILTIN)
    return any(
        m.effective_from is not None
        and first < m.effective_from <= last
        and (m.provider is None or m.provider in owners)
        and (_matches(m, names, specific=True) or _matches(m, names, specific=False))
        for m in table
    )


def scaled(coefficients: dict[str, Decimal], factor: Decimal) -> dict[str, Decimal]:
    """Coefficients times ``factor``, rounded half-even to pricing's places (``price_checks.rounded``)."""
    if factor == 1:
        return coefficients
    with localcontext(prec=WIDE):
        return {name: rounded(value * factor) for name, value in coefficients.items()}


def markdown_table() -> str:
    """The built-in table as Markdown (README's copy is checked against this by the tests)."""
    lines = ["| provider | models | tier or speed | price | from | source |", "|---|---|---|---|---|---|"]
    for m in BUILTIN:
        price = (
            (", ".join(f"{name} ${rate:f}" for name, rate in m.rates) + " per MTok")
            if m.rates
            else f"x{(m.multiplier or Decimal(1)).normalize():f}"
        )
        what = f"service_tier {m.service_tier}" if m.service_tier else f"speed {m.speed}"
        models = ", ".join(f"`{name}`" for name in m.models)
        lines.append(
            f"| {m.provider} | {models} | {what} | {price} | {m.effective_from or '-'} | {m.source} |"
        )
    return "\n".join(lines)
