"""Single-response files: ``NAME.sse`` (a raw event stream) or ``NAME.json`` (a response body), each
with an optional sidecar ``NAME.meta.json`` holding the capture-record metadata fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from ..capture import BadCapture, Capture, fingerprint
from ..config import settings


def file_time(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


COMPRESSED = (".gz", ".zst")  # the suffixes of compressed files, read transparently


def plain_name(name: str) -> str:
    """A file name without its compression suffix."""
    for suffix in COMPRESSED:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def sidecar_path(path: Path, suffix: str) -> Path:
    """``NAME.meta.json`` beside ``NAME.sse``, ``NAME.sse.gz`` or ``NAME.sse.zst``."""
    stem = plain_name(path.name).rsplit(".", 1)[0]
    return path.with_name(stem + suffix)


def _sidecar_digest(sidecar: Path) -> str | None:
    try:
        return fingerprint(sidecar.read_bytes())
    except OSError:
        return None


def read_single_file(
    path: Path, fmt: str, open_bytes: Callable[[Path], IO[bytes]], meta_suffix: str
) -> Capture | BadCapture:
    source = str(path)
    meta: dict = {}
    sidecar = sidecar_path(path, meta_suffix)
    if sidecar.exists():
        try:
            meta = orjson.loads(sidecar.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            return BadCapture(
                source,
                0,
                f"sidecar {sidecar.name} is not valid JSON ({str(exc).split(':')[0][:60]})",
                format=fmt,
                digest=_sidecar_digest(sidecar),
            )
        if not isinstance(meta, dict):
            return BadCapture(
                source,
                0,
                f"sidecar {sidecar.name} must hold a JSON object",
                format=fmt,
                digest=_sidecar_digest(sidecar),
            )
        meta.pop("body", None)
    largest = settings().max_line_bytes
    with open_bytes(path) as handle:
        body = handle.read(largest + 1)
    if len(body) > largest:
        return BadCapture(
            source,
            0,
            f"response file larger than {largest:,} bytes: set aside unread "
            "(raise TOKMETER_MAX_LINE_BYTES to read it)",
            format=fmt,
        )
    return Capture(source, 0, meta, body, None, file_time(path), fmt, body)
