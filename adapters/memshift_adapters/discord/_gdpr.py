"""Reading Discord's own data package ("Request all of my data").

Only the account owner's messages are in it, one folder per channel (``messages/c<id>/`` or the
older ``messages/<id>/``), as ``messages.json`` (newest first, naive UTC times) or the older
``messages.csv``. The reader normalises each channel to the vocabulary of DCE (channel kinds,
pseudo-guild for DMs, owner as a DCE-style user), so a package converts to the same canonical
shape a DCE export of the same channel would have, minus what the package never had.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from memshift import jsonio
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, Attachment, Conversation, Mention, Message, Provenance
from memshift.ordering import ConversationSorter
from memshift.timeutil import TimestampError, parse_iso, to_epoch_ms

from . import _common, _dce, _order
from ._common import FieldError
from ._read import DceReader, id_key

_FOLDER = r"(?:^|/)messages/(c?)(\d+)/"
_MESSAGES = re.compile(_FOLDER + r"messages\.(json|csv)$", re.I)
_CHANNEL = re.compile(_FOLDER + r"channel\.json$", re.I)
_INDEX = re.compile(r"(?:^|/)messages/index\.json$", re.I)
_USER = re.compile(r"(?:^|/)account/user\.json$", re.I)
_SERVERS = re.compile(r"(?:^|/)servers/index\.json$", re.I)
_SNOWFLAKE = re.compile(r"\d{1,20}")
_MANGLED = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_MENTION = re.compile(r"<@!?(\d+)>|<@&(\d+)>|<#(\d+)>|@(everyone|here)\b")
_LABEL_DM = re.compile(r"Direct Message with (.+?)(?:#(\d{1,4}))?$")
_UNKNOWN_PARTNER = "Unknown Participant"

#: Discord channel types (numbers in 2022-23 packages, names in 2025 ones) -> DCE kind names.
CHANNEL_KINDS: dict[str, str] = {
    "0": "GuildTextChat",
    "GUILD_TEXT": "GuildTextChat",
    "1": "DirectTextChat",
    "DM": "DirectTextChat",
    "2": "GuildVoiceChat",
    "GUILD_VOICE": "GuildVoiceChat",
    "3": "DirectGroupTextChat",
    "GROUP_DM": "DirectGroupTextChat",
    "4": "GuildCategory",
    "GUILD_CATEGORY": "GuildCategory",
    "5": "GuildNews",
    "GUILD_NEWS": "GuildNews",
    "GUILD_ANNOUNCEMENT": "GuildNews",
    "10": "GuildNewsThread",
    "GUILD_NEWS_THREAD": "GuildNewsThread",
    "ANNOUNCEMENT_THREAD": "GuildNewsThread",
    "11": "GuildPublicThread",
    "GUILD_PUBLIC_THREAD": "GuildPublicThread",
    "PUBLIC_THREAD": "GuildPublicThread",
    "12": "GuildPrivateThread",
    "GUILD_PRIVATE_THREAD": "GuildPrivateThread",
    "PRIVATE_THREAD": "GuildPrivateThread",
    "13": "GuildStageVoice",
    "GUILD_STAGE_VOICE": "GuildStageVoice",
    "14": "GuildDirectory",
    "GUILD_DIRECTORY": "GuildDirectory",
    "15": "GuildForum",
    "GUILD_FORUM": "GuildForum",
}
_DIRECT = frozenset({"DirectTextChat", "DirectGroupTextChat"})

#: Sender of every message when ``account/user.json`` is absent and no ``owner_id`` is given:
#: Discord's own API alias for "the current user".
OWNER_PLACEHOLDER = "@me"
MANGLED_NOTE = "discord.synthetic_message_ids"


def is_package(members: list[str]) -> bool:
    return any(_MESSAGES.search(m) or _INDEX.search(m) for m in members)


def looks_like_messages_json(head: bytes) -> bool:
    return (
        jsonio.top_level_type(head) == "array"
        and b'"ID"' in head
        and b'"Timestamp"' in head
        and (b'"Contents"' in head or b'"Attachments"' in head)
    )


def looks_like_messages_csv(head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().lower()
    return first.startswith(b"id,timestamp,contents")


class _Channel:
    __slots__ = ("channel_member", "cid", "messages_member")

    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.channel_member: str | None = None
        self.messages_member: str | None = None


class GdprReader(DceReader):
    """Reads a package directory or zip, or one ``messages.json``/``messages.csv`` file."""

    def read(self) -> Iterator[AnyRecord]:
        source = self.source
        self.mangled = 0
        self.placeholder = 0
        self.names: dict[str, str | None] = {}
        self.owner = self._owner()
        if source.kind == "file":
            yield from self._single_file()
        else:
            yield from self._package()
        if self.placeholder:
            self.ctx.warn(
                f"account/user.json is not in the package: {self.placeholder} message(s) are "
                f"attributed to the placeholder sender {OWNER_PLACEHOLDER!r} "
                "(give -O owner_id=<your user id>)",
                key="discord-owner-placeholder",
            )
            self.ctx.note("discord.owner_placeholder_messages", self.placeholder)
        if self.mangled:
            self.ctx.warn(
                f"{self.mangled} message id(s) were destroyed by a spreadsheet (like "
                "7.73264E+18) and cannot be recovered; they were replaced by synthetic ids "
                "derived from the channel, the time and the row (flagged discord:synthetic_id)",
                key="discord-mangled-ids",
            )
            self.ctx.note(MANGLED_NOTE, self.mangled)

    # -- layout ------------------------------------------------------------------------------------

    def _find(self, pattern: re.Pattern[str]) -> str | None:
        members: list[str] = self.source.members()
        return next((m for m in members if pattern.search(m)), None)

    def _load(self, member: str | None) -> Any:
        if member is None:
            return None
        with self.source.open(member) as fh:
            return jsonio.load(fh, self.source.location(member))

    def _owner(self) -> dict[str, Any] | None:
        """The owner as a DCE-style user object, from ``account/user.json``."""
        self.relationships: dict[str, dict[str, Any]] = {}
        member = self._find(_USER) if self.source.is_container else None
        if member is None:
            return None
        loc = self.source.location(member)
        data: dict[str, Any] = {}
        with self.source.open(member) as fh:
            for key, value in jsonio.iter_kvitems(fh, "", loc):
                if key in ("id", "username", "discriminator", "global_name", "avatar_hash"):
                    data[key] = value
                elif key == "relationships" and isinstance(value, list):
                    for rel in value:
                        user = rel.get("user") if isinstance(rel, dict) else None
                        if isinstance(user, dict) and user.get("id") is not None:
                            self.relationships[str(user["id"])] = _package_user(user)
        if data.get("id") is None:
            raise ReadError("id: missing (the owner's user id)", loc)
        return _package_user(data)

    def _owner_id(self) -> str:
        if self.options.owner_id:
            return str(self.options.owner_id)
        if self.owner is not None:
            return str(self.owner["id"])
        return OWNER_PLACEHOLDER

    def _package(self) -> Iterator[AnyRecord]:
        channels: dict[str, _Channel] = {}
        for member in self.source.members():
            m = _MESSAGES.search(member)
            if m:
                ch = channels.setdefault(m.group(2), _Channel(m.group(2)))
                if ch.messages_member is None or m.group(3).lower() == "json":
                    if ch.messages_member is not None:
                        self.ctx.warn(
                            f"{member}: both messages.json and messages.csv; reading messages.json",
                            key=f"discord-both:{m.group(2)}",
                        )
                    ch.messages_member = member
                continue
            m = _CHANNEL.search(member)
            if m:
                channels.setdefault(m.group(2), _Channel(m.group(2))).channel_member = member
        index = self._load(self._find(_INDEX)) or {}
        servers = self._load(self._find(_SERVERS)) or {}
        if not isinstance(index, dict):
            index = {}
        if not isinstance(servers, dict):
            servers = {}
        for cid in sorted(channels, key=id_key):
            yield from self._channel(channels[cid], index, servers)

    def _single_file(self) -> Iterator[AnyRecord]:
        path = self.source.path
        folder = path.parent.name if path is not None else ""
        m = re.fullmatch(r"c?(\d+)", folder)
        cid = m.group(1) if m else (folder or "unknown")
        if not m:
            self.ctx.warn(
                f"{self.source.label}: the channel id is the name of the folder 'c<id>' a "
                f"package keeps this file in; using {cid!r}",
                key="discord-single-file-cid",
            )
        ch = _Channel(cid)
        ch.messages_member = path.name if path is not None else None
        yield from self._channel(ch, {}, {})

    # -- one channel -------------------------------------------------------------------------------

    def _channel(
        self, ch: _Channel, index: dict[str, Any], servers: dict[str, Any]
    ) -> Iterator[AnyRecord]:
        info = self._load(ch.channel_member) if ch.channel_member else {}
        if not isinstance(info, dict):
            raise ReadError("expected a JSON object", self.source.location(ch.channel_member))
        cid = str(info.get("id") or ch.cid)
        raw_kind = info.get("type")
        kind = None if raw_kind is None else CHANNEL_KINDS.get(str(raw_kind), str(raw_kind))
        label = index.get(cid)
        label = label if isinstance(label, str) and label not in ("None", "") else None
        dm_label = _LABEL_DM.match(label) if label else None
        if kind is None and dm_label is not None:
            kind = "DirectTextChat"  # no channel.json, but index.json says it is a DM

        guild = info.get("guild") if isinstance(info.get("guild"), dict) else None
        guild_obj: dict[str, Any] | None = None
        if guild is not None:
            gid = guild.get("id")
            gname = guild.get("name") or servers.get(str(gid))
            guild_obj = {"id": None if gid is None else str(gid), "name": gname, "iconUrl": None}
        owner_id = self._owner_id()
        people = self._recipients(info, kind, dm_label, owner_id)
        name = info.get("name")
        if name is None and kind in _DIRECT:
            # DCE names a DM after the other people in it.
            names = [p["nickname"] for p in people[1:] if p.get("nickname")]
            if names:
                name = ", ".join(names)
            elif dm_label is not None and dm_label.group(1) != _UNKNOWN_PARTNER:
                name = dm_label.group(1)
        if name is None and label is not None and dm_label is None:
            name = label
            for gid, gname in servers.items():
                if isinstance(gname, str) and label.endswith(f" in {gname}"):
                    name = label[: -len(f" in {gname}")]
                    if guild_obj is None:
                        guild_obj = {"id": str(gid), "name": gname, "iconUrl": None}
                    break

        header: dict[str, Any] = {
            "channel": {
                "id": cid,
                "type": kind or "GuildTextChat",
                "categoryId": None,
                "category": None,
                "name": name,
            }
        }
        if guild_obj is not None:
            header["guild"] = guild_obj
        ext = _dce.conversation_extensions(header)
        rest = {k: v for k, v in info.items() if k not in ("id", "name", "type", "guild")}
        if rest:
            ext["discord:package_channel"] = rest
        if label is not None:
            ext["discord:index_label"] = label
        precedence = self.precedence
        yield Conversation(
            id=cid,
            type="group",
            name=None if name is None else str(name),
            participants=tuple(_common.author_to_participant(p, precedence) for p in people),
            provenance=Provenance(format="discord", source_id=cid),
            extensions=ext,
        )
        if ch.messages_member is None:
            return
        owner = people[0]
        sender_name = _common.resolve_name(owner, precedence)
        self.names = {str(p["id"]): _common.resolve_name(p, precedence) for p in people}
        for uid, user in self.relationships.items():
            self.names.setdefault(uid, _common.resolve_name(user, precedence))
        items = self._messages(ch.messages_member, cid, owner_id, sender_name)
        sorter = ConversationSorter()
        member = ch.messages_member
        by_time: Iterator[_order.Item] = (
            (msg, member, -1, None)  # type: ignore[misc]
            for msg in sorter(items)
        )
        yield from self.finish(_tie_ordered(by_time), cid)

    def _recipients(
        self, info: dict[str, Any], kind: str | None, dm_label: Any, owner_id: str
    ) -> list[dict[str, Any]]:
        """The owner first, then the other recipients, as DCE-style user objects."""
        owner = dict(self.owner) if self.owner is not None else {"id": owner_id}
        owner["id"] = owner_id
        people = [owner]
        recipients = info.get("recipients")
        others = [
            str(r)
            for r in (recipients if isinstance(recipients, list) else [])
            if str(r) != owner_id
        ]
        dm_name = dm_label if kind == "DirectTextChat" else None
        if dm_name is not None and dm_name.group(1) == _UNKNOWN_PARTNER:
            dm_name = None  # Discord's placeholder, not a name
        for rid in others:
            user = self.relationships.get(rid)
            if user is None and dm_name is not None and len(others) == 1:
                disc = dm_name.group(2)
                user = {
                    "id": rid,
                    "name": dm_name.group(1),
                    "discriminator": _discriminator(disc) if disc else "0000",
                    "nickname": dm_name.group(1),
                }
            people.append(dict(user, id=rid) if user is not None else {"id": rid})
        return people

    def _messages(
        self, member: str, cid: str, owner_id: str, sender_name: str | None
    ) -> Iterator[Message]:
        loc = self.source.location(member)
        is_csv = member.lower().endswith(".csv")
        with self.source.open(member) as fh:
            records: Iterator[tuple[str, Any]]
            if is_csv:
                records = _csv_records(fh, loc)
            else:
                records = ((f"[{i}]", r) for i, r in enumerate(jsonio.iter_items(fh, "item", loc)))
            for row, (where, rec) in enumerate(records):
                try:
                    msg = self._message(rec, row, cid, owner_id, sender_name)
                except FieldError as exc:
                    path = f"{where}.{exc.field}" if exc.field else where
                    self.ctx.reject(rec, exc.message, self.source.location(member, path))
                    continue
                if owner_id == OWNER_PLACEHOLDER:
                    self.placeholder += 1
                yield msg

    def _message(
        self, rec: Any, row: int, cid: str, owner_id: str, sender_name: str | None
    ) -> Message:
        if not isinstance(rec, dict):
            raise FieldError("", f"expected a message object, got {type(rec).__name__}")
        ts_raw = rec.get("Timestamp")
        if not isinstance(ts_raw, str) or not ts_raw:
            raise FieldError("Timestamp", "missing")
        try:
            timestamp = parse_iso(ts_raw, naive_tz="UTC")
        except TimestampError as exc:
            raise FieldError("Timestamp", str(exc)) from None
        ext: dict[str, Any] = {}
        raw_id = rec.get("ID")
        if isinstance(raw_id, bool) or raw_id is None or raw_id == "":
            raise FieldError("ID", "missing")
        if isinstance(raw_id, int) or (isinstance(raw_id, str) and _SNOWFLAKE.fullmatch(raw_id)):
            mid = str(raw_id)
        elif isinstance(raw_id, float) or (
            isinstance(raw_id, str) and _MANGLED.fullmatch(raw_id.strip())
        ):
            # A spreadsheet turned the snowflake into a float (7.73264E+18): the digits are
            # gone, so make a stable id from what identifies the row instead.
            self.mangled += 1
            mid = f"gdpr:{cid}:{to_epoch_ms(timestamp)}:{row}"
            ext["discord:synthetic_id"] = True
            ext["discord:original_id"] = str(raw_id) if isinstance(raw_id, str) else raw_id
        else:
            raise FieldError("ID", f"not a message id: {raw_id!r}")
        contents = rec.get("Contents")
        if contents is None:
            contents = ""
        elif not isinstance(contents, str):
            raise FieldError("Contents", f"not a string: {contents!r}")
        files = rec.get("Attachments")
        attachments: tuple[Attachment, ...] = ()
        if files:
            if not isinstance(files, str):
                raise FieldError("Attachments", f"not a string: {files!r}")
            attachments = tuple(_attachment(url) for url in files.split())
        extra = {
            k: v for k, v in rec.items() if k not in ("ID", "Timestamp", "Contents", "Attachments")
        }
        if extra:
            ext["discord:extra"] = extra
        return Message(
            id=mid,
            conversation_id=cid,
            sender_id=owner_id,
            sender_name=sender_name,
            timestamp=timestamp,
            timestamp_raw=ts_raw,
            text=contents,
            attachments=attachments,
            mentions=_mentions(contents, self.names) if "<" in contents or "@" in contents else (),
            extensions=ext,
        )


def _tie_ordered(items: Iterator[_order.Item]) -> Iterator[_order.Item]:
    """Within one instant (packages have whole seconds), snowflake order, and synthetic ids in
    reverse row order, because packages list messages newest first."""
    for group in _order.groups_by_instant(items):
        if len(group) > 1:
            group.sort(key=lambda item: _tie_key(item[0].id))
        yield from group


def _tie_key(mid: str) -> tuple[int, int]:
    if mid.isdigit():
        return (0, int(mid))
    tail = mid.rsplit(":", 1)[-1]
    return (1, -int(tail)) if tail.isdigit() else (2, 0)


def _csv_records(fh: IO[bytes], loc: Location) -> Iterator[tuple[str, dict[str, str]]]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        lowered = {n.lower(): n for n in names}
        if "id" not in lowered or "timestamp" not in lowered:
            raise ReadError(
                f"not a Discord messages.csv: the header is {','.join(names)!r} "
                "(expected ID,Timestamp,Contents,Attachments)",
                loc,
            )
        canonical = {"id": "ID", "timestamp": "Timestamp", "contents": "Contents"}
        canonical["attachments"] = "Attachments"
        keys = [canonical.get(n.lower(), n) for n in names]
        for i, row in enumerate(reader):
            if not row or row == [""]:
                continue
            yield f"rows[{i}]", dict(zip(keys, row, strict=False))
    except UnicodeDecodeError as exc:
        raise ReadError(f"invalid CSV: not valid UTF-8 at byte {exc.start}", loc) from None
    except csv.Error as exc:
        raise ReadError(f"invalid CSV: {exc}", loc) from None
    finally:
        # Leave the binary stream to its owner (the caller's ``with``), closed or not.
        with contextlib.suppress(ValueError):
            text.detach()


def _attachment(url: str) -> Attachment:
    parts = urlsplit(url).path.split("/")
    name = unquote(parts[-1]) if parts and parts[-1] else None
    aid = parts[-2] if len(parts) >= 3 and parts[-2].isdigit() else None
    return Attachment(id=aid, name=name, url=url)


def _mentions(text: str, names: dict[str, str | None]) -> tuple[Mention, ...]:
    """Structured mentions from raw Discord markup; user names when the package knows them."""
    out: dict[tuple[str, str], Mention] = {}
    for m in _MENTION.finditer(text):
        user, role, channel, broadcast = m.groups()
        if user:
            mention = Mention(id=user, name=names.get(user), type="user")
        elif role:
            mention = Mention(id=role, type="group")
        elif channel:
            mention = Mention(id=channel, type="channel")
        else:
            mention = Mention(id=broadcast, name=f"@{broadcast}", type="broadcast")
        out.setdefault((mention.type, mention.id), mention)
    return tuple(out.values())


def _discriminator(value: Any) -> str:
    text = str(value)
    return "0000" if text in ("0", "") else text.zfill(4)


def _package_user(data: dict[str, Any]) -> dict[str, Any]:
    """A package user (``user.json`` or a relationship's ``user``) as a DCE-style user object."""
    uid = str(data["id"])
    username = data.get("username")
    avatar = data.get("avatar_hash") or data.get("avatar")
    url = None
    if isinstance(avatar, str) and avatar:
        ext = "gif" if avatar.startswith("a_") else "png"
        url = f"https://cdn.discordapp.com/avatars/{uid}/{avatar}.{ext}"
    return {
        "id": uid,
        "name": username,
        "discriminator": _discriminator(data.get("discriminator", "0")),
        "nickname": data.get("global_name") or username,
        "color": None,
        "isBot": bool(data.get("bot", False)),
        "avatarUrl": url,
    }
