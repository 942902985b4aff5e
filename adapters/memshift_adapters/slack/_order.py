"""Each conversation's messages in time order, as the reader walks its day files.

An export's day files are walked in date order, and Slack writes each one sorted by ``ts`` with
thread replies in the file of their own day, so a channel is chronological already. What can
break it: a day file out of ``ts`` order (hand-edited, or written by another tool), and a message
in a neighbouring day's file (days cut in another time zone, a message moved by hand). Both are
repaired here without the core's whole-conversation sort (which, past its budget, serialises
every message of a large channel to disk):

* each day file is sorted on its own (it is read whole before any of it is passed on; within the
  sorter's budget it stays in memory, beyond it the core sorter spills it);
* a day file's messages are held until the next file has been read, and only those older than the
  next file's first message are passed on; the rest are merged with it.

So memory is bounded by about two day files (and never more than the sorter's budget each). A
message older than one already passed on (more than a day file away from its place) cannot be
repaired in that memory: it is passed on where it is, counted in :attr:`TimeOrder.late`, and the
reader warns (``-O sort=true`` sorts whole conversations instead). The order is the core sorter's:
by time, equal times in reading order, an undated message with the dated one before it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime

from memshift.model import AnyRecord, Message
from memshift.ordering import DEFAULT_MAX_BYTES, ConversationSorter, estimated_size

#: (naive UTC time, position in reading order, message): unique on the first two.
_Held = tuple[datetime, int, Message]


class TimeOrder:
    """One conversation's messages in time order; feed it the day files in reading order.

    ``max_bytes`` bounds what is held for one file and what waits for the next (estimated as the
    core sorter does), so the two together stay within the core sorter's budget."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES // 2) -> None:
        self.max_bytes = max_bytes
        self.late = 0
        self._pending: list[_Held] = []  # sorted, waiting for the next file
        self._last: tuple[datetime, int] | None = None  # key of the last message passed on
        self._seq = 0
        self._dated = datetime.min  # the last dated message's time, for undated ones

    def file(self, messages: Iterable[Message]) -> Iterator[Message]:
        """Reads one day file whole, then yields what can no longer be preceded by it."""
        held: list[_Held] = []
        size = 0
        in_order = True
        prev: tuple[datetime, int] | None = None
        it = iter(messages)
        for msg in it:
            key = self._key(msg)
            if prev is not None and key < prev:
                in_order = False
            prev = key
            held.append((key[0], key[1], msg))
            size += estimated_size(msg)
            if size >= self.max_bytes:
                yield from self._large(held, it)
                return
        if not in_order:
            held.sort()
        yield from self._advance(held, size)

    def finish(self) -> Iterator[Message]:
        """The rest, at the end of the conversation."""
        pending, self._pending = self._pending, []
        yield from self._emit(pending)

    def _key(self, msg: Message) -> tuple[datetime, int]:
        ts = msg.timestamp
        if ts is not None:
            self._dated = ts.replace(tzinfo=None)
        seq = self._seq
        self._seq = seq + 1
        return (self._dated, seq)

    def _advance(self, held: list[_Held], size: int) -> Iterator[Message]:
        if not held:
            return
        pending = self._pending
        first = held[0][:2]
        if not pending or pending[-1][:2] < first:  # the usual case: files do not overlap
            self._pending = held
            yield from self._emit(pending)
            return
        cut = bisect.bisect_left(pending, first)
        size += sum(estimated_size(m) for _, _, m in pending[cut:])
        merged = list(heapq.merge(pending[cut:], held))
        del pending[cut:]
        # Still within the budget: past it the oldest go now (files overlapping file after file).
        over = 0
        while size > self.max_bytes and over < len(merged) - 1:
            size -= estimated_size(merged[over][2])
            over += 1
        pending.extend(merged[:over])
        self._pending = merged[over:]
        yield from self._emit(pending)

    def _large(self, held: list[_Held], rest: Iterator[Message]) -> Iterator[Message]:
        """A day file over its budget: sorted by the core sorter (which spills), merged with what
        is held and passed on whole; the next file is then only checked, not repaired."""
        sorter = ConversationSorter(max_bytes=self.max_bytes)
        pending, self._pending = self._pending, []
        yield from self._emit(heapq.merge(pending, self._rekey(sorter(self._drain(held, rest)))))

    def _drain(self, held: list[_Held], rest: Iterator[Message]) -> Iterator[Message]:
        # The held list empties as the sorter takes it, so the file is not in memory twice.
        held.reverse()
        while held:
            yield held.pop()[2]
        for msg in rest:
            self._key(msg)  # keeps the reading position and the last dated time
            yield msg

    def _rekey(self, records: Iterable[AnyRecord]) -> Iterator[_Held]:
        """Keys for the sorter's output, non-decreasing, after every position given so far."""
        dated = datetime.min
        for msg in records:
            assert isinstance(msg, Message)  # the sorter was given messages only
            ts = msg.timestamp
            if ts is not None:
                dated = ts.replace(tzinfo=None)
            seq = self._seq
            self._seq = seq + 1
            yield (dated, seq, msg)

    def _emit(self, items: Iterable[_Held]) -> Iterator[Message]:
        last = self._last
        late = 0
        for ts, seq, msg in items:
            key = (ts, seq)
            if last is not None and key < last:
                late += 1
            else:
                last = key
            yield msg
        self._last = last
        self.late += late
