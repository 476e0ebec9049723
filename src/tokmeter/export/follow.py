"""``ingest --follow --otlp URL``: the follower also sends the store's usage over OTLP (``otlp.py``).

A follow view that wraps the one showing progress: after a commit it sends at most every ``every``
seconds, in a background thread (the follower never waits on the collector; while it reads, the store's
shared lock holds the next commit back, as any report does), and once more when the follower stops. A
failed send is an event in the follower's output and is retried at the next commit's turn: the totals
are cumulative, so nothing is lost.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import TokmeterError, UsageError
from ..ingest.follow import FollowStats, FollowView
from ..pricing.overrides import PriceOverrides
from ..store.protocol import StoreBackend
from .otlp import export_otlp


class OtlpSending:
    def __init__(
        self,
        inner: FollowView,
        store: StoreBackend,
        endpoint: str,
        overrides: PriceOverrides | None = None,
        *,
        every: float = 60.0,
        timeout: float = 10.0,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 < every < math.inf:  # NaN would never send: the follower would look fine and send nothing
            raise UsageError(
                f"--otlp-interval {every}: not a number of seconds", hint="e.g. --otlp-interval 60"
            )
        self.inner, self.store, self.endpoint, self.overrides = inner, store, endpoint, overrides
        self.every, self.timeout = every, timeout
        self.warn = warn or inner.event  # where a failed send is said (the view shows nothing when quiet)
        self._dirty = False
        self._last = float("-inf")
        self._thread: threading.Thread | None = None

    def event(self, message: str) -> None:
        self.inner.event(message)

    def committed(self, frame: Any) -> None:
        self._dirty = self._dirty or frame.height > 0
        self.inner.committed(frame)

    def update(self, stats: FollowStats) -> None:
        self.inner.update(stats)
        busy = self._thread is not None and self._thread.is_alive()
        if self._dirty and not busy and time.monotonic() - self._last >= self.every:
            self._dirty, self._last = False, time.monotonic()
            self._thread = threading.Thread(target=self._send, name="tokmeter-otlp", daemon=True)
            self._thread.start()

    def close(self, stats: FollowStats) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._dirty:
            self._dirty = False
            self._send()
        self.inner.close(stats)

    def _send(self) -> None:
        try:
            result = export_otlp(self.store, self.endpoint, self.overrides, timeout=self.timeout)
        except TokmeterError as exc:
            self._dirty = True  # the next turn sends the totals again
            self.warn(f"OTLP: {exc.message}; retried after the next commit")
            return
        self.inner.event(f"OTLP: sent {result.data_points:,} data point(s) to {result.endpoint}")
