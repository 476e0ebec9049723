"""Reading bill export files, whatever their format, told apart by content: a JSON page, a JSON array of
pages or JSON Lines of pages (what a paging loop appends), or a CSV / Parquet table. A file or page that is
no known export, and a record that cannot be read, are set aside (``Skipped``) and the rest goes on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from . import anthropic, aws_cur, gcp_billing, openai  # noqa: F401 - registers the bill formats
from .registry import FORMATS, BillLine, Skipped, detect

NOT_A_BILL = (
    "save the API's response body unchanged (one page, an array of pages, or one page per line), "
    "the CUR 2.0 CSV / Parquet file, or Google Cloud's billing export (CSV, JSON rows, Parquet); known "
    "exports: {}"
)


@dataclass(slots=True)
class Bill:
    """Every line read from the export files, the records set aside, and the formats found (by file)."""

    lines: list[BillLine] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    formats: dict[str, set[str]] = field(default_factory=dict)


def snake(name: str) -> str:
    """A CUR column name in CUR 2.0 spelling: ``lineItem/UsageType`` -> ``line_item_usage_type``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("/", "_").lower()


def read_bills(paths: Iterable[Path]) -> Bill:
    bill = Bill()
    for path in paths:
        source = str(path)
        try:
            for where, shape, probe in _documents(path):
                if shape == "bad":
                    bill.skipped.append(Skipped(source, where, f"not JSON: {probe}", _hint()))
                    continue
                fmt = detect(shape, probe if shape == "json" else set(probe.columns))
                if fmt is None:
                    if not _empty_page(probe):
                        bill.skipped.append(Skipped(source, where, "not a known bill export", _hint()))
                    continue
                lines, skipped = fmt.read(probe, source)
                bill.lines += lines
                bill.skipped += [
                    Skipped(s.source, ", ".join(p for p in (where, s.where) if p), s.reason, s.hint)
                    for s in skipped
                ]
                bill.formats.setdefault(source, set()).add(fmt.name)
        except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
            bill.skipped.append(Skipped(source, "", f"cannot be read: {exc}", _hint()))
    return bill


def _hint() -> str:
    return NOT_A_BILL.format(", ".join(FORMATS))


def _empty_page(probe: Any) -> bool:
    """A page of buckets with no results (a quiet day), or of no buckets: nothing to read, nothing wrong."""
    if not isinstance(probe, dict) or not isinstance(probe.get("data"), list) or "has_more" not in probe:
        return False
    return all(
        isinstance(b, dict)
        and ("start_time" in b or "starting_at" in b)
        and not (b.get("results") or b.get("result"))
        for b in probe["data"]
    )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Struct columns (Google's ``service``, ``sku``, ``usage``) as ``service.description`` columns;
    repeated fields (``labels``, ``credits``) left out: no reader compares them."""
    while structs := [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]:
        frame = frame.unnest(structs, separator=".")
    return frame.drop(c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Array))


def _documents(path: Path) -> Iterator[tuple[str, Literal["json", "table", "bad"], Any]]:
    """(where, "json" | "table" | "bad", page, frame or why not) for each document of a file."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = _flat(pl.read_parquet(path))
        yield "", "table", frame.rename(snake).select(pl.all().cast(pl.String))
        return
    if name.endswith((".csv", ".csv.gz")):
        yield "", "table", pl.read_csv(path, infer_schema=False).rename(snake)
        return
    data = path.read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        if b"\0" in data or not _utf8(data):  # binary (a zip, an image): one note, not one per "line"
            yield "", "bad", "the file is binary, not text"
            return
        for number, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    yield f"line {number}", "json", orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield f"line {number}", "bad", str(exc)
        return
    pages = doc if isinstance(doc, list) else [doc]
    for number, page in enumerate(pages, 1):
        yield (f"page {number}" if isinstance(doc, list) else ""), "json", page


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
