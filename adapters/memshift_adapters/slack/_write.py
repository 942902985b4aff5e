"""Writing a Slack export: ``channels.json`` (and ``groups.json``/``dms.json``/``mpims.json`` for
conversations that came from them), ``users.json``, and ``<channel>/<YYYY-MM-DD>.json`` day files.

Day files are streamed: messages arrive in time order per conversation (``needs_order``), so each
day file is opened once, written item by item and closed when the next day starts. Only the index
entries and the users table (one entry per person, a small summary) are kept until the end.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import IO, Any

from memshift import Context, jsonio
from memshift.errors import WriteError
from memshift.model import AnyRecord, Attachment, Conversation, MemoryItem, Message, Reaction
from memshift.sinks import Sink, safe_name
from memshift.timeutil import TimestampError, zone

from ._common import (
    DEFAULT_PRECEDENCE,
    FOLDER_KEY,
    FOREIGN_EVENT_SUBTYPE,
    KIND_FILE,
    NS,
    RESERVED_NAMES,
    bot_post,
    epoch_seconds,
    format_ts,
    partial_user,
    profile_name,
    user_from_participant,
)
from ._options import SlackWriteOptions
from ._place import Placer
from ._text import escape, needs_escape


def own(ext: dict[str, Any]) -> dict[str, Any]:
    """``slack:*`` extensions as the JSON keys they came from."""
    return {k[len(NS) :]: v for k, v in ext.items() if k.startswith(NS)}


def is_trusted(conv: Conversation | None) -> bool:
    """Markup is written as Slack text only when it is Slack's own mrkdwn (the conversation was
    read from Slack); other formats' markup (Discord markdown, HTML) would be misread."""
    return conv is not None and conv.provenance is not None and conv.provenance.format == "slack"


def findable(name: str | None) -> bool:
    """Whether a reader would find a folder called ``name`` (and so could confuse it)."""
    return (
        name is not None
        and safe_name(name) == name
        and name not in RESERVED_NAMES
        and not name.startswith(("__", "."))
    )


def index_entry(conv: Conversation, folder_hint: str | None) -> dict[str, Any]:
    rest = own(conv.extensions)
    rest.pop("kind", None)
    out: dict[str, Any] = {"id": conv.id}
    if conv.name and "name" not in rest:
        out["name"] = conv.name
    if conv.created_at is not None and "created" not in rest:
        out["created"] = epoch_seconds(conv.created_at)
    if "members" not in rest:
        out["members"] = [p.id for p in conv.participants]
    purpose = rest.pop("purpose", None)
    if conv.description:
        purpose = (
            {**purpose, "value": conv.description}
            if isinstance(purpose, dict)
            else {"value": conv.description}
        )
    if purpose is not None:
        out["purpose"] = purpose
    if folder_hint is not None:
        out[FOLDER_KEY] = folder_hint
    for key, value in rest.items():
        if key not in out and key != FOLDER_KEY:
            out[key] = value
    return out


def file_json(a: Attachment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if a.id is not None:
        out["id"] = a.id
    if a.name is not None:
        out["name"] = a.name
    if a.mime_type is not None:
        out["mimetype"] = a.mime_type
    if a.size is not None:
        out["size"] = a.size
    if a.url is not None:
        out["url_private"] = a.url
    for key, value in own(a.extensions).items():
        if key not in out:
            out[key] = value
    return out


def reaction_json(r: Reaction) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.emoji, "users": list(r.users), "count": r.count}
    for key, value in own(r.extensions).items():
        if key not in out:
            out[key] = value
    return out


def sender_fields(msg: Message, rest: dict[str, Any]) -> bool:
    """Adds to ``rest`` what a message from another format needs so that Slack's reader sees its
    author: a bot posts under ``bot_id`` with a ``username``, a sender without an id under a
    ``username``. Returns whether ``user`` is to be written."""
    sid = msg.sender_id
    if msg.sender_is_bot and not bot_post(rest, sid is not None and sid != rest.get("bot_id")):
        if sid is not None and "bot_id" not in rest:
            rest["bot_id"] = sid
        elif msg.type == "message" and "subtype" not in rest:
            rest["subtype"] = "bot_message"
        if msg.sender_name and "username" not in rest and "bot_profile" not in rest:
            rest["username"] = msg.sender_name
    if sid is None and "username" not in rest and "bot_profile" not in rest:
        name = msg.sender_name or (msg.role if msg.type == "message" else None)
        if name:
            rest["username"] = name
    return sid is not None and sid != rest.get("bot_id") and "user" not in rest


def message_name(rest: dict[str, Any], has_user: bool) -> str | None:
    """The name Slack's reader takes from the message itself (without users.json)."""
    username = rest.get("username")
    username = username if isinstance(username, str) and username else None
    bp = rest.get("bot_profile")
    bot_name = bp.get("name") if isinstance(bp, dict) else None
    bot_name = bot_name if isinstance(bot_name, str) and bot_name else None
    if bot_post(rest, has_user):
        return username or bot_name
    profile = profile_name(rest.get("user_profile"), DEFAULT_PRECEDENCE)
    return profile or username or bot_name


class _Conv:
    __slots__ = ("folder", "placer", "trusted", "used_days")

    def __init__(self, folder: str, placer: Placer, trusted: bool) -> None:
        self.folder = folder
        self.placer = placer
        self.trusted = trusted
        self.used_days: set[str] = set()


class Writer:
    def __init__(self, sink: Sink, options: SlackWriteOptions, ctx: Context) -> None:
        self.sink = sink
        self.ctx = ctx
        self.zone = zone(options.day_timezone)
        self.users: dict[str, dict[str, Any]] = {}
        self.full: set[str] = set()
        self.indexes: dict[str | None, list[dict[str, Any]]] = {}
        self.claimed: set[str] = set()
        self.convs: dict[str, _Conv] = {}
        self.current: _Conv | None = None
        self.current_id: str | None = None
        self._doc: AbstractContextManager[IO[bytes]] | None = None
        self._fh: IO[bytes] | None = None
        self._sep = b"[\n"
        self._late = 0
        self._nameless = 0

    # -- the stream -------------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord]) -> None:
        try:
            for record in records:
                if isinstance(record, Message):
                    self._message(record)
                elif isinstance(record, Conversation):
                    self._conversation(record)
                elif isinstance(record, MemoryItem):
                    self._drop("memory items (slack holds conversations only)")
            self._close_day()
        except BaseException:
            if self._doc is not None:
                self._doc.__exit__(*sys.exc_info())
                self._doc = None
            raise
        finally:
            for conv in self.convs.values():
                conv.placer.close()
        self._indexes()
        if self._late:
            self.ctx.warn(
                f"{self._late} messages came after later ones and were written into the open "
                "day file (readers take the day from ts; sort the input for exact day files)"
            )
        if self._nameless:
            self.ctx.warn(
                f"{self._nameless} messages without a sender were written with their role as "
                "the username"
            )

    def _drop(self, reason: str) -> None:
        self.ctx.dropped(reason)

    # -- conversations ----------------------------------------------------------------------

    def _conversation(self, conv: Conversation) -> None:
        self._close_day()
        for p in conv.participants:
            if p.id not in self.full:
                self.users[p.id] = user_from_participant(p)
                self.full.add(p.id)
        state = self.convs.get(conv.id)
        if state is None:
            if conv.type == "personal":
                self.ctx.loss("type", "Slack has no assistant conversations; written as a channel")
            if conv.timezone:
                self.ctx.loss("timezone", "Slack channels have no time zone", example=conv.id)
            if conv.created_at is not None and conv.created_at.microsecond:
                self.ctx.loss("created_at", "Slack keeps whole seconds", example=conv.id)
            folder, hint = self._folder(conv)
            kind = conv.extensions.get(NS + "kind")
            kind = kind if kind in KIND_FILE else None
            self.indexes.setdefault(kind, []).append(index_entry(conv, hint))
            created = conv.created_at.replace(microsecond=0) if conv.created_at else None
            state = _Conv(folder, Placer(self.zone, created), is_trusted(conv))
            self.convs[conv.id] = state
        self._switch(state, conv.id)

    def _switch(self, state: _Conv, cid: str) -> None:
        # Thread references only point within a conversation: the ids of the one left behind
        # are released, so memory does not grow with the number of conversations.
        if self.current is not None and self.current is not state:
            self.current.placer.forget()
        self.current, self.current_id = state, cid

    def _folder(self, conv: Conversation) -> tuple[str, str | None]:
        """The channel's folder: its name, else its id, else a hashed name recorded in the index
        entry (conversations from other formats with names no file system takes)."""
        name, cid = conv.name, conv.id
        if findable(name) and name is not None and name.lower() not in self.claimed:
            return self._claim(name), None
        if not findable(name) and findable(cid) and cid.lower() not in self.claimed:
            return self._claim(cid), None
        base = safe_name(name or cid, default="conversation")[:60]
        digest = hashlib.sha256(cid.encode("utf-8")).hexdigest()
        n = 8
        folder = f"{base}-{digest[:n]}"
        while folder.lower() in self.claimed or not findable(folder):
            n += 1
            folder = f"{base}-{digest[:n]}" if n <= len(digest) else f"c-{digest}-{n}"
        return self._claim(folder), folder

    def _claim(self, folder: str) -> str:
        self.claimed.add(folder.lower())
        return folder

    # -- messages ---------------------------------------------------------------------------

    def _message(self, msg: Message) -> None:
        if msg.type in ("tool_call", "tool_result", "reasoning"):
            self._drop("tool calls and reasoning (slack has no place for them)")
            return
        if not msg.active:
            self._drop("inactive branches (slack keeps the active path only)")
            return
        if msg.conversation_id != self.current_id:
            state = self.convs.get(msg.conversation_id)
            if state is None:
                # A message without its Conversation record: give it a bare channel.
                self._conversation(Conversation(id=msg.conversation_id))
            else:
                self._close_day()
                self._switch(state, msg.conversation_id)
        state = self.current
        assert state is not None
        try:
            place = state.placer.place(msg)
        except TimestampError as exc:
            self.ctx.reject(
                msg.model_dump(mode="json"),
                f"cannot give this message a Slack ts: {exc}",
                None,
                error=WriteError,
            )
            return
        if place.new_day or self._fh is None:
            self._open_day(state, place.day)
        elif place.late:
            self._late += 1
        obj = self._json(msg, place.ts, place.derived, place.thread_ts, state.trusted)
        self._track_names(msg, obj, state.trusted)
        if place.invented:
            self.ctx.loss(
                "timestamp",
                "Slack needs a time for every message; messages without one were placed just "
                "after the previous message (or at the channel's creation, or at 1970-01-01)",
                example=msg.id,
            )
        if place.thread_lost:
            self.ctx.loss("thread_id", "the thread root is not in the output", example=msg.id)
        if place.reply_lost:
            self.ctx.loss(
                "reply_to",
                "Slack replies belong to a thread root, not to a particular message",
                example=msg.id,
            )
        if msg.role == "assistant":
            self.ctx.loss("role", "assistant messages are ordinary Slack messages", example=msg.id)
        fh = self._fh
        assert fh is not None
        fh.write(self._sep)
        fh.write(jsonio.dumps(obj))
        self._sep = b",\n"

    def _json(
        self, msg: Message, ts: str, derived: bool, thread_ts: str | None, trusted: bool
    ) -> dict[str, Any]:
        rest = own(msg.extensions)
        legacy = rest.pop("legacy_file", False) is True
        if derived:
            # The id of the message in its own format, so a later run can still find it.
            rest["source_id"] = msg.id
        out: dict[str, Any] = {"type": rest.pop("type", "message")}
        if msg.type == "event" and not isinstance(rest.get("subtype"), str):
            rest["subtype"] = FOREIGN_EVENT_SUBTYPE
        write_user = sender_fields(msg, rest)
        if not msg.sender_id and not msg.sender_name and msg.type == "message":
            self._nameless += 1
        if write_user:
            out["user"] = msg.sender_id
        if trusted and msg.markup is not None:
            text = msg.markup
        else:
            if msg.markup is not None:
                self.ctx.loss(
                    "markup", "markup of another format is not Slack mrkdwn; plain text written"
                )
            if msg.mentions:
                self.ctx.loss("mentions", "Slack keeps mentions only as <@…> markup in the text")
            text = escape(msg.text) if needs_escape(msg.text) else msg.text
        out["text"] = text
        out["ts"] = ts
        if thread_ts is not None and "thread_ts" not in rest:
            out["thread_ts"] = thread_ts
        if msg.edited_at is not None and "edited" not in rest:
            edited: dict[str, Any] = {"user": msg.sender_id} if msg.sender_id else {}
            edited["ts"] = format_ts(msg.edited_at)
            out["edited"] = edited
        if msg.attachments:
            files = [file_json(a) for a in msg.attachments]
            if any(a.path for a in msg.attachments):
                self.ctx.loss("attachments.path", "Slack files are URLs, not local paths")
            if legacy and len(files) == 1 and "file" not in rest:
                out["file"] = files[0]
            elif "files" not in rest:
                out["files"] = files
        if msg.reactions and "reactions" not in rest:
            out["reactions"] = [reaction_json(r) for r in msg.reactions]
        for key, value in rest.items():
            if key not in out:
                out[key] = value
        return out

    def _track_names(self, msg: Message, obj: dict[str, Any], trusted: bool) -> None:
        """Collect users.json entries for people the output names but no participant list
        covers: a sender known only by ``sender_name``, a user mentioned without a label."""
        users = self.users
        sid = msg.sender_id
        name = msg.sender_name
        if sid and name:
            known = users.get(sid)
            if known is None:
                if message_name(obj, "user" in obj) != name:
                    users[sid] = partial_user(sid, name)
            elif sid not in self.full and known.get("real_name") != name:
                self.ctx.loss(
                    "sender_name",
                    "one Slack user has one name; the first name of this sender was kept",
                    example=msg.id,
                )
        if trusted and msg.mentions and isinstance(obj.get("text"), str):
            text = obj["text"]
            for m in msg.mentions:
                if m.type != "user" or not m.name or m.id in users:
                    continue
                if f"<@{m.id}|" in text:
                    continue  # the label carries the name
                if (
                    m.id == sid
                    and profile_name(obj.get("user_profile"), DEFAULT_PRECEDENCE) == m.name
                ):
                    continue
                users[m.id] = partial_user(m.id, m.name)

    # -- documents --------------------------------------------------------------------------

    def _open_day(self, state: _Conv, day: str) -> None:
        self._close_day()
        name = f"{day}.json"
        n = 1
        while name in state.used_days:
            n += 1
            name = f"{day}-{n}.json"
        state.used_days.add(name)
        self._doc = self.sink.document(f"{state.folder}/{name}")
        self._fh = self._doc.__enter__()
        self._sep = b"[\n"

    def _close_day(self) -> None:
        if self._doc is None:
            return
        assert self._fh is not None
        self._fh.write(b"\n]\n")
        doc, self._doc, self._fh = self._doc, None, None
        doc.__exit__(None, None, None)

    def _indexes(self) -> None:
        for name, kind in (("channels.json", None), *((KIND_FILE[k], k) for k in KIND_FILE if k)):
            entries = self.indexes.get(kind)
            if entries is None and kind is not None:
                continue
            self._json_doc(name, entries or [])
        self._json_doc("users.json", list(self.users.values()))

    def _json_doc(self, name: str, items: list[dict[str, Any]]) -> None:
        with self.sink.document(name) as fh:
            if not items:
                fh.write(b"[]\n")
                return
            fh.write(b"[\n")
            for i, item in enumerate(items):
                if i:
                    fh.write(b",\n")
                fh.write(jsonio.dumps(item, indent=True))
            fh.write(b"\n]\n")
