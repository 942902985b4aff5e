"""Chronological order in bounded memory.

Importers such as EverOS need each conversation's messages in time order, and many sources do not
promise it (Slack thread replies live in other day files, Discord exports can be reversed). This
stage sorts each conversation and, past a budget, spills sorted runs to temporary files and merges
them (an external merge sort), so memory stays flat whatever the conversation size. The sort is
stable: equal timestamps keep their source order.

Buffered messages are held as their canonical JSON bytes, not as models. A model with a Slack
message's blocks and extensions is ~10x its JSON in Python objects, and thousands of live models
make every garbage collection slower; a bytes object is one allocation the collector never scans.
The budget is therefore counted in bytes (``max_bytes``) as well as in messages (``threshold``).
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from .model import AnyRecord, Message

DEFAULT_THRESHOLD = 200_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_MIN = datetime.min

_Item = tuple[datetime, int, bytes]


class _Run:
    """One sorted run on disk: ``timestamp<TAB>seq<TAB>canonical JSON`` lines."""

    def __init__(self, items: list[_Item], directory: str | None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="memshift-run-", suffix=".jsonl", dir=directory)
        with os.fdopen(fd, "wb", buffering=1024 * 1024) as fh:
            for ts, seq, payload in items:
                fh.write(f"{ts.isoformat()}\t{seq}\t".encode())
                fh.write(payload)
                fh.write(b"\n")

    def __iter__(self) -> Iterator[_Item]:
        fh: IO[bytes]
        with open(self.path, "rb", buffering=1024 * 1024) as fh:
            for line in fh:
                ts, seq, payload = line.split(b"\t", 2)
                yield (datetime.fromisoformat(ts.decode()), int(seq), payload[:-1])

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class ConversationSorter:
    """Sorts the messages of each conversation in a record stream; everything else passes
    through in place (a Conversation record still precedes its messages)."""

    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        spill_dir: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.max_bytes = max_bytes
        self.spill_dir = spill_dir
        self.spilled_runs = 0

    def __call__(self, records: Iterable[AnyRecord]) -> Iterator[AnyRecord]:
        buffer: list[_Item] = []
        size = 0
        runs: list[_Run] = []
        last = _MIN
        seq = 0
        current: str | None = None
        try:
            for record in records:
                if type(record) is Message:
                    if record.conversation_id != current and (buffer or runs):
                        yield from self._flush(buffer, runs)
                        buffer, runs, size, last = [], [], 0, _MIN
                    current = record.conversation_id
                    ts = record.timestamp
                    if ts is not None:
                        # Undated messages sort with the previous dated one, keeping their place.
                        last = ts.replace(tzinfo=None)
                    payload = record.__pydantic_serializer__.to_json(record)
                    buffer.append((last, seq, payload))
                    seq += 1
                    size += len(payload)
                    if len(buffer) >= self.threshold or size >= self.max_bytes:
                        buffer.sort()
                        runs.append(_Run(buffer, self.spill_dir))
                        self.spilled_runs += 1
                        buffer, size = [], 0
                    continue
                if buffer or runs:
                    yield from self._flush(buffer, runs)
                    buffer, runs, size, last = [], [], 0, _MIN
                current = None
                yield record
            if buffer or runs:
                yield from self._flush(buffer, runs)
                runs = []
        finally:
            for run in runs:
                run.remove()

    @staticmethod
    def _flush(buffer: list[_Item], runs: list[_Run]) -> Iterator[AnyRecord]:
        # (timestamp, seq) is unique, so tuple order never compares the payloads.
        buffer.sort()
        validate = Message.model_validate_json
        if not runs:
            for _ts, _seq, payload in buffer:
                yield validate(payload)
            return
        try:
            for _ts, _seq, payload in heapq.merge(*runs, buffer):
                yield validate(payload)
        finally:
            for run in runs:
                run.remove()
