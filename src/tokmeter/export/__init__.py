"""Exports that other systems read: OpenTelemetry metrics (``otlp.py``, over OTLP/HTTP). The FOCUS rows
are a report format (``report/focus.py``)."""
