"""Rollups: pure transforms, the rollup tables, the Spark engine, Prometheus metrics.

The registries of this stage's extension points live here, light enough for the CLI to build its
choices from at start-up (this module imports nothing): a new dimension, period or engine is added here
and where it is computed, never in a second list.
"""

PERIODS = ("day", "week", "month")  # the periods a rollup table has, and a report's time dimensions
TIME_DIMENSIONS = PERIODS
# report --by (project and session: the coding agents' views, issue #21)
DIMENSIONS = (
    "model",
    "user",
    "provider",
    "service_tier",
    "speed",
    "project",
    "session",
    "host",
    *TIME_DIMENSIONS,
)
ROLLUP_DIMS = ("user", "model", "provider")  # rollup --by
DEFAULT_DIMS = ROLLUP_DIMS  # a rollup table's dimensions without --by
ENGINES = ("polars", "spark")  # rollup --engine
WEEK_STARTS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # --week-start
