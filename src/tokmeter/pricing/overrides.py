"""Price overrides: a TOML price file read into one typed, immutable ``PriceOverrides``.

Guarantees:

* A file that loads is fully valid: every rate is a non-negative decimal (read as ``Decimal``, never
  through float), every discount a percentage in [0, 100], every date a calendar date, no key unknown,
  no custom price given twice for one (model, provider, effective_from).
* A file that does not load raises ``ConfigError`` naming the file, the key and a hint.
* The lookups here are the whole meaning of the file; ``pricing`` applies them:
  ``alias`` (which model and provider a stored model is priced as), ``custom_price`` (the custom
  price in force on a UTC date), ``discount`` (the percentage off, model-level beating provider-level).

The format (documented with an example in the README, "Price file")::

    [discounts]
    providers = { anthropic = 12 }          # percent off every price of this provider
    models = { "gpt-4o" = 20 }              # percent off this model; beats the provider's

    [aliases]
    "prod-gpt4o-eu" = "gpt-4o"              # stored model name -> model priced
    "chat-large" = { model = "claude-sonnet-4-5", provider = "anthropic" }

    [[prices]]                               # USD per million tokens
    model = "house-llm-7b"
    provider = "acme"                        # optional
    effective_from = 2026-01-01              # optional, UTC date
    input = 0.20
    output = 0.80                            # cache_read, cache_write, cache_write_1h optional

    [[modifiers]]                            # a service tier or fast mode, priced (see price_modifiers)
    provider = "openai"                      # optional: any provider
    models = ["gpt-4o"]                      # optional: every model of the provider; globs allowed
    service_tier = "priority"                # or speed = "fast"
    input = 4.25                             # explicit rates (like [[prices]]), or
    output = 17.00
    # multiplier = 0.5                       # times every standard rate
    effective_from = 2026-01-01              # optional
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from ..errors import ConfigError

SECTIONS = ("discounts", "aliases", "prices", "modifiers")
RATE_KEYS = ("input", "cache_read", "cache_write", "cache_write_1h", "output")
_PRICE_KEYS = ("model", "provider", "effective_from", *RATE_KEYS)
_MODIFIER_KEYS = (
    "provider",
    "models",
    "service_tier",
    "speed",
    "multiplier",
    "effective_from",
    "source",
    *RATE_KEYS,
)
MODIFIED_TIERS = ("priority", "flex", "batch", "scale", "reserved")  # the tiers a modifier can price
MODIFIED_SPEEDS = ("fast",)
_MAX_RATE_PLACES = 12  # per million tokens: 18 per token, within the 24 that costs keep (exact)
_FORMAT_HINT = "see the README section 'Price file' for the format"


@dataclass(frozen=True, slots=True)
class Alias:
    """What a stored model name is priced as."""

    model: str
    provider: str | None = None  # None: the row's own provider


@dataclass(frozen=True, slots=True)
class CustomPrice:
    """One custom price: USD per million tokens, in force from ``effective_from`` (UTC date, None:
    always) until the next entry for the same model and provider. Missing cache rates follow
    genai-prices' rules: cache reads and writes at the input rate, 1-hour writes at the write rate."""

    model: str
    provider: str | None
    effective_from: date | None
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Modifier:
    """How one service tier (or fast mode) changes the standard price of some models: a ``multiplier`` of
    every rate (context tiers and cache rates included), or explicit ``rates`` (USD per million tokens,
    as ``RATE_KEYS``; missing cache rates follow genai-prices' rules, as for ``CustomPrice``), in force
    from ``effective_from`` (UTC date, None: always). Exactly one of ``service_tier`` and ``speed`` is set.
    ``models`` are model names or globs (``gemini-*``); ``("*",)`` is every model of ``provider``."""

    provider: str | None
    models: tuple[str, ...]
    service_tier: str | None = None
    speed: str | None = None
    multiplier: Decimal | None = None
    rates: tuple[tuple[str, Decimal], ...] = ()
    effective_from: date | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class PriceOverrides:
    """A loaded price file. ``label`` identifies its exact content (path and sha256)."""

    path: Path
    sha256: str
    aliases: Mapping[str, Alias] = field(default_factory=dict)
    prices: tuple[CustomPrice, ...] = ()
    provider_discounts: Mapping[str, Decimal] = field(default_factory=dict)
    model_discounts: Mapping[str, Decimal] = field(default_factory=dict)
    modifiers: tuple[Modifier, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.path} sha256:{self.sha256}"

    def alias(self, provider: str | None, model: str) -> tuple[str | None, str]:
        """The (provider, model) a stored (provider, model) is priced as (itself when not aliased)."""
        target = self.aliases.get(model)
        if target is None:
            return provider, model
        return (target.provider or provider), target.model

    def custom_price(self, provider: str | None, model: str, day: date) -> CustomPrice | None:
        """The custom price in force on ``day``: the latest ``effective_from`` on or before it. Entries
        for this provider are preferred over entries for any provider; None before the first date."""
        for wanted in (provider, None) if provider is not None else (None,):
            candidates = [
                p
                for p in self.prices
                if p.model == model
                and p.provider == wanted
                and (p.effective_from is None or p.effective_from <= day)
            ]
            if candidates:
                return max(candidates, key=lambda p: p.effective_from or date.min)
        return None

    def next_change(self, provider: str | None, model: str, day: date) -> date | None:
        """The first date after ``day`` on which ``custom_price`` gives another answer (None: never)."""
        now = self.custom_price(provider, model, day)
        dates = sorted(
            {
                p.effective_from
                for p in self.prices
                if p.model == model
                and p.provider in (provider, None)
                and p.effective_from
                and p.effective_from > day
            }
        )
        return next((d for d in dates if self.custom_price(provider, model, d) != now), None)

    def has_custom_price(self, provider: str | None, model: str) -> bool:
        return any(p.model == model and p.provider in (provider, None) for p in self.prices)

    def discount(
        self, providers: Iterable[str | None], models: Iterable[str | None]
    ) -> tuple[Decimal, str | None]:
        """(percent off, the key that gave it). The first of ``models`` with a discount wins, then the
        first of ``providers``; (0, None) without one. Callers pass names most specific first."""
        for kind, names, table in (
            ("model", models, self.model_discounts),
            ("provider", providers, self.provider_discounts),
        ):
            for name in names:
                if name is not None and name in table:
                    return table[name], f"{kind} {name}"
        return Decimal(0), None


def load_overrides(path: Path, origin: str = "--prices") -> PriceOverrides:
    """Read and validate a price file (``origin`` says where its path came from, for the hint).
    Raises ``ConfigError`` (file, key, hint) on any problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such price file", hint=f"the path came from {origin}; fix it there"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the price file: {exc.strerror}") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"), parse_float=Decimal)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}",
            hint="strings need quotes, dates are written 2026-01-01; " + _FORMAT_HINT,
        ) from None
    return _parse(path.resolve(), hashlib.sha256(data).hexdigest(), doc)


def _parse(path: Path, sha256: str, doc: dict[str, Any]) -> PriceOverrides:
    bad = _Reporter(path)
    for key in doc:
        if key not in SECTIONS:
            bad(key, "unknown section", hint=f"the sections are {', '.join(f'[{s}]' for s in SECTIONS)}")
    discounts = _table(bad, doc, "discounts")
    for key in discounts:
        if key not in ("providers", "models"):
            bad(f"discounts.{key}", "unknown key", hint="use discounts.providers or discounts.models")
    return PriceOverrides(
        path=path,
        sha256=sha256,
        aliases=_aliases(bad, _table(bad, doc, "aliases")),
        prices=_prices(bad, doc.get("prices", [])),
        provider_discounts=_discounts(bad, discounts, "providers"),
        model_discounts=_discounts(bad, discounts, "models"),
        modifiers=_modifiers(bad, doc.get("modifiers", []), path.name),
    )


class _Reporter:
    """Raises the ConfigError for one key of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, key: str, problem: str, *, hint: str = _FORMAT_HINT) -> NoReturn:
        raise ConfigError(f"{self.path}: {key}: {problem}", hint=hint)


def _table(bad: _Reporter, parent: Mapping[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        bad(prefix + key, f"expected a table, got {_kind(value)}")
    return value


def _discounts(bad: _Reporter, discounts: Mapping[str, Any], kind: str) -> dict[str, Decimal]:
    out = {}
    for name, value in _table(bad, discounts, kind, "discounts.").items():
        key = f"discounts.{kind}.{name}"
        percent = _decimal(bad, key, value)
        if not Decimal(0) <= percent <= Decimal(100):
            bad(
                key,
                f"discount {percent} is not a percentage from 0 to 100",
                hint="write 15 for 15% off; 0 exempts a model from its provider's discount",
            )
        out[name] = percent
    return out


def _aliases(bad: _Reporter, table: Mapping[str, Any]) -> dict[str, Alias]:
    out = {}
    for name, value in table.items():
        key = f"aliases.{name}"
        if isinstance(value, str) and value:
            out[name] = Alias(value)
        elif (
            isinstance(value, dict)
            and set(value) <= {"model", "provider"}
            and isinstance(value.get("model"), str)
        ):
            provider = value.get("provider")
            if provider is not None and not isinstance(provider, str):
                bad(key + ".provider", f"expected a string, got {_kind(provider)}")
            out[name] = Alias(value["model"], provider)
        else:
            bad(
                key,
                'expected a model name or { model = "...", provider = "..." }',
                hint=f'e.g. "{name}" = "gpt-4o"',
            )
    return out


def _prices(bad: _Reporter, entries: Any) -> tuple[CustomPrice, ...]:
    if not isinstance(entries, list):
        bad(
            "prices",
            f"expected [[prices]] entries, got {_kind(entries)}",
            hint="write each custom price as its own [[prices]] table",
        )
    out: list[CustomPrice] = []
    seen: dict[tuple[str, str | None, date | None], int] = {}
    for index, entry in enumerate(entries):
        model = entry.get("model") if isinstance(entry, dict) else None
        key = f"prices[{index}]" + (f" (model {model!r})" if isinstance(model, str) else "")
        price = _price(bad, key, entry)
        where = (price.model, price.provider, price.effective_from)
        if where in seen:
            bad(
                key,
                f"a second price for {price.model!r} from {price.effective_from or 'the start'}",
                hint=f"prices[{seen[where]}] already sets it; give each entry its own effective_from",
            )
        seen[where] = index
        out.append(price)
    return tuple(out)


def _price(bad: _Reporter, key: str, entry: Any) -> CustomPrice:
    if not isinstance(entry, dict):
        bad(key, f"expected a table, got {_kind(entry)}")
    for name in entry:
        if name not in _PRICE_KEYS:
            bad(f"{key}.{name}", "unknown key", hint=f"a [[prices]] entry takes {', '.join(_PRICE_KEYS)}")
    for name in ("model", "input", "output"):
        if name not in entry:
            bad(f"{key}.{name}", "missing", hint="every [[prices]] entry needs model, input and output")
    for name in ("model", "provider"):
        if name in entry and not (isinstance(entry[name], str) and entry[name]):
            bad(f"{key}.{name}", f"expected a non-empty string, got {_kind(entry[name])}")
    if "cache_write_1h" in entry and "cache_write" not in entry:
        bad(
            f"{key}.cache_write_1h",
            "set without cache_write",
            hint="cache_write is the 5-minute write rate; give it too (1-hour writes default to it)",
        )
    rates = {name: _rate(bad, f"{key}.{name}", entry[name]) for name in RATE_KEYS if name in entry}
    effective_from = _date(bad, f"{key}.effective_from", entry.get("effective_from"))
    return CustomPrice(
        model=entry["model"], provider=entry.get("provider"), effective_from=effective_from, **rates
    )


def _modifiers(bad: _Reporter, entries: Any, file: str) -> tuple[Modifier, ...]:
    if not isinstance(entries, list):
        bad(
            "modifiers",
            f"expected [[modifiers]] entries, got {_kind(entries)}",
            hint="write each modifier as its own [[modifiers]] table",
        )
    out: list[Modifier] = []
    seen: dict[tuple, int] = {}
    for index, entry in enumerate(entries):
        key = f"modifiers[{index}]"
        modifier = _modifier(bad, key, entry, f"price file {file}")
        where = (
            modifier.provider,
            modifier.models,
            modifier.service_tier,
            modifier.speed,
            modifier.effective_from,
        )
        if where in seen:
            bad(
                key,
                "a second modifier for the same provider, models, tier and date",
                hint=f"modifiers[{seen[where]}] already sets it; give each entry its own effective_from",
            )
        seen[where] = index
        out.append(modifier)
    return tuple(out)


def _modifier(bad: _Reporter, key: str, entry: Any, origin: str) -> Modifier:
    if not isinstance(entry, dict):
        bad(key, f"expected a table, got {_kind(entry)}")
    for name in entry:
        if name not in _MODIFIER_KEYS:
            bad(
                f"{key}.{name}",
                "unknown key",
                hint=f"a [[modifiers]] entry takes {', '.join(_MODIFIER_KEYS)}",
            )
    tier, speed = entry.get("service_tier"), entry.get("speed")
    if (tier is None) == (speed is None):
        bad(
            key,
            "needs service_tier or speed (one of them)",
            hint='e.g. service_tier = "flex" or speed = "fast"',
        )
    if tier is not None and tier not in MODIFIED_TIERS:
        bad(
            f"{key}.service_tier",
            f"expected one of {', '.join(MODIFIED_TIERS)}, got {tier!r}",
            hint="standard is the price itself; change it with [[prices]] or [discounts]",
        )
    if speed is not None and speed not in MODIFIED_SPEEDS:
        bad(f"{key}.speed", f"expected {', '.join(MODIFIED_SPEEDS)}, got {speed!r}")
    rates = {name: _rate(bad, f"{key}.{name}", entry[name]) for name in RATE_KEYS if name in entry}
    if ("multiplier" in entry) == bool(rates):
        bad(
            key,
            "needs a multiplier or rates (one of them)",
            hint="multiplier = 0.5 halves every rate; or give input and output (USD per million tokens)",
        )
    if rates and not {"input", "output"} <= set(rates):
        bad(
            f"{key}.{'input' if 'input' not in rates else 'output'}",
            "missing",
            hint="explicit rates need input and output",
        )
    multiplier = _decimal(bad, f"{key}.multiplier", entry["multiplier"]) if "multiplier" in entry else None
    if multiplier is not None and not Decimal(0) <= multiplier <= Decimal(1000):
        bad(
            f"{key}.multiplier",
            f"{multiplier} is not a factor from 0 to 1000",
            hint="0.5 halves, 6 is six times",
        )
    return Modifier(
        provider=_text(bad, f"{key}.provider", entry.get("provider")),
        models=_models(bad, key, entry),
        service_tier=tier,
        speed=speed,
        multiplier=multiplier,
        rates=tuple(rates.items()),
        effective_from=_date(bad, f"{key}.effective_from", entry.get("effective_from")),
        source=_text(bad, f"{key}.source", entry.get("source")) or origin,
    )


def _models(bad: _Reporter, key: str, entry: dict[str, Any]) -> tuple[str, ...]:
    models = entry.get("models", ["*"])
    if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
        bad(f"{key}.models", "expected a list of model names", hint='e.g. models = ["gpt-4o", "gemini-*"]')
    return tuple(models)


def _text(bad: _Reporter, key: str, value: Any) -> str | None:
    if value is not None and not (isinstance(value, str) and value):
        bad(key, f"expected a non-empty string, got {_kind(value)}")
    return value


def _rate(bad: _Reporter, key: str, value: Any) -> Decimal:
    rate = _decimal(bad, key, value)
    if rate < 0:
        bad(key, f"negative price {rate}", hint="prices are USD per million tokens, 0 or more")
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_RATE_PLACES:
        bad(
            key,
            f"{rate} has more than {_MAX_RATE_PLACES} decimal places",
            hint=f"prices are USD per million tokens, with at most {_MAX_RATE_PLACES} decimal places",
        )
    return rate


def _decimal(bad: _Reporter, key: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        bad(key, f"expected a number, got {_kind(value)}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        bad(key, f"expected a number, got {value!r}")
    return number


def _date(bad: _Reporter, key: str, value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, (date, str)):
        bad(
            key,
            f"expected a date like 2026-01-01, got {value}",
            hint="effective_from is a UTC calendar date; the price applies from 00:00 UTC that day",
        )
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        bad(key, f"expected a date like 2026-01-01, got {value!r}")


def _kind(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)
