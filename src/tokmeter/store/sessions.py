"""Per-session running totals keep the time of their first stored copy, so a re-read never counts one twice.

An agent of ``capture.SESSION_TOTAL_AGENTS`` records no per-call usage, only each session's running total:
one row per session, its request id (``capture.session_total_id``) the same on every read, and a read after
the session grew replaces the row (the copy with the larger total is kept, ``dedup``). Deduplication
compares only copies at most a day apart, so a row whose time moved by more than a day between two reads
(a time taken from the file's modification time, a time the agent rewrote, a copy stored before the agent's
content time was read) would be kept beside its old copy: the session counted twice.

So the store keeps, for each such request id, the time of its first stored copy (``TIMES``: a local store's
``session_times.json``, an object-storage store's per ingester) and gives every later copy that time: the
copy lands on the day of the copy it replaces, however late the re-read, and spend already reported never
moves between days. A store written before that document existed gets it built once, from the session rows
it holds; a local store then also settles the sessions it already held more than once (a re-read kept beside
its first copy before): only the preferred copy stays, at the first time. The work of a commit grows with
its session rows, never with the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import orjson
import polars as pl

from ..capture import session_total_prefixes
from .dedup import best_per_request

TIMES = "session_times.json"  # where the first stored times are kept (relative to the store, or ingester)


class Keeper(Protocol):
    """What a store offers: the times it keeps (None before it kept any), and the first stored times read
    from the session rows it holds (once, before it kept any)."""

    def session_times(self) -> dict[str, datetime] | None: ...

    def first_session_times(self) -> dict[str, datetime]: ...


def pinned_sessions(store: Keeper, rows: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, bytes]]:
    """``rows`` with each per-session total at the time of its first stored copy, and the ``TIMES``
    document to commit with them ({} when it is unchanged); the first time, the document is built from the
    session rows the store already holds."""
    if not has_session_totals(rows):
        return rows, {}
    kept = store.session_times()
    known = kept if kept is not None else store.first_session_times()
    rows, added = pin_times(rows, known)
    if kept is not None and not added:
        return rows, {}
    return rows, {TIMES: times_document({**known, **added})}


def is_session_total() -> pl.Expr:
    """True for the rows of per-session running totals (the request ids the agents declare as such)."""
    return pl.any_horizontal(pl.col("request_id").str.starts_with(p) for p in session_total_prefixes())


def has_session_totals(rows: pl.DataFrame) -> bool:
    return bool(rows.height) and bool(rows.select(is_session_total().any()).item())


def pin_times(rows: pl.DataFrame, pinned: Mapping[str, datetime]) -> tuple[pl.DataFrame, dict[str, datetime]]:
    """``rows`` with each per-session total at its pinned time (``pinned``: request id -> the time of its
    first stored copy); a request id not pinned yet is pinned at the earliest time of its copies in
    ``rows``. Returns the rows and the pins added."""
    firsts = rows.filter(is_session_total()).group_by("request_id").agg(pl.col("timestamp").min())
    added = {rid: when for rid, when in firsts.iter_rows() if rid not in pinned}
    ids = firsts["request_id"].to_list()
    if not ids:
        return rows, added
    times = pl.Series([pinned.get(rid) or added[rid] for rid in ids], dtype=rows.schema["timestamp"])
    at = pl.col("request_id").replace_strict(ids, times, default=None, return_dtype=rows.schema["timestamp"])
    return rows.with_columns(timestamp=pl.coalesce(at, pl.col("timestamp"))), added


def session_copies(stored: pl.LazyFrame) -> pl.DataFrame:
    """The stored copies of per-session totals among ``stored`` (every copy: no deduplication)."""
    return stored.filter(is_session_total()).collect()


def first_times(copies: pl.DataFrame) -> dict[str, datetime]:
    """The earliest stored time of each per-session total among its ``copies`` (building ``TIMES`` for a
    store written before it existed)."""
    return dict(copies.group_by("request_id").agg(pl.col("timestamp").min()).iter_rows())


def settled(copies: pl.DataFrame) -> pl.DataFrame:
    """For each session stored more than once among ``copies`` (copies of a request id more than a day
    apart: a local store keeps one per id otherwise), its preferred copy at its first stored time: what
    replaces all of them. Empty when every session is stored once."""
    several = copies.filter(pl.len().over("request_id") > 1)
    if not several.height:
        return several
    first = pl.col("timestamp").min().over("request_id")
    return best_per_request(several.lazy().with_columns(timestamp=first)).collect()


def read_times(content: bytes) -> dict[str, datetime] | None:
    """``TIMES``' content: request id -> first stored time; None when it is damaged (it is then built
    again from the stored rows, as for a store that never had it)."""
    try:
        return {rid: _utc(when) for rid, when in orjson.loads(content)["times"].items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _utc(when: str) -> datetime:
    parsed = datetime.fromisoformat(when)
    if parsed.tzinfo is None:
        raise ValueError("a first stored time without its UTC offset")
    return parsed


def times_document(times: Mapping[str, datetime]) -> bytes:
    return orjson.dumps({"version": 1, "times": {rid: times[rid].isoformat() for rid in sorted(times)}})
