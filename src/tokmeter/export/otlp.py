"""``tokmeter export otlp``: the usage as OTLP metrics, sent with the OpenTelemetry SDK's OTLP/HTTP exporter.

Idempotent across runs: every data point is a cumulative total over the whole store with one fixed start
time (the store's first commit), so sending again (the next cron run, a restart) updates each series to
its new total and counts nothing twice. The SDK (``pip install 'tokmeter[otlp]'``) is imported only here,
only when an export runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import TokmeterError, UsageError
from ..output_paths import shown_url, web_url
from ..pricing.overrides import PriceOverrides
from ..store.protocol import StoreBackend
from .series import BOUNDS, Series, attributes, bucket_counts, usage_series

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData

SCOPE = "tokmeter"
TOKEN_METRIC = "gen_ai.client.token.usage"
COST_METRIC = "tokmeter.cost"
METRICS_PATH = "/v1/metrics"
MAX_TIMEOUT = 3600.0  # --timeout: seconds


@dataclass(frozen=True, slots=True)
class ExportResult:
    data_points: int  # token histograms (one per series and token type) and cost sums
    endpoint: str


def metrics_url(endpoint: str) -> str:
    """The collector's metrics URL: ``endpoint`` as given when it has a path, else + ``/v1/metrics``."""
    parts = urlsplit(web_url(endpoint, "--endpoint", example="http://localhost:4318"))
    return endpoint if parts.path not in ("", "/") else endpoint.rstrip("/") + METRICS_PATH


def start_time_ns(store: StoreBackend) -> int | None:
    """The fixed start of every series: the store's first commit (None: nothing committed)."""
    entries = store.ledger_entries()
    if not entries:
        return None
    first = datetime.fromisoformat(str(entries[0]["time"]).replace("Z", "+00:00"))
    return int(first.timestamp()) * 1_000_000_000


def _sdk() -> Any:
    try:  # the optional dependency, imported when an export runs
        from opentelemetry.sdk.metrics import export as sdk_export
    except ImportError:
        raise TokmeterError(
            "the OpenTelemetry SDK is not installed",
            hint="pip install 'tokmeter[otlp]' (opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)",
        ) from None
    return sdk_export


def metrics_data(series: Series, start_ns: int, now_ns: int) -> MetricsData:
    """The OTLP payload of ``series``: cumulative histograms of tokens, cumulative sums of cost."""
    sdk = _sdk()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    cumulative = sdk.AggregationTemporality.CUMULATIVE
    histogram_points = [
        sdk.HistogramDataPoint(
            attributes={**attributes(row), "gen_ai.token.type": row["token_type"]},
            start_time_unix_nano=start_ns,
            time_unix_nano=now_ns,
            count=row["count"],
            sum=row["sum"],
            bucket_counts=bucket_counts(row["_buckets"]),
            explicit_bounds=[float(b) for b in BOUNDS],
            min=float(row["min"]),
            max=float(row["max"]),
        )
        for row in series.tokens.iter_rows(named=True)
    ]
    cost_points = [
        sdk.NumberDataPoint(
            attributes=attributes(row),
            start_time_unix_nano=start_ns,
            time_unix_nano=now_ns,
            value=float(row["cost_usd"]),
        )
        for row in series.costs.iter_rows(named=True)
    ]
    metrics = [
        sdk.Metric(
            TOKEN_METRIC,
            "Number of input and output tokens used.",
            "{token}",
            sdk.Histogram(histogram_points, cumulative),
        ),
        sdk.Metric(
            COST_METRIC,
            "Cost of the usage in USD, priced by tokmeter (priced requests only).",
            "USD",
            sdk.Sum(cost_points, cumulative, True),
        ),
    ]
    scope = sdk.ScopeMetrics(InstrumentationScope(SCOPE), metrics, "")
    resource = Resource.create({"service.name": "tokmeter"})
    return sdk.MetricsData([sdk.ResourceMetrics(resource, [scope], "")])


def export_otlp(
    store: StoreBackend,
    endpoint: str,
    overrides: PriceOverrides | None = None,
    *,
    timeout: float = 10.0,
) -> ExportResult:
    """Send the store's usage to an OTLP/HTTP collector. Raises TokmeterError when it does not take it."""
    url = metrics_url(endpoint)
    if not 0 < timeout <= MAX_TIMEOUT:  # also NaN
        raise UsageError(
            f"--timeout {timeout}: not a number of seconds", hint=f"e.g. 10 (at most {MAX_TIMEOUT})"
        )
    _sdk()
    with store.reading():
        start = start_time_ns(store)
        series = usage_series(store, overrides) if start is not None else None
    if series is None or start is None:
        return ExportResult(0, shown_url(url))
    data = metrics_data(series, start, time.time_ns())
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=url, timeout=timeout, max_export_batch_size=5000)
    with _exporter_log() as messages:
        result = exporter.export(data, timeout_millis=timeout * 1000)
    exporter.shutdown()
    points = series.tokens.height + series.costs.height
    if result.name != "SUCCESS":
        reason = messages[-1].replace(url, shown_url(url)) if messages else "no reason given"
        raise TokmeterError(
            f"the OTLP collector at {shown_url(url)} did not take the metrics: {reason}",
            hint="check --endpoint and that the collector is up; the next run sends the totals again "
            "(they are cumulative, nothing is lost)",
        )
    return ExportResult(points, shown_url(url))


@contextmanager
def _exporter_log() -> Iterator[list[str]]:
    """The exporter's log messages (why an export failed), kept instead of printed."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("opentelemetry.exporter.otlp")
    handler, propagate = Keep(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
