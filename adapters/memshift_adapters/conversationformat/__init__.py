"""``conversationformat`` (alias ``evercore``): EverCore's ConversationFormat conversation files.

One JSON file per conversation: ``{version, session_meta, conversation_list}`` (current, EverCore
≥ 2026-04-13) or ``{version, conversation_meta, conversation_list}`` (legacy GroupChatFormat).
Both generations are read; the current one is written by default. The validator enforces the
union of EverCore's checks (:func:`validate_document`). Facts and sources:
``docs/formats/conversationformat.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import field_validator

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsondoc, jsonio, timeutil
from memshift.errors import ReadError
from memshift.jsondoc import Reopener, scan_header
from memshift.model import AnyRecord, Conversation, Message, Participant, UTCDateTime
from memshift.sinks import Sink
from memshift.sources import Source

from . import _read, _write
from ._common import NS, create_time, derived_type, participant_role
from ._validate import Checker, check_messages, validate_document

__all__ = ["ConversationFormatAdapter", "validate_document"]


class ConversationFormatReadOptions(Options):
    assume_timezone: str | None = None
    """Zone for ``create_time`` values without a UTC offset when the file declares no
    ``default_timezone`` (without it such messages are rejected, never guessed)."""

    duplicate_ids: Literal["rename", "reject"] = "rename"
    """A message_id seen before in the same file: keep the message as ``<id>~2`` with a warning
    (EverCore's validators accept repeats, and its own sample has one), or reject it."""

    @field_validator("assume_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            timeutil.zone(value)
        return value


class ConversationFormatWriteOptions(Options):
    generation: Literal["current", "legacy"] = "current"
    """``legacy`` writes ``conversation_meta`` and the scenes ``group_chat``/``assistant`` for
    EverMemOS before 2026-04-13 (``run_memorize.py``)."""
    scene: Literal["auto", "team", "solo"] = "auto"
    """``auto`` follows each conversation's type (group → team, personal → solo)."""
    missing_time: Literal["nearest", "reject"] = "nearest"
    """A message without a time borrows one, reported as a loss: the previous message's time; for
    leading messages the conversation's ``created_at``, else ``default_time``, else the next
    timed message's. ``reject`` refuses such messages instead."""
    default_time: UTCDateTime | None = None
    """Time for messages when nothing else in their conversation has one; without it those
    messages are left out (counted as filtered)."""
    unknown_sender_id: str | None = None
    """``sender`` for messages that have none."""
    missing_sender: Literal["role", "reject"] = "role"
    """Messages without a sender (and no ``unknown_sender_id``): use the role (``user``,
    ``assistant``) as sender, listed in ``user_details`` like anyone else, or reject them."""
    include_reasoning: bool = False
    """Write ``reasoning`` messages (model thoughts); they are left out by default because
    EverCore would ingest them as things the assistant said."""


class ConversationFormatAdapter(Adapter):
    name = "conversationformat"
    aliases = ("evercore", "evermemos-file")
    description = "EverCore ConversationFormat conversation files (current and legacy, JSON)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.GROUP,
            Feature.PERSONAL,
            Feature.CONVERSATION_NAMES,
            Feature.DESCRIPTIONS,
            Feature.TIMEZONE,
            Feature.PARTICIPANTS,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.THREADS,
            Feature.REPLIES,
            Feature.REACTIONS,
            Feature.EDITS,
            Feature.ATTACHMENTS,
            Feature.MENTIONS,
            Feature.MARKUP,
            Feature.EVENTS,
            Feature.TOOL_CALLS,
        }
    )
    file_extensions = (".json",)
    output_layout = "dir"
    resumable = True
    ReadOptions = ConversationFormatReadOptions
    WriteOptions = ConversationFormatWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            obj = source.objects
            if isinstance(obj, list) and obj:
                obj = obj[0]
            if isinstance(obj, dict) and "conversation_list" in obj:
                return Sniff(0.95, "an object with conversation_list")
            return Sniff(0.0)
        found = jsondoc.first_document_head(source)
        if found is None:
            return Sniff(0.0)
        head, where = found
        if jsonio.top_level_type(head) != "object" or b'"conversation_list"' not in head:
            return Sniff(0.0)
        if b'"session_meta"' in head or b'"conversation_meta"' in head:
            return Sniff(0.95, f"{where}conversation_list with session_meta")
        if b'"create_time"' in head and b'"sender"' in head:
            return Sniff(0.8, f"{where}conversation_list of messages with create_time and sender")
        return Sniff(0.0)

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return _read.read(source, options, ctx)

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        _write.ConversationFormatWriter(sink, options, ctx).write(records)

    def validate(self, source: Source, limit: int = 1000) -> list[str]:
        """Every problem EverCore's validators (current, legacy and ``--validate-only``) would
        find, plus the ones its importers fail on later, one ``file: path: problem`` line each."""
        if source.kind == "objects":
            docs = source.objects if isinstance(source.objects, list) else [source.objects]
            out: list[str] = []
            for i, doc in enumerate(docs):
                out += [f"[{i}]: {p}" for p in validate_document(doc, limit=limit)]
            return out
        members: list[str | None] = (
            list(_read.document_members(source)) if source.is_container else [None]
        )
        problems: list[str] = []
        for member in members:
            loc = source.location(member)
            prefix = str(loc)
            checker = Checker(limit)
            opener = Reopener(source, member)
            try:
                with opener.open() as fh:
                    header = scan_header(fh, "conversation_list", loc, stop_at_array=False)
                checker.top(header.members, header.array)
                if header.array == "list":
                    with opener.open() as fh:
                        items = jsonio.iter_items(fh, "conversation_list.item", loc)
                        check_messages(checker, items)
            except ReadError as exc:
                problems += [f"{prefix}: {p}" for p in checker.finish()]
                problems.append(str(exc))
                continue
            finally:
                opener.close()
            problems += [f"{prefix}: {p}" if prefix else p for p in checker.finish()]
        return problems

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        return project_stream(records, ConversationFormatWriteOptions())


def _own(ext: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ext.items() if k.startswith(NS)}


def _split(records: Iterable[AnyRecord]) -> list[tuple[Conversation, list[Message]]]:
    groups: list[tuple[Conversation, list[Message]]] = []
    for record in records:
        if isinstance(record, Conversation):
            groups.append((record, []))
        elif isinstance(record, Message):
            if not groups or groups[-1][0].id != record.conversation_id:
                groups.append((Conversation(id=record.conversation_id), []))
            groups[-1][1].append(record)
    return groups


class _Projection:
    """One conversation through the writer's rules, as field changes."""

    def __init__(self, conv: Conversation, opt: ConversationFormatWriteOptions) -> None:
        self.conv = conv
        self.opt = opt
        self.people: dict[str, Participant | None] = {}
        for p in conv.participants:
            self.people.setdefault(p.id, p)
        self.names = {p.id: p.name for p in conv.participants if p.name is not None}
        self.first_role: dict[str, str] = {}
        self.first_name: dict[str, str] = {}
        self.last_ts: datetime | None = conv.created_at
        self.seen: set[str] = set()
        self.kept: list[Message] = []

    def run(self, msgs: list[Message]) -> None:
        opt = self.opt
        pending: list[Message] = []
        for m in msgs:
            if not m.active or (m.type == "reasoning" and not opt.include_reasoning):
                continue
            if m.timestamp is None:
                if opt.missing_time == "reject":
                    continue
                ts = self.last_ts or opt.default_time
                if ts is None:
                    pending.append(m)
                else:
                    self.send(m, ts, filled=True)
                continue
            for p in pending:
                self.send(p, m.timestamp, filled=True)
            pending = []
            self.send(m, m.timestamp, filled=False)

    def send(self, m: Message, ts: datetime, filled: bool) -> None:
        opt = self.opt
        sender = m.sender_id or opt.unknown_sender_id
        if not sender and opt.missing_sender == "role":
            sender = m.role
        if not sender or m.id in self.seen:
            return
        self.seen.add(m.id)
        self.last_ts = ts
        name = m.sender_name if m.sender_name is not None else self.names.get(sender)
        if sender not in self.people:
            self.people[sender] = None
            if name is not None:
                self.first_name[sender] = name
        self.first_role.setdefault(sender, m.role)
        ext = _own(m.extensions)
        out = m.model_copy(
            update={
                "sender_id": sender,
                "sender_name": name,
                "timestamp": ts,
                "timestamp_raw": create_time(ts, None if filled else m.timestamp_raw),
                "parent_id": None,
                "attachments": tuple(
                    a.model_copy(update={"extensions": {}}) for a in m.attachments
                ),
                "reactions": tuple(r.model_copy(update={"extensions": {}}) for r in m.reactions),
                "extensions": {},
            }
        )
        own_type = ext.pop(NS + "type", None)
        if own_type is not None and _write.message_type(m) == own_type != derived_type(out):
            ext[NS + "type"] = own_type
        refs = ext.pop(NS + "refer_list", None)
        plain = isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], dict)
        plain = plain and len(refs[0]) == 1
        if refs is not None and not plain and _write.refer_list(m) is refs:
            ext[NS + "refer_list"] = refs
            for ref in refs:
                ref_sender = ref.get("sender") if isinstance(ref, dict) else None
                if isinstance(ref_sender, str):
                    self.people.setdefault(ref_sender, None)
        self.kept.append(out.model_copy(update={"extensions": ext}))

    def records(self) -> list[AnyRecord]:
        participants: list[Participant] = []
        for uid, known in self.people.items():
            person = (
                known if known is not None else Participant(id=uid, name=self.first_name.get(uid))
            )
            role = person.role or participant_role(person, self.first_role.get(uid))
            participants.append(
                person.model_copy(update={"role": role, "extensions": _own(person.extensions)})
            )
        conv = self.conv
        new_conv = conv.model_copy(
            update={
                "name": conv.name or None,
                "participants": tuple(participants),
                "provenance": None,
                "extensions": _own(conv.extensions),
            }
        )
        if self.opt.scene != "auto":
            new_conv = new_conv.model_copy(
                update={"type": "group" if self.opt.scene == "team" else "personal"}
            )
        return [new_conv, *self.kept]


def project_stream(
    records: Iterable[AnyRecord], opt: ConversationFormatWriteOptions
) -> list[AnyRecord]:
    """What reading this adapter's output gives back, stated as field changes. Extensions in this
    format's namespace are assumed to be as its reader made them."""
    blocks: list[tuple[str, list[AnyRecord]]] = []
    names_used = Sink("memory")  # the writer's document names decide the order they read back in
    for conv, msgs in _split(records):
        proj = _Projection(conv, opt)
        proj.run(msgs)
        blocks.append((names_used.document_name(f"{conv.id}.json"), proj.records()))
    blocks.sort(key=lambda b: b[0])
    return [record for _key, block in blocks for record in block]


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [ConversationFormatAdapter]
