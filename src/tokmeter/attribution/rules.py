"""The attribution file: TOML ``[[rule]]`` tables that say who spent a row when the capture does not.

```toml
[[rule]]
dimension = "team"        # user | team | project | session | tag:NAME
from = "api_key"          # api_key | header:NAME | body:DOTTED.PATH | capture:FIELD | source:REGEX
map = "keys.csv"          # optional: CSV with a header row; column 1 the value, column 2 the owner
default = "unassigned"    # optional: when the value is absent or not in the map
```

``header:``, ``body:`` and ``capture:`` read the raw capture, so ingest keeps their values (``keep``:
``rule:`` tags); ``api_key`` and ``source:`` read stored columns. Maps and defaults apply at query time
(``transform.py``), so an edited map changes every report without re-reading captures; ``digest``
(the file and its maps) tells rollup tables built with other rules apart.

The same file may hold ``[[key]]`` tables (``keys.py``): provider key ids mapped to fingerprints, which
``reconcile --by api_key`` matches a bill's key ids with.

Every error names the file and the line of its ``[[rule]]`` (or the map file) with a hint, and never the
content of an ``api_key`` map (it may hold keys pasted by mistake).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import ConfigError
from ..extract.attribution import Keep, fingerprint_key, is_secret_name, is_text_path, key_digest
from .keys import KeyId, load_keys, map_rows

OWNER_DIMENSIONS = ("user", "team", "project", "session")
TAG_PREFIX = "tag:"
FROM_KINDS = ("api_key", "header", "body", "capture", "source")
_RULE_KEYS = ("dimension", "from", "map", "default")
_EXAMPLE = 'e.g. [[rule]] dimension = "team" from = "api_key" map = "keys.csv"'


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[rule]]``: where its value comes from (``kind``, ``arg``), its map and default."""

    dimension: str
    kind: str
    arg: str
    mapping: tuple[tuple[str, str], ...] | None = None
    default: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Attribution:
    """The rules of one attribution file, in order, and the digest of the file and its maps."""

    path: Path
    rules: tuple[Rule, ...]
    digest: str
    key_ids: tuple[KeyId, ...] = ()  # [[key]]: provider key ids -> fingerprints (keys.py, for reconcile)

    def keep(self) -> Keep:
        """The raw capture values ingest must keep for these rules."""

        def args(kind: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(r.arg for r in self.rules if r.kind == kind))

        return Keep(headers=args("header"), body_paths=args("body"), capture_fields=args("capture"))


def load_attribution(path: Path) -> Attribution:
    """Read and check an attribution file (``ConfigError`` with file, line and hint when it is bad)."""
    try:
        data = path.read_bytes()
        doc = tomllib.loads(data.decode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the attribution file: {exc.strerror}",
            hint="give an existing file with --attribution or $TOKMETER_ATTRIBUTION",
        ) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint=_EXAMPLE) from None
    tables = doc.get("rule", [])
    extra = [key for key in doc if key not in ("rule", "key")]
    if extra or not isinstance(tables, list):
        raise ConfigError(
            f"{path}: {extra[0] if extra else 'rule'}: expected [[rule]] and [[key]] tables only",
            hint=_EXAMPLE,
        )
    lines = _rule_lines(data.decode("utf-8"))
    digest = hashlib.sha256(data)
    key_ids = load_keys(doc.get("key", []), path, data.decode("utf-8"), digest)
    rules = []
    for index, table in enumerate(tables):
        where = f"{path}:{lines[index] if index < len(lines) else 1}"
        rule = _rule(table, where, path.parent, lines[index] if index < len(lines) else 0, digest)
        rules.append(rule)
    return Attribution(path, tuple(rules), f"sha256:{digest.hexdigest()}", key_ids)


def _rule_lines(text: str) -> list[int]:
    header = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), 1) if header.match(line)]


def _rule(table: object, where: str, base: Path, line: int, digest: hashlib._Hash) -> Rule:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: a rule must be a table", hint=_EXAMPLE)
    for key, value in table.items():
        if key not in _RULE_KEYS:
            raise ConfigError(f"{where}: {key}: unknown key", hint=f"a rule takes: {', '.join(_RULE_KEYS)}")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key}: expected a non-empty string", hint=_EXAMPLE)
    dimension = _dimension(table.get("dimension"), where)
    kind, arg = _source(table.get("from"), where)
    mapping = None
    if "map" in table:
        mapping = _read_map(base / Path(table["map"]).expanduser(), where, kind == "api_key", digest)
    return Rule(dimension, kind, arg, mapping, table.get("default"), line)


def _dimension(value: str | None, where: str) -> str:
    choices = f"{', '.join(OWNER_DIMENSIONS)} or tag:NAME"
    if value is None:
        raise ConfigError(f"{where}: the rule has no dimension", hint=f"dimension = one of {choices}")
    if value in OWNER_DIMENSIONS:
        return value
    if value.startswith(TAG_PREFIX) and value[len(TAG_PREFIX) :].strip():
        return TAG_PREFIX + value[len(TAG_PREFIX) :].strip().lower()
    raise ConfigError(f"{where}: dimension {value!r}: unknown dimension", hint=f"use {choices}")


def _source(value: str | None, where: str) -> tuple[str, str]:
    hint = "from = api_key, header:NAME, body:DOTTED.PATH, capture:FIELD or source:REGEX"
    if value is None:
        raise ConfigError(f"{where}: the rule has no from", hint=hint)
    kind, sep, arg = value.partition(":")
    if value == "api_key":
        return "api_key", ""
    if kind not in FROM_KINDS[1:] or not sep or not arg.strip():
        raise ConfigError(f"{where}: from {value!r}: unknown kind of source", hint=hint)
    if kind == "source":
        return kind, _regex(arg, where)
    arg = arg.strip().lower() if kind == "header" else arg.strip()
    if is_secret_name(arg):
        raise ConfigError(
            f"{where}: from {kind}:{arg}: a credential is never kept",
            hint='use from = "api_key": tokmeter keeps the key\'s fingerprint (tokmeter fingerprint prints one)',
        )
    if kind in ("body", "capture") and is_text_path(arg):
        raise ConfigError(
            f"{where}: from {kind}:{arg}: prompt and completion text are never kept",
            hint="read an owner from a field that names one, e.g. from = 'body:metadata.team' or 'body:user'",
        )
    return kind, arg


def _regex(pattern: str, where: str) -> str:
    try:
        groups = re.compile(pattern).groups
        pl.select(pl.lit("").str.extract(pattern, 1))  # polars' regex dialect must take it too
    except (re.error, pl.exceptions.PolarsError) as exc:
        raise ConfigError(
            f"{where}: source:{pattern}: not a valid regular expression ({str(exc).splitlines()[0][:80]})",
            hint=r"e.g. from = 'source:/projects/([^/]+)/'",
        ) from None
    if groups != 1:
        raise ConfigError(
            f"{where}: source:{pattern}: has {groups} groups, expected exactly one",
            hint="the one group (...) is the value; make others non-capturing: (?:...)",
        )
    return pattern


def _read_map(path: Path, where: str, keys: bool, digest: hashlib._Hash) -> tuple[tuple[str, str], ...]:
    """The map file's (value, owner) pairs; an ``api_key`` map matched on the fingerprints' digests."""
    rows = map_rows(path, where, digest)
    pairs: dict[str, str] = {}
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise ConfigError(
                f"{path}:{number}: expected two columns (the value, then the owner), got {len(row)}",
                hint="a header row, then one value,owner pair per line",
            )
        value = row[0].strip()
        # an api_key map matches on the digest: a fingerprint's, or (pasted by mistake) a key's
        pairs[(key_digest(value) or key_digest(fingerprint_key(value)) or value) if keys else value] = row[
            1
        ].strip()
    if rows and len(rows[0]) < 2:
        raise ConfigError(
            f"{path}:1: expected a header row of two columns, got {len(rows[0])}",
            hint="e.g. api_key,team",
        )
    return tuple(pairs.items())
