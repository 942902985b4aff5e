"""Chronological order, merging and de-duplication of message streams, in bounded memory.

A DCE file is chronological unless it was exported with ``--reverse``; several files of the same
channel (``--partition`` parts, overlapping re-exports) are each chronological, so a k-way merge
keyed on the timestamp gives one ordered stream without buffering, and copies of one message end
up next to each other, where they are dropped.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import chain, islice, pairwise
from typing import Any

from memshift.context import Context
from memshift.errors import Location
from memshift.model import Message
from memshift.ordering import ConversationSorter

#: (message, member, index in the file's messages array, raw record or None)
Item = tuple[Message, str | None, int, Any]

_PEEK = 16


def _ts(item: Item) -> datetime:
    return item[0].timestamp  # type: ignore[return-value]


def looks_reversed(head: list[Item]) -> bool:
    """Newest first: the first messages never go forward in time and go back at least once."""
    if len(head) < 2:
        return False
    stamps = [_ts(i) for i in head]
    pairs = list(pairwise(stamps))
    return all(a >= b for a, b in pairs) and any(a > b for a, b in pairs)


def ordered(
    items: Iterator[Item], on_sorted: Callable[[bool], None], always: bool = False
) -> Iterator[Item]:
    """``items`` in time order. DCE files are chronological, or newest first when exported with
    ``--reverse`` (recognised from the first messages); those, and every file when ``always`` is
    set, are sorted with the core's spilling sorter. Anything else passes through untouched (a
    message that goes back in time is counted by :func:`finish`)."""
    head = list(islice(items, _PEEK))
    rest = chain(head, items)
    reversed_ = looks_reversed(head)
    if not (reversed_ or always) or not head:
        return rest
    on_sorted(reversed_)
    return _sorted(head[0][1], rest)


def _sorted(member: str | None, items: Iterable[Item]) -> Iterator[Item]:
    sorter = ConversationSorter()
    for n, msg in enumerate(sorter(item[0] for item in items)):
        yield (msg, member, -1 - n, None)  # type: ignore[misc]


def merge(streams: list[Iterator[Item]]) -> Iterator[Item]:
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_ts)


class IdTracker:
    """Ids seen so far in one conversation: exact up to ``limit`` ids, then a fixed-size Bloom
    filter (2 MiB), so memory stays bounded for any conversation size. Used to find replies
    whose target is not in the export (a lower bound once the filter is in use: a false positive
    hides an absent target) and ids reused at a different time (checked only while exact, so
    nothing is ever rejected on a false positive)."""

    __slots__ = ("_bloom", "_set", "limit")

    _BITS = 1 << 24

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._set: set[str] | None = set()
        self._bloom: bytearray | None = None

    @property
    def exact(self) -> bool:
        return self._set is not None

    @property
    def exact_set(self) -> set[str] | None:
        """The exact id set while there is one (callers add to it directly and call
        :meth:`spill` when it passes ``limit``)."""
        return self._set

    def spill(self) -> None:
        assert self._set is not None
        self._bloom = bytearray(self._BITS // 8)
        for k in self._set:
            self._bloom_add(k)
        self._set = None

    def add(self, key: str) -> None:
        ids = self._set
        if ids is not None:
            ids.add(key)
            if len(ids) > self.limit:
                self.spill()
        else:
            self._bloom_add(key)

    def __contains__(self, key: str) -> bool:
        if self._set is not None:
            return key in self._set
        assert self._bloom is not None
        h = _hash(key)
        h1, h2 = h & 0xFFFFFF, (h >> 40) & 0xFFFFFF
        bloom = self._bloom
        return bool(bloom[h1 >> 3] & (1 << (h1 & 7))) and bool(bloom[h2 >> 3] & (1 << (h2 & 7)))

    def _bloom_add(self, key: str) -> None:
        """One call per message past ``limit`` ids (a million times in a big channel), so the
        hashing is inline for snowflakes rather than a chain of helper calls."""
        bloom = self._bloom
        assert bloom is not None
        h = (int(key) * _GOLDEN) & _MASK if len(key) < 20 and key.isdigit() else _hash(key)
        h1 = h & 0xFFFFFF
        h2 = (h >> 40) & 0xFFFFFF
        bloom[h1 >> 3] |= 1 << (h1 & 7)
        bloom[h2 >> 3] |= 1 << (h2 & 7)


_GOLDEN = 0x9E3779B97F4A7C15
_MASK = 0xFFFFFFFFFFFFFFFF


def _hash(key: str) -> int:
    """64-bit, deterministic (str hashes are salted per process): snowflakes by value, other
    ids by CRC; the two Bloom positions are bits 0-23 and 40-63."""
    if len(key) < 20 and key.isdigit():
        x = int(key)
    else:
        raw = key.encode("utf-8", "surrogatepass")
        x = zlib.crc32(raw) | (zlib.adler32(raw) << 32)
    return (x * _GOLDEN) & _MASK


def newer(a: Message, b: Message) -> bool:
    """Of two copies of one message, ``a`` is the more recent state (a later edit)."""
    if a.edited_at is None:
        return False
    return b.edited_at is None or a.edited_at > b.edited_at


def dedupe_group(group: list[Item]) -> tuple[list[Item], int]:
    """Copies of one message (same id, same instant) reduced to one, keeping the latest edit at
    the position of the first copy; returns the survivors and how many were dropped."""
    chosen: dict[str, Item] = {}
    dropped = 0
    for item in group:
        mid = item[0].id
        prev = chosen.get(mid)
        if prev is None:
            chosen[mid] = item
        else:
            dropped += 1
            if newer(item[0], prev[0]):
                chosen[mid] = item
    return list(chosen.values()), dropped


def groups_by_instant(items: Iterable[Item]) -> Iterator[list[Item]]:
    """Consecutive items with the same timestamp, as lists (usually of one)."""
    pending: list[Item] = []
    current: datetime | None = None
    for item in items:
        ts = item[0].timestamp
        if pending and ts != current:
            yield pending
            pending = []
        pending.append(item)
        current = ts
    if pending:
        yield pending


DUPLICATE_REASON = (
    "duplicate messages (the same message id exported more than once; -O dedupe=false keeps them)"
)


def finish(
    items: Iterable[Item],
    ctx: Context,
    dedupe: bool,
    locate: Callable[[str | None, str], Location],
    stats: dict[str, int],
) -> Iterator[Message]:
    """The last stage of every conversation: drop copies of a message (same id, same instant),
    reject an id reused at another instant, count replies whose target is not in the export
    (``stats["absent"]``) and messages that go back in time (``stats["late"]``).

    Messages at one instant are collected into a list (copies are always at the same instant);
    the common case, one message per instant, takes the fast path without a list."""
    tracker = IdTracker()
    bloom_add = tracker._bloom_add
    ids = tracker.exact_set
    limit = tracker.limit
    absent = late = 0
    pending: Item | None = None
    group: list[Item] | None = None
    current: datetime | None = None

    def emit(item: Item, same_instant: list[str] | None) -> Message | None:
        nonlocal ids, absent
        msg = item[0]
        mid = msg.id
        if ids is not None:
            if mid in ids:
                _reject_reused(ctx, item, locate)
                return None
            target = msg.reply_to
            if (
                target is not None
                and target not in ids
                and not (same_instant and target in same_instant)
            ):
                absent += 1
        else:
            target = msg.reply_to
            if (
                target is not None
                and target not in tracker
                and not (same_instant and target in same_instant)
            ):
                absent += 1
        return msg

    def remember(mid: str) -> None:
        nonlocal ids
        if ids is not None:
            ids.add(mid)
            if len(ids) > limit:
                tracker.spill()
                ids = None
        else:
            tracker.add(mid)

    def flush() -> Iterator[Message]:
        if group is not None:
            members = group
            if dedupe:
                members, dropped = dedupe_group(group)
                if dropped:
                    ctx.skip(DUPLICATE_REASON, dropped)
            same = [item[0].id for item in members]
            for item in members:
                out = emit(item, same)
                if out is not None:
                    yield out
            for mid in same:
                remember(mid)
        elif pending is not None:
            out = emit(pending, None)
            if out is not None:
                yield out
            remember(pending[0].id)

    for item in items:
        ts = item[0].timestamp
        if ts == current:
            if group is None:
                assert pending is not None
                group = [pending]
            group.append(item)
            continue
        if group is None and pending is not None:
            # Fast path: the previous instant had one message.
            msg = pending[0]
            mid = msg.id
            if ids is not None:
                if mid in ids:
                    _reject_reused(ctx, pending, locate)
                else:
                    target = msg.reply_to
                    if target is not None and target not in ids:
                        absent += 1
                    yield msg
                ids.add(mid)
                if len(ids) > limit:
                    tracker.spill()
                    ids = None
            else:
                target = msg.reply_to
                if target is not None and target not in tracker:
                    absent += 1
                yield msg
                bloom_add(mid)
        else:
            yield from flush()
            group = None
        if current is not None and ts < current:  # type: ignore[operator]
            late += 1
        pending = item
        current = ts
    yield from flush()
    stats["absent"] = stats.get("absent", 0) + absent
    stats["late"] = stats.get("late", 0) + late


def _reject_reused(ctx: Context, item: Item, locate: Callable[[str | None, str], Location]) -> None:
    msg, member, index, raw = item
    where = f"messages[{index}].id" if index >= 0 else f"message {msg.id}.id"
    ctx.reject(
        raw if raw is not None else msg.model_dump(mode="json"),
        f"message id {msg.id} is used again by a message at a different time ({msg.timestamp_raw})",
        locate(member, where),
    )
