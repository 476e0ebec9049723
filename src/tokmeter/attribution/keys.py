"""The attribution file's ``[[key]]`` tables: which key fingerprint a provider's key id names, so that a
bill grouped by the provider's key ids (OpenAI's ``key_...``, Anthropic's ``apikey_...``) meets the
store's rows, which hold fingerprints (``reconcile --by api_key``).

```toml
[[key]]
fingerprint = "sk-…Wq3x sha256:1f2e3d4c5b6a"   # or its sha256: part alone (tokmeter fingerprint prints it)
provider_key_id = "key_abc"                    # the id the provider's usage and cost exports name it by

[[key]]
map = "key-ids.csv"   # many at once: a header row, then provider_key_id,fingerprint per line
```

A fingerprint is matched on its ``sha256:`` part. A key id names one fingerprint (two different ones for
the same id is an error); a fingerprint may have several ids (one per provider). Errors name the file and
line with a hint and never repeat a value that is not a fingerprint (it may be a key pasted by mistake).
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..extract.attribution import key_digest

_KEYS = ("fingerprint", "provider_key_id", "map")
_EXAMPLE = 'e.g. [[key]] fingerprint = "sha256:1f2e3d4c5b6a" provider_key_id = "key_abc"'
_SECRET = re.compile(r"^(?:sk|rk|pk)[-_]", re.IGNORECASE)  # a secret key, not a key id


@dataclass(frozen=True, slots=True)
class KeyId:
    """One provider key id and the fingerprint it names (``digest``: its ``sha256:`` part), and where."""

    provider_key_id: str
    fingerprint: str
    digest: str
    where: str


def key_lines(text: str) -> list[int]:
    header = re.compile(r"^\s*\[\[\s*key\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), 1) if header.match(line)]


def load_keys(tables: object, path: Path, text: str, digest: hashlib._Hash) -> tuple[KeyId, ...]:
    """The ``[[key]]`` tables of attribution file ``path`` (its ``text``), checked; map files are read
    relative to it and added to ``digest``."""
    if not isinstance(tables, list):
        raise ConfigError(f"{path}: key: expected [[key]] tables", hint=_EXAMPLE)
    lines = key_lines(text)
    found: list[KeyId] = []
    for index, table in enumerate(tables):
        where = f"{path}:{lines[index] if index < len(lines) else 1}"
        found += _table(table, where, path.parent, digest)
    return _unique(found)


def _table(table: object, where: str, base: Path, digest: hashlib._Hash) -> list[KeyId]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: a key must be a table", hint=_EXAMPLE)
    for name, value in table.items():
        if name not in _KEYS:
            raise ConfigError(f"{where}: {name}: unknown key", hint=f"a [[key]] takes: {', '.join(_KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {name}: expected a non-empty string", hint=_EXAMPLE)
    if "map" in table:
        if len(table) > 1:
            raise ConfigError(
                f"{where}: a [[key]] with a map takes nothing else",
                hint="either map = FILE, or fingerprint and provider_key_id",
            )
        return _read_map(base / Path(table["map"]).expanduser(), where, digest)
    missing = [name for name in _KEYS[:2] if name not in table]
    if missing:
        raise ConfigError(f"{where}: the [[key]] has no {missing[0]}", hint=_EXAMPLE)
    return [_key_id(table["provider_key_id"], table["fingerprint"], where)]


def _key_id(key_id: str, fingerprint: str, where: str) -> KeyId:
    key_id, fingerprint = key_id.strip(), fingerprint.strip()
    if _SECRET.match(key_id):
        raise ConfigError(
            f"{where}: provider_key_id looks like a secret key, not its id",
            hint="give the id the provider's usage export names the key by (key_..., apikey_...)",
        )
    found = key_digest(fingerprint)
    if found is None:
        raise ConfigError(
            f"{where}: fingerprint is not a key fingerprint (no sha256: part)",
            hint="tokmeter fingerprint < key.txt prints one (sk-…Wq3x sha256:1f2e3d4c5b6a); never the key",
        )
    return KeyId(key_id, fingerprint, found, where)


def map_rows(path: Path, where: str, digest: hashlib._Hash) -> list[list[str]]:
    """The rows of a CSV map file the attribution file names (``where``), its bytes added to ``digest``
    (the attribution's digest: an edited map is new attribution)."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(
            f"{where}: map {path}: cannot read it: {reason}",
            hint="a relative map path is relative to the attribution file",
        ) from None
    digest.update(data)
    rows = list(csv.reader(text.splitlines()))
    return rows


def _read_map(path: Path, where: str, digest: hashlib._Hash) -> list[KeyId]:
    rows = map_rows(path, where, digest)
    if rows and len(rows[0]) < 2:
        raise ConfigError(
            f"{path}:1: expected a header row of two columns, got {len(rows[0])}",
            hint="e.g. provider_key_id,fingerprint",
        )
    found = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip():
            raise ConfigError(
                f"{path}:{number}: expected two columns (the provider's key id, then the fingerprint)",
                hint="a header row, then one provider_key_id,fingerprint pair per line",
            )
        found.append(_key_id(row[0], row[1], f"{path}:{number}"))
    return found


def _unique(found: list[KeyId]) -> tuple[KeyId, ...]:
    seen: dict[str, KeyId] = {}
    for key in found:
        other = seen.setdefault(key.provider_key_id, key)
        if other.digest != key.digest:
            raise ConfigError(
                f"{key.where}: provider_key_id {key.provider_key_id!r} already names another fingerprint "
                f"({other.where})",
                hint="a key id names one key: keep one of the two",
            )
    return tuple(seen.values())
