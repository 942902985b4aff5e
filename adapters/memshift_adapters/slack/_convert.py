"""One Slack message dict to a canonical Message, and the users table names come from.

This is the per-message hot path: one dict comprehension for the extensions, one regex pass over
the text (skipped when it holds no ``<`` or ``&``), no copies of nested values except where a
token must be removed from a file URL.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from memshift import Context
from memshift.errors import Location, ReadError
from memshift.model import Attachment, Mention, Message, Participant, Reaction
from memshift.timeutil import TimestampError

from ._common import (
    NS,
    NamePart,
    bot_post,
    is_event_subtype,
    is_slack_ts,
    parse_ts,
    participant_from_user,
    profile_name,
)
from ._options import SlackReadOptions
from ._text import Renderer, flatten_attachments, flatten_blocks

_TOKEN_PARAM = re.compile(r"([?&])(?:t|token)=xox[^&#\s\"']*(&?)")
_MAPPED = frozenset(
    {"ts", "text", "user", "thread_ts", "edited", "files", "file", "reactions", "type"}
)


class Bad(Exception):
    """One message cannot be converted; ``path`` is the field inside it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def jtype(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def strip_token(url: str) -> str:
    if "xox" not in url:
        return url
    return _TOKEN_PARAM.sub(lambda m: m.group(1) if m.group(2) else "", url)


def scrub(value: Any) -> Any:
    """A copy of a JSON value with tokens removed from every string (only where one occurs)."""
    if isinstance(value, str):
        return strip_token(value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def message_text(
    renderer: Renderer,
    raw_text: str,
    raw: Mapping[str, Any],
    self_id: str | None,
    self_name: str | None,
    fallback: bool = True,
) -> tuple[str, str | None, tuple[Mention, ...]]:
    """``(text, markup, mentions)`` of a message: its mrkdwn rendered, or when that is empty the
    readable text of its blocks or legacy attachments; the original is the markup whenever it
    differs. The projection uses this too, because Slack keeps only the mrkdwn."""
    mentions: list[Mention] = []
    text, changed = renderer.render(raw_text, mentions, self_id, self_name)
    if not text and fallback:
        text = flatten_blocks(raw.get("blocks"), renderer, mentions) or flatten_attachments(
            raw.get("attachments"), renderer, mentions
        )
    markup = raw_text if changed or text != raw_text else None
    return text, markup, tuple(mentions)


# -- users ------------------------------------------------------------------------------------


class Users:
    """Everyone users.json (and org_users.json, and the ``users`` option) knows, by id.

    Participants are built on first use and cached, so one person is the same object in every
    conversation of the export.
    """

    def __init__(self, precedence: tuple[NamePart, ...]) -> None:
        self.precedence = precedence
        self.raw: dict[str, dict[str, Any]] = {}
        self.bot_users: dict[str, str] = {}
        self._cache: dict[str, Participant] = {}
        self._names: dict[str, str | None] = {}
        #: Ids nobody could name (members, senders, mentions); counted, never invented.
        self.unresolved: set[str] = set()
        #: Ids users.json lacks that their messages name (external users, bots).
        self.named: set[str] = set()

    def add(self, users: Any, ctx: Context, where: Location, override: bool = False) -> None:
        if not isinstance(users, list):
            raise ReadError(f"expected a JSON array of users, got {jtype(users)}", where)
        bad = 0
        for user in users:
            uid = user.get("id") if isinstance(user, dict) else None
            if not isinstance(uid, str) or not uid:
                bad += 1
                continue
            if override or uid not in self.raw:
                self.raw[uid] = user
                self._cache.pop(uid, None)
                self._names.pop(uid, None)
            profile = user.get("profile")
            bot_id = profile.get("bot_id") if isinstance(profile, dict) else None
            if isinstance(bot_id, str) and bot_id:
                self.bot_users.setdefault(bot_id, uid)
        if bad:
            ctx.warn(f"{where}: {bad} entries without an id were ignored")

    def participant(self, uid: str) -> Participant:
        p = self._cache.get(uid)
        if p is None:
            raw = self.raw.get(uid)
            if raw is None:
                self.unresolved.add(uid)
                p = Participant(id=uid)
            else:
                p = participant_from_user(raw, self.precedence)
            self._cache[uid] = p
        return p

    def name(self, uid: str) -> str | None:
        try:
            return self._names[uid]
        except KeyError:
            pass
        name = self.participant(uid).name if uid in self.raw else None
        self._names[uid] = name
        return name

    def bot_name(self, bot_id: str) -> str | None:
        uid = self.bot_users.get(bot_id)
        return self.name(uid) if uid else None


# -- one message --------------------------------------------------------------------------------


class Converter:
    """Slack message dict -> canonical Message. One per read; ``message`` is the hot path."""

    def __init__(self, users: Users, channel_names: Mapping[str, str], options: SlackReadOptions):
        self.users = users
        self.precedence = tuple(options.name_precedence)
        self.strip = options.strip_tokens
        self.fallback = options.text_fallback
        self.renderer = Renderer(users.name, channel_names.get)
        self.files_gone: Counter[str] = Counter()

    def message(self, raw: Any, conv_id: str) -> Message:
        if not isinstance(raw, dict):
            raise Bad("", f"expected a message object, got {jtype(raw)}")
        ts = raw.get("ts")
        if ts is None:
            raise Bad("ts", "missing (every Slack message has a ts)")
        try:
            when = parse_ts(ts)
        except TimestampError as exc:
            raise Bad("ts", str(exc)) from None
        ext: dict[str, Any] = {NS + k: v for k, v in raw.items() if k not in _MAPPED}
        if "type" in raw and raw["type"] != "message":
            ext[NS + "type"] = raw["type"]
        subtype = raw.get("subtype")
        event = is_event_subtype(subtype)

        user = raw.get("user")
        has_user = isinstance(user, str) and bool(user)
        if not has_user and "user" in raw:
            ext[NS + "user"] = user
        bot_id = raw.get("bot_id")
        if not (isinstance(bot_id, str) and bot_id):
            bot_id = None
        sender_id: str | None = user if has_user else bot_id
        if sender_id is None and subtype == "file_comment":
            comment = raw.get("comment")
            cuser = comment.get("user") if isinstance(comment, dict) else None
            if isinstance(cuser, str) and cuser:
                sender_id = cuser
        is_bot = bot_post(raw, has_user)
        human = sender_id if sender_id is not None and sender_id != bot_id else None
        sender_name = self._sender_name(raw, human, bot_id, is_bot)
        if sender_id is not None:
            if sender_name is None:
                self.users.unresolved.add(sender_id)
            elif sender_id not in self.users.raw:
                self.users.named.add(sender_id)  # by its own user_profile, username, bot_profile
        if sender_id is None and sender_name is None and not event:
            raise Bad("user", "missing author (no user, bot_id or username)")

        text_raw = raw.get("text")
        if text_raw is None:
            text_raw = ""
        elif not isinstance(text_raw, str):
            raise Bad("text", f"expected a string, got {jtype(text_raw)}")
        self_name = profile_name(raw.get("user_profile"), self.precedence) if has_user else None
        text, markup, mentions = message_text(
            self.renderer, text_raw, raw, sender_id, self_name, self.fallback
        )

        thread_id = reply_to = None
        thread_ts = raw.get("thread_ts")
        if isinstance(thread_ts, str):
            if not is_slack_ts(thread_ts):
                raise Bad("thread_ts", f"not a Slack timestamp: {thread_ts!r}")
            thread_id = thread_ts
            if thread_ts != ts:
                reply_to = thread_ts
        elif "thread_ts" in raw:
            ext[NS + "thread_ts"] = thread_ts

        edited_at = None
        edited = raw.get("edited")
        if isinstance(edited, dict):
            ets = edited.get("ts")
            try:
                edited_at = parse_ts(ets)
            except TimestampError as exc:
                raise Bad("edited.ts", str(exc)) from None
            rebuilt = {"user": sender_id, "ts": ets} if sender_id else {"ts": ets}
            if edited != rebuilt:
                ext[NS + "edited"] = edited
        elif "edited" in raw:
            ext[NS + "edited"] = edited

        attachments: tuple[Attachment, ...] = ()
        files = raw.get("files")
        if isinstance(files, list):
            attachments = tuple(self._file(f, f"files[{j}]") for j, f in enumerate(files))
        elif "files" in raw:
            ext[NS + "files"] = files
        single = raw.get("file")
        if isinstance(single, dict) and not isinstance(files, list):
            attachments = (self._file(single, "file"),)
            ext[NS + "legacy_file"] = True
        elif "file" in raw:
            ext[NS + "file"] = single

        reactions: tuple[Reaction, ...] = ()
        raw_reactions = raw.get("reactions")
        if isinstance(raw_reactions, list):
            reactions = tuple(self._reaction(r, j) for j, r in enumerate(raw_reactions))
        elif "reactions" in raw:
            ext[NS + "reactions"] = raw_reactions

        if self.strip and "root" in raw:
            ext[NS + "root"] = scrub(raw["root"])

        return Message(
            id=ts,
            conversation_id=conv_id,
            type="event" if event else "message",
            sender_id=sender_id,
            sender_name=sender_name,
            sender_is_bot=True if is_bot else None,
            timestamp=when,
            timestamp_raw=ts,
            text=text,
            markup=markup,
            reply_to=reply_to,
            thread_id=thread_id,
            edited_at=edited_at,
            attachments=attachments,
            reactions=reactions,
            mentions=mentions,
            extensions=ext,
        )

    def _sender_name(
        self, raw: dict[str, Any], user: str | None, bot_id: str | None, is_bot: bool
    ) -> str | None:
        users = self.users
        username = raw.get("username")
        username = username if isinstance(username, str) and username else None
        bp = raw.get("bot_profile")
        bot_name = bp.get("name") if isinstance(bp, dict) else None
        bot_name = bot_name if isinstance(bot_name, str) and bot_name else None
        if is_bot:
            return (
                username
                or bot_name
                or (users.name(user) if user else None)
                or (users.name(bot_id) or users.bot_name(bot_id) if bot_id else None)
            )
        return (
            (users.name(user) if user else None)
            or (profile_name(raw.get("user_profile"), self.precedence) if user else None)
            or username
            or bot_name
        )

    def _file(self, f: Any, path: str) -> Attachment:
        if not isinstance(f, dict):
            raise Bad(path, f"expected a file object, got {jtype(f)}")
        if self.strip:
            f = scrub(f)
        fid = name = mime = url = None
        size = None
        ext: dict[str, Any] = {}
        for key, value in f.items():
            if key == "id" and isinstance(value, str):
                fid = value
            elif key == "name" and isinstance(value, str):
                name = value
            elif key == "mimetype" and isinstance(value, str):
                mime = value
            elif key == "size" and type(value) is int and value >= 0:
                size = value
            elif key == "url_private" and isinstance(value, str):
                url = value
            else:
                ext[NS + key] = value
        mode = f.get("mode")
        if mode in ("tombstone", "hidden_by_limit"):
            self.files_gone[mode] += 1
        return Attachment(id=fid, name=name, mime_type=mime, size=size, url=url, extensions=ext)

    def _reaction(self, r: Any, j: int) -> Reaction:
        if not isinstance(r, dict):
            raise Bad(f"reactions[{j}]", f"expected a reaction object, got {jtype(r)}")
        name = r.get("name")
        if not isinstance(name, str) or not name:
            raise Bad(f"reactions[{j}].name", "missing")
        users = r.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise Bad(f"reactions[{j}].users", "expected a list of user ids")
        count = r.get("count")
        if type(count) is not int or count < 0:
            if "count" in r:
                raise Bad(f"reactions[{j}].count", f"expected a count, got {count!r}")
            count = max(len(users), 1)
        ext = {NS + k: v for k, v in r.items() if k not in ("name", "users", "count")}
        return Reaction(emoji=name, count=count, users=tuple(users), extensions=ext)
