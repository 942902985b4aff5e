"""Writing DiscordChatExporter JSON: one document per conversation, streamed message by message.

The header (guild, channel, dateRange, exportedAt) goes first, then the ``messages`` array one
object at a time, and ``messageCount`` last, once it is known; nothing but the current message and
the conversation's author table is held in memory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

import orjson

from memshift.context import Context
from memshift.model import AnyRecord, Attachment, Conversation, Message, Reaction
from memshift.timeutil import EPOCH, TimestampError, parse_iso

from ._common import (
    DEFAULT_GUILD,
    NS,
    RAW_OBJECTS,
    dce_time,
    default_channel,
    default_emoji,
    guild_id_of,
    known_user,
    participant_to_author,
    raw_offset,
    reference_for,
    resolve_name,
    user_stub,
)

_OPT = orjson.OPT_NON_STR_KEYS
_DEFAULT_PRECEDENCE = ("nickname", "username")


# -- documents and messages, as records ---------------------------------------------------------


def header_for(conv: Conversation) -> dict[str, Any]:
    """The DCE header (everything before ``messages``) for a conversation."""
    ext = conv.extensions
    guild = ext.get(NS + "guild")
    if not isinstance(guild, dict):
        guild = DEFAULT_GUILD
    rest = ext.get(NS + "channel")
    if not isinstance(rest, dict):
        rest = default_channel(conv.type)
    channel: dict[str, Any] = {"id": conv.id}
    for key in ("type", "categoryId", "category"):
        if key in rest:
            channel[key] = rest[key]
    channel["name"] = conv.name if conv.name is not None else conv.id
    channel["topic"] = conv.description
    for key, value in rest.items():
        channel.setdefault(key, value)
    header: dict[str, Any] = {"guild": guild, "channel": channel}
    date_range = ext.get(NS + "date_range")
    header["dateRange"] = date_range if date_range is not None else {"after": None, "before": None}
    if ext.get(NS + "exported_at") is not None:
        header["exportedAt"] = ext[NS + "exported_at"]
    extra = ext.get(NS + "extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            header.setdefault(key, value)
    return header


def document_name(header: Mapping[str, Any]) -> str:
    """DCE's default file name: ``Guild - Category - channel [id].json``."""
    channel = header["channel"]
    guild = header["guild"].get("name") or "Discord"
    parts = [str(guild)]
    if channel.get("category"):
        parts.append(str(channel["category"]))
    parts.append(str(channel.get("name") or channel["id"]))
    # One flat file per channel: a "/" in a name must not become a folder.
    name = f"{' - '.join(parts)} [{channel['id']}].json"
    return name.replace("/", "_").replace("\\", "_")


def message_time(timestamp: datetime, raw: object) -> str:
    """What the writer puts in ``timestamp``: the source's own DCE-style string when it denotes
    the same instant (offsets and 7-digit fractions survive), else the instant re-spelled."""
    if type(raw) is str and len(raw) > 19 and raw[10] == "T":
        try:
            # An aware value equals the UTC instant it denotes; a naive one never does.
            if datetime.fromisoformat(raw) == timestamp:
                return raw
        except ValueError:
            pass
    return dce_time(timestamp)


class WriteState:
    """Per-conversation writer state: the author object of every sender seen so far."""

    __slots__ = ("authors", "cid", "guild_id", "last")

    def __init__(self, conv: Conversation, guild_id: str | None) -> None:
        self.cid = conv.id
        self.guild_id = guild_id
        #: The time a message without one is given: the previous message's, at first the
        #: conversation's creation, else the Unix epoch (deterministic, never the clock).
        self.last: datetime = conv.created_at or EPOCH
        self.authors: dict[str, dict[str, Any]] = {}
        for p in conv.participants:
            self.authors.setdefault(p.id, participant_to_author(p))


def write_message(msg: Message, st: WriteState) -> dict[str, Any]:
    """The DCE message object for a canonical message. DCE needs a time on every message; one
    without gets the previous message's (the writer reports it as a loss)."""
    ext = msg.extensions
    timestamp = msg.timestamp if msg.timestamp is not None else st.last
    st.last = timestamp
    sid = msg.sender_id if msg.sender_id is not None else "0"
    author = ext.get(NS + "author")
    if isinstance(author, dict) and author.get("id") is not None:
        if author["id"] != sid or next(iter(author)) != "id":
            # The id goes first, as DCE writes it (and as the reader's author scan expects).
            author = {"id": sid, **{k: v for k, v in author.items() if k != "id"}}
        st.authors.setdefault(sid, author)
    else:
        author = st.authors.get(sid)
        if author is None:
            author = user_stub(sid, msg.sender_name)
            st.authors[sid] = author
    is_bot = msg.role != "user"
    if bool(author.get("isBot")) != is_bot:
        author = {**author, "isBot": is_bot}

    kind = ext.get(NS + "type")
    if not isinstance(kind, str):
        kind = "Reply" if msg.reply_to is not None else "Default"
    ts_raw = message_time(timestamp, msg.timestamp_raw if msg.timestamp is not None else None)
    edited = None
    if msg.edited_at is not None:
        edited = ext.get(NS + "timestamp_edited")
        if not isinstance(edited, str) or _instant(edited) != msg.edited_at:
            edited = dce_time(msg.edited_at, raw_offset(ts_raw))
    out: dict[str, Any] = {
        "id": msg.id,
        "type": kind,
        "timestamp": ts_raw,
        "timestampEdited": edited,
        "callEndedTimestamp": ext.get(NS + "call_ended_at"),
        "isPinned": ext.get(NS + "pinned", False),
        "content": msg.text,
        "author": author,
        "attachments": [_write_attachment(a) for a in msg.attachments],
    }
    components = ext.get(NS + "components")
    if components:
        out["components"] = components
    out["embeds"] = ext.get(NS + "embeds") or []
    out["stickers"] = ext.get(NS + "stickers") or []
    out["reactions"] = [_write_reaction(r, st.authors) for r in msg.reactions]
    out["mentions"] = _write_mentions(msg, ext.get(NS + "mentions"), st.authors)
    reference = ext.get(NS + "reference")
    if reference is None and msg.reply_to is not None:
        reference = reference_for(msg.reply_to, st.cid, st.guild_id)
    if reference is not None:
        out["reference"] = reference
    for key, ext_key in RAW_OBJECTS:
        if ext.get(ext_key) is not None:
            out[key] = ext[ext_key]
    out["inlineEmojis"] = ext.get(NS + "inline_emojis") or []
    extra = ext.get(NS + "extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def _instant(value: str) -> datetime | None:
    try:
        return parse_iso(value)
    except TimestampError:
        return None


def _write_attachment(a: Attachment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "url": a.url if a.url is not None else a.path,
        "fileName": a.name,
        "fileSizeBytes": a.size,
    }
    extra = a.extensions.get(NS + "extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def _write_reaction(r: Reaction, table: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    emoji = r.extensions.get(NS + "emoji")
    if not isinstance(emoji, dict):
        emoji = default_emoji(r.emoji)
    users = r.extensions.get(NS + "users")
    if not (
        isinstance(users, list)
        and [u.get("id") if isinstance(u, dict) else None for u in users] == list(r.users)
    ):
        users = [known_user(u, None, table, False) for u in r.users]
    out: dict[str, Any] = {"emoji": emoji, "count": r.count, "users": users}
    extra = r.extensions.get(NS + "extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def _write_mentions(msg: Message, stored: Any, table: Mapping[str, dict[str, Any]]) -> list[Any]:
    users = [m for m in msg.mentions if m.type == "user"]
    if isinstance(stored, list) and [
        u.get("id") if isinstance(u, dict) else None for u in stored
    ] == [m.id for m in users]:
        return stored
    return [known_user(m.id, m.name, table, True) for m in users]


# -- the writer ----------------------------------------------------------------------------------


class DceWriter:
    def __init__(self, sink: Any, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.ctx = ctx
        self.indent = bool(options.indent)
        self._cm: AbstractContextManager[IO[bytes]] | None = None
        self._fh: IO[bytes] | None = None
        self._conv: Conversation | None = None
        self._state: WriteState | None = None
        self._name = ""
        self._count = 0
        self._senders: set[str] = set()
        #: author id -> (the table's author object, its resolved name), to compare sender names
        self._names: dict[str, tuple[dict[str, Any], str | None]] = {}

    def write(self, records: Iterable[AnyRecord]) -> None:
        try:
            for record in records:
                if isinstance(record, Conversation):
                    self._close()
                    self._open(record)
                elif isinstance(record, Message):
                    if self._conv is None or record.conversation_id != self._conv.id:
                        self._close()
                        self._open(Conversation(id=record.conversation_id))
                    self._message(record)
            self._close()
        except BaseException:
            if self._cm is not None:
                cm, self._cm = self._cm, None
                cm.__exit__(*sys.exc_info())
            raise

    # -- documents ---------------------------------------------------------------------------------

    def _open(self, conv: Conversation) -> None:
        header = header_for(conv)
        self._name = document_name(header)
        self._cm = self.sink.document(self._name)
        self._fh = self._cm.__enter__()
        self._conv = conv
        self._state = WriteState(conv, guild_id_of(header))
        self._count = 0
        self._senders = set()
        self._names = {}
        if self.indent:
            top = orjson.dumps(header, option=_OPT | orjson.OPT_INDENT_2)
            self._fh.write(top[:-2] + b',\n  "messages": [')
        else:
            top = orjson.dumps(header, option=_OPT)
            self._fh.write(top[:-1] + b',"messages":[')
        self._conversation_losses(conv)

    def _close(self) -> None:
        if self._cm is None:
            return
        fh = self._fh
        assert fh is not None and self._conv is not None
        if self.indent:
            fh.write(b"\n  ],\n" if self._count else b"],\n")
            fh.write(b'  "messageCount": %d\n}\n' % self._count)
        else:
            fh.write(b'],"messageCount":%d}' % self._count)
        silent = [p for p in self._conv.participants if p.id not in self._senders]
        if silent:
            self.ctx.loss(
                "participants",
                "participants who wrote nothing in the conversation (DCE lists message authors "
                "only)",
                count=len(silent),
                example=silent[0].id,
            )
        cm, self._cm, self._fh = self._cm, None, None
        cm.__exit__(None, None, None)
        self._conv = None

    # -- messages ----------------------------------------------------------------------------------

    def _message(self, msg: Message) -> None:
        if not msg.active:
            return  # an inactive branch: DCE holds one linear history
        assert self._state is not None and self._fh is not None
        out = write_message(msg, self._state)
        self._senders.add(out["author"]["id"])
        self._message_losses(msg, out)
        if self.indent:
            data = orjson.dumps(out, option=_OPT | orjson.OPT_INDENT_2)
            prefix = b",\n    " if self._count else b"\n    "
            self._fh.write(prefix + data.replace(b"\n", b"\n    "))
        else:
            data = orjson.dumps(out, option=_OPT)
            self._fh.write(b"," + data if self._count else data)
        self._count += 1

    # -- losses ------------------------------------------------------------------------------------

    def _conversation_losses(self, conv: Conversation) -> None:
        loss = self.ctx.loss
        if conv.type == "personal":
            loss(
                "conversation type",
                "personal conversations are written as DMs and read back as group",
                example=conv.id,
            )
        if conv.timezone is not None:
            loss("timezone", "DCE has no conversation time zone", example=conv.id)
        if conv.created_at is not None:
            loss("created_at", "DCE has no channel creation time", example=conv.id)
        for p in conv.participants:
            if (
                p.real_name
                or p.job_title
                or p.email
                or p.timezone
                or p.role
                or (p.nick and "discord:username" not in p.extensions)
            ):
                loss(
                    "participant details",
                    "real name, nick, job title, email, time zone and role of participants",
                    example=p.id,
                )

    def _message_losses(self, msg: Message, out: dict[str, Any]) -> None:
        loss = self.ctx.loss
        if msg.timestamp is None:
            loss(
                "timestamp",
                "DCE needs a time: a message without one gets the previous message's (or the "
                "conversation's creation, or 1970-01-01)",
                example=msg.id,
            )
        if msg.type != "message" and not isinstance(msg.extensions.get("discord:type"), str):
            loss(
                "message type",
                f"{msg.type} records from other formats are written as Default messages",
                example=msg.id,
            )
        if msg.mentions and any(m.type != "user" for m in msg.mentions):
            loss("mentions", "channel, role and broadcast mentions (DCE lists mentioned users)")
        if msg.attachments:
            if any(a.mime_type for a in msg.attachments):
                loss("attachments.mime_type", "DCE attachments carry no MIME type")
            if any(a.url and a.path for a in msg.attachments):
                loss(
                    "attachments.path",
                    "an attachment with both a URL and a local path keeps the URL",
                )
        name = msg.sender_name
        if name is not None:
            author: dict[str, Any] = out["author"]
            sid = author["id"]
            cached = self._names.get(sid)
            if cached is not None and cached[0] is author:
                resolved = cached[1]
            else:
                resolved = resolve_name(author, _DEFAULT_PRECEDENCE)
                assert self._state is not None
                if self._state.authors.get(sid) is author:
                    self._names[sid] = (author, resolved)
            if name != resolved:
                loss(
                    "sender_name", "a per-message sender name that differs from the author's names"
                )
