"""``tokmeter statusline``: one short line for Claude Code's status bar, from the status-line JSON Claude
Code writes on standard input (``session_id``, ``model.display_name``, ...) and the summary the last
ingest kept (``ingest/summary.py``). It imports neither polars nor Typer: Claude Code runs it on every
prompt, and it must answer in well under 100 ms."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..ingest.blocks import MINUTE_US, Window, burn_rate, is_active, time_left
from ..ingest.summary import read_summary

STALE_US = 120 * 1_000_000  # figures older than this say their age


def standard_input() -> bytes:
    """What Claude Code wrote on standard input; nothing when it is a terminal (run by hand)."""
    return b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()


def status_input(data: bytes) -> dict[str, Any]:
    """Claude Code's status-line JSON; an empty or unreadable input is no input (the line still shows
    the store's figures)."""
    try:
        doc = orjson.loads(data) if data.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def status_line(status: dict[str, Any], root: Path, now_us: int | None = None) -> str:
    """``🤖 Opus 4.1 | 💰 $0.23 session / $1.23 today / $0.45 block (2h 45m left) | 🔥 $0.12/hr``."""
    now = now_us if now_us is not None else time.time_ns() // 1000
    summary = read_summary(root)
    model = status.get("model")
    name = model.get("display_name") if isinstance(model, dict) else None
    parts = [f"🤖 {name}"] if isinstance(name, str) and name else []
    if summary is None:
        return " | ".join([*parts, "💰 no figures yet (run tokmeter ingest --claude-code)"])
    session_id = status.get("session_id")
    session = summary["sessions"].get(session_id) if isinstance(session_id, str) else None
    money = [
        f"{_usd(session['cost']) if session else 'N/A'} session",
        f"{_usd(_today(summary, now))} today",
        *_block(summary, now),
    ]
    parts.append("💰 " + " / ".join(money[:3]))
    parts += money[3:]
    unpriced = summary.get("unpriced_requests")
    if isinstance(unpriced, int) and unpriced > 0:  # their cost is unknown, not $0: say so
        parts.append(f"⚠ {unpriced} unpriced")
    age = now - summary["written_us"]
    if age > STALE_US:
        parts.append(f"⏳ as of {_age(age)} ago")
    return " | ".join(parts)


def _today(summary: dict[str, Any], now: int) -> float:
    """The cost since local midnight (the machine's zone; midnight is on a quarter hour in every zone)."""
    local = datetime.fromtimestamp(now / 1_000_000).astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(midnight.timestamp() * 1_000_000)
    return sum(cost or 0.0 for begin, cost in summary["quarters"] if begin >= start)


def _block(summary: dict[str, Any], now: int) -> list[str]:
    """``$0.45 block (2h 45m left)`` and ``🔥 $0.12/hr`` for the active block; ``no active block``."""
    block = summary.get("block")
    if not block or not is_active(Window(block["start_us"], block["end_us"]), block["last_us"], now):
        return ["no active block"]
    left = time_left((block["end_us"] - now) // MINUTE_US)
    shown = [f"{_usd(block['cost'])} block ({left})"]
    burn = burn_rate(block["first_us"], block["last_us"], block["tokens"], block["cost"])
    if burn is not None and burn.cost_per_hour is not None:
        shown.append(f"🔥 {_usd(burn.cost_per_hour)}/hr")
    return shown


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _age(us: int) -> str:
    minutes = us // MINUTE_US
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    return f"{hours}h {rest}m" if hours < 48 else f"{hours // 24}d"
