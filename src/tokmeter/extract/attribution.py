"""Who spent it, as a capture says: the built-in sources of ``user``, ``api_key``, ``session`` and
``tags`` (request headers a gateway or SDK sets, the request body), and the raw values attribution rules
name (``Keep``), which ingest stores so that the rules apply at query time (``tokmeter.attribution``).

Request headers (a capture log's ``request_headers``, a HAR entry's request headers) are read here and
nowhere else; only values derived from them leave this module: a key's fingerprint (``fingerprint_key``),
never the key; the headers themselves are never stored.

Built-in sources, first that says wins (the README's table):

* ``user``: the capture's ``user``; the ``Helicone-User-Id``, ``x-litellm-end-user-id``, ``x-user-id``
  headers; the body's ``user``, ``metadata.user_id``, ``safety_identifier``; ``_user`` of the
  ``x-portkey-metadata`` header.
* ``api_key``: the fingerprint of ``Authorization: Bearer``, ``x-api-key``, ``api-key``,
  ``x-goog-api-key`` (or of the capture's ``api_key``).
* ``session``: the capture's ``session`` (coding agents); ``Helicone-Session-Id``; ``x-session-id``.
* ``tags``: ``Helicone-Property-NAME``; each key of the JSON ``x-portkey-metadata`` and
  ``cf-aig-metadata`` headers; ``x-litellm-tags: a,b`` (value ``true``); the capture's ``tags`` win.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from ..errors import UsageError
from .base import as_mapping, as_str

USER_HEADERS: Final = ("helicone-user-id", "x-litellm-end-user-id", "x-user-id")
USER_BODY_PATHS: Final = ("user", "metadata.user_id", "safety_identifier")
KEY_HEADERS: Final = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
SESSION_HEADERS: Final = ("helicone-session-id", "x-session-id")
PROPERTY_PREFIX: Final = "helicone-property-"
JSON_TAG_HEADERS: Final = ("x-portkey-metadata", "cf-aig-metadata")
LIST_TAG_HEADER: Final = "x-litellm-tags"
# Rule-kept raw values live in ``tags`` under this prefix: ``rule:header:x-team``, ``rule:body:a.b``,
# ``rule:capture:team_name`` (tokmeter.attribution reads them back at query time).
RULE_TAG_PREFIX: Final = "rule:"
# A header (or body / capture field) with one of these in its name holds a credential: a rule may not
# keep its value (``api_key`` rules read the fingerprint instead).
SECRET_MARKERS: Final = ("auth", "key", "token", "secret", "cookie", "password", "credential", "signature")
# A body or capture field with one of these names holds prompt or completion text in some API (chat
# messages, a completion prompt, Responses input and instructions, Anthropic's system, Gemini's contents, a
# capture's raw request or response): a rule may not keep its value, nor anything under it.
TEXT_FIELDS: Final = frozenset(
    ("messages", "prompt", "input", "inputs", "system", "instructions", "contents", "content", "text",
     "suffix", "query", "documents", "tools", "functions", "examples", "context", "body", "request",
     "response", "choices", "output", "completion", "system_instruction", "systeminstruction")
)  # fmt: skip
_USER_PATHS: Final = tuple(tuple(path.split(".")) for path in USER_BODY_PATHS)
_SHORT_KEY: Final = 16  # keys shorter than this get no last-4 in their fingerprint
_PREFIX = re.compile(r"^[A-Za-z]{1,4}-")


def is_text_path(path: str) -> bool:
    """Whether a dotted body or capture path reaches prompt or completion text (never kept)."""
    return any(part.strip().lower() in TEXT_FIELDS for part in path.split("."))


def is_secret_name(name: str) -> bool:
    """Whether a header or field name may hold a credential (never kept as is)."""
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def fingerprint_key(key: str) -> str:
    """An API key's fingerprint: ``sk-…Wq3x sha256:1f2e3d4c5b6a``. Its prefix (up to 4 letters and a
    dash, when it has one), an ellipsis and its last 4 characters, then ``sha256:`` and the first 12 hex
    digits of the SHA-256 of the key. A key shorter than 16 characters gets the hash part alone."""
    key = key.strip()
    digest = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    if len(key) < _SHORT_KEY:
        return digest
    match = _PREFIX.match(key)
    return f"{match.group(0) if match else ''}…{key[-4:]} {digest}"


def key_from_input(data: bytes) -> str:
    """The one API key in ``data`` (what ``tokmeter fingerprint`` reads), a ``Bearer `` prefix dropped.
    Raises ``UsageError`` (never showing the input: it is a credential) unless ``data`` is one line of
    printable text without spaces: a file of several keys, or binary bytes, would give a fingerprint of
    nothing anyone uses."""
    hint = "e.g. tokmeter fingerprint < key.txt (one key, on one line)"
    try:
        lines = [line.strip() for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise UsageError("standard input is not text: expected one API key", hint=hint) from None
    if not lines:
        raise UsageError("no key on standard input", hint=hint)
    if len(lines) > 1:
        raise UsageError(f"{len(lines)} lines on standard input: expected one API key", hint=hint)
    key = lines[0][7:].strip() if lines[0].lower().startswith("bearer ") else lines[0]
    if not key.isprintable() or any(c.isspace() for c in key):
        raise UsageError("standard input is not an API key (spaces or control characters in it)", hint=hint)
    return key


def as_fingerprint(value: str) -> str:
    """A value naming an API key (``--api-key``, a budget's ``where``) as a fingerprint: a fingerprint or a
    part of one (``sha256:...``, ``sk-…Wq3x``) stays as given; anything else is a key, fingerprinted so it
    matches its rows and is never shown."""
    return value if "sha256:" in value or "…" in value else fingerprint_key(value)


def key_digest(fingerprint: str) -> str | None:
    """The ``sha256:<12 hex>`` part of a fingerprint (what mapping tables match on)."""
    found = re.search(r"sha256:[0-9a-f]{12}", fingerprint)
    return found.group(0) if found else None


@dataclass(frozen=True, slots=True)
class Keep:
    """The raw values attribution rules need from a capture, stored in ``tags`` under ``rule:...``:
    request headers (lower-cased names), request-body dotted paths, capture fields."""

    headers: tuple[str, ...] = ()
    body_paths: tuple[str, ...] = ()
    capture_fields: tuple[str, ...] = ()


KEEP_NOTHING = Keep()


class Owner(NamedTuple):
    """What a capture says of who spent it (a tuple: one is made per capture, cheaply)."""

    user: str | None
    api_key: str | None
    session: str | None
    tags: dict[str, str]


def owner(meta: Mapping[str, Any], request: Mapping[str, Any], keep: Keep = KEEP_NOTHING) -> Owner:
    """The built-in attribution of one capture (its metadata and request body), with the raw values
    ``keep`` names as ``rule:`` tags."""
    headers = _lowered(meta.get("request_headers"))
    if not headers and keep is KEEP_NOTHING:  # most captures: what the capture and its body say, quickly
        return Owner(
            user=_user(meta, headers, request),
            api_key=_api_key(meta, headers) if "api_key" in meta else None,
            session=as_str(meta.get("session")),
            tags=_capture_tags(meta.get("tags")) if "tags" in meta else {},
        )
    return Owner(
        user=_user(meta, headers, request),
        api_key=_api_key(meta, headers),
        session=as_str(meta.get("session")) or _first(headers, SESSION_HEADERS),
        tags={
            **_header_tags(headers),
            **_capture_tags(meta.get("tags")),
            **_kept(keep, meta, headers, request),
        },
    )


def _lowered(raw: Any) -> dict[str, str]:
    """Request headers by lower-cased name (a mapping, or a HAR-style list of name/value objects)."""
    headers: dict[str, str] = {}
    if not raw:
        return headers
    items: Iterable[tuple[Any, Any]] = raw.items() if isinstance(raw, Mapping) else ()
    if isinstance(raw, list):
        items = [(h.get("name"), h.get("value")) for h in raw if isinstance(h, Mapping)]
    for name, value in items:
        if isinstance(name, str) and isinstance(value, str):
            headers[name.lower()] = value
    return headers


def _first(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((value for name in names if (value := _scalar(headers.get(name))) is not None), None)


def _user(meta: Mapping[str, Any], headers: Mapping[str, str], request: Mapping[str, Any]) -> str | None:
    found = as_str(meta.get("user"))
    if found is not None:
        return found
    found = _first(headers, USER_HEADERS) if headers else None
    for path in _USER_PATHS:
        found = found or _scalar(_at(request, path))
    if found is None and headers:
        portkey = _json_header(headers, "x-portkey-metadata")
        found = _scalar(portkey.get("_user")) if portkey else None
    return found


def _api_key(meta: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    given = as_str(meta.get("api_key"))
    if given is not None:  # a source that read a key (or its fingerprint) from a gateway's log
        return given if key_digest(given) == given or " sha256:" in given else fingerprint_key(given)
    return header_key(headers)


def header_key(headers: Mapping[str, str]) -> str | None:
    """The fingerprint of the API key in request headers (lower-cased names), or None."""
    for name in KEY_HEADERS:
        value = (headers.get(name) or "").strip()
        if name == "authorization":
            scheme, _, value = value.partition(" ")
            value = value.strip() if scheme.lower() == "bearer" else ""
        if value:
            return fingerprint_key(value)
    return None


def _header_tags(headers: Mapping[str, str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for name in JSON_TAG_HEADERS:
        for key, value in (_json_header(headers, name) or {}).items():
            if (text := _scalar(value)) is not None:
                tags[str(key).lower()] = text
    for name in (headers.get(LIST_TAG_HEADER) or "").split(","):
        if name.strip():
            tags[name.strip().lower()] = "true"
    for name, value in headers.items():
        if name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX) and value.strip():
            tags[name[len(PROPERTY_PREFIX) :]] = value.strip()
    return tags


def _capture_tags(value: Any) -> dict[str, str]:
    tags = as_mapping(value) or {}
    return {str(k).lower(): v for k, v in tags.items() if isinstance(v, str)}


def _kept(
    keep: Keep, meta: Mapping[str, Any], headers: Mapping[str, str], request: Mapping[str, Any]
) -> dict[str, str]:
    kept = {f"header:{name}": as_str(headers.get(name)) for name in keep.headers}
    body_paths = [path for path in keep.body_paths if not is_text_path(path)]  # rules refuse them too
    kept |= {f"body:{path}": _scalar(_at(request, tuple(path.split(".")))) for path in body_paths}
    fields = [name for name in keep.capture_fields if not is_text_path(name)]
    kept |= {f"capture:{name}": _scalar(meta.get(name)) for name in fields}
    return {RULE_TAG_PREFIX + key: value for key, value in kept.items() if value is not None}


def _json_header(headers: Mapping[str, str], name: str) -> Mapping[str, Any] | None:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return as_mapping(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return None  # a malformed header says nothing; the row stands


def _at(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for part in path:
        if type(value) is not dict and not isinstance(value, Mapping):  # the exact type first: cheaper
            return None
        value = value.get(part)
    return value


def _scalar(value: Any) -> str | None:
    """A value as tag or owner text: strings, numbers and booleans; never an object or a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else None
