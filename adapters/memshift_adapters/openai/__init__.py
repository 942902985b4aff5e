"""``openai``: the ChatGPT data export (``conversations.json``, sharded ``conversations-NNN.json``,
the export zip), both directions.

A ChatGPT conversation is a tree (edits and regenerations branch it); the UI shows the path from
``current_node`` up to the root, and so does this reader by default. Everything the canonical model
does not name (model slugs, message metadata, raw content of non-text nodes) rides in ``openai:*``
extensions, so ``openai -> canonical -> openai`` gives back the same export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl
from memshift.jsonio import top_level_type
from memshift.model import AnyRecord, Conversation, Message
from memshift.sinks import Sink
from memshift.sources import Source
from memshift.timeutil import round_ms

from ._content import DEFAULT_ROOT_ID, NS, is_hidden
from ._node import convert_message
from ._read import (
    CONV_DERIVED,
    CONV_KNOWN,
    SYNTHETIC_ID,
    ExportReader,
    derive_participants,
)
from ._write import conversation_times, message_body, root_id, write_export

__all__ = ["OpenAIAdapter", "OpenAIReadOptions", "OpenAIWriteOptions"]

_SHARD_NAME = re.compile(r"^conversations(-\d+)?\.json$")


class OpenAIReadOptions(Options):
    branches: Literal["active", "all"] = "active"
    """``active``: the path the user last saw (from ``current_node`` to the root). ``all``: every
    branch; messages off the active path get ``active=false`` and a ``parent_id``."""
    include_hidden: bool = False
    """Keep nodes the ChatGPT UI hides: the hidden system prompt, Custom Instructions, the memory
    snapshot (``model_editable_context``) and anything flagged
    ``is_visually_hidden_from_conversation``."""
    include_empty: bool = True
    """Keep messages with no text and no attachments (ChatGPT writes empty assistant placeholders
    and an empty root system message)."""
    include_reasoning: bool = True
    """Keep ``thoughts`` and ``reasoning_recap`` nodes (as ``type="reasoning"``)."""
    include_tools: bool = True
    """Keep tool calls (assistant messages addressed to a tool) and tool outputs (role ``tool``)."""
    citations: Literal["strip", "keep"] = "strip"
    """Remove ChatGPT's private-use citation markers from the text (the raw text stays in
    ``openai:content``)."""
    memories: bool = False
    """Also yield the saved memories the export reveals (bio tool writes, the
    ``model_set_context`` snapshot, Custom Instructions) as memory items, once each."""


class OpenAIWriteOptions(Options):
    indent: bool = False
    """Pretty-print each conversation (two-space indent) instead of compact JSON."""


class OpenAIAdapter(Adapter):
    name = "openai"
    aliases = ("chatgpt", "chatgpt-export")
    description = "ChatGPT data export (conversations.json, sharded files or the export zip)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.PERSONAL,
            Feature.CONVERSATION_NAMES,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.ATTACHMENTS,
            Feature.TOOL_CALLS,
            Feature.REASONING,
            Feature.BRANCHES,
        }
    )
    file_extensions = (".json", ".zip")
    output_layout = "file"
    ordered_read = False  # tree order; ChatGPT's create_time can run backwards along a path
    needs_order = True  # messages without parent_id are chained in stream order
    ReadOptions = OpenAIReadOptions
    WriteOptions = OpenAIWriteOptions

    # -- detection -------------------------------------------------------------------------------

    def sniff(self, source: Source) -> Sniff:
        if source.is_container:
            members = ExportReader.conversation_members(source)
            if not members:
                return Sniff(0.0)
            named = any(_SHARD_NAME.match(m) for m in members)
            head = source.head(member=members[0])
            if named and b'"mapping"' in head:
                extra = {"user.json", "chat.html", "message_feedback.json"} & set(source.members())
                why = "a ChatGPT export: " + ", ".join([members[0], *sorted(extra)])
                return Sniff(1.0 if extra else 0.95, why)
            return Sniff(0.8, f"JSON files holding ChatGPT conversation trees ({members[0]})")
        head = source.head()
        if top_level_type(head) is None or b'"mapping"' not in head:
            return Sniff(0.0)
        tree = b'"children"' in head or b'"parent"' in head
        if b'"current_node"' in head and tree:
            return Sniff(0.95, "ChatGPT conversation objects: a 'mapping' tree and 'current_node'")
        if tree and (b'"content_type"' in head or b'"author"' in head):
            return Sniff(0.85, "ChatGPT-like conversation objects with a 'mapping' tree")
        return Sniff(0.0)

    # -- the two directions ----------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return ExportReader(source, options, ctx).records()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        write_export(records, sink, options, ctx)

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """What the default reader gives back from this writer's output.

        Per conversation: the active messages only (in stream order, each one's ``parent_id`` the
        one before), none the reader hides by default, events dropped; each message as its node
        reads back (role-based sender ids, millisecond times, text and attachments as the content
        renders them); participants derived from the messages; memory items dropped.
        """
        out: list[AnyRecord] = []
        conv: Conversation | None = None
        messages: list[Message] = []
        for record in records:
            if isinstance(record, Conversation):
                if conv is not None:
                    out.extend(_project_conversation(conv, messages))
                conv, messages = record, []
            elif isinstance(record, Message):
                if conv is None or record.conversation_id != conv.id:
                    if conv is not None:
                        out.extend(_project_conversation(conv, messages))
                    conv, messages = Conversation(id=record.conversation_id), []
                messages.append(record)
        if conv is not None:
            out.extend(_project_conversation(conv, messages))
        return out


def _project_conversation(conv: Conversation, messages: list[Message]) -> list[AnyRecord]:
    created = round_ms(conv.created_at) if conv.created_at is not None else None
    kept: list[Message] = []
    seen: set[str] = set()
    parent: str | None = None
    inherited: tuple[datetime | None, str] = (created, "conversation")
    for m in messages:
        if m.id in seen:
            continue  # the writer rejects a duplicate id
        seen.add(m.id)
        if m.type == "event" or not m.active:
            continue
        body = message_body(m)
        if is_hidden(body["content"], body["metadata"]):
            continue
        rec = convert_message(m.id, body, conv.id, parent, inherited, True, True)
        kept.append(rec)
        parent = m.id
        inherited = (rec.timestamp or created, "parent")
    ext: dict[str, Any] = {
        k: v
        for k, v in conv.extensions.items()
        if k.startswith(NS) and k[len(NS) :] not in CONV_DERIVED | CONV_KNOWN
    }
    create_time, update_time = conversation_times(conv)
    if create_time is not None:
        ext[NS + "create_time"] = create_time
    if update_time is not None:
        ext[NS + "update_time"] = update_time
    root = root_id(conv, (m.id for m in kept))
    if root != DEFAULT_ROOT_ID:
        ext[NS + "root_id"] = root
    other = conv.extensions.get(NS + "id")
    if isinstance(other, str) and other != conv.id:
        ext[NS + "id"] = other
    if SYNTHETIC_ID.match(conv.id):
        ext[NS + "synthetic_id"] = True
    projected = Conversation(
        id=conv.id,
        type="personal",
        name=conv.name,
        created_at=created,
        participants=derive_participants(kept),
        extensions=ext,
    )
    return [projected, *kept]


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [OpenAIAdapter]
