"""Claude's usage windows ("blocks"), by ccusage's rule (``identifySessionBlocks``, 20.x): plain Python
over epoch microseconds, no polars, so the status line can use it on the summary the ingest keeps.

* Requests are taken oldest first. A block starts at the first request's time floored to the hour and
  lasts ``length`` (5 h); a request more than ``length`` after its block's start, or more than ``length``
  after the request before it, starts the next block.
* When requests are more than ``length`` apart, a gap (no requests) is shown between the blocks: from the
  last request plus ``length`` to the next request.
* A block is active when now is before its end and less than ``length`` after its last request.
* Its burn rate is its tokens (and cost) over the minutes from its first request to its last; the
  projection adds that rate over the minutes left until the block ends.

A block's tokens are input (cache reads and writes included) + output: ccusage's total.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
BLOCK_HOURS = 5.0  # Claude's usage window
WARNING_SHARE = 0.8  # a projection above this share of a limit is a warning (ccusage's threshold)


class Window(NamedTuple):  # NamedTuples, not dataclasses: 5 ms less start-up for the status line
    """A block's time span (epoch microseconds), or a gap between blocks."""

    start: int
    end: int
    gap: bool = False


def assign_blocks(times: Sequence[int], length: int) -> tuple[list[int], list[Window]]:
    """For ``times`` sorted ascending (epoch µs), the index of each one's block in the windows, and the
    windows (blocks and the gaps between them) in time order. ``length`` in µs."""
    ids: list[int] = []
    windows: list[Window] = []
    start = last = 0
    for when in times:
        if not windows or when - start > length or when - last > length:
            if windows and when - last > length:
                windows.append(Window(last + length, when, gap=True))
            start = when - when % HOUR_US
            windows.append(Window(start, start + length))
        ids.append(len(windows) - 1)
        last = when
    return ids, windows


def is_active(window: Window, last_request: int, now: int) -> bool:
    return not window.gap and now < window.end and now - last_request < window.end - window.start


class Burn(NamedTuple):
    tokens_per_minute: float
    cost_per_hour: float | None  # None when no request of the block has a price


class Projection(NamedTuple):
    tokens: int
    cost: float | None
    minutes_left: int


def burn_rate(first: int, last: int, tokens: int, cost: float | None) -> Burn | None:
    """Tokens a minute and cost an hour from the first request to the last; None within one instant."""
    minutes = (last - first) / MINUTE_US
    if minutes <= 0:
        return None
    return Burn(tokens / minutes, None if cost is None else cost / minutes * 60)


def project(window: Window, burn: Burn, tokens: int, cost: float | None, now: int) -> Projection:
    """The block's totals at its end if the burn rate holds (ccusage rounds the minutes left)."""
    minutes = max(round((window.end - now) / MINUTE_US), 0)
    projected_cost = None
    if cost is not None and burn.cost_per_hour is not None:
        projected_cost = cost + burn.cost_per_hour / 60 * minutes
    return Projection(round(tokens + burn.tokens_per_minute * minutes), projected_cost, minutes)


def limit_status(projected: float, limit: float) -> str:
    """``exceeds`` above the limit, ``warning`` above 80 % of it, else ``ok`` (ccusage's words)."""
    if projected > limit:
        return "exceeds"
    return "warning" if projected > limit * WARNING_SHARE else "ok"


def time_left(minutes: int) -> str:
    """``2h 45m left``, ``12m left``."""
    hours, rest = divmod(max(minutes, 0), 60)
    return f"{hours}h {rest}m left" if hours else f"{rest}m left"
