"""Kept results: a repeated ``tokmeter report`` answered from what the same report printed last time.

A report on a local store keeps what it wrote to standard output and error, in order, and its exit code in
``STORE/.cache/results/<key>``; ``__main__`` answers the next invocation with the same key by writing that
back, before Typer, Rich, polars or genai-prices are imported (0.2 CPU-s of start-up that a repeated report
otherwise pays). A stale bill is worse than a slow one, so the key is a SHA-256 of everything the output may
depend on, and when one of those cannot be keyed cheaply and surely nothing is kept or replayed:

* the key's format, tokmeter's version and every file of the tokmeter and genai-prices packages (path,
  size, mtime, ctime, inode); the Python executable, version and flags, and each ``sys.path`` folder's
  stat (installing, upgrading or removing any package changes its folder);
* the arguments as given and the working directory; the environment, every variable but a shell's
  bookkeeping (``_``, ``OLDPWD``); whether standard input, output and error are terminals, and their size;
* the config, price and attribution files in force, found as the command finds them (``config.py``): the
  SHA-256 of each one's content and of every file a string in it names (an attribution file's maps);
* the zone files of ``--tz``, of ``$TZ`` and ``/etc/localtime``; today's date in UTC and locally;
* the store: every file under it but lock files and these results (path, size, mtime, ctime, inode), so
  an ingest, a compaction, a rollup or a quarantine replay changes the key.

Only a report whose arguments are all in ``VALUE_OPTIONS`` / ``FLAGS`` is kept, and not: with ``--output``
to a file, ``--bill``, an HTML report (it carries the time it was made), ``--help``, ``--no-cache`` or
``$TOKMETER_RESULT_CACHE=0``, on a remote store, when standard output or error is not a real stream, or when
a file of the key is a pipe or device (it can be read once: by the report, not the key). A
result is kept only when the command exits 0, the key computed again after it ran is the same (nothing
changed while it ran), and no file of the store or the code changed in the ``RACY_NS`` before it started:
a file changed twice within the file system's timestamp granularity could show the same stat both times.
Nothing but the key's digest and what the report printed is written (``replay.py`` writes it, and
replays it). Plain Python: no polars.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import DEBUG_ENV, Settings, attribution_path, config_path, resolve_store, results_kept
from ..errors import TokmeterError

FORMAT = b"tokmeter kept result 1\n"
RESULTS = (".cache", "results")  # under the store
KEEP = 16  # results kept per store; the least recently used go first
RACY_NS = 2_000_000_000  # FAT's mtime granularity, coarser than any other a store is likely to sit on
MAX_BYTES = 16 * 1024 * 1024  # a larger output is not kept
MAX_FILES = 200_000  # a store (or package) with more files than this is not walked on every report
MAX_DEPTH = 8
MAX_NAMED = 10_000  # strings of a config, price or attribution file looked up as file names
NO_CACHE = "--no-cache"
SHELL_VARIABLES = frozenset({"_", "OLDPWD"})  # a shell's bookkeeping, nothing tokmeter reads
COMMAND = "report"
VALUE_OPTIONS = frozenset(  # the report's options that take a value
    {"--by", "--since", "--until", "--model", "--user", "--provider", "--team", "--project", "--api-key"}
    | {"--session", "--tag", "--format", "--output", "-o", "--metric", "--prices", "--bill"}
    | {"--attribution", "--sort", "--tz", "--week-start", "--store"}
)
FLAGS = frozenset({"--chart", "--cost-breakdown", NO_CACHE})
KEPT_FORMATS = frozenset({"table", "json", "csv", "parquet", "focus"})  # html carries the time it was made


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the process was given, read once at its start (polars sets a variable when imported)."""

    args: tuple[str, ...]
    environ: tuple[tuple[str, str], ...]
    cwd: str
    python: tuple[str, ...]  # executable, version, flags, sys.path
    terminals: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """A report that can be kept: its key, the files the key reads, where the result is kept."""

    inputs: Inputs
    store: Path
    files: tuple[Path, ...]  # config, price, attribution files (their content and the files they name)
    zones: tuple[str, ...]
    key: str
    newest_ns: int  # the latest mtime or ctime among the files stat'ed
    made_ns: int
    debug: bool = False

    @property
    def path(self) -> Path:
        return self.store.joinpath(*RESULTS, self.key)

    def fresh(self) -> bool:
        """Whether a file the key stat'ed changed too recently to tell a second change from the first."""
        return self.newest_ns > self.made_ns - RACY_NS


# ---- which invocations: the arguments -------------------------------------------------------------------
def options(args: Sequence[str]) -> dict[str, list[str]] | None:
    """The report's options as given (name -> values; a flag's value is ""), or None when an argument is
    not one ``VALUE_OPTIONS`` or ``FLAGS`` knows (a value is taken as the command line takes it: the next
    argument, or after ``=`` in ``--name=value``)."""
    found: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        token = args[index]
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in FLAGS and not equals:
            found.setdefault(name, []).append("")
        elif name in VALUE_OPTIONS:
            if not equals:
                if index + 1 == len(args):
                    return None
                index += 1
                value = args[index]
            found.setdefault(name, []).append(value)
        else:
            return None
        index += 1
    return found


def keepable(given: Mapping[str, list[str]]) -> bool:
    """Whether a report with these options prints all it produces and nothing that the key does not cover."""
    output = given.get("--output", []) + given.get("-o", [])
    return (
        NO_CACHE not in given
        and "--bill" not in given
        and all(value == "-" for value in output)
        and given.get("--format", ["table"])[-1] in KEPT_FORMATS
    )


# ---- the key ----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Key:
    hash: Any = field(default_factory=lambda: hashlib.sha256(FORMAT))
    newest_ns: int = 0
    files: int = 0

    def add(self, *values: object) -> None:
        self.hash.update(repr(values).encode("utf-8", "backslashreplace") + b"\n")

    def stat(self, label: str, result: os.stat_result | None) -> None:
        if result is None:
            self.add(label, None)
            return
        self.add(label, result.st_mode, result.st_size, result.st_mtime_ns, result.st_ctime_ns, result.st_ino)
        self.newest_ns = max(self.newest_ns, result.st_mtime_ns, result.st_ctime_ns)

    def tree(self, label: str, root: Path, skip: Callable[[str, str], bool]) -> None:
        """Every entry under ``root`` (its path and stat), but those ``skip(relative folder, name)`` says."""
        stack = [(str(root), "")]
        while stack:
            folder, rel = stack.pop()
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda entry: entry.name)
            for entry in entries:
                if skip(rel, entry.name):
                    continue
                path = f"{rel}/{entry.name}"
                self.files += 1
                if self.files > MAX_FILES or path.count("/") > MAX_DEPTH:
                    raise Unkeyable(f"more than {MAX_FILES} files or {MAX_DEPTH} levels under {root}")
                if entry.is_dir():
                    self.add(label, path, "folder")
                    stack.append((entry.path, path))
                else:
                    self.stat(f"{label}{path}", entry.stat())

    def content(self, label: str, path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = None
        self.add(label, str(path), None if data is None else hashlib.sha256(data).hexdigest())
        return data


class Unkeyable(Exception):
    """Something the output depends on cannot be keyed: neither keep nor replay."""


def stat_of(path: str | Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _code(key: _Key, inputs: Inputs) -> None:
    """tokmeter and the Python it runs on: an upgrade or an edit of any module changes the key."""
    package = Path(__file__).resolve().parent.parent
    key.add("tokmeter", __version__, str(package), *inputs.python[:3])
    key.tree("code:", package, lambda _rel, name: name == "__pycache__")
    for entry in inputs.python[3:]:
        place = os.path.abspath(entry or inputs.cwd)
        key.stat(f"path:{entry}", None if place == inputs.cwd else stat_of(place))  # the cwd is keyed whole
    import importlib.util  # start-up time: finds genai-prices without importing it

    spec = importlib.util.find_spec("genai_prices")  # its price data, even in an editable install
    for folder in (spec and spec.submodule_search_locations) or ():
        key.tree("genai-prices:", Path(folder), lambda _rel, name: name == "__pycache__")


def _files(key: _Key, files: Sequence[Path]) -> None:
    """Each file's content, and the content of every file a string in it names (relative to its folder)."""
    for path in files:
        _readable_twice(path)
        data = key.content("file", path)
        if data is None:  # each is TOML whatever its name (an attribution file named rules.conf)
            continue
        import tomllib  # start-up time: only when there is such a file

        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise Unkeyable(f"{path} is not TOML") from None
        named = list(_strings(doc))
        if len(named) > MAX_NAMED:
            raise Unkeyable(f"{path} holds more than {MAX_NAMED} strings")
        for text in named:
            try:
                target = path.parent / Path(text).expanduser()
                _readable_twice(target)
                if target.is_file():
                    key.content(f"named by {path}", target)
            except (OSError, ValueError, RuntimeError):
                continue  # not a file name (a NUL, an unknown ~user): the command will not read it either


def _readable_twice(path: Path) -> None:
    """Raise ``Unkeyable`` when ``path`` is a pipe, FIFO, socket or device (``--prices <(...)``, ``cat f |
    ... --prices /dev/stdin``): what the key read of it, the report could not read again (it priced
    without the file's discounts). A folder, a missing file and /dev/null (empty every time) are left to
    the command."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or os.path.realpath(path) == os.devnull):
        raise Unkeyable(f"{path} is not a regular file: it can be read only once")


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _zones(key: _Key, zones: Sequence[str]) -> None:
    """The zone files ``zoneinfo`` reads for these names (and the system's local zone)."""
    import zoneinfo  # start-up time: only to find its search path

    key.stat("/etc/localtime", stat_of("/etc/localtime"))
    for name in zones:
        for folder in zoneinfo.TZPATH:
            key.stat(f"zone:{folder}:{name}", stat_of(os.path.join(folder, name.lstrip(":"))))


def _store(key: _Key, root: Path) -> None:
    def skip(rel: str, name: str) -> bool:
        return name.endswith(".lock") or (rel == "" and name == RESULTS[0])

    key.add("store", str(root))
    key.tree("store:", root, skip)


def compute(inputs: Inputs, store: Path, files: Sequence[Path], zones: Sequence[str], now_ns: int) -> _Key:
    """The key of a report (see the module docstring); ``Unkeyable`` or ``OSError`` when it has none."""
    key = _Key()
    _code(key, inputs)
    key.add("args", *inputs.args)
    key.add("cwd", inputs.cwd)
    key.add("environ", *inputs.environ)
    key.add("terminals", *inputs.terminals)
    key.add("uid", os.getuid() if hasattr(os, "getuid") else None)
    _files(key, files)
    _zones(key, zones)
    seconds = now_ns // 1_000_000_000
    key.add(
        "today",
        time.strftime("%Y-%m-%d", time.gmtime(seconds)),
        time.strftime("%Y-%m-%d %z", time.localtime(seconds)),
    )
    _store(key, store)
    return key


def _terminals() -> tuple[object, ...]:
    found: list[object] = []
    for fd in (0, 1, 2):
        tty = os.isatty(fd)
        found.append(tty)
        if tty:
            try:
                found.append(tuple(os.get_terminal_size(fd)))
            except OSError:
                found.append(None)
    return tuple(found)


def read_inputs(args: Sequence[str], environ: Mapping[str, str]) -> Inputs:
    return Inputs(
        tuple(args),
        tuple(sorted((name, value) for name, value in environ.items() if name not in SHELL_VARIABLES)),
        os.getcwd(),
        (sys.executable, sys.version, repr(sys.flags), *sys.path),
        _terminals(),
    )


def prepare(args: Sequence[str], environ: Mapping[str, str] | None = None) -> Plan | None:
    """The plan of this invocation when it is a report that can be kept (and replayed), else None."""
    env = dict(os.environ if environ is None else environ)
    if args[:1] != [COMMAND] or not results_kept(env) or not _real_streams():
        return None
    given = options(args[1:])
    if given is None or not keepable(given):
        return None
    debug = _debug(env)
    try:
        return _plan(read_inputs(args, env), given, env, debug)
    except (Unkeyable, OSError, ValueError, TokmeterError) as exc:
        note(debug, f"no kept result: {exc}")
    except Exception as exc:  # noqa: BLE001 - an optimisation: whatever fails here, the report runs as always
        note(debug, f"no kept result: {type(exc).__name__}: {exc}")
    return None


def _plan(inputs: Inputs, given: Mapping[str, list[str]], env: Mapping[str, str], debug: bool) -> Plan:
    last = {name: values[-1] for name, values in given.items()}
    location = last.get("--store") or env.get("TOKMETER_STORE") or None  # as the command line takes it
    if location is not None and "://" in location:
        raise Unkeyable("a remote store")
    store = resolve_store(location).absolute()
    config, _required = config_path()
    prices = Settings.resolve(prices=last.get("--prices"), environ=env).prices
    attribution = attribution_path(last.get("--attribution"), env)
    files = tuple(path.absolute() for path in (config, prices, attribution) if path is not None)
    zones = (last.get("--tz", "UTC"), *([env["TZ"]] if env.get("TZ") else []))
    now = time.time_ns()
    key = compute(inputs, store, files, zones, now)
    return Plan(inputs, store, files, zones, key.hash.hexdigest(), key.newest_ns, now, debug)


def _real_streams() -> bool:
    return all(
        stream is not None and hasattr(stream, "buffer") and hasattr(stream, "fileno")
        for stream in (sys.stdout, sys.stderr)
    )


def _debug(env: Mapping[str, str]) -> bool:
    return (env.get(DEBUG_ENV) or "0") not in ("0", "false", "no")


def note(debug: bool, message: str) -> None:
    """With ``$TOKMETER_DEBUG``, say on standard error what happened to the kept result (after the output)."""
    if debug:
        sys.stderr.write(f"tokmeter: {message}\n")
        sys.stderr.flush()
