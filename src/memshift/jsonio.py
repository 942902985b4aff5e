"""Streaming JSON in, fast JSON out.

Reading goes through ijson with the yajl2_c backend: it is the only way to walk a 3 GB array in
constant memory at near-parser speed (the pure-Python backends are 8-14x slower, so a fallback is
reported). Writing goes through orjson, which is several times faster than ``json.dumps`` and
produces the same bytes for the same input, which keeps outputs byte-identical between runs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import IO, Any

import ijson
import orjson

from . import framing
from .errors import Location, ReadError

FAST_BACKEND = "yajl2_c"
BACKEND: str = getattr(ijson, "backend", "unknown")


class SlowBackendWarning(UserWarning):
    """ijson fell back to a pure-Python or cffi backend."""


_warned_backend = False


def backend_warning() -> str | None:
    """A one-line warning when the fast ijson backend is missing, else None."""
    if BACKEND == FAST_BACKEND:
        return None
    return (
        f"ijson is using the {BACKEND!r} backend instead of {FAST_BACKEND!r}: streaming reads will "
        "be 8-14x slower (reinstall ijson with a C compiler or from a wheel)"
    )


def check_backend() -> None:
    """Warn once per process if the fast backend is not in use."""
    global _warned_backend
    message = backend_warning()
    if message and not _warned_backend:
        _warned_backend = True
        warnings.warn(message, SlowBackendWarning, stacklevel=2)


_BOM = b"\xef\xbb\xbf"


def skip_bom(fh: IO[bytes]) -> IO[bytes]:
    """Return a stream positioned after a UTF-8 byte-order mark, if there is one.

    Windows tools (Excel, Notepad) write a BOM; yajl rejects it as invalid JSON.
    """
    peek = getattr(fh, "peek", None)
    if peek is not None:
        if bytes(peek(3)[:3]) == _BOM:
            fh.read(3)
        return fh
    buffered = io.BufferedReader(fh)  # type: ignore[type-var]
    if bytes(buffered.peek(3)[:3]) == _BOM:
        buffered.read(3)
    return buffered


def _json_error(exc: Exception, location: Location) -> ReadError:
    raw = exc.args[0] if exc.args else ""
    if isinstance(raw, bytes):  # yajl reports its messages as bytes
        raw = raw.decode("utf-8", "replace")
    raw = str(raw).strip()
    text = raw.splitlines()[0] if raw else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        text = f"not valid UTF-8 at byte {exc.start}"
    elif "invalid bytes in UTF8" in raw:
        text = "not valid UTF-8"
    elif "premature EOF" in text or "Incomplete JSON" in text:
        text = "truncated JSON (the file ends in the middle of a value)"
    return ReadError(f"invalid JSON: {text}", location)


def iter_items(fh: IO[bytes], prefix: str, location: Location) -> Iterator[Any]:
    """Stream the values under an ijson ``prefix`` (``"item"``, ``"messages.item"``), turning
    parser failures into a located :class:`ReadError`.

    Pretty-printed arrays of objects (DiscordChatExporter, Slack day files, anything written
    with an indent) are framed by :mod:`memshift.framing` and each item is parsed by orjson,
    about twice as fast as ijson; everything else, and whatever the framing cannot vouch for,
    goes through ijson, so results and errors are the same either way."""
    try:
        yield from framing.items(skip_bom(fh), prefix)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise _json_error(exc, location) from None


def iter_kvitems(fh: IO[bytes], prefix: str, location: Location) -> Iterator[tuple[str, Any]]:
    try:
        yield from ijson.kvitems(skip_bom(fh), prefix, use_float=True)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise _json_error(exc, location) from None


def iter_events(fh: IO[bytes], location: Location) -> Iterator[tuple[str, str, Any]]:
    try:
        yield from ijson.parse(skip_bom(fh), use_float=True)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise _json_error(exc, location) from None


def load(fh: IO[bytes], location: Location) -> Any:
    """Load a small JSON document whole (index files such as ``users.json``)."""
    data = skip_bom(fh).read()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not data.strip():
            raise ReadError("invalid JSON: the file is empty", location) from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise _json_error(uexc, location) from None
        raise ReadError(f"invalid JSON: {exc}", location) from None


def top_level_type(head: bytes) -> str | None:
    """``"object"``, ``"array"`` or None, from the first non-blank byte of a document."""
    stripped = head.lstrip(_BOM).lstrip()
    if stripped.startswith(b"{"):
        return "object"
    if stripped.startswith(b"["):
        return "array"
    return None


_OPTS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """Serialize to UTF-8 JSON bytes. Deterministic for the same input."""
    opts = _OPTS
    if indent:
        opts |= orjson.OPT_INDENT_2
    if sort_keys:
        opts |= orjson.OPT_SORT_KEYS
    return orjson.dumps(obj, option=opts)


def dumps_line(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_OPTS | orjson.OPT_APPEND_NEWLINE)


loads = orjson.loads
