"""Where commands write and read: one check for every ``--output``, ``--prometheus`` and HTML target, and
``-`` for standard output or input.

Targets are checked before any work is done, so a typo costs nothing and never leaves a traceback: a file
target must name a file in an existing, writable folder (its folder is never created); a folder target
(``rollup --output DIR``) is created when missing, its parent never, and the command says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from .errors import UsageError

STDIO = "-"  # standard output where a path is written, standard input where one is read


def is_stdio(path: str | Path | None) -> bool:
    return path is not None and str(path) == STDIO


def output_file(path: Path | None, option: str, *, example: str = "tokmeter.out") -> Path | None:
    """The file ``option`` names, checked; None for standard output (no option, or ``-``). ``example``: a
    file name for the hint when a folder was given."""
    if path is None or is_stdio(path):
        return None
    target = path.expanduser()
    if target.is_dir():
        raise UsageError(
            f"{option} {path}: is a folder, not a file",
            hint=f"name a file in it, e.g. {option} {target / example}",
        )
    _check_folder(target.parent, option, path)
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(
            f"{option} {path}: the file exists and cannot be written (permissions)",
            hint="write to another file, or fix its permissions",
        )
    return target


def output_folder(path: Path, option: str) -> bool:
    """Check the folder ``option`` names, creating it (not its parents) when missing; True when created."""
    if is_stdio(path):
        raise UsageError(
            f"{option} needs a folder, not standard output ({STDIO})", hint=f"e.g. {option} ./rollups"
        )
    target = path.expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(
            f"{option} {path}: is a file, not a folder", hint="name a folder (it is created if missing)"
        )
    if target.is_dir():
        return False
    _check_folder(target.parent, option, path)
    try:
        target.mkdir()
    except OSError as exc:
        raise UsageError(
            f"{option} {path}: cannot create the folder: {exc.strerror}",
            hint="create it yourself, or name another folder",
        ) from None
    return True


def _check_folder(folder: Path, option: str, given: Path) -> None:
    if not folder.exists():
        raise UsageError(
            f"{option} {given}: the folder {folder} does not exist",
            hint=f"create it first (mkdir -p {folder}), or write somewhere else; tokmeter does not "
            "create it, so a typo cannot make folders",
        )
    if not folder.is_dir():
        raise UsageError(f"{option} {given}: {folder} is a file, not a folder", hint="check the path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {given}: cannot write in the folder {folder} (permissions)",
            hint="write somewhere else, or run as a user who may write there",
        )


def web_url(url: str, option: str, *, example: str) -> str:
    """``url`` (an http(s) URL ``option`` names), checked before any work; the message never shows a
    password in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} {shown_url(url)}: not an http(s) URL", hint=f"e.g. {option} {example}")
    return url


def shown_url(url: str, *, path: bool = True) -> str:
    """``url`` as messages show it: a ``user:password@`` in it is a credential, shown as ``***@``; without
    ``path`` the path and query are left out too (a webhook's path often is its secret)."""
    parts = urlsplit(url)
    netloc = parts.netloc if "@" not in parts.netloc else "***@" + parts.netloc.rsplit("@", 1)[1]
    if path:
        return parts._replace(netloc=netloc).geturl()
    return parts._replace(
        netloc=netloc, path="/…" if parts.path not in ("", "/") else parts.path, query="", fragment=""
    ).geturl()
