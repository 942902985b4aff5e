"""``mem0``: Mem0 memories and ``add()`` payloads, both directions.

Mem0 keeps extracted facts ("memories"), not conversations. What comes out of it is memory
records (``get_all``/``get``/``search``, platform or open source); what goes into it is either a
memory per row (direct import, ``infer=False``) or conversations as ``add()`` calls from which Mem0
extracts memories itself. The reader reads all of these, the writer writes the last two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsondoc, timeutil
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Scope
from memshift.sinks import Sink
from memshift.sources import Source

from ._read import LIST_KEYS, Mem0Reader
from ._shared import (
    NOT_GENERIC,
    RAW_CREATED,
    RAW_UPDATED,
    ROW_TIMESTAMP,
    SCOPE_KEYS,
    bad_entity_id,
    check_template,
    clean_metadata,
    conversation_scope,
    epoch_seconds,
    mem0_time,
    time_text,
)
from ._write import ROLES_OUT, Mem0Writer, memory_row


class Mem0ReadOptions(Options):
    naive_timezone: str | None = None
    """Zone for timestamps without an offset (e.g. ``US/Pacific`` for data written by mem0ai
    <= 1.0.6 and stripped of its offset). Unset: such a timestamp is an error."""


class Mem0WriteOptions(Options):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    mode: Literal["auto", "rows", "add"] = "auto"
    """``auto``: memory items become memory rows and conversations become ``add()`` payloads;
    ``rows`` / ``add``: only that kind (the other records are counted as filtered)."""
    user_id: str | None = "{user}"
    """``user_id`` of a conversation's ``add()`` payloads: a fixed id or a template with
    ``{user}`` (the conversation's human participant) and ``{conversation_id}``. Empty: none."""
    agent_id: str | None = None
    """``agent_id`` of a conversation's ``add()`` payloads (fixed id or template)."""
    run_id: str | None = "{conversation_id}"
    """``run_id`` of a conversation's ``add()`` payloads (fixed id or template)."""
    messages_per_call: int = Field(default=20, ge=1, le=1000)
    """Messages per ``add()`` payload. Mem0 publishes no limit; extraction is one LLM call per
    payload, so long conversations are sent in chunks."""
    provenance: bool = True
    """Record the source conversation id and each message's id, time and sender in the payload's
    ``metadata`` (``source_*`` keys) so memories can be traced back and re-reads are exact."""
    add_timestamp: bool = True
    """Set ``timestamp`` (epoch seconds of the newest message in the payload) so the platform
    dates memories by the conversation, not the import. Turn off for the open-source
    ``Memory.add``, which refuses the parameter."""
    include_names: bool = True
    """Send each speaker's display name as the message ``name`` (Mem0 OSS keeps it as
    ``actor_id``)."""
    infer: bool | None = None
    """Set ``infer`` in every payload (``false``: store messages verbatim, no extraction)."""
    fallback_user_id: str | None = None
    """``user_id`` for memory items that have no user, agent or run id (otherwise they are left
    out and counted)."""

    @field_validator("user_id", "agent_id", "run_id")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return check_template(value or None)


class Mem0Adapter(Adapter):
    name = "mem0"
    aliases = ("mem0ai",)
    description = "Mem0 memories (get_all/export records, import rows) and add() payloads"
    features = frozenset(
        {
            Feature.MEMORY,
            Feature.CONVERSATIONS,
            Feature.PERSONAL,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.CATEGORIES,
            Feature.METADATA,
        }
    )
    file_extensions = (".json", ".jsonl", ".ndjson")
    output_layout = "file"
    ordered_read = False
    needs_order = True
    #: Mem0 documents no hard per-call limit (research §2.2); this is the payload size memshift
    #: writes by default (``-O messages_per_call``).
    limits = {"messages_per_call": 20}
    ReadOptions = Mem0ReadOptions
    WriteOptions = Mem0WriteOptions

    # -- detection -------------------------------------------------------------------------------

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            return Sniff(0.0)
        names = jsondoc.json_members(source) if source.is_container else [None]
        for member in names[:3]:
            head = source.head(65536, member)
            name = member or source.label
            found = _sniff_head(head, name)
            if found.confidence:
                return found
        return Sniff(0.0)

    # -- the two directions ----------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return Mem0Reader(source, options, ctx).records()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        Mem0Writer(sink, options, ctx).write(records)

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """Default options: a conversation survives as its add() payloads (scope, text, role,
        name, and through the ``source_*`` metadata its ids, times and senders); a memory item as
        a row. Conversations with nothing to send disappear."""
        opts = Mem0WriteOptions()
        templates = {"user_id": opts.user_id, "agent_id": opts.agent_id, "run_id": opts.run_id}
        out: list[AnyRecord] = []
        conv_slots: dict[str, int] = {}  # the reader yields each conversation once
        used: set[str] = set()
        current: Conversation | None = None
        scope_ok = False
        for record in records:
            if isinstance(record, Conversation) or (
                isinstance(record, Message)
                and (current is None or record.conversation_id != current.id)
            ):
                current = (
                    record
                    if isinstance(record, Conversation)
                    else Conversation(id=record.conversation_id)
                )
                scope = conversation_scope(current, templates, frozenset())
                scope_ok = bool(scope)
                if current.id not in conv_slots:
                    conv_slots[current.id] = len(out)
                    out.append(_project_conversation(current, scope))
                if isinstance(record, Conversation):
                    continue
            if isinstance(record, Message):
                msg = _project_message(record)
                if msg is not None and scope_ok:
                    out.append(msg)
                    used.add(msg.conversation_id)
            elif isinstance(record, MemoryItem):
                item = _project_memory(record, opts.fallback_user_id)
                if item is not None:
                    out.append(item)
        dead = {i for cid, i in conv_slots.items() if cid not in used}
        return [r for i, r in enumerate(out) if i not in dead]


def _project_conversation(conv: Conversation, scope: dict[str, str]) -> Conversation:
    ext = {k: v for k, v in conv.extensions.items() if k.startswith("mem0:")}
    for key in ("user_id", "agent_id", "run_id"):
        ext.pop(f"mem0:{key}", None)
        if key in scope:
            ext[f"mem0:{key}"] = scope[key]
    ext.pop("mem0:timestamp", None)
    own = ext.get("mem0:metadata")
    if own is not None:
        cleaned = clean_metadata(own) if isinstance(own, dict) else {}
        if cleaned:
            ext["mem0:metadata"] = cleaned
        else:
            del ext["mem0:metadata"]
    return Conversation(id=conv.id, type="personal", extensions=ext)


def _project_message(msg: Message) -> Message | None:
    if msg.type != "message" or not msg.active or not msg.text:
        return None
    ext: dict[str, Any] = {}
    stamp = msg.extensions.get(ROW_TIMESTAMP)
    if msg.timestamp is None and isinstance(stamp, int) and not isinstance(stamp, bool):
        ext[ROW_TIMESTAMP] = stamp
    return Message(
        id=msg.id,
        conversation_id=msg.conversation_id,
        role=ROLES_OUT[msg.role],
        sender_id=msg.sender_id,
        sender_name=msg.sender_name,
        timestamp=msg.timestamp,
        timestamp_raw=time_text(msg.timestamp, msg.timestamp_raw) if msg.timestamp else None,
        text=msg.text,
        extensions=ext,
    )


def _project_memory(item: MemoryItem, fallback_user: str | None) -> MemoryItem | None:
    row = memory_row(item, fallback_user)
    if row is None or any(
        isinstance(row.get(k), str) and bad_entity_id(row[k]) for k in SCOPE_KEYS
    ):
        return None
    ext: dict[str, Any] = {}
    for key, value in item.extensions.items():
        if key.startswith("mem0:") and key[5:] not in NOT_GENERIC and value is not None:
            ext[key] = value
    run_id = row.get("run_id")
    session = ext.get("mem0:session_id")
    if run_id is None and session is not None:
        run_id = session if isinstance(session, str) else str(session)
    created = item.created_at
    stamp = item.extensions.get(ROW_TIMESTAMP)
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        stamp = None
    if created is None and stamp is not None:
        created = timeutil.from_epoch_seconds(stamp)  # the reader dates the row by it
    elif created is not None and stamp is not None and stamp != epoch_seconds(created):
        ext[ROW_TIMESTAMP] = stamp
    if item.created_at is not None and row["created_at"] != mem0_time(item.created_at):
        ext[RAW_CREATED] = row["created_at"]
    if item.updated_at is not None and row["updated_at"] != mem0_time(item.updated_at):
        ext[RAW_UPDATED] = row["updated_at"]
    return MemoryItem(
        id=item.id,
        type="fact",
        scope=Scope(user_id=row.get("user_id"), agent_id=row.get("agent_id"), run_id=run_id),
        text=row["memory"],
        created_at=created,
        updated_at=item.updated_at,
        categories=item.categories,
        metadata=row["metadata"],
        extensions=ext,
    )


def _sniff_head(head: bytes, name: str | None) -> Sniff:
    found = jsondoc.peek(head, name, LIST_KEYS)
    first = found.first
    if not isinstance(first, dict) or "kind" in first:
        return Sniff(0.0)
    if "memory" in first and isinstance(first.get("memory"), str):
        if {"scope_template", "scope"} & set(found.keys):
            return Sniff(0.5, "Mem0 rows inside a CortexDB import body (the envelope format)")
        marks = [
            k
            for k in ("hash", "user_id", "agent_id", "run_id", "categories", "created_at")
            if k in first
        ]
        if "results" in found.keys:
            return Sniff(0.95, "a get_all() response: 'results' records with Mem0's 'memory' text")
        if marks:
            return Sniff(0.9, f"records with Mem0's 'memory' text and {', '.join(marks[:3])}")
        return Sniff(0.5, "records with a 'memory' text field")
    messages = first.get("messages")
    scoped = any(k in first for k in ("user_id", "agent_id", "run_id"))
    chat = isinstance(messages, str) or (
        isinstance(messages, list)
        and (
            not messages
            or (
                isinstance(messages[0], dict) and "role" in messages[0] and "content" in messages[0]
            )
        )
    )
    if scoped and chat:
        plain = isinstance(messages, str) or (
            isinstance(messages, list)
            and all(isinstance(m, dict) and set(m) <= {"role", "content", "name"} for m in messages)
        )
        if plain:
            # Mem0 messages are bare {role, content[, name]}; chat exports with a scope (EverOS)
            # carry per-message ids and times.
            return Sniff(
                0.95, "add() payloads: bare role/content messages with a Mem0 user/agent/run id"
            )
        return Sniff(0.85, "add() payloads: messages scoped by a Mem0 user_id/agent_id/run_id")
    return Sniff(0.0)


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [Mem0Adapter]


__all__ = ["Mem0Adapter", "Mem0ReadOptions", "Mem0WriteOptions"]
