"""Which store a ``--store`` location names: the local Parquet store, or the object-storage one for a URL."""

from __future__ import annotations

from pathlib import Path

from ..config import STORE_ENV, platform_store, resolve_store, settings
from ..errors import NoStoreError
from .local import Store
from .objects import is_url
from .protocol import StoreBackend
from .remote import RemoteStore


def open_store(
    flag: str | Path | None, *, ingester: str | None = None, existing: bool = False
) -> StoreBackend:
    """The store named by ``--store`` (or ``$TOKMETER_STORE``, or the default directory): a local
    ``Store``, or a ``RemoteStore`` for an ``s3://`` / ``gs://`` / ``az://`` URL. ``ingester`` names this
    writer in a remote store (default: the host name); a local store has a single writer at a time.
    ``existing`` (every command that reads the store): a location that holds no store raises
    ``NoStoreError``, saying where the store came from and where the default one is."""
    location = str(flag) if flag else settings().store or None
    target: StoreBackend
    if location and is_url(location):
        target = RemoteStore(location, ingester=ingester)
    else:
        target = Store(resolve_store(flag), ingester=ingester)
    if existing and not target.holds_store():
        raise _no_store(target.location, flag)
    return target


def _no_store(location: str, flag: str | Path | None) -> NoStoreError:
    default, env = platform_store(), settings().store
    if env and (not flag or str(flag) == env):  # Typer fills --store from the variable too
        return NoStoreError(
            f"${STORE_ENV} ({location}): no tokmeter store there",
            hint=(
                f"check the path, or ingest captures into it first (tokmeter ingest PATH); unset ${STORE_ENV} to "
                f"use the default store {default}"
            ),
        )
    if flag:
        return NoStoreError(
            f"--store {location}: no tokmeter store there",
            hint=(
                f"check the path, or ingest captures into it first (tokmeter ingest PATH --store {location}); "
                f"without --store, tokmeter uses ${STORE_ENV}, else the default store {default}"
            ),
        )
    return NoStoreError(
        f"no store yet at {location}: nothing has been ingested",
        hint=f"ingest captures first (e.g. tokmeter ingest sample_logs/), or name a store with "
        f"--store DIR or ${STORE_ENV}",
    )
