"""Reconciliation with the provider's bill: read the usage and cost exports providers publish (one
module per export, registered in ``registry.FORMATS``), match them with the metered rows per UTC day and
model (``match.py``), and name the reasons for each gap (``explain.py``)."""

from . import anthropic, aws_cur, openai  # noqa: F401 - registers the bill formats
from .registry import FORMATS

BILL_FORMATS = tuple(FORMATS)  # the exports reconcile recognises, by name
