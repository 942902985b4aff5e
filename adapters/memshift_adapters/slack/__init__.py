"""``slack``: Slack workspace exports, both directions.

Reads the official export (a zip or its folder: ``channels.json``, ``users.json``, one folder of
``YYYY-MM-DD.json`` day files per channel; private channels, DMs and group DMs on request), a lone
channel folder or day file, an API page (``{"messages": [...]}``), stdin, and a Python list of
message dicts. Writes the same layout, as a folder or a zip. See docs/formats/slack.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any

from memshift import Adapter, Context, Feature, Sniff, hookimpl
from memshift.adapter import NO, project_by_features
from memshift.model import (
    AnyRecord,
    Attachment,
    Conversation,
    Message,
    Participant,
    Provenance,
    Reaction,
)
from memshift.sinks import Sink
from memshift.sources import Source
from memshift.timeutil import TimestampError

from ._common import (
    DEFAULT_PRECEDENCE,
    FOLDER_KEY,
    FOREIGN_EVENT_SUBTYPE,
    KIND_FILE,
    NS,
    bot_post,
    is_event_subtype,
    pick_name,
    profile_name,
)
from ._convert import message_text, scrub, strip_token
from ._options import SlackReadOptions, SlackWriteOptions
from ._place import Placement, Placer
from ._read import Reader
from ._text import Renderer, escape, needs_escape
from ._write import Writer, is_trusted, message_name, own, sender_fields

__all__ = ["SlackAdapter", "SlackReadOptions", "SlackWriteOptions"]

_DAY_NAME = re.compile(r"\d{4}-\d{2}-\d{2}\.json")
_TS_BYTES = re.compile(rb'"ts"\s*:\s*"\d{9,12}\.\d{1,9}"')
_INDEX = frozenset({"channels.json", "groups.json", "mpims.json", "dms.json"})
#: Message extension keys the writer cannot give back (they name JSON keys it writes itself).
_MESSAGE_RESERVED = frozenset({NS + "ts", NS + "text"})


class SlackAdapter(Adapter):
    name = "slack"
    aliases = ("slack-export",)
    description = "Slack workspace export (zip or folder of channels/day files), or message dicts"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.GROUP,
            Feature.CONVERSATION_NAMES,
            Feature.DESCRIPTIONS,
            Feature.PARTICIPANTS,
            Feature.SENDER_NAMES,
            Feature.THREADS,
            Feature.REPLIES,
            Feature.REACTIONS,
            Feature.EDITS,
            Feature.ATTACHMENTS,
            Feature.MENTIONS,
            Feature.MARKUP,
            Feature.EVENTS,
        }
    )
    file_extensions = (".zip", ".json")
    output_layout = "dir"
    ordered_read = True  # day files sorted and repaired against their neighbours (_order.py)
    needs_order = True  # each day file is written once, in time order
    ReadOptions = SlackReadOptions
    WriteOptions = SlackWriteOptions

    # -- detection --------------------------------------------------------------------------

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            return _sniff_objects(source.objects)
        if source.is_container:
            members = source.members()
            tops = {m.rsplit("/", 1)[-1] for m in members if m.count("/") <= 1}
            days = [m for m in members if _DAY_NAME.fullmatch(m.rsplit("/", 1)[-1])]
            if "channels.json" in tops and "users.json" in tops:
                return Sniff(0.95, "channels.json and users.json (a Slack export)")
            if tops & _INDEX and days:
                return Sniff(0.9, "a Slack conversation index and day files")
            jsons = [m for m in members if m.endswith(".json")]
            if days and len(days) == len(jsons) and _ts_in(source, days[0]):
                return Sniff(0.7, "a folder of Slack day files")
            return NO
        head = source.head(8192)
        name = source.path.name if source.path is not None else ""
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if name in _INDEX and stripped.startswith(b"[") and b'"id"' in head:
            return Sniff(0.8, f"a Slack {name}")
        if _TS_BYTES.search(head) is None:
            return NO
        if stripped.startswith(b"["):
            if _DAY_NAME.fullmatch(name):
                return Sniff(0.9, "a Slack day file (YYYY-MM-DD.json with ts strings)")
            return Sniff(0.75, "a JSON array of messages with Slack ts strings")
        if stripped.startswith(b"{"):
            if b'"messages"' in head:
                return Sniff(0.7, "a Slack API page (messages with ts strings)")
            return Sniff(0.6, "a Slack message object")
        return NO

    # -- the two directions -----------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return Reader(source, options, ctx).run()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        Writer(sink, options, ctx).write(records)

    # -- projection -------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """What a default read of the written export gives back.

        * People: Slack keeps one users.json entry per id, so every appearance of a person is the
          first full participant record of that id (no role; names chosen by the default
          precedence); sender names come from users.json, or from the message itself for bots and
          external users, or from a users.json entry the writer adds for names nobody else
          carries.
        * Ids and times: an id that is not the Slack ``ts`` of the message's own time becomes that
          ts (microseconds; bumped by 1 us if two messages share a day file and a time), the old
          id moving to ``slack:source_id``; thread and reply references follow, and a reply names
          its thread root. ``created`` keeps whole seconds.
        * Text: Slack keeps only mrkdwn, so text, markup and mentions are what the reader makes of
          the written mrkdwn: a Slack message's own markup, or the escaped text of any other.
        * Left out: roles (all ``user``), conversation type (``group``) and time zone, attachment
          paths, tokens in file URLs; private channels, DMs and group DMs are written but a
          default read leaves them out.
        """
        f = self.features
        recs = list(records)
        people: dict[str, Participant] = {}
        hidden: set[str] = set()
        for r in recs:
            if isinstance(r, Conversation):
                kind = r.extensions.get(NS + "kind")
                if kind in KIND_FILE and kind is not None:
                    hidden.add(r.id)
                    continue
                for p in r.participants:
                    if p.id not in people:
                        people[p.id] = _participant(p)
        # users.json as the writer leaves it: every participant, then names it adds on the way
        table: dict[str, str | None] = {pid: p.name for pid, p in people.items()}
        channels: dict[str, str] = {}
        convs: dict[str, tuple[Placer, bool]] = {}
        current: str | None = None
        staged: list[AnyRecord | _Staged] = []
        for r in recs:
            if isinstance(r, Conversation):
                if r.id in hidden:
                    continue
                conv = self._conversation(r, people)
                if conv.name:
                    channels.setdefault(conv.id, conv.name)
                if r.id not in convs:
                    convs[r.id] = (Placer(UTC, conv.created_at), is_trusted(r))
                if current is not None and current != r.id:
                    convs[current][0].forget()
                current = r.id
                staged.append(conv)
            elif isinstance(r, Message):
                if r.conversation_id in hidden:
                    continue
                m = project_by_features(r, f, self.ext_namespace())
                if not isinstance(m, Message):
                    continue
                if r.conversation_id not in convs:
                    bare = Conversation(
                        id=r.conversation_id,
                        provenance=Provenance(format="slack", source_id=r.conversation_id),
                    )
                    convs[r.conversation_id] = (Placer(UTC, None), False)
                    staged.append(bare)
                placer, trusted = convs[r.conversation_id]
                if current is not None and current != r.conversation_id:
                    convs[current][0].forget()  # as the writer does when it moves on
                current = r.conversation_id
                try:
                    place = placer.place(m)
                except TimestampError:
                    continue  # the writer rejects it
                staged.append(_stage(m, place, trusted, table))
        renderer = Renderer(table.get, channels.get)
        out: list[AnyRecord] = []
        for item in staged:
            if isinstance(item, _Staged):
                out.append(item.finish(renderer, table))
            else:
                out.append(item)
        return out

    def _conversation(self, r: Conversation, people: dict[str, Participant]) -> Conversation:
        c = project_by_features(r, self.features, self.ext_namespace())
        assert isinstance(c, Conversation)
        ext = dict(c.extensions)
        ext.pop(NS + FOLDER_KEY, None)
        if ext.get(NS + "kind") not in KIND_FILE:
            ext.pop(NS + "kind", None)
        created = c.created_at.replace(microsecond=0) if c.created_at else None
        return c.model_copy(
            update={
                "type": "group",
                "name": c.name or None,
                "description": c.description or None,
                "created_at": created,
                "participants": tuple(
                    people[pid] for pid in dict.fromkeys(p.id for p in c.participants)
                ),
                "provenance": Provenance(format="slack", source_id=c.id),
                "extensions": ext,
            }
        )


class _Staged:
    """A projected message whose names and text wait for the final users table."""

    __slots__ = ("has_user", "msg", "view", "written")

    def __init__(self, msg: Message, view: dict[str, Any], has_user: bool, written: str) -> None:
        self.msg = msg
        self.view = view
        self.has_user = has_user
        self.written = written

    def finish(self, renderer: Renderer, table: dict[str, str | None]) -> Message:
        view, has_user = self.view, self.has_user
        sender = self.msg.sender_id
        self_name = profile_name(view.get("user_profile"), DEFAULT_PRECEDENCE) if has_user else None
        text, markup, mentions = message_text(renderer, self.written, view, sender, self_name)
        return self.msg.model_copy(
            update={
                "sender_name": _sender(view, has_user, table),
                "text": text,
                "markup": markup,
                "mentions": mentions,
            }
        )


def _stage(m: Message, place: Placement, trusted: bool, table: dict[str, str | None]) -> _Staged:
    ext = {k: v for k, v in m.extensions.items() if k not in _MESSAGE_RESERVED}
    if NS + "root" in ext:
        ext[NS + "root"] = scrub(ext[NS + "root"])
    if place.derived:
        ext[NS + "source_id"] = m.id
    legacy = ext.get(NS + "legacy_file")
    if legacy is not None and (len(m.attachments) != 1 or legacy is not True or NS + "file" in ext):
        del ext[NS + "legacy_file"]
    if m.type == "event" and not isinstance(ext.get(NS + "subtype"), str):
        ext[NS + "subtype"] = FOREIGN_EVENT_SUBTYPE
    rest = own(ext)
    has_user = sender_fields(m, rest)
    ext = {NS + k: v for k, v in rest.items()}
    view = dict(rest)
    if has_user:
        view["user"] = m.sender_id
    if trusted and m.markup is not None:
        written = m.markup
    else:
        written = escape(m.text) if needs_escape(m.text) else m.text
    # users.json entries the writer adds (in stream order) for names no participant carries
    sid, name = m.sender_id, m.sender_name
    if sid and name and sid not in table and message_name(view, has_user) != name:
        table[sid] = name
    if trusted:
        for mention in m.mentions:
            if mention.type != "user" or not mention.name or mention.id in table:
                continue
            if f"<@{mention.id}|" in written:
                continue
            self_name = profile_name(view.get("user_profile"), DEFAULT_PRECEDENCE)
            if mention.id == sid and self_name == mention.name:
                continue
            table[mention.id] = mention.name
    subtype = ext.get(NS + "subtype")
    msg = m.model_copy(
        update={
            "id": place.ts,
            "type": "event" if is_event_subtype(subtype) else "message",
            "role": "user",
            "sender_is_bot": True if bot_post(rest, has_user) else None,
            "timestamp": place.when,
            "timestamp_raw": place.ts,
            "thread_id": place.thread_ts,
            "reply_to": place.thread_ts if place.thread_ts not in (None, place.ts) else None,
            "attachments": tuple(_attachment(a) for a in m.attachments),
            "reactions": tuple(_reaction(x) for x in m.reactions),
            "extensions": ext,
        }
    )
    return _Staged(msg, view, has_user, written)


def _own(ext: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ext.items() if k.startswith(NS)}


def _attachment(a: Attachment) -> Attachment:
    ext = {k: scrub(v) for k, v in _own(a.extensions).items()}
    url = strip_token(a.url) if a.url else a.url
    return a.model_copy(update={"path": None, "url": url, "extensions": ext})


def _reaction(r: Reaction) -> Reaction:
    return r.model_copy(update={"extensions": _own(r.extensions)})


def _participant(p: Participant) -> Participant:
    """A participant as users.json holds it: no role, names by the default precedence, a bare
    name becoming the @handle."""
    display, real, nick = p.display_name or None, p.real_name or None, p.nick or None
    name = pick_name(display, real, nick, DEFAULT_PRECEDENCE)
    if name is None and p.name:
        nick = name = p.name
    ext = {
        k: v
        for k, v in p.extensions.items()
        if k.startswith(NS) and k not in (NS + "id", NS + "deleted", NS + "is_bot")
    }
    if nick:
        ext.pop(NS + "name", None)
    return p.model_copy(
        update={
            "name": name,
            "display_name": display,
            "real_name": real,
            "nick": nick,
            "role": None,
            "job_title": p.job_title or None,
            "email": p.email or None,
            "timezone": p.timezone or None,
            "extensions": ext,
        }
    )


def _sender(view: dict[str, Any], has_user: bool, table: dict[str, str | None]) -> str | None:
    """The sender name Slack's reader finds for a written message (see Converter._sender_name)."""
    user = view.get("user") if has_user else None
    bot_id = view.get("bot_id") if isinstance(view.get("bot_id"), str) else None
    own_name = message_name(view, has_user)
    if bot_post(view, has_user):
        return (
            own_name
            or (table.get(user) if user else None)
            or (table.get(bot_id) if bot_id else None)
        )
    return (table.get(user) if user else None) or own_name


def _sniff_objects(objs: Any) -> Sniff:
    first: Any = None
    if isinstance(objs, (list, tuple)) and objs:
        first = objs[0]
    elif isinstance(objs, dict):
        msgs = objs.get("messages")
        first = msgs[0] if isinstance(msgs, list) and msgs else objs
    if isinstance(first, dict) and isinstance(first.get("ts"), str):
        if first.get("type") == "message" or "user" in first or "bot_id" in first:
            return Sniff(0.9, "Slack message dicts (ts strings)")
        return Sniff(0.6, "dicts with Slack ts strings")
    return NO


def _ts_in(source: Source, member: str) -> bool:
    return _TS_BYTES.search(source.head(4096, member)) is not None


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [SlackAdapter]
