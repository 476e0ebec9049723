"""Queries over the store and the rollups: the report, the dashboard and chart data."""
