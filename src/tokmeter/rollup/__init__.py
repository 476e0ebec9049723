"""Rollups: pure transforms, the rollup tables, the Spark engine, Prometheus metrics."""
