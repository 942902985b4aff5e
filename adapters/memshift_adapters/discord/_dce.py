"""DiscordChatExporter JSON -> canonical, one record at a time (the reader's hot path)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from memshift.model import Attachment, Mention, Message, Reaction, trusted

from ._common import (
    DEFAULT_GUILD,
    NS,
    RAW_OBJECTS,
    THREAD_KINDS,
    FieldError,
    dce_time,
    default_channel,
    default_emoji,
    fromisoformat,
    known_user,
    parse_time,
    raw_offset,
    reference_for,
    resolve_name,
    user_stub,
)

#: ``type`` values that are people's (or bots') messages; every other value is a system event.
#: Numeric strings are Discord types DCE's enum does not name (20 slash-command reply, 21 thread
#: starter message, 23 context-menu command reply), written by .NET ``Enum.ToString()``.
MESSAGE_KINDS = frozenset(
    {
        "Default",
        "Reply",
        "0",
        "19",
        "20",
        "21",
        "23",
        "ChatInputCommand",
        "ContextMenuCommand",
        "ThreadStarterMessage",
    }
)

_MESSAGE_KEYS = frozenset(
    {
        "id",
        "type",
        "timestamp",
        "timestampEdited",
        "callEndedTimestamp",
        "isPinned",
        "content",
        "author",
        "attachments",
        "components",
        "embeds",
        "stickers",
        "reactions",
        "mentions",
        "reference",
        "forwardedMessage",
        "interaction",
        "inlineEmojis",
    }
)

_ATTACHMENT_KEYS = frozenset({"id", "url", "fileName", "fileSizeBytes"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

#: Raw-JSON values copied verbatim when non-empty.
_RARE = (("components", NS + "components"), *RAW_OBJECTS)


def conversation_extensions(header: Mapping[str, Any]) -> dict[str, Any]:
    """The ``discord:*`` extensions of a conversation read from a DCE file header."""
    channel = header["channel"]
    ext: dict[str, Any] = {}
    guild = header.get("guild")
    if guild is not None and guild != DEFAULT_GUILD:
        ext[NS + "guild"] = guild
    rest = {k: v for k, v in channel.items() if k not in ("id", "name", "topic")}
    if rest != default_channel("group"):
        ext[NS + "channel"] = rest
    if rest.get("type") in THREAD_KINDS and rest.get("categoryId") is not None:
        # The thread's parent channel: DCE's "category" means the parent for threads.
        ext[NS + "parent_channel_id"] = str(rest["categoryId"])
    date_range = header.get("dateRange")
    if date_range is not None and date_range != {"after": None, "before": None}:
        ext[NS + "date_range"] = date_range
    if header.get("exportedAt") is not None:
        ext[NS + "exported_at"] = header["exportedAt"]
    extra = {
        k: v
        for k, v in header.items()
        if k not in ("guild", "channel", "dateRange", "exportedAt", "messages", "messageCount")
    }
    if extra:
        ext[NS + "extra"] = extra
    return ext


class ReadState:
    """Per-conversation reader state: the participant table messages are compared against."""

    __slots__ = ("_roleless", "_stubs", "authors", "cid", "guild_id", "names", "precedence")

    def __init__(
        self,
        cid: str,
        guild_id: str | None,
        authors: dict[str, dict[str, Any]],
        precedence: Sequence[str],
    ) -> None:
        self.cid = cid
        self.guild_id = guild_id
        self.precedence = tuple(precedence)
        #: author id -> the user object the conversation's participant was built from
        self.authors = authors
        self.names = {aid: resolve_name(a, self.precedence) for aid, a in authors.items()}
        self._roleless: dict[str, dict[str, Any]] = {}
        self._stubs: dict[str, dict[str, Any]] = {}

    def reaction_user(self, uid: str) -> dict[str, Any]:
        """The user object DCE writes for ``uid`` in a reaction (:func:`known_user` without
        roles), cached per author: reaction user lists repeat the same people, and rebuilding the
        roleless object for each was the costliest step of reading a message with reactions.
        Only table users are cached; an author's entry never changes once added."""
        user = self._roleless.get(uid)
        if user is not None:
            return user
        if uid in self.authors:
            user = self._roleless[uid] = known_user(uid, None, self.authors, False)
            self._stubs.pop(uid, None)
            return user
        # Someone who has not written (yet): a stub, until they do.
        user = self._stubs.get(uid)
        if user is None:
            user = self._stubs[uid] = user_stub(uid, None)
        return user


def classify_location(value: str) -> tuple[str | None, str | None]:
    """``(url, path)``: DCE's ``url`` is a CDN URL, or with ``--media`` a relative local path
    (backslashes on Windows), which is kept verbatim as the attachment's ``path``."""
    if _SCHEME.match(value):
        return value, None
    return None, value


def _fast_time(value: object, field: str) -> datetime:
    """``parse_time`` for the common case, without its extra calls: DCE writes RFC 3339 that
    ``fromisoformat`` reads; anything unusual goes through :func:`memshift.timeutil.parse_iso`
    for the same result or the same error message."""
    if type(value) is str:
        try:
            dt = fromisoformat(value)
        except ValueError:
            return parse_time(value, field)
        off = dt.utcoffset()
        if off is not None and 1970 < dt.year < 2200:
            return dt.astimezone(UTC) if off else dt
    return parse_time(value, field)


_REACTION_KEYS = frozenset({"emoji", "count", "users"})


def read_message(raw: Any, st: ReadState) -> Message:
    """One DCE message object as a canonical Message (raises :class:`FieldError`).

    The hot path of the reader: every field the model has a default for is passed only when it
    differs, because pydantic validates what it is given."""
    if type(raw) is not dict:
        raise FieldError("", f"expected a message object, got {type(raw).__name__}")
    get = raw.get
    mid = get("id")
    if type(mid) is not str:
        if type(mid) is int:
            mid = str(mid)
        else:
            raise FieldError("id", "missing" if mid is None else f"not a string: {mid!r}")
    ts_raw = get("timestamp")
    author = get("author")
    if type(author) is not dict or author.get("id") is None:
        raise FieldError("author", "missing author" if author is None else "author without id")
    # Inline fast path of parse_time (see _fast_time): one call fewer per message.
    timestamp = None
    if type(ts_raw) is str:
        try:
            timestamp = fromisoformat(ts_raw)
        except ValueError:
            pass
        else:
            off = timestamp.utcoffset()
            if off is None or not 1970 < timestamp.year < 2200:
                timestamp = None
            elif off:
                timestamp = timestamp.astimezone(UTC)
    kw: dict[str, Any] = {
        "id": mid,
        "conversation_id": st.cid,
        "timestamp": timestamp if timestamp is not None else parse_time(ts_raw, "timestamp"),
        "timestamp_raw": ts_raw,
    }
    ext: dict[str, Any] = {}

    aid = author["id"]
    if type(aid) is not str:
        aid = str(aid)
    kw["sender_id"] = aid
    known = st.authors.get(aid)
    if known is not None and (author is known or author == known):
        kw["sender_name"] = st.names[aid]
    else:
        kw["sender_name"] = resolve_name(author, st.precedence)
        if known is None:
            # Not a participant of the conversation as yielded (a streamed input has no roster):
            # the first message of each author carries the user object; later ones match it.
            st.authors[aid] = author
            st.names[aid] = kw["sender_name"]
            ext[NS + "author"] = author
        elif {**author, "isBot": known.get("isBot")} != known:
            ext[NS + "author"] = author
    if author.get("isBot"):
        kw["role"] = "assistant"

    content = get("content")
    if type(content) is str:
        kw["text"] = content
    elif content is not None:
        raise FieldError("content", f"not a string: {content!r}")

    kind = get("type")
    if type(kind) is not str:
        kind = "Default" if kind is None else str(kind)
    is_message = kind in MESSAGE_KINDS
    if not is_message:
        kw["type"] = "event"

    reply_to: str | None = None
    ref = get("reference")
    if ref is not None:
        if type(ref) is dict:
            target = ref.get("messageId")
            if (
                is_message
                and target is not None
                and ref.get("type") in (None, "Default", "Reply")
                and ref.get("channelId") in (None, st.cid)
            ):
                reply_to = kw["reply_to"] = str(target)
                if ref != reference_for(reply_to, st.cid, st.guild_id):
                    ext[NS + "reference"] = ref
            else:
                ext[NS + "reference"] = ref
        else:
            ext[NS + "reference"] = ref
    if not is_message or kind != ("Default" if reply_to is None else "Reply"):
        ext[NS + "type"] = kind

    edited_raw = get("timestampEdited")
    if edited_raw is not None:
        edited_at = kw["edited_at"] = _fast_time(edited_raw, "timestampEdited")
        if edited_raw != dce_time(edited_at, raw_offset(ts_raw)):  # type: ignore[arg-type]
            ext[NS + "timestamp_edited"] = edited_raw
    value = get("callEndedTimestamp")
    if value is not None:
        ext[NS + "call_ended_at"] = value
    value = get("isPinned")
    if value:
        ext[NS + "pinned"] = value

    items = get("attachments")
    if items:
        kw["attachments"] = tuple(
            _read_attachment(a, i) for i, a in enumerate(_as_list(items, "attachments"))
        )
    items = get("reactions")
    if items:
        kw["reactions"] = tuple(
            _read_reaction(r, i, st) for i, r in enumerate(_as_list(items, "reactions"))
        )
    items = get("mentions")
    if items:
        kw["mentions"], raw_mentions = _read_mentions(
            _as_list(items, "mentions"), st.precedence, st.authors
        )
        if raw_mentions is not None:
            ext[NS + "mentions"] = raw_mentions
    value = get("embeds")
    if value:
        ext[NS + "embeds"] = value
    value = get("stickers")
    if value:
        ext[NS + "stickers"] = value
    value = get("inlineEmojis")
    if value:
        ext[NS + "inline_emojis"] = value
    if "interaction" in raw or "components" in raw or "forwardedMessage" in raw:
        for key, ext_key in _RARE:
            value = get(key)
            if value:
                ext[ext_key] = value
    if not raw.keys() <= _MESSAGE_KEYS:
        ext[NS + "extra"] = {k: v for k, v in raw.items() if k not in _MESSAGE_KEYS}
    if ext:
        kw["extensions"] = ext
    # Every value above is type-checked or built here, so the model need not check it again.
    return trusted(Message, kw)


def _as_list(value: Any, field: str) -> list[Any]:
    if type(value) is not list:
        raise FieldError(field, f"expected a list, got {type(value).__name__}")
    return value


def _read_attachment(a: Any, i: int) -> Attachment:
    field = f"attachments[{i}]"
    if type(a) is not dict:
        raise FieldError(field, "expected an object")
    location = a.get("url")
    url = path = None
    if location is not None:
        if type(location) is not str:
            raise FieldError(field + ".url", f"not a string: {location!r}")
        url, path = classify_location(location)
    size = a.get("fileSizeBytes")
    if size is not None and (type(size) is not int or size < 0):
        raise FieldError(field + ".fileSizeBytes", f"not a byte count: {size!r}")
    ext: dict[str, Any] = {}
    if not a.keys() <= _ATTACHMENT_KEYS:
        ext[NS + "extra"] = {k: v for k, v in a.items() if k not in _ATTACHMENT_KEYS}
    aid = a.get("id")
    name = a.get("fileName")
    return Attachment(
        id=None if aid is None else str(aid),
        name=None if name is None else str(name),
        url=url,
        path=path,
        size=size,
        extensions=ext,
    )


def _read_reaction(r: Any, i: int, st: ReadState) -> Reaction:
    if type(r) is not dict:
        raise FieldError(f"reactions[{i}]", "expected an object")
    emoji = r.get("emoji")
    if type(emoji) is not dict:
        raise FieldError(f"reactions[{i}].emoji", "missing emoji")
    name = emoji.get("name")
    label = str(name) if name else str(emoji.get("id") or "")
    count = r.get("count", 1)
    if type(count) is not int or count < 0:
        raise FieldError(f"reactions[{i}].count", f"not a count: {count!r}")
    ext: dict[str, Any] = {}
    if len(emoji) != 4 or emoji != default_emoji(label):  # DCE's usually has 5 keys: differs
        ext[NS + "emoji"] = emoji
    users: list[str] = []
    raw_users = r.get("users")
    if raw_users:
        if type(raw_users) is not list:
            raise FieldError(f"reactions[{i}].users", "expected a list of user objects")
        # One pass: check, take the id, and compare with the user object the participant table
        # would give back (the list is then not kept), per user.
        same = True
        known = st.reaction_user
        for u in raw_users:
            uid = u.get("id") if type(u) is dict else None
            if uid is None:
                raise FieldError(f"reactions[{i}].users", "expected a list of user objects")
            if type(uid) is not str:
                uid = str(uid)
            users.append(uid)
            if same and u != known(uid):
                same = False
        if not same:
            ext[NS + "users"] = raw_users
    if len(r) > 3 or not r.keys() <= _REACTION_KEYS:
        extra = {k: v for k, v in r.items() if k not in _REACTION_KEYS}
        if extra:
            ext[NS + "extra"] = extra
    return trusted(
        Reaction, {"emoji": label, "count": count, "users": tuple(users), "extensions": ext}
    )


def _read_mentions(
    items: list[Any], precedence: Sequence[str], table: Mapping[str, dict[str, Any]]
) -> tuple[tuple[Mention, ...], list[Any] | None]:
    out = []
    for i, u in enumerate(items):
        if type(u) is not dict or u.get("id") is None:
            raise FieldError(f"mentions[{i}]", "expected a user object with an id")
        out.append(Mention(id=str(u["id"]), name=resolve_name(u, precedence), type="user"))
    mentions = tuple(out)
    keep = None if items == [known_user(m.id, m.name, table, True) for m in mentions] else items
    return mentions, keep
