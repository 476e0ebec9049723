"""The ingest side of the logged-record formats and the coding agents, attacked together: compressed
files and their sidecars, following, dedup across sources, bad records (hardening, round two)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import zstandard

from conftest import SAMPLE_LOGS
from tokmeter.extract import extract_row
from tokmeter.sources import Capture, read_captures

RESPONSES = SAMPLE_LOGS / "responses"


def _rows(path: Path) -> list[dict]:
    return [
        {k: v for k, v in extract_row(c).items() if k != "source"}
        for c in read_captures(path)
        if isinstance(c, Capture)
    ]


@pytest.mark.parametrize("name", ["an-cut.sse", "oa-chat.json"])
def test_a_zst_response_file_keeps_its_sidecar(name: str, tmp_path: Path) -> None:
    """``NAME.sse.zst`` reads ``NAME.meta.json`` as ``NAME.sse.gz`` does (it was looked up as
    ``NAME.sse.meta.json``, so the rows lost their user, time and request id)."""
    shutil.copy(RESPONSES / (Path(name).stem + ".meta.json"), tmp_path)
    packed = tmp_path / (name + ".zst")
    packed.write_bytes(zstandard.ZstdCompressor().compress((RESPONSES / name).read_bytes()))
    shutil.copystat(RESPONSES / name, packed)
    assert _rows(packed) == _rows(RESPONSES / name) != []
