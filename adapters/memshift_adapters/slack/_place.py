"""Where each message goes in a Slack export: its ``ts``, its day file and its thread.

The writer and :meth:`SlackAdapter.project` both call :class:`Placer`, in stream order, so the ids
the projection promises are the ids the writer writes. Messages from Slack keep their ``ts``;
messages from other formats get one derived from their time (microseconds) and keep their own id
in ``slack:source_id``. Thread and reply references are rewritten to the root's ``ts``.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from memshift.model import Message
from memshift.timeutil import EPOCH, TimestampError

from ._common import format_ts, is_slack_ts, next_ts, parse_ts, ts_day


class Placement(NamedTuple):
    ts: str
    derived: bool  # ts made from the time (the message id was not a Slack ts)
    invented: bool  # the message had no time at all
    day: str
    new_day: bool  # starts a later day file
    late: bool  # earlier than the open day file (input not chronological)
    thread_ts: str | None
    thread_lost: bool  # thread_id named a message not (yet) written
    reply_lost: bool  # reply_to named a particular message; Slack only knows the root
    when: datetime


class IdMap:
    """Message id -> (ts, thread root ts) for messages whose id is not a ts, so later replies can
    point at them. In memory up to ``limit`` entries, then in a temporary SQLite file, so a
    million-message conversation from another format does not hold a million ids in RAM."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._mem: dict[str, tuple[str, str | None]] = {}
        self._db: sqlite3.Connection | None = None

    def put(self, key: str, ts: str, root: str | None) -> None:
        if self._db is None and len(self._mem) >= self.limit:
            self._db = sqlite3.connect("")  # "" = a private temporary file, removed on close
            self._db.execute("CREATE TABLE m (k TEXT PRIMARY KEY, ts TEXT, root TEXT)")
            self._db.executemany(
                "INSERT OR REPLACE INTO m VALUES (?, ?, ?)",
                ((k, v[0], v[1]) for k, v in self._mem.items()),
            )
            self._mem.clear()
        if self._db is None:
            self._mem[key] = (ts, root)
        else:
            self._db.execute("INSERT OR REPLACE INTO m VALUES (?, ?, ?)", (key, ts, root))

    def get(self, key: str) -> tuple[str, str | None] | None:
        if self._db is None:
            return self._mem.get(key)
        row = self._db.execute("SELECT ts, root FROM m WHERE k = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._mem.clear()


class Placer:
    """Assigns ts, day files and thread roots for one conversation, in stream order."""

    __slots__ = ("created_at", "day", "day_ts", "ids", "last", "zone")

    def __init__(self, zone: Any = UTC, created_at: datetime | None = None) -> None:
        self.zone = zone
        self.created_at = created_at
        self.day: str | None = None
        self.day_ts: set[str] = set()
        self.last: datetime | None = None
        self.ids = IdMap()

    def place(self, msg: Message) -> Placement:
        mid = msg.id
        when = msg.timestamp
        derived = True
        invented = False
        ts = ""
        if when is not None and is_slack_ts(mid):
            try:
                derived = parse_ts(mid) != when
            except TimestampError:
                derived = True
            if not derived:
                ts = mid
        if derived:
            if when is None:
                # Slack needs a time for every message. Keep the order: just after the previous
                # message, else at the conversation's creation, else at the epoch (the writer
                # reports every such message as a loss).
                invented = True
                if self.last is not None:
                    when = self.last + timedelta(microseconds=1)
                elif self.created_at is not None:
                    when = self.created_at
                else:
                    when = EPOCH + timedelta(microseconds=1)
            ts = format_ts(when)
        day = ts_day(ts, self.zone)
        new_day = self.day is None or day > self.day
        late = not new_day and day < (self.day or day)
        if new_day:
            self.day = day
            self.day_ts = set()
        if derived:
            while ts in self.day_ts:
                ts = next_ts(ts)
            when = parse_ts(ts)
        self.day_ts.add(ts)
        assert when is not None
        self.last = when

        thread_ts, thread_lost = self._ref(msg.thread_id, mid, ts)
        reply_lost = False
        if thread_ts is None and msg.reply_to is not None:
            # A reply becomes a thread reply under its target's thread root.
            target = self._target(msg.reply_to)
            if target is not None:
                thread_ts = target[1] or target[0]
            reply_lost = target is None or target[1] is not None
        elif msg.reply_to is not None:
            target = self._target(msg.reply_to)
            reply_lost = target is None or (target[1] or target[0]) != thread_ts
        if derived:
            self.ids.put(mid, ts, thread_ts if thread_ts != ts else None)
        return Placement(
            ts, derived, invented, day, new_day, late, thread_ts, thread_lost, reply_lost, when
        )

    def _target(self, ref: str) -> tuple[str, str | None] | None:
        found = self.ids.get(ref)
        if found is not None:
            return found
        if is_slack_ts(ref):
            return (ref, None)
        return None

    def _ref(self, ref: str | None, own_id: str, own_ts: str) -> tuple[str | None, bool]:
        if ref is None:
            return None, False
        if ref == own_id:
            return own_ts, False
        found = self.ids.get(ref)
        if found is not None:
            return found[1] or found[0], False
        if is_slack_ts(ref):
            return ref, False
        return None, True

    def forget(self) -> None:
        """Release the ids (the writer moved on to another conversation)."""
        self.ids.close()

    def close(self) -> None:
        self.ids.close()
