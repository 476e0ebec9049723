"""Helpers shared by the tests of logged-record sources (tests/test_sources_*.py): read a sample into
rows, and price rows the way a report does."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from conftest import REPO
from tokmeter.extract import read_capture
from tokmeter.pricing.table import price_rows
from tokmeter.schema import polars_schema
from tokmeter.sources import BadCapture, ReadOptions, read_captures

SAMPLES = REPO / "tests" / "data" / "sources"


def rows_of(path: Path, options: ReadOptions | None = None) -> list[dict]:
    """Every row of a sample (a bad capture fails the test: the samples are all good)."""
    rows = []
    for item in read_captures(path, options=options or ReadOptions()):
        assert not isinstance(item, BadCapture), item.reason
        rows.append(read_capture(item)[0])
    return rows


def priced(rows: list[dict]) -> list[dict]:
    frame = pl.DataFrame(rows, schema=polars_schema())
    return price_rows(frame.lazy()).collect().to_dicts()
