"""Budgets: limits on spend per period for a slice of the usage (``where``), the spend so far, a forecast
to the end of the period, a state, notifications when the state changes, Prometheus gauges.

The states and their exit codes live here, light enough for the CLI to import at start-up.
"""

STATES = ("ok", "warning", "exceeded")  # in order of gravity
EXIT_CODES = {"ok": 0, "warning": 6, "exceeded": 7}  # tokmeter budgets exits with the gravest one's
BUDGET_PERIODS = ("day", "week", "month")
