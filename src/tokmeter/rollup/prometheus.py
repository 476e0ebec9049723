"""A node_exporter textfile (``--prometheus FILE``): token, request and cost counters by user and model
(and by each owner dimension the table has besides: team, project, api_key, session, tag:NAME as label
``tag_NAME``), ingest lag and last-success timestamps. Written atomically (temp file + rename), as the textfile
collector requires."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..store.atomic import replace_file
from . import OWNERS
from .tables import RollupTable
from .transforms import REPORT_TOKENS

KINDS = {c: c.removesuffix("_tokens") for c in REPORT_TOKENS}


def _escape(value: object) -> str:
    text = "(unknown)" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metric_labels(**values: object) -> str:
    """A sample's labels in the text exposition format, ``{name="value",...}`` (values escaped; None is
    ``(unknown)``): every textfile tokmeter writes (rollup, budgets, reconcile) labels through this."""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in values.items()) + "}"


def metric_header(name: str, meaning: str, kind: str) -> list[str]:
    """A metric family's ``# HELP`` and ``# TYPE`` lines."""
    return [f"# HELP {name} {meaning}", f"# TYPE {name} {kind}"]


def _label_dims(dims: tuple[str, ...]) -> list[str]:
    """user, model, then the table's other owner dimensions (a table without user and model has none)."""
    extra = [d for d in dims if d != "user" and (d in OWNERS or d.startswith("tag:"))]
    return ["user", "model", *extra] if {"user", "model"} <= set(dims) else []


def _label_name(dim: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", dim)


def metrics_text(table: RollupTable) -> str:
    """The textfile's content, from a rollup table (totals over all its periods) and the store."""
    lines: list[str] = []
    rows = table.scan()
    dims = _label_dims(table.spec.dims)
    totals = (
        pl.DataFrame()
        if rows is None
        else (
            rows.group_by(dims)
            .agg(
                pl.col("requests").sum(),
                pl.col("failed_requests").sum(),
                *(pl.col(c).sum() for c in REPORT_TOKENS),
                pl.col("cost_usd").sum(),
            )
            .sort(dims, nulls_last=True)
            .collect()
        )
        if dims
        else pl.DataFrame()
    )
    groups = list(totals.iter_rows(named=True))
    lines += metric_header(
        "tokmeter_tokens_total",
        "Tokens by user, model and kind (input includes cache reads/writes).",
        "counter",
    )
    for row in groups:
        for column, kind in KINDS.items():
            lines.append(
                f"tokmeter_tokens_total{metric_labels(**_owner(row, dims), kind=kind)} {row[column]}"
            )
    for name, meaning, value in _COUNTERS:
        lines += metric_header(name, meaning, "counter")
        lines += [f"{name}{metric_labels(**_owner(row, dims))} {value(row)}" for row in groups]
    lines += _freshness(table)
    return "\n".join(lines) + "\n"


# the counters of one value per group: (name, meaning, the sample's value)
_COUNTERS: tuple[tuple[str, str, Callable[[dict[str, Any]], object]], ...] = (
    ("tokmeter_requests_total", "Requests by user and model.", lambda row: row["requests"]),
    (
        "tokmeter_failed_requests_total",
        "Requests with a non-2xx status, by user and model.",
        lambda row: row["failed_requests"],
    ),
    (
        "tokmeter_cost_usd_total",
        "Cost in USD by user and model (priced rows only).",
        lambda row: f"{row['cost_usd'] or 0:f}",
    ),
)


def _owner(row: dict, dims: list[str]) -> dict[str, object]:
    return {_label_name(d): row[d] for d in dims}


def _newest(table: RollupTable) -> datetime | None:
    """The newest stored request's time. Its date is the last one holding a kept row, so the last two
    dates answer it (a remote store fetches only those) unless deduplication left them empty."""
    last = max(table.store.stored_days(), default=None)
    if last is None:
        return None
    for days in ((last - timedelta(days=1), None), None):
        newest = table.store.scan(days=days).select(pl.col("timestamp").max()).collect().item()
        if newest is not None:
            return newest
    return None


def _freshness(table: RollupTable) -> list[str]:
    entries = table.store.ledger_entries()
    last_ingest = max((_epoch(e["time"]) for e in entries), default=0.0)
    newest = _newest(table) if entries else None
    lag = max(0.0, time.time() - newest.timestamp()) if newest is not None else 0.0
    state = table.state()
    success = _epoch(state["last_success"]) if state.get("last_success") else 0.0
    return [
        *metric_header(
            "tokmeter_last_ingest_timestamp_seconds", "When the store last committed new rows.", "gauge"
        ),
        f"tokmeter_last_ingest_timestamp_seconds {last_ingest:.3f}",
        *metric_header("tokmeter_ingest_lag_seconds", "Age of the newest stored request.", "gauge"),
        f"tokmeter_ingest_lag_seconds {lag:.3f}",
        *metric_header(
            "tokmeter_rollup_last_success_timestamp_seconds", "When this rollup last completed.", "gauge"
        ),
        f"tokmeter_rollup_last_success_timestamp_seconds{metric_labels(table=table.spec.name)} {success:.3f}",
    ]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def write_textfile(path: Path, text: str) -> None:
    # node_exporter runs as another user and must read it: 0644
    replace_file(path, lambda temp: temp.write_text(text, encoding="utf-8"), mode=0o644)
