"""``schema.UsageRow`` (the row as Python values, where it crosses modules) agrees with ``schema.COLUMNS``
(the one definition of the columns): names, order, Python types, nullability; and the rows extraction
returns from real captures have exactly that shape."""

from __future__ import annotations

import types
from datetime import datetime
from typing import get_args, get_origin, get_type_hints

from conftest import SAMPLE_LOGS
from tokmeter.capture import Capture
from tokmeter.errors import BadCaptureError
from tokmeter.extract import extract_row
from tokmeter.ingest.rows import rows_frame
from tokmeter.schema import (
    COLUMNS,
    SUBSET_TOKENS,
    TOKEN_COLUMNS,
    Tag,
    TokenCounts,
    UsageRow,
    polars_schema,
    tag_list,
)
from tokmeter.sources import find_files, read_captures

PYTHON_TYPE = {
    "String": str,
    "Datetime[us, UTC]": datetime,
    "Boolean": bool,
    "Int32": int,
    "Int64": int,
    "List[Struct[key: String, value: String]]": list,  # of schema.Tag
}


def hints(typed_dict: type) -> dict[str, tuple[type, bool]]:
    """name -> (the Python type, whether None is allowed)."""
    out = {}
    for name, hint in get_type_hints(typed_dict).items():
        args = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = [a for a in args if a is not type(None)]
        assert len(kinds) == 1, f"{name}: {hint}"
        out[name] = (get_origin(kinds[0]) or kinds[0], type(None) in args)
    return out


def test_usage_row_has_the_columns_in_order_with_their_python_types() -> None:
    row = hints(UsageRow)
    assert list(row) == list(COLUMNS)
    assert {name: kind for name, (kind, _) in row.items()} == {
        name: PYTHON_TYPE[dtype] for name, (dtype, _) in COLUMNS.items()
    }


def test_usage_row_nullability_follows_the_column_meanings() -> None:
    row = hints(UsageRow)
    never_null = [name for name, (_, meaning) in COLUMNS.items() if "Never null" in meaning]
    assert never_null and all(not row[name][1] for name in never_null)
    assert all(row[name][1] for name in SUBSET_TOKENS)
    assert not row["request_id"][1]  # the deduplication key


def test_tags_are_a_sorted_map_of_strings() -> None:
    assert tag_list({"env": "prod", "app": "search"}) == [
        {"key": "app", "value": "search"},
        {"key": "env", "value": "prod"},
    ]
    assert tag_list({}) is None
    assert list(hints(Tag)) == ["key", "value"]


def test_token_counts_are_the_token_columns_of_a_row() -> None:
    assert list(hints(TokenCounts)) == list(TOKEN_COLUMNS)
    assert {name: hints(UsageRow)[name] for name in TOKEN_COLUMNS} == hints(TokenCounts)


def extracted_rows() -> list[UsageRow]:
    rows = []
    for path in find_files([SAMPLE_LOGS]):
        for capture in read_captures(path):
            if isinstance(capture, Capture):
                try:
                    rows.append(extract_row(capture))
                except BadCaptureError:
                    continue
    return rows


def test_extracted_rows_have_the_usage_row_shape() -> None:
    rows = extracted_rows()
    assert len(rows) > 10
    shape = hints(UsageRow)
    for row in rows:
        assert list(row) == list(shape), row["source"]
        for name, value in row.items():
            kind, nullable = shape[name]
            assert (value is None and nullable) or type(value) is kind, (row["source"], name, value)
    assert rows_frame(rows).schema == polars_schema()
