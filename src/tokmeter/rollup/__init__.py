"""Rollups: pure transforms, the rollup tables, the Spark engine, Prometheus metrics.

The registries of this stage's extension points live here, light enough for the CLI to build its
choices from at start-up (this module imports nothing): a new dimension, period or engine is added here
and where it is computed, never in a second list.
"""

PERIODS = ("day", "week", "month")  # the periods a rollup table has, and a report's time dimensions
TIME_DIMENSIONS = PERIODS
OWNERS = ("user", "team", "project", "api_key", "session")  # who spent it (attribution)
TAG_DIMENSION = "tag:NAME"  # parametrised: tag:env groups by the value of tag env
# report --by (session: also the coding agents' session view, issue #21; host: the ingester)
DIMENSIONS = ("model", *OWNERS, "provider", "service_tier", "speed", "host", *TIME_DIMENSIONS)
ROLLUP_DIMS = ("user", "model", "provider", "team", "project", "api_key", "session")  # rollup --by
DEFAULT_DIMS = ROLLUP_DIMS[:3]  # a rollup table's dimensions without --by
ENGINES = ("polars", "spark")  # rollup --engine
WEEK_STARTS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # --week-start


def is_dimension(name: str, registry: tuple[str, ...] = DIMENSIONS) -> bool:
    """Whether ``name`` is one of ``registry`` or a ``tag:NAME`` dimension."""
    return name in registry or (name.startswith("tag:") and bool(name[4:].strip()))
