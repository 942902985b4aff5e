"""Chronological order in bounded memory.

Importers such as EverOS need each conversation's messages in time order, and many sources do not
promise it (Slack thread replies live in other day files, Discord exports can be reversed). This
stage sorts each conversation in memory up to ``threshold`` messages and past that spills sorted
runs to temporary files and merges them (an external merge sort), so memory stays flat whatever
the conversation size. The sort is stable: equal timestamps keep their source order.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from .model import AnyRecord, Message

DEFAULT_THRESHOLD = 20_000
_MIN = datetime.min


def _key(item: tuple[int, Message], last: list[datetime]) -> tuple[datetime, int]:
    seq, msg = item
    ts = msg.timestamp
    if ts is None:
        return (last[0], seq)
    naive = ts.replace(tzinfo=None)
    last[0] = naive
    return (naive, seq)


class _Run:
    """One sorted run on disk, as canonical JSON lines prefixed with their sort key."""

    def __init__(
        self, items: list[tuple[tuple[datetime, int], Message]], directory: str | None
    ) -> None:
        fd, self.path = tempfile.mkstemp(prefix="memshift-run-", suffix=".jsonl", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            for (ts, seq), msg in items:
                fh.write(f"{ts.isoformat()}\t{seq}\t".encode())
                fh.write(msg.__pydantic_serializer__.to_json(msg))
                fh.write(b"\n")

    def __iter__(self) -> Iterator[tuple[tuple[datetime, int], Message]]:
        fh: IO[bytes]
        with open(self.path, "rb") as fh:
            for line in fh:
                ts, seq, payload = line.split(b"\t", 2)
                yield (
                    (datetime.fromisoformat(ts.decode()), int(seq)),
                    Message.model_validate_json(payload),
                )

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class ConversationSorter:
    """Sorts the messages of each conversation in a record stream; everything else passes
    through in place (a Conversation record still precedes its messages)."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD, spill_dir: str | None = None) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.spill_dir = spill_dir
        self.spilled_runs = 0

    def __call__(self, records: Iterable[AnyRecord]) -> Iterator[AnyRecord]:
        buffer: list[tuple[tuple[datetime, int], Message]] = []
        runs: list[_Run] = []
        last = [_MIN]
        seq = 0
        current: str | None = None
        try:
            for record in records:
                if isinstance(record, Message):
                    if record.conversation_id != current and (buffer or runs):
                        yield from self._flush(buffer, runs)
                        buffer, runs, last = [], [], [_MIN]
                    current = record.conversation_id
                    item = (seq, record)
                    buffer.append((_key(item, last), record))
                    seq += 1
                    if len(buffer) >= self.threshold:
                        buffer.sort(key=lambda kv: kv[0])
                        runs.append(_Run(buffer, self.spill_dir))
                        self.spilled_runs += 1
                        buffer = []
                    continue
                if buffer or runs:
                    yield from self._flush(buffer, runs)
                    buffer, runs, last = [], [], [_MIN]
                current = None
                yield record
            if buffer or runs:
                yield from self._flush(buffer, runs)
                runs = []
        finally:
            for run in runs:
                run.remove()

    @staticmethod
    def _flush(
        buffer: list[tuple[tuple[datetime, int], Message]], runs: list[_Run]
    ) -> Iterator[AnyRecord]:
        buffer.sort(key=lambda kv: kv[0])
        if not runs:
            for _, msg in buffer:
                yield msg
            return
        try:
            streams: list[Iterable[tuple[tuple[datetime, int], Message]]] = [*runs, buffer]
            for _, msg in heapq.merge(*streams, key=lambda kv: kv[0]):
                yield msg
        finally:
            for run in runs:
                run.remove()
