"""Reading Telegram Desktop JSON exports in constant memory.

Two shapes exist. "Export chat history" writes one chat per ``result.json``
(``{name, type, id, messages: [...]}``); "Export Telegram data" writes the whole account into one
``result.json`` (``{about, personal_information, ..., chats: {list: [chat...]}, left_chats: ...}``).

For a single chat the header keys come before ``messages`` (Telegram Desktop writes them first), so
the reader parses only up to ``messages`` with ijson events, then re-opens the document and streams
the messages with ijson's C item builder, the fast path. A full-account export needs the chat
boundaries, which the item builder cannot report, so it is walked with events throughout (about
3x slower, still constant memory). Streams that cannot be re-opened (stdin) take the event path too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from ijson import ObjectBuilder
from memshift import jsonio
from memshift.context import Context
from memshift.errors import ReadError
from memshift.model import AnyRecord, Attachment, Conversation, Message, Reaction
from memshift.sources import Source
from memshift.timeutil import TimestampError, from_epoch_seconds, parse_iso
from pydantic import ValidationError

from ._fields import (
    ACCOUNT_KEYS,
    CHAT_KEYS,
    DEFAULT_TYPE,
    MEDIA_EXTRA,
    MEDIA_EXTRA_SET,
    MESSAGE_KEYS,
    NS,
    PAID_EMOJI,
    REACTION_KEYS,
    SERVICE_KEYS,
    SKIPPED_DEFAULT,
    conversation_type,
    id_in,
    is_skipped,
)

Event = tuple[str, str, Any]
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")
#: ``result.json`` and the numbered siblings a writer makes when two chats share a folder name.
_RESULT_NAME = re.compile(r"(?:^|/)result(?:-\d+)?\.json$")
_DIGITS = re.compile(r"(\d+)")


def result_documents(source: Source) -> list[str]:
    """The export documents in a folder or zip, in natural order (``ChatExport_2`` before
    ``ChatExport_10``). Other ``.json`` files are files people sent in the chat, never read."""
    names = [m for m in source.members() if _RESULT_NAME.search(m)]
    return sorted(names, key=_natural_key)


def _natural_key(name: str) -> list[Any]:
    return [int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(name))]


class _Bad(Exception):
    """A message field that cannot be converted: ``field`` is appended to the record's path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _build(events: Iterator[Event]) -> Any:
    """The next complete JSON value from an event stream (small values only: chat headers, single
    messages)."""
    _, event, value = next(events)
    return _build_from(event, value, events)


def _build_from(event: str, value: Any, events: Iterator[Event]) -> Any:
    if event not in _STARTS:
        return value
    builder = ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, ev, val in events:
        builder.event(ev, val)
        if ev in _STARTS:
            depth += 1
        elif ev in _ENDS:
            depth -= 1
            if depth == 0:
                break
    return builder.value


def _skip(events: Iterator[Event]) -> None:
    _, event, _ = next(events)
    if event not in _STARTS:
        return
    depth = 1
    for _, ev, _ in events:
        if ev in _STARTS:
            depth += 1
        elif ev in _ENDS:
            depth -= 1
            if depth == 0:
                return


class TelegramReader:
    """One read of one source. Holds the options and the context; cheap to create."""

    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.options = options
        self.ctx = ctx

    def read(self) -> Iterator[AnyRecord]:
        if self.source.kind == "objects":
            yield from self._read_objects(self.source.objects)
            return
        if self.source.is_container:
            members: list[str | None] = list(result_documents(self.source))
            if not members:
                raise ReadError(
                    "no result.json here: point memshift at a Telegram Desktop export folder, "
                    "its zip, or the result.json itself",
                    self.source.location(),
                )
        else:
            members = [None]
        for member in members:
            with self.source.open(member) as fh:
                yield from self._read_document(fh, member)

    # -- documents -------------------------------------------------------------------------------

    def _read_document(self, fh: IO[bytes], member: str | None) -> Iterator[AnyRecord]:
        loc = self.source.location(member)
        events = jsonio.iter_events(fh, loc)
        first = next(events, None)
        if first is None:
            raise ReadError("invalid JSON: the file is empty", loc)
        if first[1] != "start_map":
            kind = "an array" if first[1] == "start_array" else f"a {first[1]}"
            raise ReadError(
                f"top-level JSON is {kind}; a Telegram Desktop export (result.json) is an object",
                loc,
            )
        header: dict[str, Any] = {}
        found = False
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                break
            if event != "map_key":
                continue
            if value == "messages":
                found = True
                chat = _Chat(self, member, "", header, left=False)
                yield chat.conversation()
                if self.source.kind == "stream":
                    yield from chat.messages_from_events(events, "messages")
                else:
                    _expect_list(events, "messages", loc)
                    yield from chat.messages_fast()
                    return  # keys after the message list are not chat data
            elif value in ("chats", "left_chats"):
                found = True
                yield from self._account_section(events, member, value)
            elif value in ACCOUNT_KEYS:
                _skip(events)
            else:
                header[value] = _build(events)
        if not found:
            raise ReadError(
                "not a Telegram Desktop export: no 'messages' list and no 'chats' section", loc
            )

    def _account_section(
        self, events: Iterator[Event], member: str | None, section: str
    ) -> Iterator[AnyRecord]:
        loc = self.source.location(member, section)
        _, event, _ = next(events)
        if event != "start_map":
            raise ReadError("expected an object with a 'list' of chats", loc)
        item = f"{section}.list.item"
        index = 0
        for prefix, ev, _ in events:
            if prefix == section and ev == "end_map":
                return
            if prefix == item and ev == "start_map":
                yield from self._account_chat(events, member, section, index)
                index += 1

    def _account_chat(
        self, events: Iterator[Event], member: str | None, section: str, index: int
    ) -> Iterator[AnyRecord]:
        base = f"{section}.list.item"
        path = f"{section}.list[{index}]."
        left = section == "left_chats"
        header: dict[str, Any] = {}
        chat: _Chat | None = None
        for prefix, event, value in events:
            if prefix == base and event == "end_map":
                break
            if prefix != base or event != "map_key":
                continue
            if value == "messages" and chat is None:
                chat = _Chat(self, member, path, header, left=left)
                if left and not self.options.include_left_chats:
                    count = chat.count_messages(events, f"{base}.messages")
                    self.ctx.skip("messages in chats you left (-O include_left_chats=true)", count)
                    continue
                yield chat.conversation()
                yield from chat.messages_from_events(events, f"{base}.messages")
            elif chat is None:
                header[value] = _build(events)
            else:
                _skip(events)
                self.ctx.warn(
                    f"{path}{value}: keys after a chat's messages are ignored",
                    key=f"late-key-{value}",
                )
        if chat is None:  # a chat without a message list is still a chat
            chat = _Chat(self, member, path, header, left=left)
            if not left or self.options.include_left_chats:
                yield chat.conversation()

    def _read_objects(self, obj: Any) -> Iterator[AnyRecord]:
        if not isinstance(obj, dict):
            raise ReadError(
                "expected the parsed result.json object (a dict)", self.source.location()
            )
        if "messages" in obj:
            chat = _Chat(self, None, "", {k: v for k, v in obj.items() if k != "messages"}, False)
            yield chat.conversation()
            yield from chat.messages_from(obj["messages"])
        for section in ("chats", "left_chats"):
            block = obj.get(section)
            if not isinstance(block, dict):
                continue
            for index, raw_chat in enumerate(block.get("list") or ()):
                if not isinstance(raw_chat, dict):
                    continue
                head = {k: v for k, v in raw_chat.items() if k != "messages"}
                chat = _Chat(self, None, f"{section}.list[{index}].", head, section == "left_chats")
                messages = raw_chat.get("messages") or []
                if chat.left and not self.options.include_left_chats:
                    n = len(messages)
                    self.ctx.skip("messages in chats you left (-O include_left_chats=true)", n)
                    continue
                yield chat.conversation()
                yield from chat.messages_from(messages)


def _expect_list(events: Iterator[Event], path: str, loc: Any) -> None:
    _, event, _ = next(events)
    if event != "start_array":
        raise ReadError("expected a list of messages", loc.child(path))


class _Chat:
    """One chat: its header, and the per-chat state messages need (the previous id and time)."""

    def __init__(
        self,
        reader: TelegramReader,
        member: str | None,
        path: str,
        header: dict[str, Any],
        left: bool,
    ) -> None:
        self.reader = reader
        self.ctx = reader.ctx
        self.source = reader.source
        self.member = member
        self.path = path
        self.header = header
        self.left = left
        self.naive_tz: str | None = reader.options.timezone
        self.chat_id = ""
        self.last_id: str | None = None
        self.last_ts: datetime | None = None

    # -- the conversation ------------------------------------------------------------------------

    def conversation(self) -> Conversation:
        header = self.header
        loc = self.source.location(self.member, f"{self.path}id")
        chat_id = id_in(header.get("id"))
        if chat_id is None:
            raise ReadError(
                f"chat id missing or not an integer: {header.get('id')!r}"
                " (an id must come before the chat's messages)",
                loc,
            )
        tg_type = header.get("type")
        name = header.get("name")
        if tg_type is not None and not isinstance(tg_type, str):
            raise ReadError(f"chat type is not text: {tg_type!r}", loc.child(f"{self.path}type"))
        if name is not None and not isinstance(name, str):
            raise ReadError(f"chat name is not a string: {name!r}", loc.child(f"{self.path}name"))
        ctype = conversation_type(tg_type)
        ext: dict[str, Any] = {}
        if tg_type is not None and tg_type != DEFAULT_TYPE[ctype]:
            ext[NS + "type"] = tg_type
        if self.left:
            ext[NS + "left"] = True
        for key, value in header.items():
            if key not in CHAT_KEYS:
                ext[NS + key] = value
        self.chat_id = chat_id
        return Conversation(id=chat_id, type=ctype, name=name, extensions=ext)

    # -- message streams -------------------------------------------------------------------------

    def messages_fast(self) -> Iterator[Message]:
        loc = self.source.location(self.member)
        with self.source.open(self.member) as fh:
            for index, raw in enumerate(jsonio.iter_items(fh, "messages.item", loc)):
                record = self.message(raw, index)
                if record is not None:
                    yield record

    def messages_from_events(self, events: Iterator[Event], prefix: str) -> Iterator[Message]:
        _expect_list(events, self.path + "messages", self.source.location(self.member))
        for index, (p, event, value) in enumerate(events):
            if p == prefix and event == "end_array":
                return
            record = self.message(_build_from(event, value, events), index)
            if record is not None:
                yield record

    def messages_from(self, messages: Any) -> Iterator[Message]:
        if not isinstance(messages, list):
            raise ReadError(
                "expected a list of messages", self.source.location(None, self.path + "messages")
            )
        for index, raw in enumerate(messages):
            record = self.message(raw, index)
            if record is not None:
                yield record

    def count_messages(self, events: Iterator[Event], prefix: str) -> int:
        _expect_list(events, self.path + "messages", self.source.location(self.member))
        count = 0
        for p, event, _ in events:
            if p == prefix and event == "end_array":
                break
            if p == prefix + ".item" and event in _STARTS:
                count += 1
        return count

    # -- one message -----------------------------------------------------------------------------

    def message(self, raw: Any, index: int) -> Message | None:
        where = f"{self.path}messages[{index}]"
        if not isinstance(raw, dict):
            self.ctx.reject(
                raw,
                f"expected a message object, got {type(raw).__name__}",
                self.source.location(self.member, where),
            )
            return None
        try:
            return self._convert(raw)
        except _Bad as bad:
            at = self.source.location(self.member, f"{where}.{bad.field}")
            self.ctx.reject(raw, bad.reason, at)
        except ValidationError as exc:
            self.ctx.reject(raw, exc, self.source.location(self.member, where))
        return None

    def _convert(self, raw: dict[str, Any]) -> Message | None:
        kind = raw.get("type", "message")
        if kind == "unsupported":
            self.ctx.skip("unsupported messages (Telegram Desktop exported only their id)")
            return None
        if kind not in ("message", "service"):
            raise _Bad("type", f"unknown message type {kind!r}")
        mid = id_in(raw.get("id"))
        if mid is None:
            raise _Bad("id", f"missing or not an integer: {raw.get('id')!r}")
        if mid == self.last_id:
            raise _Bad("id", f"duplicate message id {mid} (the previous message has the same id)")
        self.last_id = mid
        timestamp, timestamp_raw = self._instant(raw, "date")
        edited_at = None
        if raw.get("edited") is not None or raw.get("edited_unixtime") is not None:
            edited_at = self._instant(raw, "edited")[0]
        service = kind == "service"
        who = "actor" if service else "from"
        sender_id = raw.get(who + "_id")
        if sender_id is None:
            if not service:
                raise _Bad("from_id", "missing author: a message needs a from_id")
        elif not isinstance(sender_id, str) or not sender_id:
            raise _Bad(who + "_id", f"expected an id like 'user123', got {sender_id!r}")
        sender_name = raw.get(who)
        if sender_name is not None and not isinstance(sender_name, str):
            raise _Bad(who, f"expected a name or null, got {sender_name!r}")
        text, entities = _text(raw)
        reply = raw.get("reply_to_message_id")
        reply_to = id_in(reply)
        if reply is not None and reply_to is None:
            raise _Bad("reply_to_message_id", f"not a message id: {reply!r}")
        attachments = _attachments(raw)
        keys = SERVICE_KEYS if service else MESSAGE_KEYS
        ext: dict[str, Any] = {}
        if isinstance(raw.get("date"), str):
            ext[NS + "date"] = raw["date"]
        if edited_at is not None and raw.get("edited") is not None:
            ext[NS + "edited"] = raw["edited"]
        if entities is not None:
            ext[NS + "text_entities"] = entities
        for key, value in raw.items():
            if key in keys or (attachments and key in MEDIA_EXTRA_SET):
                continue
            ext[NS + key] = value
        if self.last_ts is not None and timestamp < self.last_ts:
            self.ctx.warn(
                f"chat {self.chat_id}: messages are not in chronological order; destinations "
                "that need order get them as written",
                key=f"order-{self.chat_id}",
            )
        self.last_ts = timestamp
        return Message(
            id=mid,
            conversation_id=self.chat_id,
            type="event" if service else "message",
            sender_id=sender_id,
            sender_name=sender_name,
            timestamp=timestamp,
            timestamp_raw=timestamp_raw,
            text=text,
            reply_to=reply_to,
            edited_at=edited_at,
            attachments=attachments,
            reactions=_reactions(raw.get("reactions")),
            extensions=ext,
        )

    def _instant(self, raw: dict[str, Any], key: str) -> tuple[datetime, str | int]:
        """``date_unixtime`` is the instant; ``date`` is the exporting computer's wall clock with
        no offset, usable only when the user says which zone that computer was in."""
        unix_key = key + "_unixtime"
        unix = raw.get(unix_key)
        local = raw.get(key)
        if local is not None and not isinstance(local, str):
            raise _Bad(key, f"expected a date string, got {local!r}")
        if unix is not None:
            if isinstance(unix, bool) or not isinstance(unix, (str, int)):
                raise _Bad(unix_key, f"not a Unix timestamp: {unix!r}")
            try:
                return from_epoch_seconds(unix), unix
            except TimestampError as exc:
                raise _Bad(unix_key, str(exc)) from None
        if local is None:
            raise _Bad(key, f"missing (neither {key} nor {unix_key} is present)")
        try:
            return parse_iso(local, naive_tz=self.naive_tz), local
        except TimestampError as exc:
            if self.naive_tz is None and "no timezone" in str(exc):
                raise _Bad(
                    key,
                    f"local time {local!r} without {unix_key}; pass -O timezone=<IANA zone of "
                    "the computer that made the export> (e.g. Europe/Berlin)",
                ) from None
            raise _Bad(key, str(exc)) from None


def _text(raw: dict[str, Any]) -> tuple[str, list[Any] | None]:
    """The plain text, and the entity list when it carries anything but plain text."""
    entities = raw.get("text_entities")
    if entities is not None:
        if not isinstance(entities, list):
            raise _Bad("text_entities", f"expected a list, got {type(entities).__name__}")
        parts: list[str] = []
        rich = False
        for j, entity in enumerate(entities):
            if not isinstance(entity, dict) or not isinstance(entity.get("text"), str):
                raise _Bad(f"text_entities[{j}]", "expected an object with a 'text' string")
            rich = rich or entity.get("type") != "plain"
            parts.append(entity["text"])
        return "".join(parts), (entities if rich else None)
    text = raw.get("text", "")
    if isinstance(text, str):
        return text, None
    if not isinstance(text, list):
        raise _Bad("text", f"expected a string or a list, got {type(text).__name__}")
    built: list[Any] = []
    rich = False
    for j, part in enumerate(text):
        if isinstance(part, str):
            built.append({"type": "plain", "text": part})
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            rich = rich or part.get("type") != "plain"
            built.append(part)
        else:
            raise _Bad(f"text[{j}]", "expected a string or an object with a 'text' string")
    return "".join(e["text"] for e in built), (built if rich else None)


def _size(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(key, f"expected a size in bytes, got {value!r}")
    return value


def _path(raw: dict[str, Any], key: str, ext: dict[str, Any]) -> str | None:
    value = raw[key]
    if not isinstance(value, str):
        raise _Bad(key, f"expected a relative path, got {value!r}")
    if is_skipped(value):
        if value != SKIPPED_DEFAULT:
            ext[NS + "skipped"] = value
        return None
    return value


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise _Bad(key, f"expected a string, got {value!r}")
    return value


def _attachments(raw: dict[str, Any]) -> tuple[Attachment, ...]:
    """A message holds at most one photo or one file; its media details go with it."""
    has_photo, has_file = "photo" in raw, "file" in raw
    if not (has_photo or has_file):
        return ()
    media = {NS + k: raw[k] for k in MEDIA_EXTRA if k in raw}
    out: list[Attachment] = []
    if has_photo:
        ext: dict[str, Any] = {NS + "kind": "photo"}
        path = _path(raw, "photo", ext)
        if not has_file:
            ext.update(media)
        out.append(Attachment(path=path, size=_size(raw, "photo_file_size"), extensions=ext))
    if has_file:
        ext = {}
        path = _path(raw, "file", ext)
        ext.update(media)
        out.append(
            Attachment(
                name=_optional_str(raw, "file_name"),
                path=path,
                mime_type=_optional_str(raw, "mime_type"),
                size=_size(raw, "file_size"),
                extensions=ext,
            )
        )
    return tuple(out)


def _reactions(value: Any) -> tuple[Reaction, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad("reactions", f"expected a list, got {type(value).__name__}")
    out: list[Reaction] = []
    for j, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Bad(f"reactions[{j}]", "expected an object")
        kind = item.get("type", "emoji")
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise _Bad(f"reactions[{j}].count", f"expected an integer, got {count!r}")
        if kind == "paid":
            emoji: Any = PAID_EMOJI
        elif kind == "custom_emoji":
            emoji = item.get("document_id")
        else:
            emoji = item.get("emoji")
        if not isinstance(emoji, str) or not emoji:
            raise _Bad(f"reactions[{j}]", f"a {kind!r} reaction without its emoji")
        recent = item.get("recent") or []
        if not isinstance(recent, list):
            raise _Bad(f"reactions[{j}].recent", "expected a list")
        users = tuple(
            r["from_id"]
            for r in recent
            if isinstance(r, dict) and isinstance(r.get("from_id"), str)
        )
        ext: dict[str, Any] = {}
        if kind != "emoji":
            ext[NS + "type"] = kind
        if any(not isinstance(r, dict) or r.keys() - {"from_id"} for r in recent):
            ext[NS + "recent"] = recent
        for key, val in item.items():
            if key not in REACTION_KEYS:
                ext[NS + key] = val
        out.append(Reaction(emoji=emoji, count=count, users=users, extensions=ext))
    return tuple(out)
