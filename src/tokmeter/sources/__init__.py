"""Capture sources: find capture files, tell their format, and yield captures from them.

Formats (auto-detected from the file name, then from the first bytes; ``--format`` overrides):

* ``capture-log``: ``*.jsonl`` / ``*.ndjson``, one capture record (a JSON object) per line;
* ``sse``: ``*.sse``, one raw event stream; ``json``: ``*.json``, one response body. Both take their
  metadata from an optional sidecar ``NAME.meta.json``;
* ``har``: ``*.har``, an HTTP Archive; one capture per LLM API entry (see ``har.py``);
* ``token-log``: an api-proxy sidecar's usage log, one normalized record per response (``token_log.py``);
* ``claude-code``: Claude Code transcripts, ``~/.claude/projects/**/*.jsonl`` (``claude_code.py``);
* ``codex``: Codex CLI sessions, ``~/.codex/sessions/**/*.jsonl`` (``codex.py``).

The last three share the ``.jsonl`` suffix with capture logs: their first lines tell them apart
(``sniff.py``), and so they do for a file of JSON Lines under another name (``proxy.log``). When the lines
do not tell, the location does: a file found through ``--claude-code`` / ``--codex`` comes with that
format as its hint (``find_inputs``), else the path may imply one. A file whose lines are JSON objects of
no known kind is ``UNKNOWN``: one bad capture naming its fields, never a row. ``.gz`` and ``.zst``
compressed files are read transparently.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

import orjson

from ..capture import FORMATS, BadCapture, Capture
from ..config import settings
from ..errors import UsageError
from .agents import AGENTS, sniff_agent
from .batch import read_anthropic_batch, read_openai_batch
from .bedrock_logs import read_bedrock_logs
from .capture_log import read_capture_log
from .gateway_logs import read_cloudflare, read_kong
from .har import read_har
from .litellm import read_litellm
from .options import DEFAULT_READ, ReadOptions
from .otel import read_otel
from .records import LoggedReader
from .single_file import COMPRESSED, file_time, plain_name, read_single_file
from .sniff import (
    EXPORT_TIME,
    HEAD_BYTES,
    LOG_FLAVOURS,
    SNIFF_LINES,
    Sniffed,
    flavour_from_path,
    no_known_format,
    sniff_lines,
)
from .token_log import read_token_log

__all__ = [
    "FORMATS",
    "BadCapture",
    "Capture",
    "Input",
    "ReadOptions",
    "as_input",
    "detect_format",
    "find_files",
    "find_inputs",
    "hint_of",
    "read_captures",
]

STDIN = "-"  # as a path: standard input (output_paths.STDIO)
STDIN_SOURCE = "<stdin>"  # the source of its rows
META_SUFFIX = ".meta.json"
_BY_SUFFIX = {
    ".jsonl": "capture-log",
    ".ndjson": "capture-log",
    ".sse": "sse",
    ".json": "json",
    ".har": "har",
}
_JSON_LINES = (".jsonl", ".ndjson")
AGENT_HEAD = 4096  # bytes an agent's sniffer is shown of a file (an SQLite header, a session's first keys)
_SNIFF_BUDGET = 4 << 20  # bytes read at most to tell a JSON Lines flavour (long lines are skipped over)
UNKNOWN = "unknown"  # what detect_format says of JSON Lines of no known kind (never a --format choice)
_LINE_READERS = {"capture-log": read_capture_log, "har": read_har, "token-log": read_token_log}


# logs other systems write: JSON Lines, also under .json (an S3 object of invocation logs)
_LOGGED_READERS: dict[str, LoggedReader] = {
    "openai-batch": read_openai_batch,
    "anthropic-batch": read_anthropic_batch,
    "bedrock-invocation-log": read_bedrock_logs,
    "litellm": read_litellm,
    "otel": read_otel,
    "kong": read_kong,
    "cloudflare-ai-gateway": read_cloudflare,
}
# JSON Lines that ``ingest --follow`` reads on from a checkpoint as they grow, as it reads capture logs
FOLLOWED_LOGS = frozenset(_LOGGED_READERS)
_CLOUDWATCH_EXPORT = re.compile(r"^\d{6}\.gz$")  # the objects of a CloudWatch Logs export task


class Input(NamedTuple):
    """A path to read, and the format its location implies (``--claude-code``, ``--codex``), if any."""

    path: Path
    hint: str | None = None


def find_files(paths: Iterable[str | Path | Input]) -> list[Path]:
    """Every capture file under the given files and directories, sorted, sidecars left out."""
    return [found.path for found in find_inputs(paths)]


def as_input(raw: str | Path | Input) -> Input:
    """A path given to read, as an ``Input`` with an absolute path."""
    return (
        Input(Path(raw.path).absolute(), raw.hint) if isinstance(raw, Input) else Input(Path(raw).absolute())
    )


def hint_of(path: Path, inputs: Iterable[Input]) -> str | None:
    """The hint of the innermost of ``inputs`` that ``path`` is or lies in (None: none has one)."""
    holding = [found for found in inputs if found.path == path or found.path in path.parents]
    return max(holding, key=lambda found: len(found.path.parts)).hint if holding else None


def find_inputs(paths: Iterable[str | Path | Input]) -> list[Input]:
    """``find_files``, each file with the hint of the ``Input`` it was found under."""
    found: list[Input] = []
    for raw in paths:
        if str(raw) == STDIN:
            found.append(Input(Path(STDIN)))
            continue
        path, hint = as_input(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                if is_store(Path(dirpath)):
                    dirnames[:] = []  # never read a tokmeter store (its ledger is JSONL) as captures
                    continue
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += (
                    Input(Path(dirpath) / name, hint) for name in sorted(filenames) if _is_capture_name(name)
                )
        elif path.exists():
            found.append(Input(path, hint))
        else:
            raise UsageError(f"{path}: no such file or directory", hint="check the path you passed to ingest")
    return found


def is_store(directory: Path) -> bool:
    return (directory / ".lock").exists() and (directory / "usage").is_dir()


def _is_capture_name(name: str) -> bool:
    if name.startswith(".") or name.endswith(tuple(META_SUFFIX + c for c in ("", *COMPRESSED))):
        return False
    if _CLOUDWATCH_EXPORT.match(name):
        return True
    return plain_name(name).endswith(tuple(_BY_SUFFIX))


# A compressed file may expand at most this many times its size (past a 256 MiB floor): a gzip bomb is
# set aside as a bad file instead of filling memory or disk time. $TOKMETER_MAX_DECOMPRESSION_RATIO.
RATIO_FLOOR = 256 * 1024 * 1024


# Captures are lines of tens of KB: with the default 8 KB buffer, reading a line takes several reads and
# joins (3x slower over a capture log).
READ_BUFFER = 64 * 1024


def open_bytes(path: Path) -> IO[bytes]:
    """Open a capture file for reading, decompressing ``.gz`` and ``.zst``. Corrupt compressed data, and a
    file that expands past ``$TOKMETER_MAX_DECOMPRESSION_RATIO`` times its size, raise ``OSError`` (a bad file, never a crash)."""
    if path.name.endswith(".gz"):
        return io.BufferedReader(_Decompressed(path, "gzip"), READ_BUFFER)
    if path.name.endswith(".zst"):
        return io.BufferedReader(_Decompressed(path, "zstd"), READ_BUFFER)
    return open(path, "rb", buffering=READ_BUFFER)


def open_whole_lines(path: Path) -> IO[bytes]:
    """``open_bytes`` of a JSON Lines file, ending at its last newline when what follows is no whole JSON
    value: a line still being written, left for the read after the file changed (``ingest --follow`` /
    ``--resume`` read an agent's session or a token log whole, and set a half line aside as bad)."""
    if path.name.endswith(COMPRESSED) or not path.name.endswith(_JSON_LINES):
        return open_bytes(path)  # compressed files are written whole; other files are no lines
    handle = open(path, "rb", buffering=0)  # noqa: SIM115 - the returned reader owns and closes it
    size = _whole_lines_size(handle, os.fstat(handle.fileno()).st_size)
    handle.seek(0)
    return io.BufferedReader(_Prefix(handle, size), READ_BUFFER)


def _whole_lines_size(handle: IO[bytes], size: int) -> int:
    """The bytes of the file up to its last newline, and the line after it if that is whole JSON."""
    end = pos = size
    while pos > 0:
        pos = max(0, pos - READ_BUFFER)
        handle.seek(pos)
        cut = handle.read(end - pos).rfind(b"\n")
        if cut >= 0:
            pos += cut + 1
            break
        end = pos
    if pos == size:
        return size
    handle.seek(pos)
    try:
        orjson.loads(handle.read(size - pos))
    except orjson.JSONDecodeError:
        return pos
    return size


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of an open file."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle, self._left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # a writable buffer, as io.RawIOBase defines it
        view = memoryview(buffer)[: self._left]
        count = self._handle.readinto(view) or 0  # type: ignore[attr-defined]
        self._left -= count
        return count

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


class _Decompressed(io.RawIOBase):
    """A compressed file as a raw byte stream, with decoder errors as ``OSError`` and a ratio cap."""

    def __init__(self, path: Path, kind: str) -> None:
        import zlib

        self._kind = kind
        self._ratio = settings().max_decompression_ratio
        self._limit = max(RATIO_FLOOR, self._ratio * path.stat().st_size)
        self._produced = 0
        if kind == "gzip":
            self._inner: Any = gzip.open(path, "rb")  # noqa: SIM115 - this stream owns it: close() closes it
            self._errors: tuple[type[BaseException], ...] = (zlib.error, EOFError, gzip.BadGzipFile)
        else:
            import zstandard

            # the reader owns the file and closes it (closefd) when this stream is closed
            self._inner = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)  # noqa: SIM115
            self._errors = (zstandard.ZstdError,)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # a writable buffer, as io.RawIOBase defines it
        try:
            count = self._inner.readinto(buffer)
        except self._errors as exc:
            raise OSError(f"corrupt {self._kind} data ({str(exc).split(':')[0]})") from None
        self._produced += count
        if self._produced > self._limit:
            raise OSError(
                f"expands to over {self._ratio} times its size, a decompression bomb? "
                "(raise TOKMETER_MAX_DECOMPRESSION_RATIO to read it)"
            )
        return count

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def detect_format(path: Path, hint: str | None = None) -> str:
    """The format of a capture file: by suffix (JSON Lines by their first lines), else by its first bytes.
    When a JSON Lines file's lines do not tell, ``hint`` (the format its location implies) does."""
    if str(path) == STDIN:  # standard input is a capture log: it is read once, so nothing is sniffed
        return "capture-log"
    suffix = Path(plain_name(path.name)).suffix
    if suffix in _JSON_LINES:
        return _json_lines_format(_sniff(path), path, hint)
    if suffix == ".json" and (logged := _sniff(path).flavour) in LOG_FLAVOURS:
        return logged  # JSON Lines of logged records under .json (Bedrock's S3 objects, OTel exports)
    if suffix in _BY_SUFFIX and suffix != ".json":
        return _BY_SUFFIX[suffix]
    head = _head(path)
    agent = _same_format(sniff_agent(path, head), hint)
    if agent is not None:
        return agent
    if suffix in _BY_SUFFIX:  # an agent's folder holds other JSON files too: its reader skips them
        return hint if suffix == ".json" and hint in AGENTS else _BY_SUFFIX[suffix]
    if head.startswith((b"data:", b"event:", b":")):
        return "sse"
    if EXPORT_TIME.match(head) and (logged := _sniff(path).flavour) in LOG_FLAVOURS:
        return logged  # a CloudWatch Logs export: each line the event's time, then the logged record
    first_line = head.split(b"\n", 1)[0]
    if head.startswith(b"{"):
        seen = _sniff(path)
        found = seen.flavour or hint or flavour_from_path(path)
        if found is not None:
            return found
        if _is_json_lines(path):
            return _json_lines_format(seen, path, hint)  # JSON Lines under another name (proxy.log)
        if b'"body"' in first_line or b'"ts"' in first_line:
            return "capture-log"
    return "json"


def _json_lines_format(seen: Sniffed, path: Path, hint: str | None) -> str:
    """What the first lines tell (an agent's first bytes), else the location, else capture-log unless they
    fit no format."""
    found = seen.flavour or sniff_agent(path, _head(path))
    found = _same_format(found, hint) or hint or flavour_from_path(path)
    if found is not None:
        return found
    return UNKNOWN if seen.fits_nothing else "capture-log"


def _same_format(found: str | None, hint: str | None) -> str | None:
    """The agent whose folder a file is in when its content names another agent writing the same format
    (OpenClaw writes pi's sessions): the location tells them apart; else what the content said."""
    agent = AGENTS.get(hint or "")
    return hint if found is not None and agent is not None and agent.writes_as == found else found


def _head(path: Path) -> bytes:
    with open_bytes(path) as handle:
        return handle.read(AGENT_HEAD).lstrip(b"\xef\xbb\xbf \t\r\n")


def _sniff(path: Path) -> Sniffed:
    with open_bytes(path) as handle:
        return sniff_lines(_line_heads(handle))


def _is_json_lines(path: Path) -> bool:
    """JSON Lines, not one JSON document: a first line that is a whole JSON object (or too long to tell),
    and a second one that starts like one (a pretty-printed document's first line is a lone brace)."""
    with open_bytes(path) as handle:
        heads = [head.strip() for _, head in zip(range(2), _line_heads(handle), strict=False)]
    if len(heads) < 2 or not all(head.startswith(b"{") for head in heads):
        return False
    if len(heads[0]) >= HEAD_BYTES - 1:
        return True
    try:
        return isinstance(orjson.loads(heads[0]), dict)
    except orjson.JSONDecodeError:
        return False


def _line_heads(handle: IO[bytes]) -> Iterator[bytes]:
    """The first ``HEAD_BYTES`` of each non-empty line (long lines are read through, within a budget)."""
    budget = _SNIFF_BUDGET
    for _ in range(SNIFF_LINES * 4):
        head = handle.readline(HEAD_BYTES)
        if not head:
            return
        budget -= len(head)
        rest = head
        while not rest.endswith(b"\n") and rest and budget > 0:
            rest = handle.readline(1 << 16)
            budget -= len(rest)
        if head.strip(b"\xef\xbb\xbf \t\r\n"):
            yield head.lstrip(b"\xef\xbb\xbf")
        if budget <= 0:
            return


def read_captures(
    path: Path,
    fmt: str = "auto",
    hint: str | None = None,
    options: ReadOptions = DEFAULT_READ,
    opener: Callable[[Path], IO[bytes]] = open_bytes,
) -> Iterator[Capture | BadCapture]:
    """Every capture in one file, in file order; unreadable ones come out as ``BadCapture``. ``hint``: the
    format the file's location implies (see ``detect_format``); ``options``: what the file cannot tell
    (the Claude Code user); ``opener``: how its bytes are read (``open_whole_lines`` for a file that may
    be being written)."""
    fmt = detect_format(path, hint) if fmt == "auto" else fmt
    if str(path) == STDIN:
        yield from _read_stdin(fmt, options)
        return
    if fmt == UNKNOWN:
        yield BadCapture(str(path), 0, no_known_format(_sniff(path).fields or []), None, UNKNOWN)
    elif fmt in _LINE_READERS:
        with opener(path) as handle:
            yield from _LINE_READERS[fmt](handle, str(path), _file_time(path))
    elif fmt in AGENTS:
        yield from AGENTS[fmt].read(path, _file_time(path), opener, options)
    elif fmt in _LOGGED_READERS:
        with opener(path) as handle:
            yield from _LOGGED_READERS[fmt](handle, path, _file_time(path), opener, options)
    elif fmt in ("sse", "json"):
        yield read_single_file(path, fmt, open_bytes, META_SUFFIX)
    else:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")


def read_lines(
    fmt: str,
    handle: IO[bytes],
    source: str,
    file_time: datetime | None,
    start: tuple[int, int],
    options: ReadOptions = DEFAULT_READ,
) -> Iterator[Capture | BadCapture]:
    """The records of whole lines of a followed file of a logged-record format (``FOLLOWED_LOGS``),
    ``start`` the byte offset and line number of the handle's first byte in the file."""
    yield from _LOGGED_READERS[fmt](handle, Path(source), file_time, open_bytes, options, *start)


def _read_stdin(fmt: str, options: ReadOptions) -> Iterator[Capture | BadCapture]:
    """Captures from standard input: a capture log stream (or a token log, a HAR, logged records of the
    ``--format`` given, one SSE stream or JSON body). Its time is now: a record without its own ``ts`` is
    stamped with the time it was read."""
    from contextlib import nullcontext
    from dataclasses import replace
    from datetime import UTC, datetime

    handle, now = sys.stdin.buffer, datetime.now(UTC)
    if fmt in _LINE_READERS:
        yield from _LINE_READERS[fmt](handle, STDIN_SOURCE, now)
    elif fmt in _LOGGED_READERS:
        yield from _LOGGED_READERS[fmt](handle, Path(STDIN_SOURCE), now, open_bytes, options)
    elif fmt in ("sse", "json"):
        opener = cast(Callable[[Path], IO[bytes]], lambda _path: nullcontext(handle))  # left open
        found = read_single_file(Path(STDIN_SOURCE), fmt, opener, META_SUFFIX)
        yield replace(found, file_time=now) if isinstance(found, Capture) else found
    else:
        raise UsageError(
            f"--format {fmt} is read from files, not from standard input",
            hint="their paths name the session and project: pass the files or folders instead",
        )


def _file_time(path: Path) -> datetime | None:
    return file_time(path)
