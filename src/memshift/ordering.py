"""Chronological order in bounded memory.

Importers such as EverOS need each conversation's messages in time order, and many sources do not
promise it (Discord exports can be reversed, ChatGPT times can run backwards along a path). This
stage sorts each conversation and, past a budget, spills sorted runs to temporary files and merges
them (an external merge sort), so memory stays flat whatever the conversation size. The sort is
stable: equal timestamps keep their source order.

A conversation that fits the budget is sorted as the models themselves: serialising every message
to JSON and validating it again cost 12-18 us per message, far more than the sort. Only a spilled
run is serialised (canonical JSON lines), and only spilled messages are validated again. The
budget (``max_bytes``) is in real bytes of Python objects, estimated per message without
serialising (:func:`estimated_size`, calibrated with tracemalloc), plus a cap on the message count
(``threshold``).
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
#: Real bytes of buffered models per conversation before a sorted run is spilled.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: At most this many runs are merged at once: each holds an open file and a read buffer.
MAX_FAN_IN = 64
_MIN = datetime.min
_MIN_READ_BUFFER = 32 * 1024
_MAX_READ_BUFFER = 1024 * 1024

# Retained bytes of a parsed message: a fixed part (the model, its dict, ids, datetimes), the
# text, each extension key (Slack's blocks and profiles included) and each attachment, reaction
# or mention. Fitted by least squares on tracemalloc sizes of generated Slack, DCE and ChatGPT
# messages and rounded up: over those and every format's golden fixtures the real size is
# 0.6-0.95x the estimate in aggregate (one message can reach ~1.6x), so the budget errs on the
# safe side. Extension values are counted, not measured: a huge one is under-counted.
_BASE_BYTES = 3200
_TEXT_FACTOR = 3
_EXTENSION_BYTES = 500
_ITEM_BYTES = 1200

_Held = tuple[datetime, int, Message]
_Item = tuple[datetime, int, bytes]


def estimated_size(msg: Message) -> int:
    """Bytes ``msg`` keeps alive, estimated from counts and lengths (no serialisation: that
    would cost as much as the round trip the in-memory path avoids)."""
    markup = msg.markup
    return (
        _BASE_BYTES
        + _TEXT_FACTOR * (len(msg.text) + (len(markup) if markup is not None else 0))
        + _EXTENSION_BYTES * len(msg.extensions)
        + _ITEM_BYTES * (len(msg.attachments) + len(msg.reactions) + len(msg.mentions))
    )


class _Run:
    """One sorted run on disk: ``timestamp<TAB>seq<TAB>canonical JSON`` lines."""

    def __init__(self, items: Iterable[_Item], directory: str | None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="memshift-run-", suffix=".jsonl", dir=directory)
        self.buffering = _MAX_READ_BUFFER
        try:
            with os.fdopen(fd, "wb", buffering=_MAX_READ_BUFFER) as fh:
                for ts, seq, payload in items:
                    fh.write(b"%s\t%d\t" % (ts.isoformat().encode(), seq))
                    fh.write(payload)
                    fh.write(b"\n")
        except BaseException:
            self.remove()
            raise

    @classmethod
    def of_models(cls, held: list[_Held], directory: str | None) -> _Run:
        dump = Message.__pydantic_serializer__.to_json
        return cls(((ts, seq, dump(msg)) for ts, seq, msg in held), directory)

    def __iter__(self) -> Iterator[_Item]:
        fh: IO[bytes]
        with open(self.path, "rb", buffering=self.buffering) as fh:
            for line in fh:
                ts, seq, payload = line.split(b"\t", 2)
                yield (datetime.fromisoformat(ts.decode()), int(seq), payload[:-1])

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _share_buffers(runs: list[_Run], budget: int) -> None:
    """Read buffers for a merge: an eighth of the budget together (the last buffer of models is
    still held while the runs are merged), so merging many runs does not cost a megabyte each."""
    each = min(_MAX_READ_BUFFER, max(_MIN_READ_BUFFER, budget // 8 // max(len(runs), 1)))
    for run in runs:
        run.buffering = each


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
        buffer: list[_Held] = []
        size = 0
        runs: list[_Run] = []
        last = _MIN
        seq = 0
        current: str | None = None
        threshold, max_bytes = self.threshold, self.max_bytes
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
                    buffer.append((last, seq, record))
                    seq += 1
                    size += estimated_size(record)
                    if len(buffer) >= threshold or size >= max_bytes:
                        self._spill(buffer, runs)
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

    def _spill(self, buffer: list[_Held], runs: list[_Run]) -> None:
        buffer.sort()
        runs.append(_Run.of_models(buffer, self.spill_dir))
        self.spilled_runs += 1
        if len(runs) >= MAX_FAN_IN:
            # Bounded open files and read buffers: the runs so far become one.
            _share_buffers(runs, self.max_bytes)
            merged = _Run(heapq.merge(*runs), self.spill_dir)
            for run in runs:
                run.remove()
            runs[:] = [merged]

    def _flush(self, buffer: list[_Held], runs: list[_Run]) -> Iterator[AnyRecord]:
        # (timestamp, seq) is unique, so tuple order never compares the messages.
        buffer.sort()
        if not runs:
            for _ts, _seq, msg in buffer:
                yield msg
            return
        _share_buffers(runs, self.max_bytes)
        try:
            for _ts, _seq, msg in heapq.merge(*map(_validated, runs), buffer):
                yield msg
        finally:
            for run in runs:
                run.remove()


def _validated(run: _Run) -> Iterator[_Held]:
    validate = Message.model_validate_json
    for ts, seq, payload in run:
        yield (ts, seq, validate(payload))
