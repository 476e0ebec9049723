"""Capture sources: find capture files, tell their format, and yield captures from them.

Formats (auto-detected from the file name, then from the first bytes; ``--format`` overrides):

* ``capture-log``: ``*.jsonl`` / ``*.ndjson``, one capture record (a JSON object) per line;
* ``sse``: ``*.sse``, one raw event stream; ``json``: ``*.json``, one response body. Both take their
  metadata from an optional sidecar ``NAME.meta.json``;
* ``har``: ``*.har``, an HTTP Archive; one capture per LLM API entry (see ``har.py``).

``.gz`` compressed files are read transparently.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..errors import UsageError
from .capture import BadCapture, Capture
from .capture_log import read_capture_log
from .har import read_har
from .single_file import read_single_file

__all__ = ["FORMATS", "Capture", "BadCapture", "find_files", "detect_format", "read_captures"]

FORMATS = ("auto", "capture-log", "sse", "json", "har")
META_SUFFIX = ".meta.json"
_BY_SUFFIX = {
    ".jsonl": "capture-log", ".ndjson": "capture-log", ".sse": "sse", ".json": "json", ".har": "har"
}


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every capture file under the given files and directories, sorted, sidecars left out."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).absolute()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                if _is_store(Path(dirpath)):
                    dirnames[:] = []  # never read a tokmeter store (its ledger is JSONL) as captures
                    continue
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += (Path(dirpath) / name for name in sorted(filenames) if _is_capture_name(name))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory", hint="check the path you passed to ingest")
    return found


def _is_store(directory: Path) -> bool:
    return (directory / ".lock").exists() and (directory / "usage").is_dir()


def _is_capture_name(name: str) -> bool:
    if name.startswith(".") or name.endswith((META_SUFFIX, META_SUFFIX + ".gz")):
        return False
    return _plain_name(name).endswith(tuple(_BY_SUFFIX))


def _plain_name(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


def open_bytes(path: Path) -> IO[bytes]:
    """Open a capture file for reading, decompressing ``.gz``."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def detect_format(path: Path) -> str:
    """The format of a capture file: by suffix, else by its first bytes."""
    suffix = Path(_plain_name(path.name)).suffix
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    with open_bytes(path) as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"data:", b"event:", b":")):
        return "sse"
    first_line = head.split(b"\n", 1)[0]
    if head.startswith(b"{") and (b'"body"' in first_line or b'"ts"' in first_line):
        return "capture-log"
    return "json"


def read_captures(path: Path, fmt: str = "auto") -> Iterator[Capture | BadCapture]:
    """Every capture in one file, in file order; unreadable ones come out as ``BadCapture``."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "capture-log":
        with open_bytes(path) as handle:
            yield from read_capture_log(handle, str(path), _file_time(path))
    elif fmt == "har":
        with open_bytes(path) as handle:
            yield from read_har(handle, str(path), _file_time(path))
    elif fmt in ("sse", "json"):
        yield read_single_file(path, fmt, open_bytes, META_SUFFIX)
    else:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")


def _file_time(path: Path):  # noqa: ANN202 - a datetime, imported lazily by the callee
    from .single_file import file_time

    return file_time(path)
