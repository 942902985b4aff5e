"""Writing Zep: Batch API items (default), thread ``add_messages`` bodies, or fact rows.

Batch output is JSON Lines, one item per line, in input order, so the items of one thread or
graph stay in source order. A file holds at most ``max_items_per_file`` items (Zep's 50,000 per
batch); past that the writer opens ``batch.0002.jsonl`` and so on, one batch each. An importer
sends each file's lines in consecutive runs of at most 500 (Zep's limit per ``batch.add``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from datetime import datetime
from typing import IO, Any

from memshift import Context, jsonio
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message
from memshift.sinks import Sink

from ._shared import (
    DATA_TYPES,
    EXPIRED_EXT,
    METADATA_EXT,
    RAW,
    SOURCE_ID,
    SOURCE_PART,
    SOURCE_SENDER,
    SOURCE_TYPE,
    memory_text,
    out_role,
    reference_time,
    split_text,
    time_text,
    zep_metadata,
)

#: Fact-row keys the writer sets itself; extensions never override them.
_FACT_OWN = frozenset(
    {
        "uuid",
        "id",
        "fact",
        "valid_from",
        "valid_to",
        "valid_at",
        "invalid_at",
        "created_at",
        "expired_at",
        "user_id",
        "user_uuid",
        "graph_id",
        "graph_uuid",
        "group_id",
        "type",
        "messages",
        "content",
        "role",
        "role_type",
        "data",
        "created_at_raw",
        "valid_from_raw",
        "valid_to_raw",
        "metadata",
    }
)


def _drop(ctx: Context, reason: str) -> None:
    ctx.filtered(reason)
    ctx.write_dropped += 1


Ready = list[tuple[Message, tuple[datetime, str] | None, bool]]


class TimeFill:
    """The ``untimed=inherit`` policy: a message without a time takes the time of the message
    before it in the same thread, or (leading untimed messages) of the first timed one after it.
    Only the leading run is buffered; anything that ends the run (another thread, a memory item)
    releases it without a time. The projection replays the same class, so both agree."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.last: tuple[datetime, str] | None = None
        self.waiting: list[Message] = []

    def reset(self) -> None:
        self.last = None

    def feed(self, msg: Message) -> Ready:
        """Messages ready to write: ``(message, (time, spelling) or None, inherited?)``."""
        if msg.timestamp is not None:
            t = (msg.timestamp, time_text(msg.timestamp, msg.timestamp_raw))
            out: Ready = [(m, t, True) for m in self.waiting]
            self.waiting = []
            out.append((msg, t, False))
            self.last = t
            return out
        if self.policy == "inherit":
            if self.last is not None:
                return [(msg, self.last, True)]
            self.waiting.append(msg)
            return []
        return [(msg, None, False)]

    def release(self) -> Ready:
        out: Ready = [(m, None, False) for m in self.waiting]
        self.waiting = []
        return out


def fact_row(item: MemoryItem, api: str) -> dict[str, Any]:
    """A fact row: CortexDB's ``{user_id, fact, valid_from, valid_to}`` plus everything an
    ``EntityEdge`` says, so Zep -> memshift -> Zep keeps the four times exactly."""
    ext = item.extensions
    row: dict[str, Any] = {"uuid": item.id}
    user_key, graph_key = ("user_uuid", "graph_uuid") if api == "v4" else ("user_id", "graph_id")
    if item.scope.user_id is not None:
        row[user_key] = item.scope.user_id
    if item.scope.group_id is not None:
        row[graph_key] = item.scope.group_id
    row["fact"] = memory_text(item)
    t = item.triple
    if t is not None:
        row["name"] = t.predicate
        if t.subject != ext.get("zep:source_node_uuid"):
            row["source_node_name"] = t.subject
        if t.object != ext.get("zep:target_node_uuid"):
            row["target_node_name"] = t.object
    for field in ("valid_from", "valid_to", "created_at"):
        value = getattr(item, field)
        if value is not None:
            row[field] = time_text(value, ext.get(RAW[field]))
    expired = ext.get(EXPIRED_EXT)
    if isinstance(expired, str):
        row["expired_at"] = expired
    for key, value in ext.items():
        name = key[4:]
        if key.startswith("zep:") and name not in _FACT_OWN and name not in row:
            if key in (METADATA_EXT, "zep:role"):
                continue
            row[name] = value
    return row


class ZepWriter:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.opts = options
        self.ctx = ctx
        self.v4 = options.api == "v4"
        self.times = TimeFill(options.untimed)
        self.conv: Conversation | None = None
        self.chunk: list[dict[str, Any]] = []  # mode=messages: the current add_messages body
        self.stack = ExitStack()
        self.fh: IO[bytes] | None = None
        self.part = 0
        self.in_part = 0
        self.items = 0

    # -- output files ----------------------------------------------------------------------------

    def _open(self) -> None:
        self.stack.close()
        self.stack = ExitStack()
        self.part += 1
        name = {"batch": "batch.jsonl", "messages": "threads.jsonl", "facts": "facts.jsonl"}
        self.fh = self.stack.enter_context(self.sink.document(name[self.opts.mode], part=self.part))
        self.in_part = 0

    def _emit(self, line: dict[str, Any]) -> None:
        if self.fh is None or (
            self.opts.mode == "batch" and self.in_part >= self.opts.max_items_per_file
        ):
            self._open()
        assert self.fh is not None
        self.fh.write(jsonio.dumps_line(line))
        self.in_part += 1
        self.items += 1

    # -- the stream ------------------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord]) -> None:
        mode = self.opts.mode
        try:
            self._open()
            for record in records:
                if isinstance(record, Conversation):
                    self._end_thread()
                    self.conv = record
                    self.times.reset()
                elif isinstance(record, Message):
                    if mode == "facts":
                        _drop(self.ctx, "messages (-O mode=batch or messages writes them)")
                        continue
                    self._message(record)
                elif isinstance(record, MemoryItem):
                    if mode == "messages":
                        _drop(self.ctx, "memory items (-O mode=batch or facts writes them)")
                        continue
                    self._release()
                    if mode == "facts":
                        self._fact(record)
                    else:
                        self._episode(record)
            self._end_thread()
            if mode == "batch":
                self.ctx.note("zep:batch_files", self.part)
                self.ctx.note("zep:batch_items", self.items)
        finally:
            self.stack.close()

    def _end_thread(self) -> None:
        self._release()
        self._flush_chunk()

    def _release(self) -> None:
        for msg, t, inherited in self.times.release():
            self._write_message(msg, t, inherited)

    # -- messages --------------------------------------------------------------------------------

    def _message(self, msg: Message) -> None:
        if self.conv is None or msg.conversation_id != self.conv.id:
            self._end_thread()
            self.conv = Conversation(id=msg.conversation_id)
            self.times.reset()
        if msg.type != "message":
            _drop(self.ctx, f"{msg.type} messages (Zep threads hold chat turns)")
            return
        if not msg.active:
            _drop(self.ctx, "inactive branches (the destination keeps the active path only)")
            return
        if not msg.text:
            _drop(self.ctx, "messages without text (Zep needs content)")
            return
        if msg.timestamp is None and self.opts.untimed == "reject":
            self.ctx.reject(
                msg.model_dump(mode="json"),
                "message has no time; Zep would stamp it with the import time "
                "(-O untimed=inherit or omit)",
                Location(path=f"thread {msg.conversation_id}: message {msg.id}"),
                error=WriteError,
            )
            return
        for ready, t, inherited in self.times.feed(msg):
            self._write_message(ready, t, inherited)

    def _write_message(self, msg: Message, t: tuple[datetime, str] | None, inherited: bool) -> None:
        ctx, opts = self.ctx, self.opts
        if t is None:
            ctx.loss(
                "timestamp", "messages without a time: Zep stamps them on ingestion", example=msg.id
            )
        elif inherited:
            ctx.loss(
                "timestamp",
                "messages without a time took a neighbour's (-O untimed)",
                example=msg.id,
            )
        parts = split_text(msg.text, opts.max_message_chars)
        if len(parts) > 1:
            ctx.note("zep:split_messages", ctx.report.notes.get("zep:split_messages", 0) + 1)
            ctx.warn(
                f"messages over {opts.max_message_chars} characters were split at sentence "
                "boundaries (-O max_message_chars=14000 on paid plans)",
                key="zep-split-messages",
            )
        user_md = msg.extensions.get(METADATA_EXT)
        role = out_role(msg, opts.api)
        thread_key = "thread_uuid" if self.v4 else "thread_id"
        time_key = "reference_time" if self.v4 else "created_at"
        for k, text in enumerate(parts, start=1):
            reserved: dict[str, Any] = {}
            if opts.provenance or len(parts) > 1:
                reserved[SOURCE_ID] = msg.id
            if opts.provenance and msg.sender_id is not None:
                reserved[SOURCE_SENDER] = msg.sender_id
            if len(parts) > 1:
                reserved[SOURCE_PART] = f"{k}/{len(parts)}"
            metadata, dropped = zep_metadata(
                user_md if isinstance(user_md, dict) else None, reserved
            )
            if dropped and k == 1:
                ctx.loss(
                    "metadata",
                    f"Zep keeps 10 scalar keys; dropped {', '.join(dropped)}",
                    example=msg.id,
                )
            entry: dict[str, Any] = {}
            if opts.mode == "batch":
                entry["type"] = "thread_message"
                entry[thread_key] = msg.conversation_id
            entry["role"] = "user" if role == "norole" and self.v4 else role
            if msg.sender_name:
                entry["name"] = msg.sender_name
            entry["content"] = text
            if t is not None:
                entry[time_key] = t[1]
            if metadata:
                entry["metadata"] = metadata
            if opts.mode == "batch":
                self._emit(entry)
            else:
                self.chunk.append(entry)
                if len(self.chunk) >= opts.messages_per_call:
                    self._flush_chunk()

    def _flush_chunk(self) -> None:
        if not self.chunk:
            return
        assert self.conv is not None
        key = "thread_uuid" if self.v4 else "thread_id"
        self._emit({key: self.conv.id, "messages": self.chunk})
        self.chunk = []

    # -- memory items ----------------------------------------------------------------------------

    def _target(self, item: MemoryItem) -> tuple[str, str] | None:
        user_key, graph_key = ("user_uuid", "graph_uuid") if self.v4 else ("user_id", "graph_id")
        scope, opts = item.scope, self.opts
        if scope.group_id is not None:
            if scope.user_id is not None:
                self.ctx.loss(
                    "scope.user_id", "the episode goes to the group graph", example=item.id
                )
            return graph_key, scope.group_id
        if scope.user_id is not None:
            return user_key, scope.user_id
        if opts.graph_id:
            return graph_key, opts.graph_id
        if opts.user_id:
            return user_key, opts.user_id
        return None

    def _episode(self, item: MemoryItem) -> None:
        ctx, opts = self.ctx, self.opts
        text = memory_text(item)
        if not text:
            _drop(ctx, "memory items without text (a Zep episode needs data)")
            return
        target = self._target(item)
        if target is None:
            _drop(ctx, "memory items without user_id or group_id (-O user_id=... / graph_id=...)")
            return
        self._episode_losses(item)
        ref, raw = reference_time(item)
        data_type = item.extensions.get("zep:data_type")
        allowed = DATA_TYPES[opts.api]
        if not isinstance(data_type, str) or data_type not in allowed:
            data_type = "text"
        parts = split_text(text, opts.max_episode_chars)
        if len(parts) > 1:
            ctx.note("zep:split_episodes", ctx.report.notes.get("zep:split_episodes", 0) + 1)
            ctx.warn(
                f"memory items over {opts.max_episode_chars} characters were split into "
                "several episodes at sentence boundaries",
                key="zep-split-episodes",
            )
        for k, data in enumerate(parts, start=1):
            reserved: dict[str, Any] = {}
            if opts.provenance or len(parts) > 1:
                reserved[SOURCE_ID] = item.id
            if opts.provenance:
                reserved[SOURCE_TYPE] = item.type
            if len(parts) > 1:
                reserved[SOURCE_PART] = f"{k}/{len(parts)}"
            metadata, dropped = zep_metadata(item.metadata, reserved)
            if dropped and k == 1:
                ctx.loss(
                    "metadata",
                    f"Zep keeps 10 scalar keys; dropped {', '.join(dropped)}",
                    example=item.id,
                )
            entry: dict[str, Any] = {"type": "graph_episode", target[0]: target[1]}
            entry["data"] = data
            entry["data_type"] = data_type
            if ref is not None:
                entry["reference_time" if self.v4 else "created_at"] = time_text(ref, raw)
            for name in ("source_description", "document_id"):
                value = item.extensions.get(f"zep:{name}")
                if isinstance(value, str):
                    entry[name] = value
            if metadata:
                entry["metadata"] = metadata
            self._emit(entry)

    def _episode_losses(self, item: MemoryItem) -> None:
        ctx = self.ctx
        hint = "graph episodes carry one reference time (-O mode=facts keeps validity)"
        if item.valid_to is not None:
            ctx.loss("valid_to", hint, example=item.id)
        if isinstance(item.extensions.get(EXPIRED_EXT), str):
            ctx.loss("expired_at", hint, example=item.id)
        if item.valid_from is not None and item.created_at is not None:
            ctx.loss("created_at", "the episode is dated by valid_from", example=item.id)
        if item.observed_at is not None and (item.valid_from or item.created_at):
            ctx.loss("observed_at", example=item.id)
        if item.updated_at is not None:
            ctx.loss("updated_at", example=item.id)
        if item.triple is not None:
            ctx.loss(
                "triple",
                "Zep re-extracts relations from the text (-O mode=facts keeps them)",
                example=item.id,
            )
        if item.categories:
            ctx.loss("categories", example=item.id)
        if item.labels:
            ctx.loss("labels", example=item.id)
        if item.description:
            ctx.loss("description", example=item.id)
        if item.scope.agent_id is not None or item.scope.run_id is not None:
            ctx.loss(
                "scope.agent_id/run_id", "Zep graphs belong to users or groups", example=item.id
            )

    def _fact(self, item: MemoryItem) -> None:
        if not memory_text(item):
            _drop(self.ctx, "memory items without text (a fact row needs a fact)")
            return
        for field in ("observed_at", "updated_at", "description"):
            if getattr(item, field):
                self.ctx.loss(field, example=item.id)
        if item.categories:
            self.ctx.loss("categories", example=item.id)
        if item.metadata:
            self.ctx.loss("metadata", "fact rows have no metadata", example=item.id)
        self._emit(fact_row(item, self.opts.api))
