"""One JSON object with a big array and a few small members, read in constant memory.

ConversationFormat files (``{"version", "session_meta", "conversation_list": [...]}``) may put
``session_meta`` before or after the list (JSON key order is free, and this adapter writes it last
because ``user_details`` is collected while the messages stream).
The header scan walks parse events only until the array starts; a member that lives after the
array is then fetched with ijson's C-level prefix search, which skips the array without building
it. Streams (stdin) are spooled to a temporary file once so they can be read twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import ijson

from memshift import jsonio
from memshift.errors import Location, ReadError
from memshift.sources import Source

_MISSING = object()
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


class Reopener:
    """Opens the same document several times, whatever kind of source holds it."""

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
            with open(self._tmp, "rb") as fh:
                yield fh
            return
        if self.source.kind == "stream":  # a stream member cannot exist; let the source say so
            yield self.source.open(self.member)
            return
        with self.source.open(self.member) as fh:
            yield fh

    def close(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None


def _build(events: Iterator[tuple[str, str, Any]], first: tuple[str, str, Any]) -> Any:
    builder = ijson.ObjectBuilder()
    depth = 0
    event, value = first[1], first[2]
    while True:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
        _prefix, event, value = next(events)


def _skip(events: Iterator[tuple[str, str, Any]]) -> None:
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
                _skip(events)
                continue
            if value == array_key:
                header.array = "other"
            header.members[value] = _build(events, nxt)
    except StopIteration:
        pass
    raise ReadError(_TRUNCATED, location)


_TRUNCATED = "invalid JSON: truncated JSON (the file ends in the middle of a value)"


def find_member(opener: Reopener, key: str, location: Location) -> Any:
    """A top-level member found by ijson's C prefix search (skips big arrays cheaply);
    :data:`MISSING` when absent."""
    with opener.open() as fh:
        for value in jsonio.iter_items(fh, key, location):
            return value
    return _MISSING


MISSING = _MISSING
