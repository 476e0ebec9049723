"""Which files are captures to read: the rule ``ingest --include/--exclude`` and ``ingest --follow``
share (``FileFilter``), and the names of rotated and compressed logs."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .sources import META_SUFFIX

_ROTATED = re.compile(r"\.(jsonl|ndjson)[.-][0-9][0-9A-Za-z_.-]*$")


class FileFilter:
    """Which files under the watched roots are captures: a file given as a root whatever its name; in
    directories, by default the names ``ingest`` reads (``*.jsonl``, ``*.sse``, ...) and rotated logs
    (``app.jsonl.1``, ``app.jsonl.2.gz``), with ``include`` globs only the names or root-relative paths
    matching one; never those matching an ``exclude`` glob, sidecars, hidden files, or anything under
    ``ignore`` (the store)."""

    def __init__(self, roots: Sequence[Path], include: Sequence[str] = (), exclude: Sequence[str] = (),
                 ignore: Sequence[Path] = ()) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.ignore = [Path(p).absolute() for p in ignore]

    def accepts(self, path: Path) -> bool:
        name = path.name
        if name.startswith(".") or name.endswith(tuple(META_SUFFIX + c for c in ("", *_compressed_suffixes()))):
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
        return any(path == i or i in path.parents for i in self.ignore)

    def excluded(self, path: Path) -> bool:
        rel = self._relative(path) or path.name
        return any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(rel, g) for g in self.exclude)

    def _relative(self, path: Path) -> str | None:
        for root in self.roots:
            if path == root:
                return path.name
            if root in path.parents:
                return path.relative_to(root).as_posix()
        return None


def select_files(paths: Iterable[str | Path], include: Sequence[str], exclude: Sequence[str]) -> list[Path]:
    """What plain ``ingest`` reads under ``paths`` with ``--include`` / ``--exclude``: files given by name
    unless excluded; in directories, the capture files (with ``include``: the files matching it)."""
    from .sources import find_files

    roots = [Path(p).absolute() for p in paths]
    found = find_files(roots)  # checks that every path exists
    rule = FileFilter(roots, include, exclude)
    if include:
        found += [f for root in roots if root.is_dir() for f in walk_all(root)]
    return sorted({f for f in found if rule.accepts(f)})


def walk_all(top: Path, on_error: Callable[[OSError], object] | None = None) -> list[Path]:
    """Every file under ``top``, hidden directories left out, in sorted order. ``on_error`` is given the
    error of each directory that cannot be listed (left out otherwise)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error):
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
    from . import sources

    return tuple(getattr(sources, "COMPRESSED", (".gz",)))


def _is_capture_name(name: str) -> bool:
    from .sources import _is_capture_name as is_capture  # the rule ``ingest`` uses for directories

    return is_capture(name)
