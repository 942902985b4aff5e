"""Writing Telegram Desktop single-chat exports: one ``result.json`` per conversation.

Each chat goes to ``ChatExport_<n>_<chat id>/result.json``, the layout "Export chat history" makes,
because tools that read Telegram exports expect one chat per file. The numbered prefix keeps the
write order when the folder is read back. Messages are written one per line as they arrive; only
the set of finished chat ids is remembered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from typing import IO, Any

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Attachment, Conversation, Message, Reaction
from memshift.sinks import Sink

from ._fields import (
    ACCOUNT_KEYS,
    CHAT_KEYS,
    DEFAULT_TYPE,
    MEDIA_EXTRA,
    MEDIA_EXTRA_SET,
    MESSAGE_KEYS,
    NS,
    REACTION_KEYS,
    SERVICE_KEYS,
    SKIPPED_DEFAULT,
    UNNAMED_TYPES,
    choose_local,
    epoch_text,
    id_out,
    is_skipped,
    tz_or_error,
    valid_entities,
)

_DROPPED_KINDS = {
    "tool_call": "tool calls (Telegram chats hold messages and service events only)",
    "tool_result": "tool results (Telegram chats hold messages and service events only)",
    "reasoning": "reasoning (Telegram chats hold messages and service events only)",
}


def floor_second(dt: datetime) -> datetime:
    """Telegram keeps whole seconds."""
    return dt.replace(microsecond=0)


def sender_for(message: Message, unknown_sender_id: str | None) -> str:
    """``from_id`` for a message that has no sender: the chosen id, else its role, which tells a
    reader more than any made-up number would."""
    return unknown_sender_id if unknown_sender_id is not None else message.role


def recent_for(recent: Any, users: tuple[str, ...]) -> list[Any] | None:
    """The kept ``recent`` list of a reaction when it still matches the reaction's users."""
    if not isinstance(recent, list) or not all(isinstance(r, dict) for r in recent):
        return None
    ids = tuple(r["from_id"] for r in recent if isinstance(r.get("from_id"), str))
    return recent if ids == users else None


def reaction_json(reaction: Reaction) -> dict[str, Any]:
    ext = reaction.extensions
    kind = ext.get(NS + "type")
    kind = kind if isinstance(kind, str) else "emoji"
    out: dict[str, Any] = {"type": kind, "count": reaction.count}
    if kind == "custom_emoji":
        out["document_id"] = reaction.emoji
    elif kind != "paid":
        out["emoji"] = reaction.emoji
    recent = recent_for(ext.get(NS + "recent"), reaction.users)
    if recent is None and reaction.users:
        recent = [{"from_id": user} for user in reaction.users]
    if recent:
        out["recent"] = recent
    for key, value in ext.items():
        if key.startswith(NS) and key[len(NS) :] not in REACTION_KEYS | {"recent"}:
            out[key[len(NS) :]] = value
    return out


def text_json(message: Message) -> tuple[Any, list[Any]]:
    """``text`` (a string, or a list mixing strings and entity objects) and ``text_entities``."""
    entities: Any = message.extensions.get(NS + "text_entities")
    if valid_entities(entities, message.text):
        mixed = [
            e["text"] if e.get("type") == "plain" and e.keys() == {"type", "text"} else e
            for e in entities
        ]
        return mixed, entities
    if not message.text:
        return "", []
    return message.text, [{"type": "plain", "text": message.text}]


def skipped_text(attachment: Attachment) -> str:
    kept = attachment.extensions.get(NS + "skipped")
    return kept if isinstance(kept, str) and is_skipped(kept) else SKIPPED_DEFAULT


class TelegramWriter:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.ctx = ctx
        self.tz: tzinfo = tz_or_error(options.timezone)
        self.unknown_sender: str | None = options.unknown_sender_id
        self.fill_time = options.missing_time == "previous"
        self.count = 0
        self.last_time: datetime | None = None

    # -- the record stream -----------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord]) -> None:
        stream: Iterator[AnyRecord] = iter(records)
        done: set[str] = set()
        pending: AnyRecord | None = next(stream, None)
        while pending is not None:
            record, pending = pending, None
            if isinstance(record, Conversation):
                conversation = record
                if conversation.id in done:
                    self.ctx.warn(
                        f"conversation {conversation.id} appears twice; written as two chats",
                        key=f"twice-{conversation.id}",
                    )
            elif isinstance(record, Message):
                if record.conversation_id in done:
                    self._not_contiguous(record)
                    pending = next(stream, None)
                    continue
                # Messages without their Conversation record: the chat is all we know.
                conversation = Conversation(id=record.conversation_id)
                pending = record
            else:
                self._drop("memory items (Telegram exports hold chats only)")
                pending = next(stream, None)
                continue
            pending = self._chat(conversation, pending, stream, done)
            done.add(conversation.id)

    def _chat(
        self,
        conversation: Conversation,
        first: AnyRecord | None,
        stream: Iterator[AnyRecord],
        done: set[str],
    ) -> AnyRecord | None:
        """Write one chat document; return the record that starts the next one."""
        self.count += 1
        self.last_time = conversation.created_at
        folder = f"ChatExport_{self.count:05d}_{conversation.id}".replace("/", "_")
        with self.sink.document(f"{folder}/result.json") as fh:
            fh.write(self._header(conversation))
            wrote = False
            pending: AnyRecord | None = None
            records: Iterable[AnyRecord] = stream if first is None else _chain(first, stream)
            for record in records:
                if isinstance(record, Message) and record.conversation_id == conversation.id:
                    wrote = self._message(fh, record, wrote) or wrote
                elif isinstance(record, Message) and record.conversation_id in done:
                    self._not_contiguous(record)
                elif isinstance(record, (Message, Conversation)):
                    pending = record
                    break
                else:
                    self._drop("memory items (Telegram exports hold chats only)")
            fh.write(b"\n]}\n" if wrote else b"]}\n")
        return pending

    def _header(self, conversation: Conversation) -> bytes:
        ext = conversation.extensions
        kept_type = ext.get(NS + "type")
        tg_type = kept_type if isinstance(kept_type, str) else DEFAULT_TYPE[conversation.type]
        head: dict[str, Any] = {}
        if conversation.name is not None or tg_type not in UNNAMED_TYPES:
            head["name"] = conversation.name
        head["type"] = tg_type
        head["id"] = id_out(conversation.id)
        self._check_id(conversation.id)
        for key, value in ext.items():
            field = key[len(NS) :]
            if key.startswith(NS) and field not in CHAT_KEYS and field not in ACCOUNT_KEYS:
                head[field] = value
        if conversation.participants:
            self.ctx.loss(
                "participants",
                "a Telegram chat export has no member list; names stay on each message",
            )
        if conversation.created_at is not None:
            self.ctx.loss("created_at", "a Telegram chat export has no creation time")
        if conversation.timezone is not None:
            self.ctx.loss("timezone", "Telegram writes local times without naming the zone")
        return jsonio.dumps(head)[:-1] + b',"messages":[\n'

    # -- one message -----------------------------------------------------------------------------

    def _message(self, fh: IO[bytes], message: Message, wrote: bool) -> bool:
        """Write ``message``; False when it was dropped or rejected instead."""
        if message.type in _DROPPED_KINDS:
            self._drop(_DROPPED_KINDS[message.type])
            return False
        if not message.active:
            self._drop("inactive branches (Telegram chats have no alternatives)")
            return False
        if message.timestamp is None:
            if not self.fill_time or self.last_time is None:
                self._reject(
                    message,
                    "a Telegram message needs a date and this one has none"
                    + ("" if self.fill_time else " (-O missing_time=previous to borrow one)"),
                )
                return False
            self.ctx.loss(
                "timestamp (missing)",
                "messages without a time were given the previous message's time",
            )
            message = message.model_copy(update={"timestamp": self.last_time})
        self.last_time = message.timestamp
        service = message.type == "event"
        if not service and message.sender_id is None:
            sender = sender_for(message, self.unknown_sender)
            if self.unknown_sender is None:
                self.ctx.warn(
                    "messages without a sender are written with their role as from_id "
                    "('assistant', 'user'); -O unknown_sender_id=ID picks one id instead",
                    key="telegram-role-sender",
                )
            message = message.model_copy(update={"sender_id": sender})
        obj = self._message_json(message, service)
        if wrote:
            fh.write(b",\n")
        fh.write(jsonio.dumps(obj))
        return True

    def _message_json(self, message: Message, service: bool) -> dict[str, Any]:
        assert message.timestamp is not None
        ext = message.extensions
        ts = floor_second(message.timestamp)
        if ts != message.timestamp:
            self.ctx.loss("timestamp", "Telegram keeps whole seconds; fractions were dropped")
        self._check_id(message.id)
        obj: dict[str, Any] = {
            "id": id_out(message.id),
            "type": "service" if service else "message",
            "date": choose_local(ext.get(NS + "date"), ts, self.tz),
            "date_unixtime": epoch_text(ts),
        }
        if message.edited_at is not None:
            edited = floor_second(message.edited_at)
            obj["edited"] = choose_local(ext.get(NS + "edited"), edited, self.tz)
            obj["edited_unixtime"] = epoch_text(edited)
        if service:
            if message.sender_id is not None:
                obj["actor"] = message.sender_name
                obj["actor_id"] = message.sender_id
        else:
            obj["from"] = message.sender_name
            obj["from_id"] = message.sender_id
        if message.reply_to is not None:
            obj["reply_to_message_id"] = id_out(message.reply_to)
        reserved = SERVICE_KEYS if service else MESSAGE_KEYS
        has_media = bool(message.attachments)
        for key, value in ext.items():
            field = key[len(NS) :]
            if not key.startswith(NS) or field in reserved:
                continue
            if has_media and field in MEDIA_EXTRA_SET:
                continue
            obj[field] = value
        if has_media:
            self._media(obj, message.attachments)
        obj["text"], obj["text_entities"] = text_json(message)
        if message.reactions:
            obj["reactions"] = [reaction_json(r) for r in message.reactions]
        if message.role == "assistant":
            self.ctx.loss("role", "Telegram has no roles; assistant messages become ordinary ones")
        return obj

    def _media(self, obj: dict[str, Any], attachments: tuple[Attachment, ...]) -> None:
        first = attachments[0]
        if len(attachments) > 1:
            self.ctx.loss(
                "attachments",
                "a Telegram message holds one photo or file; the others were dropped",
                count=len(attachments) - 1,
            )
        if first.url is not None:
            self.ctx.loss("attachments.url", "Telegram exports reference files by relative path")
        path = first.path if first.path is not None else skipped_text(first)
        if first.extensions.get(NS + "kind") == "photo":
            obj["photo"] = path
            if first.size is not None:
                obj["photo_file_size"] = first.size
        else:
            obj["file"] = path
            if first.name is not None:
                obj["file_name"] = first.name
            if first.size is not None:
                obj["file_size"] = first.size
            if first.mime_type is not None:
                obj["mime_type"] = first.mime_type
        for field in MEDIA_EXTRA:
            if NS + field in first.extensions:
                obj[field] = first.extensions[NS + field]

    # -- what cannot be written ------------------------------------------------------------------

    def _check_id(self, value: str) -> None:
        if isinstance(id_out(value), str):
            self.ctx.warn(
                "some ids are not integers and are written as strings (Telegram's own exports "
                "use integers; the original ids are kept rather than replaced)",
                key="telegram-string-ids",
            )

    def _drop(self, reason: str) -> None:
        """A record this format cannot hold at all: counted as filtered, not as written."""
        self.ctx.filtered(reason)
        self.ctx.write_dropped += 1

    def _reject(self, message: Message, reason: str) -> None:
        where = Location(path=f"conversation {message.conversation_id}: message {message.id}")
        self.ctx.reject(message.model_dump(mode="json"), reason, where, error=WriteError)

    def _not_contiguous(self, message: Message) -> None:
        self._reject(
            message,
            f"message {message.id} of conversation {message.conversation_id} comes after that "
            "chat was closed; a Telegram export holds each chat's messages together",
        )


def _chain(first: AnyRecord, rest: Iterator[AnyRecord]) -> Iterator[AnyRecord]:
    yield first
    yield from rest
