"""tokmeter: token and cost accounting from raw captures of LLM API traffic.

The library API (the CLI is a thin shell over it)::

    from tokmeter import Store, run_ingest, build_report, Filters
    report = run_ingest(["sample_logs/"], Store("/tmp/store"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Filters",
    "Store",
    "TokmeterError",
    "__version__",
    "build_report",
    "load_attribution",
    "run_ingest",
    "select_rows",
]

if TYPE_CHECKING:
    from .attribution import load_attribution
    from .errors import TokmeterError
    from .ingest.pipeline import run_ingest
    from .report.queries import Filters, build_report, select_rows
    from .store.local import Store

_LAZY = {
    "Store": "store.local",
    "run_ingest": "ingest.pipeline",
    "build_report": "report.queries",
    "select_rows": "report.queries",
    "Filters": "report.queries",
    "TokmeterError": "errors",
    "load_attribution": "attribution",
}


def __getattr__(name: str) -> Any:  # lazy, so `tokmeter --help` does not import polars
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"tokmeter.{_LAZY[name]}"), name)
    raise AttributeError(name)
