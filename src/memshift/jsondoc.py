"""JSON documents in constant memory, whatever holds them and however they are spelled.

Exports and memory-system dumps come as a JSON array of records, an object that wraps the array
under a well-known key (``{"results": [...]}``, ``{"conversation_list": [...]}``) next to a few
small members that may come before *or after* the array (JSON key order is free), or JSON Lines.
Readers use this module to get one :class:`Item` per record with the location an error needs, and
the small members as a :class:`Header`, without building the array.

Objects are read in two passes: a parse-event scan of the small members, then ijson's C-level
prefix search over the array, which is as fast as reading a bare array. Streams (stdin) are spooled
to a temporary file once (:class:`Reopener`) so that they can be read twice.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Literal, NamedTuple

import ijson

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, ReadError
from memshift.sources import Source

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
_LINES_SUFFIXES = (".jsonl", ".ndjson")
_PART = re.compile(r"^(?P<base>.*)\.(?P<n>\d{4,})(?P<ext>\.[A-Za-z]+)$")
#: Returned by :func:`find_member` when the member is absent (``None`` is a valid JSON value).
MISSING: Any = object()

_TRUNCATED = "invalid JSON: truncated JSON (the file ends in the middle of a value)"


class Item(NamedTuple):
    """One record and where it came from."""

    value: Any
    member: str | None
    path: str
    context: dict[str, Any]


def member_order(name: str) -> tuple[str, int, str]:
    """Sort key that puts ``batch.jsonl`` before ``batch.0002.jsonl`` (plain sorting does not):
    numbered siblings are parts of one output and must be read in part order."""
    m = _PART.match(name)
    if m:
        return (m["base"] + m["ext"], int(m["n"]), name)
    return (name, 1, name)


def json_members(source: Source) -> list[str]:
    return sorted(
        (m for m in source.members() if m.lower().endswith(JSON_SUFFIXES)), key=member_order
    )


def first_document_head(
    source: Source, size: int = 65536, suffixes: tuple[str, ...] = (".json",)
) -> tuple[bytes, str] | None:
    """The first bytes of a file source, or of the first member with one of ``suffixes`` in a
    container, with a ``"member: "`` prefix for sniff reasons; None when there is no such member."""
    if not source.is_container:
        return source.head(size), ""
    members = sorted(
        (m for m in source.members() if m.lower().endswith(suffixes)), key=member_order
    )
    if not members:
        return None
    return source.head(size, members[0]), f"{members[0]}: "


def kind_of(value: Any) -> str:
    """How a JSON value is called in error messages (``an object``, ``a string``)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def looks_like_lines(head: bytes, name: str | None) -> bool:
    """JSON Lines when the name says so, or when the first line is a complete JSON value with
    more content after it (a pretty-printed document's first line is a lone ``{``)."""
    if name and name.lower().endswith(_LINES_SUFFIXES):
        return True
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    first, sep, rest = text.partition(b"\n")
    if not sep or not rest.strip():
        return False
    try:
        jsonio.loads(first)
    except Exception:
        return False
    return True


def build_value(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """Build the value that starts with ``(event, value)`` from the rest of ``events``."""
    builder = ijson.ObjectBuilder()
    depth = 0
    while True:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
        _prefix, event, value = next(events)


def _scan_object(
    events: Iterator[tuple[str, str, Any]], list_keys: frozenset[str], location: Location
) -> tuple[dict[str, Any], str | None]:
    """Top-level members up to the first array under one of ``list_keys`` (whose name is
    returned); the whole object when there is none."""
    members: dict[str, Any] = {}
    try:
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                return members, None
            if event != "map_key":  # pragma: no cover - ijson yields only keys at this level
                continue
            _p, nxt, nval = next(events)
            if value in list_keys and nxt == "start_array":
                return members, value
            members[value] = build_value(events, nxt, nval)
    except StopIteration:
        pass
    raise ReadError(_TRUNCATED, location)


class Reopener:
    """Opens one document several times whatever holds it (stdin is spooled once)."""

    def __init__(self, source: Source, member: str | None) -> None:
        self.source = source
        self.member = member
        self._tmp: str | None = None
        if source.kind == "stream" and member is None:
            fd, self._tmp = tempfile.mkstemp(prefix="memshift-spool-", suffix=".json")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source.open(None), out, 1024 * 1024)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self._tmp is not None:
            with open(self._tmp, "rb") as spooled:
                yield spooled
            return
        fh = self.source.open(self.member)
        try:
            yield fh
        finally:
            if self.source.kind != "stream":
                fh.close()

    def head(self, size: int = 65536) -> bytes:
        if self._tmp is not None:
            with open(self._tmp, "rb") as fh:
                return fh.read(size)
        return self.source.head(size, self.member)

    def close(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None


def _iter_lines(raw: IO[bytes], member: str | None, location: Location) -> Iterator[Item]:
    fh: IO[bytes] = jsonio.skip_bom(raw)
    for lineno, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            value = jsonio.loads(line)
        except Exception as exc:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            reason = "not valid UTF-8" if "UTF-8" in str(exc) else f"invalid JSON: {exc}"
            # A bad line is one bad record, not a broken file: the caller rejects it.
            yield Item(_BadLine(text, reason), member, f"line {lineno}", {})
            continue
        yield Item(value, member, f"line {lineno}", {})


class _BadLine(NamedTuple):
    text: str
    reason: str


def bad_line(item: Item) -> tuple[str, str] | None:
    """``(text, reason)`` when a JSON Lines line did not parse, else None."""
    if isinstance(item.value, _BadLine):
        return item.value.text, item.value.reason
    return None


def _iter_document(source: Source, member: str | None, list_keys: frozenset[str]) -> Iterator[Item]:
    location = source.location(member)
    opener = Reopener(source, member)
    try:
        head = opener.head()
        name = member or source.label
        if name and name.lower().endswith(_LINES_SUFFIXES):
            # JSON Lines: an empty file is zero records, not an error.
            with opener.open() as fh:
                yield from _iter_lines(fh, member, location)
            return
        if not head.lstrip(b"\xef\xbb\xbf").strip():
            raise ReadError("invalid JSON: the file is empty", location)
        if looks_like_lines(head, name):
            with opener.open() as fh:
                yield from _iter_lines(fh, member, location)
            return
        top = jsonio.top_level_type(head)
        if top == "array":
            with opener.open() as fh:
                for i, value in enumerate(jsonio.iter_items(fh, "item", location)):
                    yield Item(value, member, f"[{i}]", {})
            return
        if top != "object":
            with opener.open() as fh:
                value = jsonio.load(fh, location)
            raise ReadError(
                f"expected a JSON array or object at the top level, found {kind_of(value)}",
                location,
            )
        with opener.open() as fh:
            events = jsonio.iter_events(fh, location)
            next(events)  # the top-level start_map
            members, key = _scan_object(events, list_keys, location)
            if key is None:
                # Make sure nothing follows the object (a second document, garbage).
                for _ in events:
                    pass
        if key is None:
            yield Item(members, member, "", {})
            return
        with opener.open() as fh:
            for i, value in enumerate(jsonio.iter_items(fh, f"{key}.item", location)):
                yield Item(value, member, f"{key}[{i}]", members)
    finally:
        opener.close()


def iter_json_items(source: Source, list_keys: Iterable[str]) -> Iterator[Item]:
    """Every record of ``source``: array items, the items under one of ``list_keys`` of a wrapping
    object, JSON Lines lines, or a lone object (yielded whole with path ``""``)."""
    keys = frozenset(list_keys)
    if source.kind == "objects":
        yield from _iter_objects(source.objects, keys)
        return
    if source.is_container:
        members = json_members(source)
        if not members:
            raise ReadError("no .json/.jsonl files in this input", source.location())
        for member in members:
            yield from _iter_document(source, member, keys)
        return
    yield from _iter_document(source, None, keys)


def iter_json_objects(
    source: Source, list_keys: Iterable[str], ctx: Context
) -> Iterator[tuple[dict[str, Any], Location, Item]]:
    """Like :func:`iter_json_items`, for readers whose records are all JSON objects: a JSON Lines
    line that does not parse, and a record that is not an object, are rejected through ``ctx``
    (one bad record, not a broken file) and never reach the caller."""
    for item in iter_json_items(source, list_keys):
        loc = source.location(item.member, item.path or None)
        bad = bad_line(item)
        if bad is not None:
            ctx.reject(bad[0], bad[1], loc)
            continue
        value = item.value
        if not isinstance(value, dict):
            ctx.reject(value, f"expected a JSON object, found {kind_of(value)}", loc)
            continue
        yield value, loc, item


def _iter_objects(objects: Any, keys: frozenset[str]) -> Iterator[Item]:
    if isinstance(objects, (list, tuple)):
        for i, value in enumerate(objects):
            yield Item(value, None, f"[{i}]", {})
        return
    if isinstance(objects, dict):
        context: dict[str, Any] = {}
        for k, v in objects.items():
            if k in keys and isinstance(v, list):
                for i, value in enumerate(v):
                    yield Item(value, None, f"{k}[{i}]", context)
                return
            context[k] = v
        yield Item(objects, None, "", {})
        return
    raise ReadError(
        f"expected a list or dict of records, got {type(objects).__name__}", Location("<objects>")
    )


class Peek(NamedTuple):
    """What the start of a document looks like, for sniffing."""

    shape: str  # "lines", "array", "object", "" (unknown)
    keys: tuple[str, ...]  # top-level keys seen (objects)
    first: Any  # the first record, when it fits in the head; else None


def peek(head: bytes, name: str | None, list_keys: Iterable[str]) -> Peek:
    """The shape and first record of a document from its first bytes. Never raises."""
    keys = frozenset(list_keys)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        return Peek("", (), None)
    if looks_like_lines(text, name):
        first = text.split(b"\n", 1)[0]
        try:
            return Peek("lines", (), jsonio.loads(first))
        except Exception:
            return Peek("lines", (), None)
    top = jsonio.top_level_type(text)
    if top == "array":
        try:
            for value in ijson.items(io.BytesIO(text), "item", use_float=True):
                return Peek("array", (), value)
        except Exception:
            pass
        return Peek("array", (), None)
    if top != "object":
        return Peek("", (), None)
    seen: list[str] = []
    members: dict[str, Any] = {}
    try:
        events = ijson.parse(io.BytesIO(text), use_float=True)
        next(events)
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                break
            if event != "map_key":
                continue
            seen.append(value)
            _p, nxt, nval = next(events)
            if value in keys and nxt == "start_array":
                _p, ev, val = next(events)
                if ev == "end_array":
                    return Peek("object", tuple(seen), None)
                return Peek("object", tuple(seen), build_value(events, ev, val))
            members[value] = build_value(events, nxt, nval)
    except Exception:
        return Peek("object", tuple(seen), None)
    return Peek("object", tuple(seen), members)


# -- documents with a header and one big array ----------------------------------------------------

_KIND = {
    "start_array": "an array",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
    "start_map": "an object",
}


@dataclass
class Header:
    """The top-level members other than the array, and what the array looked like."""

    members: dict[str, Any] = field(default_factory=dict)
    array: Literal["absent", "list", "other"] = "absent"
    complete: bool = True


def skip_value(events: Iterator[tuple[str, str, Any]]) -> None:
    """Consume the rest of a container whose start event was just read."""
    depth = 1
    for _prefix, event, _value in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


def scan_header(
    fh: IO[bytes], array_key: str, location: Location, *, stop_at_array: bool
) -> Header:
    """Read the top-level members except ``array_key``.

    With ``stop_at_array`` the scan ends where the array starts (``complete`` is then False and
    later members are not seen); otherwise the array is skipped event by event."""
    events = jsonio.iter_events(fh, location)
    first = next(events, None)
    if first is None:
        raise ReadError("invalid JSON: the file is empty", location)
    if first[1] != "start_map":
        found = _KIND.get(first[1], first[1])
        raise ReadError(f"expected a JSON object at the top level, found {found}", location)
    header = Header()
    try:
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                return header
            if event != "map_key":  # pragma: no cover - ijson only yields keys at this level
                continue
            nxt = next(events)
            if value == array_key and nxt[1] == "start_array":
                header.array = "list"
                if stop_at_array:
                    header.complete = False
                    return header
                skip_value(events)
                continue
            if value == array_key:
                header.array = "other"
            header.members[value] = build_value(events, nxt[1], nxt[2])
    except StopIteration:
        pass
    raise ReadError(_TRUNCATED, location)


def find_member(opener: Reopener, key: str, location: Location) -> Any:
    """A top-level member found by ijson's C prefix search (skips big arrays cheaply);
    :data:`MISSING` when absent."""
    with opener.open() as fh:
        for value in jsonio.iter_items(fh, key, location):
            return value
    return MISSING
