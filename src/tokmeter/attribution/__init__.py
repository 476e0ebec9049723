"""Attribution: who spent a row. The rules file (``rules.py``) and its query-time transform
(``transform.py``); what a capture itself says is read at extraction (``extract/attribution.py``)."""

from .rules import OWNER_DIMENSIONS, TAG_PREFIX, Attribution, Rule, load_attribution
from .transform import attributed, tag_names, tag_value

__all__ = [
    "OWNER_DIMENSIONS",
    "TAG_PREFIX",
    "Attribution",
    "Rule",
    "attributed",
    "load_attribution",
    "tag_names",
    "tag_value",
]
