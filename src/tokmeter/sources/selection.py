"""Which files are captures to read: the rule ``ingest --include/--exclude`` and ``ingest --follow``
share (``FileFilter``), and the names of rotated and compressed logs."""

from __future__ import annotations

import fnmatch
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ..errors import UsageError
from ..output_paths import STDIO, is_stdio
from . import COMPRESSED, META_SUFFIX, is_store
from . import _is_capture_name as is_capture

_ROTATED = re.compile(r"\.(jsonl|ndjson)[.-][0-9][0-9A-Za-z_.-]*$")


class FileFilter:
    """Which files under the watched roots are captures: a file given as a root whatever its name; in
    directories, by default the names ``ingest`` reads (``*.jsonl``, ``*.sse``, ...) and rotated logs
    (``app.jsonl.1``, ``app.jsonl.2.gz``), with ``include`` globs only the names or root-relative paths
    matching one; never those matching an ``exclude`` glob, sidecars, hidden files, or anything under
    ``ignore`` (the store)."""

    def __init__(
        self,
        roots: Sequence[Path],
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        ignore: Sequence[Path] = (),
    ) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.ignore = [Path(p).absolute() for p in ignore]
        # "under a root" as a prefix of the path's text: ``root in path.parents`` builds a Path per parent,
        # 80 us a file (3,000 transcripts: 0.2 s of an ingest's start)
        self._root_prefixes = [(root, _as_prefix(root)) for root in self.roots]
        self._ignore_prefixes = [(ignored, _as_prefix(ignored)) for ignored in self.ignore]

    def accepts(self, path: Path) -> bool:
        name = path.name
        if name.startswith(".") or name.endswith(
            tuple(META_SUFFIX + c for c in ("", *_compressed_suffixes()))
        ):
            return False
        if self.ignored(path):
            return False
        rel = self._relative(path)
        if rel is None or any(part.startswith(".") for part in rel.split("/")[:-1]):
            return False
        if path in self.roots:
            chosen = True  # a file named on the command line is read whatever its name
        elif self.include:
            chosen = any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) for g in self.include)
        else:
            chosen = _is_capture_name(name) or rotated_log_name(name)
        return chosen and not self.excluded(path)

    def ignored(self, path: Path) -> bool:
        """At or under a path never read (the store)."""
        text = str(path)
        return any(path == i or text.startswith(prefix) for i, prefix in self._ignore_prefixes)

    def excluded(self, path: Path) -> bool:
        rel = self._relative(path) or path.name
        return any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(rel, g) for g in self.exclude)

    def _relative(self, path: Path) -> str | None:
        text = str(path)
        for root, prefix in self._root_prefixes:
            if path == root:
                return path.name
            if text.startswith(prefix):
                return PurePath(text[len(prefix) :]).as_posix()
        return None


def _as_prefix(folder: Path) -> str:
    """The text every path under ``folder`` starts with (both absolute, as ``Path`` spells them)."""
    return os.path.join(str(folder), "")


NOT_CAPTURE_NAME = "not a capture file name"
NOT_INCLUDED = "not matching --include"


@dataclass(slots=True)
class Selection:
    """What plain ``ingest`` reads, and the files of the given directories it passed over: (reason, name
    pattern such as ``*.log``) -> how many. Files never meant as captures (hidden ones, sidecars, those
    ``--exclude`` names, a store's own files) are left out silently."""

    files: list[Path] = field(default_factory=list)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)


def select_inputs(
    paths: Iterable[str | Path], include: Sequence[str] = (), exclude: Sequence[str] = (), fmt: str = "auto"
) -> Selection:
    """What plain ``ingest`` reads under ``paths``: ``-`` (standard input), files given by name unless
    excluded, and in directories the capture files by name (rotated logs too), with ``include`` only the
    names or paths matching it, with a ``fmt`` other than auto every file (read as that format)."""
    given = [Path(STDIO) if is_stdio(p) else Path(p).absolute() for p in paths]
    rule = FileFilter([p for p in given if not is_stdio(p)], include, exclude)
    chosen = Selection()
    for path in given:
        if is_stdio(path) or path.is_file():
            if is_stdio(path) or not rule.excluded(path):
                chosen.files.append(path)
        elif path.is_dir():
            for found in walk_all(path, skip_stores=True):
                why = _why_not(found, rule, fmt)
                if why is None:
                    chosen.files.append(found)
                elif why:
                    chosen.skipped[why, _pattern(found.name)] += 1
        else:
            raise UsageError(f"{path}: no such file or directory", hint="check the path you passed to ingest")
    chosen.files = list(dict.fromkeys(chosen.files))
    return chosen


def _why_not(path: Path, rule: FileFilter, fmt: str) -> str | None:
    """None when a file found in a directory is read; else why not ("" for files never meant as captures)."""
    if rule.accepts(path):
        return None
    name = path.name
    if name.startswith(".") or name.endswith(tuple(META_SUFFIX + c for c in ("", *_compressed_suffixes()))):
        return ""
    if rule.excluded(path):
        return ""
    if rule.include:
        return NOT_INCLUDED
    return None if fmt != "auto" else NOT_CAPTURE_NAME


def _pattern(name: str) -> str:
    """``*.log`` for ``proxy.log``, ``*.log.gz`` for ``proxy.log.gz``; the name itself when it has no suffix."""
    plain = name
    for suffix in _compressed_suffixes():
        plain = plain.removesuffix(suffix)
    suffix = Path(plain).suffix
    return f"*{suffix}{name[len(plain) :]}" if suffix else name


def walk_all(
    top: Path, on_error: Callable[[OSError], object] | None = None, *, skip_stores: bool = False
) -> list[Path]:
    """Every file under ``top``, hidden directories (and with ``skip_stores``, tokmeter stores) left out,
    in sorted order. ``on_error`` is given the error of each directory that cannot be listed (left out
    otherwise)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error):
        if skip_stores and is_store(Path(dirpath)):
            dirnames[:] = []  # never read a store (its ledger is JSON Lines) as captures
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += (Path(dirpath) / name for name in sorted(filenames))
    return found


def rotated_log_name(name: str) -> bool:
    for suffix in _compressed_suffixes():
        name = name.removesuffix(suffix)
    return bool(_ROTATED.search(name))


def log_base_name(name: str) -> str:
    """The capture log a rotated name stems from: ``app.jsonl`` for ``app.jsonl.1``,
    ``app.jsonl.2.gz`` and ``app.jsonl-20261103.gz``; other names as they are."""
    plain = name
    for suffix in _compressed_suffixes():
        plain = plain.removesuffix(suffix)
    found = _ROTATED.search(plain)
    return f"{plain[: found.start()]}.{found.group(1)}" if found else name


def compressed_name(name: str) -> bool:
    return name.endswith(_compressed_suffixes())


def _compressed_suffixes() -> tuple[str, ...]:
    return tuple(COMPRESSED)


def _is_capture_name(name: str) -> bool:
    return is_capture(name)  # the rule ``ingest`` uses for directories
