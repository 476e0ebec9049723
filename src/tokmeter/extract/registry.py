"""The API families extraction knows, one record each, registered by its provider module
(``openai.py``, ``anthropic.py``, ...). Extraction, detection, the fast path and estimation look a family
up here instead of keeping tables of their own: adding an API touches its module (and ``detect.py``'s
body and path rules, which are ordered across families)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import Extracted
from .sse import SSEEvent

if TYPE_CHECKING:
    from .stream_text import StreamText


@dataclass(frozen=True, slots=True)
class ApiFamily:
    name: str  # the ``api`` value, e.g. ``anthropic_messages``
    provider: str  # the provider when the capture names none
    from_json: Callable[[Mapping[str, Any]], Extracted]  # a JSON response body
    from_stream: Callable[[Iterable[SSEEvent]], Extracted] | None = None  # an SSE stream
    from_chunks: Callable[[list[Any]], Extracted] | None = None  # a stream sent as a JSON array
    from_eventstream: Callable[[bytes], Extracted] | None = None  # an AWS event stream
    stream_text: Callable[[Iterable[SSEEvent]], StreamText] | None = None  # an SSE stream's text (estimates)
    markers: tuple[str, ...] = ()  # fast path: substrings that find every event carrying usage
    estimate_when_cut: bool = False  # a cut stream that reported usage still lacks its output count
    response_id_header: str | None = None  # names the response when its body does not
    service_tier_header: str | None = None  # names the service tier when the body does not


FAMILIES: dict[str, ApiFamily] = {}


def register(family: ApiFamily) -> ApiFamily:
    FAMILIES[family.name] = family
    return family


def family(api: str | None) -> ApiFamily | None:
    return FAMILIES.get(api) if api is not None else None
