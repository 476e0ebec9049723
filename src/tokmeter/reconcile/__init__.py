"""Reconciliation with the provider's bill: read the usage and cost exports providers publish (one
module per export, registered in ``registry.FORMATS``; ``files.py`` imports them), match them with the
metered rows per UTC day and model (``match.py``), and name the reasons for each gap (``explain.py``).

Light on purpose (imports nothing): the CLI builds ``reconcile --by``'s choices from ``BY`` at start-up.
"""

BY = ("api_key", "project", "service_tier")  # reconcile --by: columns a bill carries and a usage row may
