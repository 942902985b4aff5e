"""``everos``: EverOS (EverMemOS / EverCore) v1 memory ingest documents.

One JSON document per conversation, each the body of one ``add`` call: group conversations go to
``POST /api/v1/memories/group`` (``{group_id, group_meta, messages}``), personal ones to
``POST /api/v1/memories`` (``{user_id, session_id, messages}``). The importer detects conversation
boundaries from message order, so the writer needs chronological order (the core sorts), sends
every message with an explicit ``message_id`` and keeps to the server's id and time rules. Facts
and sources: ``docs/formats/everos.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsondoc, jsonio, timeutil
from memshift.model import AnyRecord, Conversation, Message, Participant, UTCDateTime
from memshift.sinks import Sink
from memshift.sources import Source

from . import _read, _write
from ._common import (
    MAX_MESSAGES,
    SECONDS_BELOW,
    content_items_text,
    content_text,
    fallback_owner,
    map_role,
    names_of,
    participant_owner,
    plain_text_items,
    resolve_mode,
    safe_id,
    safe_session,
)

NS = "everos:"


class EverosReadOptions(Options):
    duplicate_ids: Literal["rename", "reject"] = "rename"
    """A message_id seen before in the same conversation (or two messages without ids at the
    same millisecond, which the server would give one id): keep the message as ``<id>~2`` with a
    warning, or reject it."""


class EverosWriteOptions(Options):
    mode: Literal["auto", "group", "personal"] = "auto"
    """``auto`` follows each conversation's type; ``group`` or ``personal`` forces one endpoint."""
    user_id: str | None = None
    """Owner of every personal document (default: the participant with role ``user``, else the
    sender of the first user message, else the first human participant, else the conversation
    id)."""
    sessions: bool = True
    """Send the conversation id as ``session_id`` in personal documents, so each conversation is
    its own session; false puts all of a user's conversations in EverOS's default session."""
    max_messages: int | None = Field(default=None, ge=1, le=MAX_MESSAGES)
    """Split a conversation into documents of at most this many messages (``name.json``,
    ``name.0002.json``, ...). 500 makes every document one valid API call."""
    missing_time: Literal["nearest", "reject"] = "nearest"
    """A message without a time borrows one, reported as a loss: the previous message's time; for
    leading messages the conversation's ``created_at``, else ``default_time``, else the next
    timed message's. ``reject`` refuses such messages instead."""
    default_time: UTCDateTime | None = None
    """Time for messages when nothing else in their conversation has one; without it those
    messages are left out (counted as filtered)."""
    missing_sender: Literal["role", "reject"] = "role"
    """Group messages without a sender (and no ``unknown_sender_id``): send the role (``user``,
    ``assistant``) as ``sender_id``, or reject them."""
    empty_messages: Literal["skip", "placeholder", "reject"] = "skip"
    """Messages with neither text nor attachments (the API refuses empty content): leave them out
    (counted as filtered), send ``[empty message]``, or reject them."""
    system_role: Literal["user", "assistant", "skip"] = "user"
    """Role sent for ``system`` messages (the API takes only user and assistant)."""
    tool_role: Literal["assistant", "user", "skip"] = "assistant"
    """Role sent for ``tool`` messages."""
    unknown_sender_id: str | None = None
    """``sender_id`` for group messages that have none (otherwise they are rejected: the group
    endpoint requires one)."""
    include_reasoning: bool = False
    """Send ``reasoning`` messages (model thoughts) as assistant messages instead of leaving
    them out."""


class EverosAdapter(Adapter):
    name = "everos"
    aliases = ("evermemos",)
    description = "EverOS v1 memory ingest documents (group and personal add requests, JSON)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.GROUP,
            Feature.PERSONAL,
            Feature.CONVERSATION_NAMES,
            Feature.DESCRIPTIONS,
            Feature.SENDER_NAMES,
        }
    )
    file_extensions = (".json",)
    output_layout = "dir"
    needs_order = True
    resumable = True
    limits = {
        "messages_per_call": MAX_MESSAGES,
        "min_messages_per_call": 1,
        "min_timestamp_ms": SECONDS_BELOW,
        "min_content_chars": 1,
    }
    ReadOptions = EverosReadOptions
    WriteOptions = EverosWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            obj = (
                source.objects[0]
                if isinstance(source.objects, list) and source.objects
                else source.objects
            )
            if (
                isinstance(obj, dict)
                and isinstance(obj.get("messages"), list)
                and ("group_id" in obj or "user_id" in obj)
            ):
                return Sniff(0.9, "an object with messages and group_id/user_id")
            return Sniff(0.0)
        found = jsondoc.first_document_head(source)
        if found is None:
            return Sniff(0.0)
        head, where = found
        if jsonio.top_level_type(head) != "object" or b'"messages"' not in head:
            return Sniff(0.0)
        if b'"timestamp"' not in head:
            return Sniff(0.0)
        if b'"group_id"' in head or b'"user_id"' in head:
            return Sniff(0.9, f"{where}messages with timestamps and a group_id/user_id")
        if b'"message_id"' in head:
            return Sniff(0.6, f"{where}messages with message_id and timestamp")
        return Sniff(0.0)

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return _read.read(source, options, ctx)

    def limit_violations(self, record: AnyRecord, options: Any = None) -> list[str]:
        out = super().limit_violations(record, options)
        if isinstance(record, Message):
            if not record.text and not record.attachments:
                out.append("min_content_chars: empty message (EverOS refuses empty content)")
            if record.timestamp is None:
                out.append("timestamp: missing (EverOS requires one)")
            elif (ms := timeutil.to_epoch_ms(record.timestamp)) < SECONDS_BELOW:
                out.append(f"min_timestamp_ms: {ms} is before 2001-09-09, sent in whole seconds")
        return out

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        _write.EverosWriter(sink, options, ctx).write(records)

    def uses(self, feature: Feature, options: Any, conversation_type: str | None = None) -> bool:
        """A group document carries only ``sender_id``/``sender_name`` per message: it consults
        participants only to name a sender its message leaves unnamed. A personal document picks
        its owner from them, so they matter whenever the mode may be personal."""
        if feature is Feature.PARTICIPANTS:
            mode = options.mode
            if mode == "auto":
                return conversation_type != "group"
            return bool(mode == "personal")
        return True

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        return project_stream(records, EverosWriteOptions())


def _split(records: Iterable[AnyRecord]) -> list[tuple[Conversation, list[Message]]]:
    groups: list[tuple[Conversation, list[Message]]] = []
    pending: Conversation | None = None
    for record in records:
        if isinstance(record, Conversation):
            pending = record
        elif isinstance(record, Message):
            if groups and pending is None and groups[-1][0].id == record.conversation_id:
                groups[-1][1].append(record)
                continue
            conv = pending if pending is not None and pending.id == record.conversation_id else None
            pending = None
            groups.append((conv or Conversation(id=record.conversation_id), [record]))
    return groups


def _own(ext: Any, exclude: frozenset[str]) -> dict[str, Any]:
    if not isinstance(ext, dict):
        return {}
    return {k: v for k, v in ext.items() if k not in exclude}


class _Projection:
    """One conversation through the writer's rules, as field changes."""

    def __init__(self, conv: Conversation, opt: EverosWriteOptions) -> None:
        self.conv = conv
        self.opt = opt
        self.mode = resolve_mode(opt.mode, conv)
        owner = opt.user_id or participant_owner(conv) if self.mode == "personal" else None
        self.owner = safe_id(owner) if owner else None
        self.names = names_of(conv.participants)
        self.last_ts = conv.created_at
        self.seen: set[str] = set()
        self.kept: list[Message] = []
        self.user_positions: list[int] = []
        self.assistant_senders: set[str] = set()

    def run(self, msgs: list[Message]) -> None:
        opt = self.opt
        pending: list[tuple[Message, str, str, dict[str, Any]]] = []
        for m in msgs:
            if not m.active or (m.type == "reasoning" and not opt.include_reasoning):
                continue
            role = map_role(m.role, opt.system_role, opt.tool_role)
            content, _why = content_text(m, opt.empty_messages)
            if role == "skip" or content is None:
                continue
            ext: dict[str, Any] = {}
            items = m.extensions.get(NS + "content")
            if isinstance(items, list) and items and content_items_text(items) == m.text:
                content = m.text
                if not plain_text_items(items):
                    ext[NS + "content"] = items
            ts = m.timestamp
            if ts is None:
                if opt.missing_time == "reject":
                    continue
                ts = self.last_ts or opt.default_time
                if ts is None:
                    pending.append((m, role, content, ext))
                    continue
            else:
                for args in pending:
                    self.send(*args, ts)
                pending = []
            self.send(m, role, content, ext, ts)

    def send(self, m: Message, role: str, text: str, ext: dict[str, Any], ts: datetime) -> None:
        opt, owner = self.opt, self.owner
        mid = safe_id(m.id)
        if timeutil.to_epoch_ms(ts) < SECONDS_BELOW or mid in self.seen:
            return
        sender: str | None
        if self.mode == "group":
            raw_sender = m.sender_id or opt.unknown_sender_id
            if not raw_sender and opt.missing_sender == "role":
                raw_sender = m.role
            if not raw_sender:
                return
            sender = safe_id(raw_sender)
        elif role == "user":
            if (
                owner is None
                and m.role == "user"
                and m.sender_id
                and safe_id(m.sender_id) not in self.assistant_senders
            ):
                self.owner = safe_id(m.sender_id)
            sender = None
            self.user_positions.append(len(self.kept))
        else:
            sender = safe_id(m.sender_id) if m.sender_id else None
            if sender is not None and sender == owner:
                sender = None
            elif sender is not None and owner is None:
                self.assistant_senders.add(sender)
        fields = _own(m.extensions.get(NS + "fields"), _read.MSG_KEYS)
        if fields:
            ext = {**ext, NS + "fields": fields}
        self.seen.add(mid)
        self.last_ts = ts
        name = m.sender_name
        if name is None and m.sender_id is not None:
            name = self.names.get(m.sender_id)
        self.kept.append(
            Message(
                id=mid,
                conversation_id=self.conv.id,
                role=role,
                sender_id=sender,
                sender_name=name,
                timestamp=timeutil.floor_ms(ts),
                timestamp_raw=timeutil.to_epoch_ms(ts),
                text=text,
                extensions=ext,
            )
        )
        if self.mode == "personal" and self.owner is None and len(self.kept) == opt.max_messages:
            self.owner = fallback_owner(self.conv, self.assistant_senders)[0]  # part 1 closes

    def records(self) -> tuple[str, list[AnyRecord]]:
        """``(document id, records)`` as reading the documents gives them back."""
        conv, opt = self.conv, self.opt
        conv_ext: dict[str, Any] = {}
        own = _read.GROUP_OWN if self.mode == "group" else _read.PERSONAL_OWN
        fields = _own(conv.extensions.get(NS + "fields"), own)
        if fields:
            conv_ext[NS + "fields"] = fields
        kept = self.kept
        if self.mode == "group":
            doc_id = cid = safe_id(conv.id)
            name, description, rest = _read.split_meta(_write.group_meta(conv))
            if rest:
                conv_ext[NS + "group_meta"] = rest
            new_conv = Conversation(
                id=cid, type="group", name=name, description=description, extensions=conv_ext
            )
        else:
            owner = self.owner or fallback_owner(conv, self.assistant_senders)[0]
            doc_id = safe_session(conv.id)
            cid = doc_id if opt.sessions else owner
            new_conv = Conversation(
                id=cid,
                type="personal",
                participants=(Participant(id=owner, role="user"),),
                extensions=conv_ext,
            )
            for i in self.user_positions:
                kept[i] = kept[i].model_copy(update={"sender_id": owner})
        return doc_id, [new_conv, *(m.model_copy(update={"conversation_id": cid}) for m in kept)]


def project_stream(records: Iterable[AnyRecord], opt: EverosWriteOptions) -> list[AnyRecord]:
    """What reading this adapter's output gives back: the EverOS rules of the writer, stated as
    field changes (kept apart from the writer so the round-trip tests check one against the
    other)."""
    blocks: list[tuple[tuple[str, int], list[AnyRecord]]] = []
    names_used = Sink("memory")  # the writer's document names decide the order they read back in
    for conv, msgs in _split(records):
        proj = _Projection(conv, opt)
        proj.run(msgs)
        if not proj.kept:
            continue
        doc_id, block = proj.records()
        parts = -(-len(proj.kept) // opt.max_messages) if opt.max_messages else 1
        first = names_used.document_name(f"{doc_id}.json")
        for part in range(2, parts + 1):
            names_used.document_name(f"{doc_id}.json", part)
        blocks.append((_read.member_order(first), block))
    blocks.sort(key=lambda b: b[0])
    return [record for _key, block in blocks for record in block]


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [EverosAdapter]
