"""Writing Mem0: memory rows for a direct import, and ``add()`` payloads for conversations.

One JSON Lines stream. A line with ``memory`` is a memory row (``client.add(row["memory"],
user_id=…, timestamp=…, metadata=…, infer=False)`` imports it as is); a line with ``messages`` is
the body of one ``add()`` call. Lines keep the order of the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memshift import Context, jsonio
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message
from memshift.sinks import Sink

from ._shared import (
    IDENTITY_KEYS,
    NOT_GENERIC,
    PAYLOAD_KEYS,
    RAW_CREATED,
    RAW_UPDATED,
    ROW_TIMESTAMP,
    SOURCE_CONVERSATION,
    SOURCE_MESSAGE_IDS,
    SOURCE_SENDER_IDS,
    SOURCE_TIMESTAMPS,
    bad_entity_id,
    clean_metadata,
    conversation_scope,
    epoch_seconds,
    memory_text,
    time_text,
)

ROLES_OUT = {"user": "user", "assistant": "assistant", "system": "system", "tool": "assistant"}
_SPECIAL_EXT = frozenset({RAW_CREATED, RAW_UPDATED, ROW_TIMESTAMP})


def _drop(ctx: Context, reason: str) -> None:
    """A record the writer received but leaves out on purpose: counted as filtered, not written."""
    ctx.filtered(reason)
    ctx.write_dropped += 1


def memory_row(item: MemoryItem, fallback_user: str | None) -> dict[str, Any] | None:
    """The row for one memory item, or None when Mem0 cannot hold it (no text, no scope)."""
    text = memory_text(item)
    if not text:
        return None
    scope = item.scope
    user_id = scope.user_id
    if user_id is None and scope.agent_id is None and scope.run_id is None:
        user_id = fallback_user
    if user_id is None and scope.agent_id is None and scope.run_id is None:
        return None
    row: dict[str, Any] = {"id": item.id, "memory": text}
    if user_id is not None:
        row["user_id"] = user_id
    if scope.agent_id is not None:
        row["agent_id"] = scope.agent_id
    if scope.run_id is not None:
        row["run_id"] = scope.run_id
    if item.categories:
        row["categories"] = list(item.categories)
    row["metadata"] = clean_metadata(item.metadata)
    ext = item.extensions
    if item.created_at is not None:
        row["created_at"] = time_text(item.created_at, ext.get(RAW_CREATED))
    if item.updated_at is not None:
        row["updated_at"] = time_text(item.updated_at, ext.get(RAW_UPDATED))
    stamp = ext.get(ROW_TIMESTAMP)
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        row["timestamp"] = stamp
    elif item.created_at is not None:
        row["timestamp"] = epoch_seconds(item.created_at)
    for key, value in ext.items():
        if key in _SPECIAL_EXT or not key.startswith("mem0:"):
            continue
        name = key[5:]
        if name not in NOT_GENERIC and name not in row:
            row[name] = value
    return row


class Mem0Writer:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.opts = options
        self.ctx = ctx
        self.explicit = frozenset(options.model_fields_set)
        self.templates = {
            "user_id": options.user_id,
            "agent_id": options.agent_id,
            "run_id": options.run_id,
        }
        self.conv: Conversation | None = None
        self.scope: dict[str, str] | None = None  # None: the conversation cannot be written
        self.scope_error: str | None = None
        self.chunk: list[Message] = []
        self.fh: Any = None

    def write(self, records: Iterable[AnyRecord]) -> None:
        mode = self.opts.mode
        with self.sink.document("memories.jsonl") as fh:
            self.fh = fh
            for record in records:
                if isinstance(record, Conversation):
                    self._flush()
                    self._start(record)
                elif isinstance(record, Message):
                    if mode == "rows":
                        _drop(self.ctx, "messages (-O mode=add or auto writes add() payloads)")
                        continue
                    self._message(record)
                elif isinstance(record, MemoryItem):
                    self._flush()
                    if mode == "add":
                        _drop(self.ctx, "memory items (-O mode=rows or auto writes memory rows)")
                        continue
                    self._memory(record)
            self._flush()

    # -- memory rows ---------------------------------------------------------------------------

    def _memory(self, item: MemoryItem) -> None:
        row = memory_row(item, self.opts.fallback_user_id)
        if row is None:
            if not memory_text(item):
                _drop(self.ctx, "memory items without text (Mem0 stores text memories)")
            else:
                _drop(
                    self.ctx,
                    "memory items without user_id, agent_id or run_id (-O fallback_user_id=...)",
                )
            return
        for key in ("user_id", "agent_id", "run_id"):
            value = row.get(key)
            if isinstance(value, str) and bad_entity_id(value):
                self.ctx.reject(
                    item.model_dump(mode="json"),
                    f"{key} {value!r} is empty or contains whitespace (Mem0 refuses it)",
                    Location(path=f"memory {item.id}.scope.{key}"),
                    error=WriteError,
                )
                return
        self._report_memory_losses(item)
        self.fh.write(jsonio.dumps_line(row))

    def _report_memory_losses(self, item: MemoryItem) -> None:
        ctx = self.ctx
        if item.type != "fact":
            ctx.loss("type", "Mem0 memories are plain facts", example=item.id)
        if item.observed_at is not None:
            ctx.loss("observed_at", "Mem0 has no observation time", example=item.id)
        if item.description:
            ctx.loss("description", example=item.id)
        if item.labels:
            ctx.loss("labels", example=item.id)
        if item.scope.group_id is not None:
            ctx.loss("scope.group_id", "Mem0 scopes are user/agent/run", example=item.id)
        dropped = [k for k in item.metadata if k in IDENTITY_KEYS]
        if dropped:
            ctx.loss("metadata", f"identity keys Mem0 drops: {', '.join(dropped)}", example=item.id)

    # -- add() payloads ------------------------------------------------------------------------

    def _start(self, conv: Conversation) -> None:
        self.conv = conv
        scope = conversation_scope(conv, self.templates, self.explicit)
        self.scope_error = None
        for key, value in scope.items():
            if bad_entity_id(value):
                self.scope_error = (
                    f"{key} {value!r} is empty or contains whitespace (Mem0 refuses it)"
                )
        self.scope = scope if scope else None

    def _message(self, msg: Message) -> None:
        if self.conv is None or msg.conversation_id != self.conv.id:
            self._flush()
            self._start(Conversation(id=msg.conversation_id))
        if msg.type != "message":
            _drop(self.ctx, f"{msg.type} messages (Mem0 add() takes chat turns)")
            return
        if not msg.active:
            _drop(self.ctx, "inactive branches (the destination keeps the active path only)")
            return
        if not msg.text:
            _drop(self.ctx, "messages without text (Mem0 add() needs content)")
            return
        if self.scope is None:
            _drop(
                self.ctx,
                "conversations without a user_id, agent_id or run_id (-O user_id=... / run_id=...)",
            )
            return
        if self.scope_error is not None:
            self.ctx.reject(
                msg.model_dump(mode="json"),
                self.scope_error,
                Location(path=f"conversation {msg.conversation_id}"),
                error=WriteError,
            )
            return
        if msg.role == "tool":
            self.ctx.loss(
                "role",
                "tool messages sent as assistant (Mem0 roles: user, assistant, system)",
                example=msg.id,
            )
        self.chunk.append(msg)
        if len(self.chunk) >= self.opts.messages_per_call:
            self._flush()

    def _flush(self) -> None:
        if not self.chunk:
            return
        chunk, self.chunk = self.chunk, []
        assert self.conv is not None and self.scope is not None
        conv, opts = self.conv, self.opts
        messages: list[dict[str, Any]] = []
        for m in chunk:
            entry: dict[str, Any] = {"role": ROLES_OUT[m.role], "content": m.text}
            if opts.include_names and m.sender_name:
                entry["name"] = m.sender_name
            messages.append(entry)
        payload: dict[str, Any] = {"messages": messages, **self.scope}
        own = conv.extensions.get("mem0:metadata")
        metadata = clean_metadata(own) if isinstance(own, dict) else {}
        if opts.provenance:
            metadata[SOURCE_CONVERSATION] = conv.id
            metadata[SOURCE_MESSAGE_IDS] = [m.id for m in chunk]
            metadata[SOURCE_TIMESTAMPS] = [
                time_text(m.timestamp, m.timestamp_raw) if m.timestamp else None for m in chunk
            ]
            metadata[SOURCE_SENDER_IDS] = [m.sender_id for m in chunk]
        else:
            self._report_unkept(chunk)
        if metadata:
            payload["metadata"] = metadata
        stamps = [epoch_seconds(m.timestamp) for m in chunk if m.timestamp is not None]
        if not stamps:
            stamps = [
                s
                for m in chunk
                if isinstance(s := m.extensions.get(ROW_TIMESTAMP), int) and not isinstance(s, bool)
            ]
        if stamps and opts.add_timestamp:
            # The call is dated by its newest message: the memories it yields were known then.
            payload["timestamp"] = max(stamps)
        for key in sorted(conv.extensions):
            name = key[5:]
            if key.startswith("mem0:") and name not in PAYLOAD_KEYS and name not in payload:
                payload[name] = conv.extensions[key]
        if opts.infer is not None:
            payload["infer"] = opts.infer
        self.fh.write(jsonio.dumps_line(payload))

    def _report_unkept(self, chunk: list[Message]) -> None:
        for m in chunk:
            if m.timestamp is not None:
                self.ctx.loss(
                    "timestamp", "per-message times (-O provenance=true keeps them)", example=m.id
                )
            if m.sender_id is not None:
                self.ctx.loss("sender_id", "-O provenance=true keeps them", example=m.id)
