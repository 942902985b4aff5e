"""``zep``: Zep threads, graph facts and Batch API items, both directions.

Zep holds conversations as thread messages and knowledge as a bi-temporal graph whose edges are
facts (``valid_at``/``invalid_at`` say when a fact was true, ``created_at``/``expired_at`` when Zep
learned and retired it). The reader takes every shape those come out as, across the three SDK
generations; the writer produces Batch API items for a backfill (the default), thread
``add_messages`` bodies, or fact rows that keep the four times exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import ConfigDict, Field

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsondoc
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Scope
from memshift.sinks import Sink
from memshift.sources import Source

from ._read import LIST_KEYS, ZepReader
from ._shared import (
    DATA_TYPES,
    MAX_METADATA_KEYS,
    METADATA_EXT,
    RAW,
    ROLE_EXT,
    SOURCE_ID,
    SOURCE_SENDER,
    SOURCE_TYPE,
    memory_text,
    reference_time,
    role_ext,
    time_text,
    zep_metadata,
    zep_time,
)
from ._write import TimeFill, ZepWriter

MESSAGE_CHARS = 2_500
MESSAGE_CHARS_PAID = 14_000
EPISODE_CHARS = 10_000
ITEMS_PER_BATCH = 50_000


class ZepReadOptions(Options):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    thread_id: str | None = None
    """Thread id for messages that do not name one (a ``thread.get`` export has none). Default:
    the ``thread_id`` member of the file, else the file name without extension."""
    user_id: str | None = None
    """``user_id`` for facts and edges that name no graph (an ``edge.get_by_user_id`` export)."""
    graph_id: str | None = None
    """Graph id (canonical ``scope.group_id``) for facts and edges that name no graph."""
    naive_timezone: str | None = None
    """Zone for timestamps without an offset. Unset: such a timestamp is an error."""


class ZepWriteOptions(Options):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    mode: Literal["batch", "messages", "facts"] = "batch"
    """``batch``: Batch API items (``thread_message`` for conversations, ``graph_episode`` for
    memory items); ``messages``: one ``thread.add_messages`` body per line (at most
    ``messages_per_call`` messages); ``facts``: one fact row per memory item."""
    api: Literal["v3", "v4"] = "v3"
    """Field names of the target SDK: ``v3`` (zep-cloud 3.x: ``thread_id``, ``user_id``,
    ``created_at``) or ``v4`` (zep-cloud 4.x: ``thread_uuid``, ``user_uuid``,
    ``reference_time``; no ``norole``)."""
    max_message_chars: int = Field(default=MESSAGE_CHARS, ge=100, le=MESSAGE_CHARS_PAID)
    """Longest message Zep accepts: 2,500 characters on free plans, 14,000 on paid plans.
    Longer messages are split at sentence boundaries into consecutive messages."""
    max_episode_chars: int = Field(default=EPISODE_CHARS, ge=100, le=EPISODE_CHARS)
    """Longest episode ``data`` (10,000 characters); longer memory items are split."""
    max_items_per_file: int = Field(default=ITEMS_PER_BATCH, ge=1, le=ITEMS_PER_BATCH)
    """Items per batch file (Zep: 50,000 per batch). Further items go to ``batch.0002.jsonl`` …"""
    messages_per_call: int = Field(default=30, ge=1, le=30)
    """Messages per ``add_messages`` body in ``mode=messages`` (Zep: at most 30)."""
    untimed: Literal["inherit", "omit", "reject"] = "inherit"
    """A message without a time: ``inherit`` the previous (or, at the start of a thread, the
    next) message's time; ``omit`` it (Zep then uses the import time); ``reject`` it."""
    provenance: bool = True
    """Record the source id (and sender id, memory type) in Zep ``metadata`` (``source_*``
    keys), so imports are traceable and re-reads keep ids."""
    user_id: str | None = None
    """Graph owner for memory items without ``user_id``/``group_id``."""
    graph_id: str | None = None
    """Graph for memory items without ``user_id``/``group_id`` (wins over ``user_id``)."""


class ZepAdapter(Adapter):
    name = "zep"
    aliases = ("zep-cloud", "getzep")
    description = "Zep thread messages, graph edges/fact rows, and Batch API items (JSON Lines)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.MEMORY,
            Feature.PERSONAL,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.TRIPLES,
            Feature.BITEMPORAL,
            Feature.METADATA,
        }
    )
    file_extensions = (".jsonl", ".json", ".ndjson")
    output_layout = "file"
    ordered_read = False
    needs_order = True
    limits = {
        "messages_per_call": 30,
        "message_chars": MESSAGE_CHARS,
        "episode_chars": EPISODE_CHARS,
        "metadata_keys": MAX_METADATA_KEYS,
        "items_per_call": 500,
        "items_per_batch": ITEMS_PER_BATCH,
    }
    ReadOptions = ZepReadOptions
    WriteOptions = ZepWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            return Sniff(0.0)
        names = jsondoc.json_members(source) if source.is_container else [None]
        for member in names[:3]:
            found = _sniff_head(source.head(65536, member), member or source.label)
            if found.confidence:
                return found
        return Sniff(0.0)

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return ZepReader(source, options, ctx).records()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        ZepWriter(sink, options, ctx).write(records)

    def limit_violations(self, record: AnyRecord, options: Any = None) -> list[str]:
        opts = options if isinstance(options, ZepWriteOptions) else ZepWriteOptions()
        problems = super().limit_violations(record, options)
        if isinstance(record, Message):
            if len(record.text) > opts.max_message_chars:
                problems.append(f"message_chars: {len(record.text)} > {opts.max_message_chars}")
            md = record.extensions.get(METADATA_EXT)
            if isinstance(md, dict) and len(md) > MAX_METADATA_KEYS:
                problems.append(f"metadata_keys: {len(md)} > {MAX_METADATA_KEYS}")
        elif isinstance(record, MemoryItem):
            text = memory_text(record)
            if opts.mode == "batch" and len(text) > opts.max_episode_chars:
                problems.append(f"episode_chars: {len(text)} > {opts.max_episode_chars}")
            if opts.mode == "batch" and len(record.metadata) > MAX_METADATA_KEYS:
                problems.append(f"metadata_keys: {len(record.metadata)} > {MAX_METADATA_KEYS}")
        return problems

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """Default options (Batch API items, v3): a conversation survives as its thread (id only)
        and messages (role, name, text, time as written, and through ``source_*`` metadata the
        id and sender id); a memory item as one graph episode (text, type, id, graph, one
        reference time, Zep-valid metadata). Conversations with nothing to send disappear."""
        out: list[AnyRecord | None] = []
        slots: dict[int, int] = {}  # id(message) -> index in out
        conv_slots: dict[str, int] = {}  # the reader yields each thread once, at first sight
        used: set[str] = set()
        conv_id: str | None = None
        fill = TimeFill("inherit")

        def settle(ready: list[tuple[Message, Any, bool]]) -> None:
            for msg, t, _ in ready:
                out[slots.pop(id(msg))] = _project_message(msg, t)

        for record in records:
            if isinstance(record, Conversation) or (
                isinstance(record, Message) and record.conversation_id != conv_id
            ):
                settle(fill.release())
                conv_id = record.id if isinstance(record, Conversation) else record.conversation_id
                fill.reset()
                if conv_id not in conv_slots:
                    conv_slots[conv_id] = len(out)
                    out.append(Conversation(id=conv_id, type="personal"))
                if isinstance(record, Conversation):
                    continue
            if isinstance(record, Message):
                if record.type != "message" or not record.active or not record.text:
                    continue
                used.add(record.conversation_id)
                slots[id(record)] = len(out)
                out.append(None)
                settle(fill.feed(record))
            elif isinstance(record, MemoryItem):
                settle(fill.release())
                item = _project_memory(record)
                if item is not None:
                    out.append(item)
        settle(fill.release())
        dead = {i for cid, i in conv_slots.items() if cid not in used}
        return [r for i, r in enumerate(out) if r is not None and i not in dead]


def _project_message(msg: Message, t: Any) -> Message:
    user_md = msg.extensions.get(METADATA_EXT)
    reserved = {SOURCE_ID: msg.id}
    if msg.sender_id is not None:
        reserved[SOURCE_SENDER] = msg.sender_id
    metadata, _ = zep_metadata(user_md if isinstance(user_md, dict) else None, reserved)
    kept = {k: v for k, v in metadata.items() if k not in reserved}
    ext: dict[str, Any] = {}
    if kept:
        ext[METADATA_EXT] = kept
    role = role_ext(msg, "v3")
    if role is not None:
        ext[ROLE_EXT] = role
    return Message(
        id=msg.id,
        conversation_id=msg.conversation_id,
        role=msg.role,
        sender_id=msg.sender_id,
        sender_name=msg.sender_name or None,
        timestamp=t[0] if t else None,
        timestamp_raw=t[1] if t else None,
        text=msg.text,
        extensions=ext,
    )


def _project_memory(item: MemoryItem) -> MemoryItem | None:
    text = memory_text(item)
    scope = item.scope
    if not text or (scope.user_id is None and scope.group_id is None):
        return None
    ref, raw = reference_time(item)
    ext: dict[str, Any] = {}
    data_type = item.extensions.get("zep:data_type")
    if isinstance(data_type, str) and data_type in DATA_TYPES["v3"] and data_type != "text":
        ext["zep:data_type"] = data_type
    for name in ("source_description", "document_id"):
        value = item.extensions.get(f"zep:{name}")
        if isinstance(value, str):
            ext[f"zep:{name}"] = value
    if ref is not None:
        written = time_text(ref, raw)
        if written != zep_time(ref):
            ext[RAW["created_at"]] = written
    reserved = {SOURCE_ID: item.id, SOURCE_TYPE: item.type}
    metadata, _ = zep_metadata(item.metadata, reserved)
    return MemoryItem(
        id=item.id,
        type=item.type,
        scope=Scope(group_id=scope.group_id)
        if scope.group_id is not None
        else Scope(user_id=scope.user_id),
        text=text,
        created_at=ref,
        metadata={k: v for k, v in metadata.items() if k not in reserved},
        extensions=ext,
    )


_FACT_MARKS = (
    "source_node_uuid",
    "target_node_uuid",
    "valid_at",
    "invalid_at",
    "expired_at",
    "episodes",
    "episode_uuids",
)
_MESSAGE_MARKS = ("uuid", "processed", "reference_time", "thread_uuid", "created_at")


def _sniff_head(head: bytes, name: str | None) -> Sniff:
    found = jsondoc.peek(head, name, LIST_KEYS)
    first = found.first
    keys = set(found.keys)
    if isinstance(first, dict) and ("kind" in first or "author" in first or "mapping" in first):
        return Sniff(0.0)
    if not isinstance(first, dict):
        if "messages" in keys and keys & {"thread_id", "thread_uuid", "session_id"}:
            return Sniff(0.6, "an (empty) Zep thread: messages with a thread id")
        return Sniff(0.0)
    kind = first.get("type")
    if kind in ("thread_message", "graph_episode"):
        return Sniff(0.95, f"Zep Batch API items (type={kind})")
    if isinstance(first.get("fact"), str):
        if keys & {"scope_template", "scope"}:
            return Sniff(0.5, "Zep fact rows inside a CortexDB import body (the envelope format)")
        marks = [k for k in _FACT_MARKS if k in first]
        if marks:
            return Sniff(0.95, f"Zep graph edges: fact with {', '.join(marks[:3])}")
        if "valid_from" in first or "valid_to" in first:
            return Sniff(0.85, "Zep fact rows: fact with valid_from/valid_to")
        if any(k in first for k in ("user_id", "graph_id", "uuid", "name")):
            return Sniff(0.6, "fact rows with a Zep user_id/graph_id")
        return Sniff(0.4, "records with a 'fact' field")
    messages = first.get("messages")
    if isinstance(messages, list) and any(k in first for k in ("thread_id", "thread_uuid")):
        return Sniff(0.95, "Zep add_messages bodies: messages with a thread id")
    if isinstance(first.get("content"), str) and ("role" in first or "role_type" in first):
        # Chat Completions messages never carry these; Zep's stored messages always do.
        marks = [k for k in _MESSAGE_MARKS if k in first]
        thread = keys & {"thread_id", "thread_uuid", "session_id", "row_count", "total_count"}
        if "role_type" in first:
            return Sniff(0.95, "Zep v2 messages (role_type + role)")
        if marks and marks != ["created_at"]:
            return Sniff(0.95, f"Zep thread messages ({', '.join(marks[:3])})")
        if marks or thread:
            why = ", ".join([*marks[:3], *sorted(thread)[:2]])
            return Sniff(0.8, f"Zep thread messages ({why})")
        return Sniff(0.2, "chat messages with role and content")
    return Sniff(0.0)


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [ZepAdapter]


__all__ = ["ZepAdapter", "ZepReadOptions", "ZepWriteOptions"]
