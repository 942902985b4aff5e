"""Fast streaming of pretty-printed JSON arrays: frame each item by its indentation, parse it
with orjson.

ijson (yajl2_c) tokenises every byte and builds every value through its own event machinery; for
a 1.3 KB DiscordChatExporter message that is ~8 us, while ``orjson.loads`` of the same bytes is
~2 us. Exports that matter at scale are pretty-printed (DCE, Slack day files, anything dumped with
an indent), and in an indented document an item of a top-level array (or of an array under a
top-level key) ends on its own line, at the array's item indentation, followed by ``,`` and the
next item's ``{`` at the same indentation. A raw newline never occurs inside a JSON string, so
that byte sequence is always structure.

Each chunk read is parsed in one call: everything from the next item's ``{`` to the ``}`` of the
chunk's last separator, wrapped in ``[...]``, so the per-item cost is orjson's alone (one search
and one call per 64 KiB instead of per item).

Why it is exact: the first item's position is vouched for by parsing the header with the array
emptied (``header + "[]}"`` must be a JSON object holding the key). A run starts at an item's
``{`` and ends at a ``}`` followed by the separator; it is accepted only if orjson parses it as a
complete array, which walks the original items one by one and can only end where an item ends,
so its elements are exactly those items. A run that does not parse (an odd file whose nested
lines share the item indentation) is taken frame by frame, each frame accepted only if it parses
as one complete value, which a frame cut inside an item never does. The first frame orjson
refuses, the last item, and everything after the array go to ijson, fed the
rest of the file behind a synthetic ``{"<key>": [`` (or ``[``) so that it parses exactly the
document's remaining text in the same context: values, errors, trailing members and a second
array under the same key come out as they would have from ijson alone. Documents whose layout is
not recognised (compact JSON, a header over 1 MiB, items that are not objects) use ijson from the
start.

One difference is deliberate: yajl refuses any integer outside -(2**63 - 1) .. 2**63 - 1 ("integer
overflow", and the whole file fails), while a framed item reads it as orjson does: exactly up to
2**64 - 1, and as the nearest float beyond that. No real export has such numbers unquoted
(Discord and Slack ids are strings); a file that does can now be read instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import IO, Any

import ijson
import orjson

#: Read size, and so the size of one batch parse. 64 KiB: the ~50 items of a batch are still in
#: the CPU cache when the reader takes them (256 KiB batches parsed 1M DCE messages in 3.7 s,
#: 64 KiB ones in 2.2 s; ijson takes 8.4 s).
CHUNK = 1 << 16
#: The header (everything before the first item) must fit in this much.
MAX_HEAD = 1 << 20
#: A frame with no separator after this many bytes hands the rest to ijson, so an item or a
#: compact tail of any size never has to sit whole in the buffer.
MAX_FRAME = 64 << 20
#: Switch for tests that compare both paths.
ENABLED = True

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_loads = orjson.loads


def items(fh: IO[bytes], prefix: str) -> Iterator[Any]:
    """The values under ``prefix``, as ``ijson.items(fh, prefix, use_float=True)`` yields them."""
    key = _key_of(prefix)
    if not ENABLED or key is None:
        yield from ijson.items(fh, prefix, use_float=True)
        return
    buf = fh.read(CHUNK)
    layout = _layout(buf, key)
    while layout is _MORE and len(buf) < MAX_HEAD:
        more = fh.read(CHUNK)
        if not more:
            break
        buf += more
        layout = _layout(buf, key)
    if not isinstance(layout, tuple):
        yield from ijson.items(_Chain(buf, fh), prefix, use_float=True)
        return
    pos, sep, close = layout
    while True:
        j = buf.rfind(sep, pos)
        if j >= 0:
            # Every item up to the buffer's last separator, in one parse: one search and one
            # call per chunk instead of per item. If the run does not parse as an array of
            # items, it is taken frame by frame, and ijson takes over at the first bad frame.
            try:
                batch = _loads(b"".join((b"[", memoryview(buf)[pos : j + close], b"]")))
            except orjson.JSONDecodeError:
                pos = yield from _frames(buf, pos, j, sep, close)
                if pos <= j:
                    break
            else:
                yield from batch
                pos = j + len(sep) - 1
        if len(buf) - pos > MAX_FRAME:
            break
        more = fh.read(CHUNK)
        if not more:
            break
        buf = buf[pos:] + more
        pos = 0
    opener = b"[" if key == "" else b'{"' + key.encode() + b'":['
    yield from ijson.items(_Chain(opener + buf[pos:], fh), prefix, use_float=True)


def _frames(buf: bytes, pos: int, last: int, sep: bytes, close: int) -> Generator[Any, None, int]:
    """The items from ``pos`` through the one ending at the separator at ``last``, one frame
    each; returns where the next item starts, or the start of the first frame that does not
    parse (which is then at most ``last``)."""
    find = buf.find
    while True:
        j = find(sep, pos, last + len(sep))
        try:
            value = _loads(buf[pos : j + close])
        except orjson.JSONDecodeError:
            return pos
        yield value
        pos = j + len(sep) - 1
        if j >= last:
            return pos


def _key_of(prefix: str) -> str | None:
    """``""`` for ``"item"`` (a top-level array), ``"messages"`` for ``"messages.item"``; None
    for prefixes the framing does not handle."""
    if prefix == "item":
        return ""
    head, dot, tail = prefix.partition(".")
    if dot and tail == "item" and _KEY.fullmatch(head):
        return head
    return None


class _More:
    """``_layout`` needs more of the document to decide."""


_MORE = _More()


def _layout(buf: bytes, key: str) -> tuple[int, bytes, int] | _More | None:
    """``(offset of the first item, separator, length of a frame's end within the separator)``
    when ``buf`` holds an indented header and the first item's start; :data:`_MORE` when it may
    but ``buf`` ends too soon to tell; None when the document is not laid out that way (decided
    from the first line, so a compact document is never read ahead)."""
    body = buf.lstrip()
    skipped = len(buf) - len(body)
    nl_at = body.find(b"\n")
    if nl_at < 0:
        return _MORE if len(body) < 8 else None
    if nl_at < 1:
        return None
    nl = b"\r\n" if body[nl_at - 1 : nl_at] == b"\r" else b"\n"
    first = body[: nl_at - len(nl) + 1].rstrip()
    if first != (b"[" if key == "" else b"{"):
        return None
    if key == "":
        start = nl_at + 1
        item_indent = _indent(body, start)
    else:
        indent = _indent(body, nl_at + 1)
        if nl_at + 1 + len(indent) >= len(body):
            return _MORE
        if not indent:
            return None
        opening = nl + indent + orjson.dumps(key) + b": ["
        at = body.find(opening)
        if at < 0:
            return _MORE  # a longer header: the caller stops at MAX_HEAD
        bracket = at + len(opening) - 1
        try:
            header = _loads(body[:bracket] + b"[]}")
        except orjson.JSONDecodeError:
            return None
        if not isinstance(header, dict) or header.get(key) != []:
            return None
        start = bracket + 1 + len(nl)
        item_indent = indent * 2
        if len(body) < start + len(item_indent) + 1:
            return _MORE
        if body[bracket + 1 : start] != nl or _indent(body, start) != item_indent:
            return None
    if start + len(item_indent) >= len(body):
        return _MORE
    if not item_indent or body[start + len(item_indent) : start + len(item_indent) + 1] != b"{":
        return None
    lead = nl + item_indent
    sep = lead + b"}," + lead + b"{"
    return skipped + start + len(item_indent), sep, len(lead) + 1


def _indent(buf: bytes, at: int) -> bytes:
    """The run of spaces (or tabs) at ``at``."""
    end = at
    n = len(buf)
    while end < n and buf[end] in b" \t":
        end += 1
    return buf[at:end]


class _Chain:
    """A read-only stream of ``head`` followed by the rest of ``fh``, for ijson."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head = head
        self._fh = fh

    def read(self, n: int = -1) -> bytes:
        head = self._head
        if head:
            if n < 0 or n >= len(head):
                self._head = b""
                return head
            self._head = head[n:]
            return head[:n]
        return self._fh.read(n)
