"""A memo of resolved prices: a report over days priced before does not load genai-prices again.

Loading genai-prices (its package imports an HTTP client and its pydantic models) and walking its data
takes about 0.25 s, a third of a report over a small store. What pricing needs from it is small and
depends only on the price data: the tier thresholds of all models, which models are priced by time of
day, whether a model's price changes within a span of days, the price-table rows (exact
coefficients) of each (provider, model, UTC day) key, and why an unpriced (provider, model) is unpriced
(``remembered``, for ``unpriced.with_reasons``). The memo keeps exactly those, in one JSON file
per *price data key* under ``$TOKMETER_CACHE/prices`` (default: the platform's user cache directory).
The key is a digest of:

* genai-prices' version and the price file's path and sha256 (``pricing.price_data_version``): other
  price data, other memo; and the name, size and mtime of each of genai-prices' files, whose price data
  can change under one version (an editable install, a patched copy);
* tokmeter's version and the source of the modules that derive prices (``CODE``): a change in how prices
  are derived retires every memo written before it (when a source cannot be read, there is no memo);
* ``FORMAT``, this file's layout.

What a key resolves to never changes under one memo key, and each entry is what ``pricing`` computes
without the memo: ``tests/test_price_memo.py`` checks reports with and without it are identical. Models
priced by time of day are not kept (one key per minute would make the memo grow by 1,440 rows a day and
model): they are resolved each time. The memo stays bounded: past ``MAX_ROWS`` price rows it keeps the
latest days, past ``MAX_SPANS`` span answers the latest ones. A memo that cannot be read or written is
ignored (prices are then resolved without it), and ``TOKMETER_PRICE_MEMO=0`` switches it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from ..config import cache_root, settings
from ..store.atomic import replace_file
from .facts import same_price, tier_cuts
from .overrides import PriceOverrides
from .resolve import genai_prices_files, is_priced_by_minute, price_data_version
from .table import build_price_table, price_frame

FORMAT = 4  # 3: coefficients at 24 decimal places; 4: service tier and speed in the key
CODE = (
    "resolve.py",
    "costs.py",
    "overrides.py",
    "modifiers.py",
    "groups.py",
    "facts.py",
    "memo.py",
    "checks.py",
    "unpriced.py",
)
MAX_ROWS = 50_000  # price rows: about 12 models x 2 tiers for 5 years of days
MAX_SPANS = 5_000
_KEY_COLUMNS = [
    "provider",
    "model",
    "service_tier",
    "speed",
    "_price_day",
    "_price_minute",
]  # pricing.PRICE_KEY
_NO_PRICE = "-"  # _priced_as of a key that has no price (a marker row, dropped from tables)


class PriceMemo:
    """Facts about the price data, kept between runs. Every method answers from the memo when it can and
    otherwise computes the answer the way ``pricing`` does (loading genai-prices) and keeps it."""

    def __init__(self, path: Path | None, facts: dict[str, Any], table: pl.DataFrame) -> None:
        self.path = path
        self._facts = facts
        self._table = table
        self._changed = False

    @classmethod
    def load(cls, overrides: PriceOverrides | None) -> PriceMemo:
        path = memo_path(overrides) if settings().price_memo else None
        empty = price_frame([])
        if path is not None and path.exists():
            try:
                doc = orjson.loads(path.read_bytes())
                facts = {
                    "cuts": doc["cuts"],
                    "by_minute": doc["by_minute"],
                    "same_price": doc["same_price"],
                    "reasons": doc["reasons"],
                    "priced": doc.get("priced", {}),
                }
                return cls(path, facts, _table_from_json(doc["table"], empty.schema))
            except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
                pass  # damaged: start again
        facts = {"cuts": None, "by_minute": {}, "same_price": {}, "reasons": {}, "priced": {}}
        return cls(path, facts, empty)

    def tier_cuts(self) -> tuple[int, ...]:
        if self._facts["cuts"] is None:
            self._facts["cuts"] = list(tier_cuts())
            self._changed = True
        return tuple(self._facts["cuts"])

    def by_minute(self, provider: str | None, model: str, overrides: PriceOverrides | None) -> bool:
        key = _text_key(provider, model)
        if key not in self._facts["by_minute"]:
            self._facts["by_minute"][key] = is_priced_by_minute(provider, model, overrides)
            self._changed = True
        return self._facts["by_minute"][key]

    def same_price(
        self, provider: str | None, model: str, first: date, last: date, overrides: PriceOverrides | None
    ) -> bool:
        key = _text_key(provider, model, first.isoformat(), last.isoformat())
        if key not in self._facts["same_price"]:
            self._facts["same_price"][key] = same_price(provider, model, first, last, overrides)
            self._changed = True
        return self._facts["same_price"][key]

    def reason(self, provider: str | None, model: str | None, compute: Callable[[], str]) -> str:
        """Why (provider, model) is unpriced: ``compute()`` (``unpriced.reason``) unless the memo knows."""
        key = _text_key(provider, model)
        if key not in self._facts["reasons"]:
            self._facts["reasons"][key] = compute()
            self._changed = True
        return self._facts["reasons"][key]

    def priced(self, provider: str | None, model: str | None, compute: Callable[[], bool]) -> bool:
        """Whether (provider, model) has a price that applies: ``compute()`` unless the memo knows (an
        ingest's list of unpriced models, answered without loading genai-prices for models seen before)."""
        key = _text_key(provider, model)
        if key not in self._facts["priced"]:
            self._facts["priced"][key] = compute()
            self._changed = True
        return self._facts["priced"][key]

    def price_table(self, keys: pl.DataFrame, overrides: PriceOverrides | None) -> pl.DataFrame:
        """``pricing.build_price_table(keys, overrides)``, from the memo for the keys it holds. ``keys``
        carry a minute only for models priced by time of day (as ``priced_groups`` makes them); those
        keys are always built, never kept."""
        keys = (
            keys.select(_KEY_COLUMNS).filter(pl.col("model").is_not_null() & (pl.col("model") != "")).unique()
        )
        by_minute = keys.filter(pl.col("_price_minute").is_not_null())
        wanted = keys.filter(pl.col("_price_minute").is_null())
        extra = [build_price_table(by_minute, overrides)] if by_minute.height else []
        known = self._table.select(_KEY_COLUMNS).unique()
        missing = wanted.join(known, on=_KEY_COLUMNS, how="anti", nulls_equal=True)
        if missing.height:
            built = build_price_table(missing, overrides)
            unpriced = missing.join(built.select(_KEY_COLUMNS), on=_KEY_COLUMNS, how="anti", nulls_equal=True)
            markers = unpriced.with_columns(_priced_as=pl.lit(_NO_PRICE))
            self._table = (
                pl.concat([self._table, built, markers], how="diagonal_relaxed")
                .select(self._table.columns)
                .cast(self._table.schema)
            )
            self._changed = True
        found = self._table.join(wanted, on=_KEY_COLUMNS, how="semi", nulls_equal=True)
        return pl.concat([found.filter(pl.col("_priced_as") != _NO_PRICE), *extra])

    def save(self) -> None:
        """Write the memo if it learned something (atomically; failures are ignored)."""
        if not self._changed or self.path is None:
            return
        self._bound()
        doc = {"format": FORMAT, **self._facts, "table": _table_to_json(self._table)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self.path, lambda temp: temp.write_bytes(orjson.dumps(doc)))
        except OSError:
            return
        self._changed = False

    def _bound(self) -> None:
        if self._table.height > MAX_ROWS:  # keep the latest days that fit
            counts = (
                self._table.group_by("_price_day").len().sort("_price_day", descending=True, nulls_last=True)
            )
            keep = counts.filter(pl.col("len").cum_sum() <= MAX_ROWS)["_price_day"]
            self._table = self._table.filter(pl.col("_price_day").is_in(keep.implode()))
        spans = self._facts["same_price"]
        if len(spans) > MAX_SPANS:  # answers are kept in the order they were learned: drop the oldest
            self._facts["same_price"] = dict(list(spans.items())[-MAX_SPANS:])
        for fact in ("reasons", "priced"):
            answers = self._facts[fact]
            if len(answers) > MAX_SPANS:
                self._facts[fact] = dict(list(answers.items())[-MAX_SPANS:])


def memo_path(overrides: PriceOverrides | None) -> Path | None:
    """Where the memo for the price data in use lives (None: no memo, the code cannot be identified)."""
    from .. import __version__  # looked up at each call: the version is part of the key, as it is now

    digest = hashlib.sha256(f"{FORMAT}\n{__version__}\n{price_data_version(overrides)}\n".encode())
    digest.update(genai_prices_files().encode())
    here = Path(__file__).parent
    for module in CODE:
        try:
            digest.update((here / module).read_bytes())
        except OSError:
            return None
    return cache_root() / "prices" / f"{digest.hexdigest()[:32]}.json"


def _text_key(*parts: str | None) -> str:
    return orjson.dumps(parts).decode()


def _table_to_json(table: pl.DataFrame) -> dict[str, list[Any]]:
    """Columns as lists; dates as ISO text and decimals as plain decimal text (exact)."""
    text = table.with_columns(pl.col(pl.Decimal).cast(pl.String), pl.col(pl.Date).cast(pl.String))
    return {name: text[name].to_list() for name in text.columns}


def _table_from_json(columns: dict[str, list[Any]], schema: pl.Schema) -> pl.DataFrame:
    def as_text(dtype: pl.DataType) -> bool:
        return dtype == pl.Date or isinstance(dtype, pl.Decimal)

    frame = pl.DataFrame(
        {name: columns[name] for name in schema},
        schema={name: pl.String if as_text(dtype) else dtype for name, dtype in schema.items()},
    )
    return frame.with_columns(
        pl.col(name).str.to_date("%Y-%m-%d") if dtype == pl.Date else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
        if as_text(dtype)
    )
