"""Settings that several commands share, resolved in one place: flag > environment > config file > default.

* Store: ``--store DIR|URL`` > ``$TOKMETER_STORE`` > the platform's user data directory. A URL
  (``s3://``, ``gs://``, ``az://``) opens a remote store
  (``store.remote``; ``store.backends.open_store`` picks the backend).
* Price file: ``--prices FILE`` > ``$TOKMETER_PRICES`` > the ``prices`` key of the config file > none.
* Config file: ``$TOKMETER_CONFIG`` (must exist), else ``config.toml`` in the platform's user config
  directory (used when present). A relative ``prices`` path in it is relative to the config file.

A config file that cannot be read, or has an unknown key, raises ``ConfigError`` with file, key and hint.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

STORE_ENV = "TOKMETER_STORE"
DEBUG_ENV = "TOKMETER_DEBUG"
PRICES_ENV = "TOKMETER_PRICES"
CONFIG_ENV = "TOKMETER_CONFIG"
CACHE_ENV = "TOKMETER_CACHE"
CONFIG_KEYS = ("prices",)


def cache_root() -> Path:
    """``$TOKMETER_CACHE``, else the platform's user cache directory for tokmeter (remote-store mirrors,
    the price memo): files that can always be rebuilt."""
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("tokmeter", appauthor=False)


def default_store() -> Path:
    """``$TOKMETER_STORE``, else the platform's user data directory for tokmeter."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return Path(configured).expanduser()
    return platform_store()


def platform_store() -> Path:
    """The store used without --store and $TOKMETER_STORE: the platform's user data directory."""
    from platformdirs import user_data_path

    return user_data_path("tokmeter", appauthor=False)


def resolve_store(flag: str | Path | None) -> Path:
    return Path(flag).expanduser() if flag else default_store()


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved price settings: which price file applies (None: genai-prices alone) and why."""

    prices: Path | None = None
    prices_from: str = "default"  # "--prices", "$TOKMETER_PRICES", "config file <path>" or "default"

    @classmethod
    def resolve(cls, *, prices: str | Path | None = None) -> Settings:
        if prices:
            return cls(Path(prices).expanduser(), "--prices")
        env = os.environ.get(PRICES_ENV)
        if env:
            return cls(Path(env).expanduser(), f"${PRICES_ENV}")
        found = read_config_file()
        if found is not None:
            path, doc = found
            if "prices" in doc:
                return cls(path.parent / Path(doc["prices"]).expanduser(), f"config file {path}")
        return cls()


def config_path() -> tuple[Path, bool]:
    """The config file's path and whether it must exist (it must when named by ``$TOKMETER_CONFIG``)."""
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser(), True
    from platformdirs import user_config_path

    return user_config_path("tokmeter", appauthor=False) / "config.toml", False


def read_config_file() -> tuple[Path, dict[str, Any]] | None:
    """The config file and its validated content, or None when there is none."""
    path, required = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file", hint=f"fix or unset ${CONFIG_ENV}") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", hint='e.g. prices = "~/tokmeter/prices.toml"'
        ) from None
    for key, value in doc.items():
        if key not in CONFIG_KEYS:
            raise ConfigError(
                f"{path}: {key}: unknown key", hint=f"the config file takes: {', '.join(CONFIG_KEYS)}"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{path}: {key}: expected a file path string", hint='e.g. prices = "prices.toml"'
            )
    return path, doc
