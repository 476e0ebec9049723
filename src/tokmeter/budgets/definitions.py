"""Budget definitions: ``[[budget]]`` tables of TOML, from ``--budgets FILE`` or the config file, checked
when they are loaded (a bad one stops the command with its file, its index and the key at fault).

``where`` keys are the report dimensions of ``rollup.DIMENSIONS`` (not the time ones) and ``tag:NAME``
keys; a value is a string or a list of strings (any of them matches). An empty ``where`` is everything.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import read_config_file
from ..errors import ConfigError, UsageError
from ..extract.attribution import as_fingerprint
from ..rollup import DIMENSIONS, TIME_DIMENSIONS
from . import BUDGET_PERIODS

KEYS = ("name", "where", "period", "limit_usd", "warn_at")
TAG_PREFIX = "tag:"
EXAMPLE = '[[budget]]\nname = "search team"\nwhere = { user = "alice" }\nperiod = "month"\nlimit_usd = 500'


def where_keys() -> tuple[str, ...]:
    """The dimensions a budget's ``where`` may name (besides ``tag:NAME``)."""
    return tuple(d for d in DIMENSIONS if d not in TIME_DIMENSIONS)


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    limit_usd: float
    period: str = "month"
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    warn_at: tuple[float, ...] = (0.8,)

    def where_doc(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.where.items()}


def load_budgets(path: Path | None) -> tuple[list[Budget], str]:
    """The budgets of ``path`` (``--budgets FILE``), else of the config file; and where they came from."""
    if path is not None:
        try:
            doc = tomllib.loads(path.expanduser().read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--budgets {path}: no such file", hint="check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: cannot read the budget file: {exc.strerror if isinstance(exc, OSError) else exc}",
                hint="--budgets names a TOML file of [[budget]] tables",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", hint=f"e.g.\n{EXAMPLE}") from None
        unknown = [key for key in doc if key != "budget"]
        if unknown:
            raise ConfigError(
                f"{path}: {unknown[0]}: unknown key", hint="a budget file holds [[budget]] tables"
            )
        source = str(path)
    else:
        found = read_config_file()
        doc, source = (found[1], f"config file {found[0]}") if found else ({}, "")
    budgets = parse_budgets(doc.get("budget", []), source or "the config file")
    if not budgets:
        raise UsageError(
            "no budgets are defined",
            hint=f"add [[budget]] tables to the config file or name a file with --budgets, e.g.\n{EXAMPLE}",
        )
    return budgets, source


def parse_budgets(entries: Any, source: str) -> list[Budget]:
    """``[[budget]]`` tables -> budgets; ConfigError naming ``source``, the entry and the key at fault."""
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: budget: expected [[budget]] tables", hint=f"e.g.\n{EXAMPLE}")
    budgets = [_budget(entry, f"{source}: budget[{index}]") for index, entry in enumerate(entries)]
    names = [b.name for b in budgets]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise ConfigError(f"{source}: two budgets are named {twice!r}", hint="give each budget its own name")
    return budgets


def _budget(entry: Any, at: str) -> Budget:
    if not isinstance(entry, dict):
        raise ConfigError(f"{at}: expected a table", hint=f"e.g.\n{EXAMPLE}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{at}.name: expected a name (a string)", hint='e.g. name = "search team"')
    at = f"{at} ({name})"
    for key in entry:
        if key not in KEYS:
            raise ConfigError(f"{at}.{key}: unknown key", hint=f"a budget takes {', '.join(KEYS)}")
    limit = entry.get("limit_usd")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit < math.inf:  # nan, inf
        raise ConfigError(
            f"{at}.limit_usd: expected a positive number of dollars", hint="e.g. limit_usd = 500"
        )
    period = entry.get("period", "month")
    if period not in BUDGET_PERIODS:
        raise ConfigError(f"{at}.period: {period!r}", hint=f"use one of: {', '.join(BUDGET_PERIODS)}")
    return Budget(name, float(limit), period, _where(entry.get("where", {}), at), _warn_at(entry, at))


def _where(where: Any, at: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(where, dict):
        raise ConfigError(f"{at}.where: expected a table", hint='e.g. where = { user = "alice" }')
    checked: dict[str, tuple[str, ...]] = {}
    for key, value in where.items():
        tag = key.startswith(TAG_PREFIX) and len(key) > len(TAG_PREFIX)
        if key not in where_keys() and not tag:
            raise ConfigError(
                f"{at}.where.{key}: not a dimension",
                hint=f"use any of: {', '.join(where_keys())}, or tag:NAME",
            )
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ConfigError(
                f"{at}.where.{key}: expected a string or a list of strings",
                hint=f'e.g. {key} = "x" or {key} = ["x", "y"]',
            )
        # an API key named instead of its fingerprint is fingerprinted: it matches, and is never shown
        checked[key] = tuple(as_fingerprint(v) if key == "api_key" else v for v in values)
    return checked


def _warn_at(entry: dict, at: str) -> tuple[float, ...]:
    warn = entry.get("warn_at", [0.8])
    if not isinstance(warn, list) or not all(
        isinstance(w, int | float) and not isinstance(w, bool) and 0 < w < 1 for w in warn
    ):
        raise ConfigError(
            f"{at}.warn_at: expected a list of fractions of the limit, each between 0 and 1",
            hint="e.g. warn_at = [0.5, 0.8]",
        )
    return tuple(sorted({float(w) for w in warn}))
