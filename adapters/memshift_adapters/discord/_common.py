"""What DiscordChatExporter's reader and writer share: names, time spelling, people.

The rule throughout the adapter is that a ``discord:*`` extension is stored only when the
canonical fields cannot reproduce the original value (a reply's ``reference`` is rebuilt from
``reply_to``; a custom emoji's image URL is not). That keeps the common message free of
extensions and fast to build, and it only works if reader and writer rebuild values the same
way: the functions that do it live here, used by both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from memshift.model import Participant
from memshift.timeutil import TimestampError, parse_iso

NS = "discord:"

#: DCE's pseudo-guild for everything that is not in a server (DMs, group DMs); also what the
#: writer uses for conversations from other formats.
DEFAULT_GUILD: dict[str, Any] = {"id": "0", "name": "Direct Messages", "iconUrl": None}

#: Channel kinds that are threads: their ``categoryId`` is the parent channel.
THREAD_KINDS = frozenset({"GuildPublicThread", "GuildPrivateThread", "GuildNewsThread"})

_USER_KEYS = ("name", "discriminator", "nickname", "color", "isBot", "roles", "avatarUrl")

#: Raw-JSON extensions copied verbatim when present: DCE key -> extension key.
RAW_OBJECTS = (
    ("forwardedMessage", NS + "forwarded_message"),
    ("interaction", NS + "interaction"),
)


class FieldError(Exception):
    """One field of one record is unusable; the reader turns it into a located reject."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def dce_time(dt: datetime, offset: timedelta | None = None) -> str:
    """A timestamp spelled as DCE (.NET ``DateTimeOffset``) writes it: fraction without trailing
    zeros, ``+00:00`` rather than ``Z``."""
    local = dt.astimezone(timezone(offset) if offset else UTC)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond:
        text += "." + f"{local.microsecond:06d}".rstrip("0")
    off = local.utcoffset() or timedelta(0)
    sign = "-" if off < timedelta(0) else "+"
    minutes = abs(int(off.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def raw_offset(raw: str) -> timedelta | None:
    try:
        return datetime.fromisoformat(raw).utcoffset()
    except ValueError:
        return None


def parse_time(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise FieldError(field, "missing" if value is None else f"not a string: {value!r}")
    try:
        return parse_iso(value)
    except TimestampError as exc:
        raise FieldError(field, str(exc)) from None


fromisoformat = datetime.fromisoformat


def resolve_name(user: Mapping[str, Any], precedence: Sequence[str]) -> str | None:
    for key in precedence:
        value = user.get("name" if key == "username" else key)
        if value:
            return str(value)
    return None


def author_to_participant(user: Mapping[str, Any], precedence: Sequence[str]) -> Participant:
    """A DCE user object as a participant. ``display_name`` is DCE's ``nickname`` (server nickname,
    else global display name, else username); the username goes to ``discord:username``."""
    ext: dict[str, Any] = {}
    username = user.get("name")
    if username is not None:
        ext[NS + "username"] = username
    for key, ext_key in (
        ("discriminator", "discriminator"),
        ("color", "color"),
        ("avatarUrl", "avatar_url"),
    ):
        value = user.get(key)
        if value is not None:
            ext[NS + ext_key] = value
    if "roles" in user:
        ext[NS + "roles"] = user["roles"]
    extra = {k: v for k, v in user.items() if k != "id" and k not in _USER_KEYS}
    if extra:
        ext[NS + "user_extra"] = extra
    nickname = user.get("nickname")
    return Participant(
        id=str(user["id"]),
        name=resolve_name(user, precedence),
        display_name=None if nickname is None else str(nickname),
        is_bot=bool(user.get("isBot", False)),
        is_deleted=username == "Deleted User",
        extensions=ext,
    )


def participant_to_author(p: Participant) -> dict[str, Any]:
    """The DCE user object for a participant (inverse of :func:`author_to_participant` for users
    that came from DCE; a best effort for people from other formats)."""
    ext = p.extensions
    native = NS + "username" in ext
    username = ext.get(NS + "username") if native else None
    if username is None:
        username = _first(p.nick, p.name, p.display_name, p.real_name) or p.id
    user: dict[str, Any] = {
        "id": p.id,
        "name": username,
        "discriminator": ext.get(NS + "discriminator", "0000"),
    }
    if native:
        if p.display_name is not None:
            user["nickname"] = p.display_name
    else:
        user["nickname"] = _first(p.display_name, p.name) or username
    user["color"] = ext.get(NS + "color")
    user["isBot"] = p.is_bot
    if NS + "roles" in ext:
        user["roles"] = ext[NS + "roles"]
    user["avatarUrl"] = ext.get(NS + "avatar_url")
    extra = ext.get(NS + "user_extra")
    if isinstance(extra, dict):
        for k, v in extra.items():
            user.setdefault(k, v)
    return user


def user_stub(uid: str, name: str | None) -> dict[str, Any]:
    """A minimal DCE user for someone known only by id (and maybe a name)."""
    label = name if name is not None else uid
    return {
        "id": uid,
        "name": label,
        "discriminator": "0000",
        "nickname": label,
        "color": None,
        "isBot": False,
        "avatarUrl": None,
    }


def known_user(
    uid: str, name: str | None, table: Mapping[str, dict[str, Any]], roles: bool
) -> dict[str, Any]:
    """The user object DCE would write for ``uid`` in a mention (``roles=True``) or a reaction
    (without roles): the conversation's author object when the user wrote in it, else a stub."""
    user = table.get(uid)
    if user is None:
        return user_stub(uid, name)
    if roles or "roles" not in user:
        return user
    return {k: v for k, v in user.items() if k != "roles"}


def _first(*values: str | None) -> str | None:
    for v in values:
        if v is not None:
            return v
    return None


def default_channel(conv_type: str) -> dict[str, Any]:
    kind = "DirectTextChat" if conv_type == "personal" else "DirectGroupTextChat"
    return {"type": kind, "categoryId": None, "category": None}


def guild_id_of(header: Mapping[str, Any]) -> str | None:
    """The ``guildId`` a reply's reference carries: DCE writes null in DMs."""
    guild = header.get("guild")
    gid = guild.get("id") if isinstance(guild, dict) else None
    return None if gid in (None, "0") else str(gid)


def reference_for(reply_to: str, cid: str, guild_id: str | None) -> dict[str, Any]:
    return {"type": "Default", "messageId": reply_to, "channelId": cid, "guildId": guild_id}


def default_emoji(name: str) -> dict[str, Any]:
    return {"id": "", "name": name, "isAnimated": False, "imageUrl": None}
