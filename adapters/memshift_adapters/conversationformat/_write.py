"""Writing ConversationFormat files: one per conversation, ``conversation_list`` streamed first and
``session_meta`` (whose ``user_details`` must name every sender) written after it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

from memshift import Context, jsonio, timeutil
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, Message, Participant
from memshift.sinks import Sink

from ._common import (
    MEDIA,
    MESSAGE_KEYS,
    META_KEY,
    NS,
    SCENE,
    VERSION,
    api_role,
    create_time,
    derived_type,
    detail_obj,
    media_content,
    message_extra,
    participant_role,
)

UNTIMED = "messages in a conversation without any time (-O default_time=ISO 8601 to send them)"


class _Doc:
    __slots__ = (
        "cm",
        "conv",
        "count",
        "fh",
        "first_role",
        "last_ts",
        "names",
        "pending",
        "people",
        "seen",
    )

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.people: dict[str, Participant | None] = {}
        for p in conv.participants:
            self.people.setdefault(p.id, p)
        self.names = {p.id: p.name for p in conv.participants if p.name is not None}
        self.first_role: dict[str, str] = {}
        self.seen: set[str] = set()
        self.last_ts: datetime | None = conv.created_at
        #: Leading messages without a time, held until the first timed one lends them its time.
        self.pending: list[Message] = []
        self.count = 0
        self.cm: AbstractContextManager[IO[bytes]] | None = None
        self.fh: IO[bytes] | None = None


def session_meta(
    conv: Conversation,
    people: dict[str, Participant | None],
    first_role: dict[str, str],
    first_name: dict[str, str],
    options: Any,
) -> dict[str, Any]:
    """``session_meta`` as written: the conversation, then ``user_details`` for every participant
    and sender (shared with the projection so both state one rule)."""
    scene_type = (
        conv.type
        if options.scene == "auto"
        else ("group" if options.scene == "team" else "personal")
    )
    meta: dict[str, Any] = {}
    scene = conv.extensions.get(NS + "scene") if options.scene == "auto" else None
    meta["scene"] = scene if scene is not None else SCENE[options.generation][scene_type]
    scene_desc = conv.extensions.get(NS + "scene_desc")
    meta["scene_desc"] = scene_desc if scene_desc is not None else {}
    meta["name"] = conv.name if conv.name is not None else ""
    if conv.description is not None:
        meta["description"] = conv.description
    meta["group_id"] = conv.id
    if conv.created_at is not None:
        meta["created_at"] = timeutil.format_iso(conv.created_at)
    if conv.timezone is not None:
        meta["default_timezone"] = conv.timezone
    details: dict[str, Any] = {}
    for uid, p in people.items():
        person = p if p is not None else Participant(id=uid, name=first_name.get(uid))
        details[uid] = detail_obj(person, participant_role(person, first_role.get(uid)))
    meta["user_details"] = details
    tags = conv.extensions.get(NS + "tags")
    meta["tags"] = tags if tags is not None else []
    fields = conv.extensions.get(NS + "fields")
    if isinstance(fields, dict):
        for k, v in fields.items():
            meta.setdefault(k, v)
    return meta


def refer_list(msg: Message) -> list[Any]:
    raw = msg.extensions.get(NS + "refer_list")
    if isinstance(raw, list) and raw and msg.reply_to is not None:
        first = raw[0]
        rid = (
            first
            if isinstance(first, str)
            else first.get("message_id")
            if isinstance(first, dict)
            else None
        )
        if rid == msg.reply_to:
            return raw
    return [{"message_id": msg.reply_to}] if msg.reply_to is not None else []


def message_type(msg: Message) -> str:
    """The type a read file gave (``link``, an ``image`` without a MIME type) while it still fits
    the message: a media type only for a message that is its attachment, never over an event."""
    derived = derived_type(msg)
    own = msg.extensions.get(NS + "type")
    if not isinstance(own, str) or derived == "system" or (own in MEDIA) != (derived in MEDIA):
        return derived
    return own


def message_content(msg: Message, mtype: str) -> str:
    if not msg.text and msg.attachments and mtype in MEDIA:
        return media_content(msg.attachments[0])
    return msg.text


class ConversationFormatWriter:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.opt = options
        self.ctx = ctx
        self.doc: _Doc | None = None
        self.first_name: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self.seen_convs: set[str] = set()

    def write(self, records: Iterable[AnyRecord]) -> None:
        try:
            for record in records:
                if isinstance(record, Message):
                    self._message(record)
                elif isinstance(record, Conversation):
                    self._close()
                    self._open(record)
                else:
                    self._drop("memory items (the destination holds conversations only)")
            self._close()
        except BaseException as exc:
            if self.doc is not None and self.doc.cm is not None:
                self.doc.cm.__exit__(type(exc), exc, exc.__traceback__)
                self.doc.cm = None
            raise
        notes = {k: v for k, v in sorted(self.stats.items()) if v}
        if notes:
            self.ctx.note("conversationformat", notes)

    # -- documents -------------------------------------------------------------------------------

    def _open(self, conv: Conversation) -> None:
        if conv.id in self.seen_convs:
            self.ctx.warn(
                f"conversation {conv.id!r} appears more than once in the stream; each run of its "
                "messages becomes its own file",
                key=f"cf-reappears-{conv.id}",
            )
        self.seen_convs.add(conv.id)
        doc = _Doc(conv)
        doc.cm = self.sink.document(f"{conv.id}.json")
        doc.fh = doc.cm.__enter__()
        doc.fh.write(b'{"version":"' + VERSION.encode() + b'","conversation_list":[')
        self.doc = doc
        self.first_name = {}
        self.stats["documents"] += 1

    def _close(self) -> None:
        doc = self.doc
        if doc is None:
            return
        assert doc.fh is not None and doc.cm is not None
        for _msg in doc.pending:
            self._drop(UNTIMED)
        doc.pending = []
        meta = session_meta(doc.conv, doc.people, doc.first_role, self.first_name, self.opt)
        key = META_KEY[self.opt.generation]
        doc.fh.write(b"\n]," if doc.count else b"],")
        doc.fh.write(b'"' + key.encode() + b'":' + jsonio.dumps(meta) + b"}\n")
        cm, doc.cm, doc.fh = doc.cm, None, None
        self.doc = None
        cm.__exit__(None, None, None)

    # -- messages --------------------------------------------------------------------------------

    def _drop(self, reason: str) -> None:
        self.ctx.dropped(reason)

    def _reject(self, msg: Message, reason: str) -> None:
        loc = Location(None, f"conversation {msg.conversation_id}", f"message {msg.id}")
        self.ctx.reject(msg.model_dump(mode="json"), reason, loc, error=WriteError)

    def _message(self, msg: Message) -> None:
        doc = self.doc
        if doc is None or doc.conv.id != msg.conversation_id:
            self._close()
            self.ctx.warn(
                "messages arrived without their Conversation record; they are written as "
                "team conversations named by conversation_id",
                key="cf-implicit-conversation",
            )
            self._open(Conversation(id=msg.conversation_id))
            doc = self.doc
        assert doc is not None and doc.fh is not None
        opt = self.opt
        if not msg.active:
            self._drop("inactive branches (the destination keeps the active path only)")
            return
        if msg.type == "reasoning" and not opt.include_reasoning:
            self._drop("reasoning messages (-O include_reasoning=true)")
            return
        ts = msg.timestamp
        if ts is None:
            if opt.missing_time == "reject":
                self._reject(msg, "no timestamp (-O missing_time=nearest borrows a neighbour's)")
                return
            ts = doc.last_ts or opt.default_time
            if ts is None:  # a leading message without time: wait for the next timed one
                doc.pending.append(msg)
                return
            self._send(doc, msg, ts, filled=True)
            return
        if doc.pending:
            pending, doc.pending = doc.pending, []
            for p_msg in pending:
                self._send(doc, p_msg, ts, filled=True)
        self._send(doc, msg, ts, filled=False)

    def _send(self, doc: _Doc, msg: Message, ts: datetime, filled: bool) -> None:
        assert doc.fh is not None
        opt = self.opt
        raw = None if filled else msg.timestamp_raw
        if filled:
            self.stats["filled_timestamps"] += 1
            self.ctx.loss("timestamp", "missing times borrowed from a neighbouring message")
        sender = msg.sender_id or opt.unknown_sender_id
        if not sender and opt.missing_sender == "role":
            sender = msg.role
            self.stats["role_as_sender"] += 1
            self.ctx.warn(
                "messages without a sender are written with their role as sender "
                "(-O unknown_sender_id=ID names one, -O missing_sender=reject refuses them)",
                key="cf-role-sender",
            )
        if not sender:
            self._reject(
                msg,
                "no sender: every message needs a sender listed in user_details "
                "(-O unknown_sender_id=ID to use one)",
            )
            return
        if msg.id in doc.seen:
            self._reject(msg, f"duplicate message_id {msg.id!r} in this conversation")
            return
        mtype = message_type(msg)
        item: dict[str, Any] = {
            "message_id": msg.id,
            "create_time": create_time(ts, raw),
            "sender": sender,
        }
        name = msg.sender_name if msg.sender_name is not None else doc.names.get(sender)
        if name is not None:
            item["sender_name"] = name
        item["role"] = api_role(msg.role)
        item["type"] = mtype
        item["content"] = message_content(msg, mtype)
        refs = refer_list(msg)
        item["refer_list"] = refs
        extra = message_extra(msg)
        if extra:
            item["extra"] = extra
        fields = msg.extensions.get(NS + "fields")
        if isinstance(fields, dict):
            for k, v in fields.items():
                if k not in MESSAGE_KEYS:
                    item.setdefault(k, v)
        if not item["content"]:
            self.stats["empty_content"] += 1
            self.ctx.warn(
                "some messages have empty content (valid in the file, but EverCore's importer "
                "refuses empty content)",
                key="cf-empty-content",
            )
        if sender not in doc.people:
            doc.people[sender] = None
            if name is not None:
                self.first_name[sender] = name
        doc.first_role.setdefault(sender, msg.role)
        for ref in refs:
            ref_sender = ref.get("sender") if isinstance(ref, dict) else None
            if isinstance(ref_sender, str) and ref_sender not in doc.people:
                doc.people[ref_sender] = None
        doc.fh.write(b"\n" if doc.count == 0 else b",\n")
        doc.fh.write(jsonio.dumps(item))
        doc.count += 1
        doc.seen.add(msg.id)
        doc.last_ts = ts
