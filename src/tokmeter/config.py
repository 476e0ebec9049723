"""Settings that several commands share, resolved in one place: flag > environment > default."""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "TOKMETER_STORE"
DEBUG_ENV = "TOKMETER_DEBUG"


def default_store() -> Path:
    """``$TOKMETER_STORE``, else the platform's user data directory for tokmeter."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_path

    return user_data_path("tokmeter", appauthor=False)


def resolve_store(flag: str | Path | None) -> Path:
    return Path(flag).expanduser() if flag else default_store()


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")
