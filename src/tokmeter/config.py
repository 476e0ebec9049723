"""Settings, resolved in one place: flag > ``TOKMETER_*`` environment variable > config file > default.

``ENV_VARS`` lists every environment variable tokmeter reads (``--help`` and the README show it); nothing
reads one at import time: the stages ask ``settings()``, which reads them all at once.

* Store: ``--store DIR|URL`` > ``$TOKMETER_STORE`` > the platform's user data directory. A URL
  (``s3://``, ``gs://``, ``az://``) opens a remote store
  (``store.remote``; ``store.backends.open_store`` picks the backend).
* Price file: ``--prices FILE`` > ``$TOKMETER_PRICES`` > the ``prices`` key of the config file > none.
* Attribution file: ``--attribution FILE`` > ``$TOKMETER_ATTRIBUTION`` > the ``attribution`` key of the
  config file > none (``attribution_path``).
* Cache size: ``$TOKMETER_CACHE_MAX_BYTES`` > the ``cache_max_bytes`` key of the config file > 2 GiB
  (``cache_max_bytes``: how many bytes of parts each remote store's local cache keeps).
* Config file: ``$TOKMETER_CONFIG`` (must exist), else ``config.toml`` in the platform's user config
  directory (used when present). A relative ``prices`` path in it is relative to the config file.

A config file that cannot be read, or has an unknown key, raises ``ConfigError`` with file, key and hint;
so does an environment variable that is not the number it must be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

STORE_ENV = "TOKMETER_STORE"
DEBUG_ENV = "TOKMETER_DEBUG"
PRICES_ENV = "TOKMETER_PRICES"
CONFIG_ENV = "TOKMETER_CONFIG"
CACHE_ENV = "TOKMETER_CACHE"
CACHE_MAX_ENV = "TOKMETER_CACHE_MAX_BYTES"
INGESTER_ID_ENV = "TOKMETER_INGESTER_ID"
CLAUDE_CODE_USER_ENV = "TOKMETER_CLAUDE_CODE_USER"
SPARK_MASTER_ENV = "TOKMETER_SPARK_MASTER"
ATTRIBUTION_ENV = "TOKMETER_ATTRIBUTION"
RESULT_CACHE_ENV = "TOKMETER_RESULT_CACHE"
NO_ACCEL_ENV = "TOKMETER_NO_ACCEL"
CONFIG_KEYS = (
    "prices",
    "budget",
    "attribution",
    "cache_max_bytes",
)  # budget: [[budget]] tables, checked by budgets/definitions.py
MIB = 1024 * 1024
DEFAULT_CACHE_MAX_BYTES = 2048 * MIB


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One environment variable tokmeter reads: its name, what it sets, its default (as shown)."""

    name: str
    meaning: str
    default: str


# Every environment variable tokmeter reads, in the order --help and the README show them.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(
        STORE_ENV,
        "the store (a directory or an s3://, gs://, az:// URL), when --store is not given",
        "the user data directory",
    ),
    EnvVar(PRICES_ENV, "the price file, when --prices is not given", "the config file's prices key"),
    EnvVar(
        ATTRIBUTION_ENV,
        "the attribution rules file, when --attribution is not given",
        "the config file's attribution key",
    ),
    EnvVar(CONFIG_ENV, "the config file (must exist)", "config.toml in the user config directory"),
    EnvVar(
        CACHE_ENV, "the cache directory (remote-store mirrors, the price memo)", "the user cache directory"
    ),
    EnvVar(
        CACHE_MAX_ENV,
        "bytes of parts each remote store's local cache keeps (least recently used evicted first)",
        "the config file's cache_max_bytes key, else 2 GiB",
    ),
    EnvVar(
        INGESTER_ID_ENV, "this writer's name in a store, when --ingester-id is not given", "the host name"
    ),
    EnvVar(
        CLAUDE_CODE_USER_ENV,
        "the user Claude Code usage is billed to, when --claude-code-user is not given",
        "the OS user",
    ),
    EnvVar(
        DEBUG_ENV,
        "1 shows the traceback of an error besides its message, and whether a report's result was kept or replayed",
        "0",
    ),
    EnvVar("TOKMETER_UMASK", "the umask of the files tokmeter creates (octal)", "077"),
    EnvVar("TOKMETER_WORKERS", "worker processes of an ingest (1: none)", "the number of cores"),
    EnvVar("TOKMETER_PARALLEL_MIN_BYTES", "input size (bytes) from which an ingest starts workers", "64 MiB"),
    EnvVar("TOKMETER_CHUNK_BYTES", "largest share (bytes) of a capture log one worker task reads", "32 MiB"),
    EnvVar(
        "TOKMETER_MAX_LINE_BYTES",
        "longest capture line or response file read, in bytes (longer ones are set aside)",
        "64 MiB",
    ),
    EnvVar("TOKMETER_MAX_DECOMPRESSION_RATIO", "most a compressed file may expand (above 256 MiB)", "250"),
    EnvVar("TOKMETER_PRICE_MEMO", "0 switches the price memo off", "1"),
    EnvVar(
        RESULT_CACHE_ENV,
        "0: a report neither replays a kept result nor keeps its own (as --no-cache)",
        "1",
    ),
    EnvVar(NO_ACCEL_ENV, "1 reads capture logs without the compiled accelerator (the pure-Python path)", "0"),
    EnvVar(SPARK_MASTER_ENV, "the Spark master of rollup --engine spark", "local[2]"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved settings: which price file applies (None: genai-prices alone) and why, and the values
    of the environment variables of ``ENV_VARS`` (None: unset, the default applies)."""

    prices: Path | None = None
    prices_from: str = "default"  # "--prices", "$TOKMETER_PRICES", "config file <path>" or "default"
    store: str | None = None  # a directory or a URL (s3://...), as given
    cache: Path | None = None
    cache_max_bytes: int | None = None  # None: the config file's key, else DEFAULT_CACHE_MAX_BYTES
    debug: bool = False
    umask: int = 0o077
    workers: int | None = None  # None: one per core
    parallel_min_bytes: int = 64 * MIB
    chunk_bytes: int = 32 * MIB
    max_line_bytes: int = 64 * MIB
    max_decompression_ratio: int = 250
    price_memo: bool = True
    no_accel: bool = False  # $TOKMETER_NO_ACCEL: capture logs read by the pure-Python path only
    spark_master: str | None = None
    _seen: tuple[str | None, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The environment's settings (the price file not resolved: ``resolve`` does that)."""
        env = os.environ if environ is None else environ
        value = {var.name: env.get(var.name) or None for var in ENV_VARS}  # empty: unset

        def number(name: str, default: int, base: int = 10) -> int:
            raw = value[name]
            try:
                return default if raw is None else int(raw, base)
            except ValueError:
                kind = "an octal number, e.g. 022" if base == 8 else "a whole number"
                raise ConfigError(f"${name}={raw}: not {kind}", hint=f"fix or unset ${name}") from None

        def size(name: str) -> int:
            if number(name, 0) < 0:
                raise ConfigError(f"${name}={value[name]}: not 0 or more bytes", hint=f"fix or unset ${name}")
            return number(name, 0)

        def path(name: str) -> Path | None:
            raw = value[name]
            return None if raw is None else Path(raw).expanduser()

        return cls(
            store=value[STORE_ENV],
            cache=path(CACHE_ENV),
            cache_max_bytes=None if value[CACHE_MAX_ENV] is None else size(CACHE_MAX_ENV),
            debug=_on(value[DEBUG_ENV]),
            umask=number("TOKMETER_UMASK", 0o077, 8),
            workers=number("TOKMETER_WORKERS", 0) or None,
            parallel_min_bytes=number("TOKMETER_PARALLEL_MIN_BYTES", 64 * MIB),
            chunk_bytes=number("TOKMETER_CHUNK_BYTES", 32 * MIB),
            max_line_bytes=number("TOKMETER_MAX_LINE_BYTES", 64 * MIB),
            max_decompression_ratio=number("TOKMETER_MAX_DECOMPRESSION_RATIO", 250),
            price_memo=value["TOKMETER_PRICE_MEMO"] != "0",
            no_accel=_on(value[NO_ACCEL_ENV]),
            spark_master=value[SPARK_MASTER_ENV],
            _seen=tuple(value.values()),
        )

    @classmethod
    def resolve(
        cls, *, prices: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """The environment's settings with the price file: ``--prices`` > ``$TOKMETER_PRICES`` > config file."""
        base = cls.from_env(environ)
        if prices:
            return replace(base, prices=Path(prices).expanduser(), prices_from="--prices")
        env = os.environ if environ is None else environ
        if env.get(PRICES_ENV):
            return replace(base, prices=Path(env[PRICES_ENV]).expanduser(), prices_from=f"${PRICES_ENV}")
        found = read_config_file()
        if found is not None:
            path, doc = found
            if "prices" in doc:
                return replace(
                    base,
                    prices=path.parent / Path(doc["prices"]).expanduser(),
                    prices_from=f"config file {path}",
                )
        return base


def attribution_path(flag: str | Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The attribution file in force: ``--attribution`` > ``$TOKMETER_ATTRIBUTION`` > the config file's
    ``attribution`` key (relative to the config file) > None."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ if environ is None else environ
    if env.get(ATTRIBUTION_ENV):
        return Path(env[ATTRIBUTION_ENV]).expanduser()
    found = read_config_file()
    if found is not None and "attribution" in found[1]:
        return found[0].parent / Path(found[1]["attribution"]).expanduser()
    return None


_current: list[Settings] = []  # the last settings read, reused while the environment stays the same


def settings() -> Settings:
    """The settings of the environment as it is now: read once, read again only when a variable changed
    (tests change them per test)."""
    seen = tuple(os.environ.get(var.name) or None for var in ENV_VARS)
    if not _current or _current[0]._seen != seen:
        _current[:] = [Settings.from_env()]
    return _current[0]


def cache_root() -> Path:
    """``$TOKMETER_CACHE``, else the platform's user cache directory for tokmeter (remote-store mirrors,
    the price memo): files that can always be rebuilt."""
    configured = settings().cache
    if configured is not None:
        return configured
    from platformdirs import user_cache_path

    return user_cache_path("tokmeter", appauthor=False)


def cache_max_bytes() -> int:
    """How many bytes of parts a remote store's local cache keeps: ``$TOKMETER_CACHE_MAX_BYTES`` > the
    config file's ``cache_max_bytes`` > ``DEFAULT_CACHE_MAX_BYTES`` (``store.cache`` evicts past it)."""
    configured = settings().cache_max_bytes
    if configured is not None:
        return configured
    found = read_config_file()
    if found is not None and "cache_max_bytes" in found[1]:
        return int(found[1]["cache_max_bytes"])
    return DEFAULT_CACHE_MAX_BYTES


def default_store() -> Path:
    """``$TOKMETER_STORE``, else the platform's user data directory for tokmeter."""
    configured = settings().store
    return Path(configured).expanduser() if configured else platform_store()


def platform_store() -> Path:
    """The store used without --store and $TOKMETER_STORE: the platform's user data directory."""
    from platformdirs import user_data_path

    return user_data_path("tokmeter", appauthor=False)


def resolve_store(flag: str | Path | None) -> Path:
    return Path(flag).expanduser() if flag else default_store()


def debug_enabled() -> bool:
    """``$TOKMETER_DEBUG``, read alone: the error path must work when another variable is the error."""
    return _on(os.environ.get(DEBUG_ENV))


def results_kept(environ: Mapping[str, str] | None = None) -> bool:
    """``$TOKMETER_RESULT_CACHE``: reports keep and replay their results (``report/kept.py``) unless it
    is 0 (or false, no)."""
    env = os.environ if environ is None else environ
    return _on(env.get(RESULT_CACHE_ENV) or "1")


def _on(raw: str | None) -> bool:
    return (raw or "0") not in ("0", "false", "no")


def env_help() -> str:
    """The environment variables, one line each, for ``--help``."""
    heading = "Environment variables (a flag wins over its variable, a variable over the config file):"
    return "\n".join([heading] + [f"{var.name}: {var.meaning} (default: {var.default})" for var in ENV_VARS])


def env_table() -> str:
    """The environment variables as the README's Markdown table (tests/test_docs.py checks it is there)."""
    rows = [f"| `{var.name}` | {var.meaning} | {var.default} |" for var in ENV_VARS]
    return "\n".join(["| variable | sets | default |", "|---|---|---|", *rows])


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
    import tomllib  # start-up time: only when there is a config file (statusline runs on every prompt)

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
        if key == "cache_max_bytes" and (type(value) is not int or value < 0):
            raise ConfigError(
                f"{path}: {key}: expected a whole number of bytes (0 or more)",
                hint="e.g. cache_max_bytes = 5_000_000_000",
            )
        if key == "prices" and (not isinstance(value, str) or not value):
            raise ConfigError(
                f"{path}: {key}: expected a file path string", hint='e.g. prices = "prices.toml"'
            )
    return path, doc
