"""Reading ConversationFormat files, both generations (``session_meta`` and the legacy
``conversation_meta``), with ``conversation_list`` streamed whatever the key order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from memshift import Context, jsonio, timeutil
from memshift.errors import Location, ReadError
from memshift.jsondoc import MISSING, Reopener, find_member, scan_header
from memshift.model import AnyRecord, Attachment, Conversation, Message, Participant
from memshift.sources import Source

from ._common import (
    DETAIL_KEYS,
    MEDIA,
    MESSAGE_KEYS,
    META_KEY,
    META_KEYS,
    NS,
    PARTICIPANT_EXTRA_KEYS,
    ROLES,
    SCENE_TYPE,
    TYPES,
    id_role,
    media_content,
    media_type,
    parse_message_extra,
)

LIST_KEY = "conversation_list"
TOP_KEYS = frozenset({"version", LIST_KEY, *META_KEY.values()})


def document_members(source: Source) -> list[str]:
    return [m for m in source.members() if m.lower().endswith(".json")]


class Meta:
    """The conversation-level part of one file, checked once."""

    def __init__(
        self,
        meta: Any,
        generation: Literal["current", "legacy"],
        fallback_id: str,
        assume_timezone: str | None,
        loc: Location,
        ctx: Context,
    ) -> None:
        key = META_KEY[generation]
        if not isinstance(meta, dict):
            raise ReadError(f"{key}: expected an object", loc)
        details = meta.get("user_details", {})
        if not isinstance(details, dict):
            raise ReadError(f"{key}.user_details: expected an object keyed by user id", loc)
        if "user_details" not in meta:
            ctx.warn(f"{loc}: {key} has no user_details; senders are not described")
        zone_key = "default_timezone" if "default_timezone" in meta else "timezone"
        tz = meta.get(zone_key)
        if tz is not None:
            if not isinstance(tz, str):
                raise ReadError(f"{key}.{zone_key}: expected an IANA zone name", loc)
            try:
                timeutil.zone(tz)
            except timeutil.TimestampError as exc:
                raise ReadError(f"{key}.{zone_key}: {exc}", loc) from None
        self.tz: str | None = tz
        self.naive_tz = tz or assume_timezone
        self.key = key
        self.roles: dict[str, str] = {}
        participants = [self._participant(uid, d, ctx, loc) for uid, d in details.items()]
        self.user_ids = frozenset(details)
        fields = {k: v for k, v in meta.items() if k not in META_KEYS}
        ext: dict[str, Any] = {}
        scene = meta.get("scene")
        conv_type = SCENE_TYPE.get(scene) if isinstance(scene, str) else None
        if conv_type is None:
            if scene is not None:
                ext[NS + "scene"] = scene
            # No scene: one human with assistants is a solo chat (roles as EverCore guesses them).
            roles = [p.role or id_role(p.id) for p in participants]
            humans, bots = roles.count("user"), roles.count("assistant")
            conv_type = "personal" if humans == 1 and bots >= 1 else "group"
        scene_desc = meta.get("scene_desc")
        if scene_desc is not None and scene_desc != {}:
            ext[NS + "scene_desc"] = scene_desc
        tags = meta.get("tags")
        if tags is not None and tags != []:
            ext[NS + "tags"] = tags
        created_at: datetime | None = None
        raw_created = meta.get("created_at")
        if raw_created is not None:
            try:
                created_at = timeutil.parse_iso(raw_created, naive_tz=self.naive_tz)
            except timeutil.TimestampError as exc:
                ctx.warn(f"{loc}: {key}.created_at: {exc}; kept as it is")
                fields["created_at"] = raw_created
        name = meta.get("name")
        description = meta.get("description")
        group_id = meta.get("group_id")
        for label, value in (("name", name), ("description", description), ("group_id", group_id)):
            if value is not None and not isinstance(value, str):
                ctx.warn(f"{loc}: {key}.{label}: expected a string, got {value!r}; ignored")
        if fields:
            ext[NS + "fields"] = fields
        self.conversation = Conversation(
            id=group_id if isinstance(group_id, str) and group_id else fallback_id,
            type=conv_type,
            name=name if isinstance(name, str) and name else None,
            description=description if isinstance(description, str) else None,
            timezone=tz,
            created_at=created_at,
            participants=tuple(participants),
            extensions=ext,
        )

    def _participant(self, uid: str, detail: Any, ctx: Context, loc: Location) -> Participant:
        if not isinstance(detail, dict):
            ctx.warn(f"{loc}: {self.key}.user_details.{uid}: not an object; only the id is kept")
            return Participant(id=uid)
        extra = detail.get("extra")
        known: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        if isinstance(extra, dict):
            for k, v in extra.items():
                ok = (
                    (k in ("real_name", "display_name", "nick", "timezone") and isinstance(v, str))
                    or (k in ("is_bot", "is_deleted") and v is True)
                    or (k == "role" and v in ("system", "tool"))
                )
                (known if ok and k in PARTICIPANT_EXTRA_KEYS else rest)[k] = v
        fields = {k: v for k, v in detail.items() if k not in DETAIL_KEYS}
        if extra is not None and not isinstance(extra, dict):
            fields["extra"] = extra
        for key in ("full_name", "custom_role", "email"):
            value = detail.get(key)
            if value is not None and not isinstance(value, str):
                ctx.warn(f"{loc}: {self.key}.user_details.{uid}.{key}: not a string; ignored")
        role = known.get("role") or detail.get("role")
        if role is not None and role not in ROLES:
            ctx.warn(f"{loc}: {self.key}.user_details.{uid}.role: {role!r} is not a role; ignored")
            role = None
        if role is not None:
            self.roles[uid] = role
        ext: dict[str, Any] = {}
        if fields:
            ext[NS + "fields"] = fields
        if rest:
            ext[NS + "extra"] = rest

        def text(key: str) -> str | None:
            value = detail.get(key)
            return value if isinstance(value, str) else None

        return Participant(
            id=uid,
            name=text("full_name"),
            real_name=known.get("real_name"),
            display_name=known.get("display_name"),
            nick=known.get("nick"),
            is_bot=known.get("is_bot", False),
            is_deleted=known.get("is_deleted", False),
            role=role,
            job_title=text("custom_role"),
            email=text("email"),
            timezone=known.get("timezone"),
            extensions=ext,
        )


def _stem(name: str) -> str:
    if name.startswith("<"):
        return "conversation"
    stem = PurePosixPath(name.replace("\\", "/")).name
    return stem[:-5] if stem.lower().endswith(".json") else stem or "conversation"


def read(source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
    if source.kind == "objects":
        docs = source.objects if isinstance(source.objects, list) else [source.objects]
        for i, doc in enumerate(docs):
            loc = source.location(path=f"[{i}]")
            if not isinstance(doc, dict):
                raise ReadError(
                    f"expected a ConversationFormat object, got {type(doc).__name__}", loc
                )
            header = {k: v for k, v in doc.items() if k != LIST_KEY}
            items = doc.get(LIST_KEY, MISSING)
            if items is MISSING:
                raise ReadError(f"missing {LIST_KEY}", loc)
            if not isinstance(items, list):
                raise ReadError(f"{LIST_KEY}: expected an array", loc)
            yield from _convert(
                header, iter(items), f"conversation-{i + 1}", options, ctx, source, None, f"[{i}]."
            )
        return
    if source.is_container:
        for member in document_members(source):
            yield from _read_document(source, member, _stem(member), options, ctx)
    else:
        yield from _read_document(source, None, _stem(source.label), options, ctx)


def _read_document(
    source: Source, member: str | None, fallback_id: str, options: Any, ctx: Context
) -> Iterator[AnyRecord]:
    loc = source.location(member)
    opener = Reopener(source, member)
    try:
        with opener.open() as fh:
            header = scan_header(fh, LIST_KEY, loc, stop_at_array=True)
        members = header.members
        if not header.complete and not any(k in members for k in META_KEY.values()):
            # session_meta after conversation_list (this adapter writes it there): ijson's C
            # prefix search finds it without building the list.
            for key in META_KEY.values():
                value = find_member(opener, key, loc)
                if value is not MISSING:
                    members[key] = value
                    break
        if header.array == "other":
            raise ReadError(f"{LIST_KEY}: expected an array", source.location(member, LIST_KEY))
        if header.array == "absent":
            raise ReadError(f"missing {LIST_KEY}: not a ConversationFormat file", loc)
        with opener.open() as fh:
            items = jsonio.iter_items(fh, f"{LIST_KEY}.item", loc)
            yield from _convert(members, items, fallback_id, options, ctx, source, member, "")
    finally:
        opener.close()


def _convert(
    header: dict[str, Any],
    items: Iterator[Any],
    fallback_id: str,
    options: Any,
    ctx: Context,
    source: Source,
    member: str | None,
    path: str,
) -> Iterator[AnyRecord]:
    loc = source.location(member, path.rstrip(".") or None)
    if META_KEY["current"] in header:
        generation: Literal["current", "legacy"] = "current"
        if META_KEY["legacy"] in header:
            ctx.warn(f"{loc}: both session_meta and conversation_meta; reading session_meta")
    elif META_KEY["legacy"] in header:
        generation = "legacy"
    else:
        raise ReadError(
            "missing session_meta (or the legacy conversation_meta): not a ConversationFormat file",
            loc,
        )
    unknown = sorted(k for k in header if k not in TOP_KEYS)
    if unknown:
        ctx.warn(f"{loc}: top-level keys {', '.join(unknown)} are not part of the format; ignored")
    meta = Meta(
        header[META_KEY[generation]], generation, fallback_id, options.assume_timezone, loc, ctx
    )
    conv = meta.conversation
    yield conv
    seen: dict[str, int] = {}  # id -> index: the one structure that grows with the file
    for i, raw in enumerate(items):
        where = f"{path}{LIST_KEY}[{i}]"
        try:
            msg = _message(raw, meta, conv.id, seen, where, ctx, loc, options.duplicate_ids)
        except ReadError as exc:
            ctx.reject(raw, exc.message, source.location(member, exc.location.path or where))
            continue
        except ValueError as exc:
            ctx.reject(raw, exc, source.location(member, where))
            continue
        seen[msg.id] = i
        yield msg


def _fail(where: str, key: str, message: str) -> ReadError:
    return ReadError(message, Location(path=f"{where}.{key}"))


def _message(
    raw: Any,
    meta: Meta,
    conv_id: str,
    seen: dict[str, int],
    where: str,
    ctx: Context,
    loc: Location,
    policy: str,
) -> Message:
    if not isinstance(raw, dict):
        raise ReadError(
            f"expected a message object, got {type(raw).__name__}", Location(path=where)
        )
    mid = raw.get("message_id")
    if isinstance(mid, int) and not isinstance(mid, bool):
        mid = str(mid)
    if not isinstance(mid, str) or not mid:
        raise _fail(
            where,
            "message_id",
            "missing message_id" if mid is None else f"expected a non-empty string, got {mid!r}",
        )
    if mid in seen:
        mid = _renamed(mid, seen, where, policy, ctx, loc)
    ct = raw.get("create_time")
    if ct is None:
        raise _fail(where, "create_time", "missing create_time")
    try:
        ts = timeutil.parse_iso(ct, naive_tz=meta.naive_tz)
    except timeutil.TimestampError as exc:
        message = str(exc)
        if "no timezone" in message:
            message = (
                f"create_time {ct!r} has no UTC offset and {meta.key} declares no "
                "default_timezone (-O assume_timezone=UTC reads it as UTC)"
            )
        raise _fail(where, "create_time", message) from None
    sender = raw.get("sender")
    if not isinstance(sender, str) or not sender:
        raise _fail(
            where,
            "sender",
            "missing sender" if sender is None else f"expected a user id string, got {sender!r}",
        )
    if sender not in meta.user_ids:
        ctx.warn(
            f"{loc}: {where}.sender {sender!r} is not in {meta.key}.user_details",
            key=f"cf-unknown-sender-{loc}-{sender}",
        )
    sender_name = raw.get("sender_name")
    if sender_name is not None and not isinstance(sender_name, str):
        raise _fail(where, "sender_name", f"expected a string, got {sender_name!r}")
    mtype = raw.get("type", "text")
    if not isinstance(mtype, str):
        raise _fail(where, "type", f"expected a string, got {mtype!r}")
    content = raw.get("content")
    if content is None:
        raise _fail(where, "content", "missing content")
    if not isinstance(content, str):
        raise _fail(where, "content", f"expected a string, got {type(content).__name__}")
    reply_to, refs_plain = _references(raw.get("refer_list"), where)
    extra_raw = raw.get("extra")
    fields = (
        {}
        if raw.keys() <= MESSAGE_KEYS
        else {k: v for k, v in raw.items() if k not in MESSAGE_KEYS}
    )
    parsed: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    if isinstance(extra_raw, dict):
        parsed, rest = parse_message_extra(extra_raw)
    elif extra_raw is not None:
        fields["extra"] = extra_raw
    role = parsed.get("role") or raw.get("role")
    if role is not None and role not in ROLES:
        raise _fail(where, "role", f"role must be 'user' or 'assistant', got {role!r}")
    if role is None:
        role = meta.roles.get(sender)
        role = role if role in ("user", "assistant") else id_role(sender)
    attachments = parsed.get("attachments", ())
    text = content
    if mtype in MEDIA:
        if attachments and content == media_content(attachments[0]):
            text = ""
        elif not attachments and content:
            text = ""
            attachments = (
                Attachment(url=content) if "://" in content else Attachment(name=content),
            )
    kind = "event" if mtype == "system" else parsed.get("message_type", "message")
    ext: dict[str, Any] = {}
    if rest:
        ext[NS + "extra"] = rest
    if fields:
        ext[NS + "fields"] = fields
    if not refs_plain:
        ext[NS + "refer_list"] = raw.get("refer_list")
    if mtype not in TYPES:
        ctx.warn(f"{loc}: message type {mtype!r} is not a ConversationFormat type; kept as it is")
    if kind == "event":
        derived = "system"
    elif not text and attachments:
        derived = media_type(attachments[0])
    else:
        derived = "text"
    if mtype != derived:
        ext[NS + "type"] = mtype
    # Only values that differ from the model's defaults: each one given costs a validation.
    kw: dict[str, Any] = {
        "id": mid,
        "conversation_id": conv_id,
        "role": role,
        "sender_id": sender,
        "timestamp": ts,
        "timestamp_raw": ct,
        "text": text,
    }
    if kind != "message":
        kw["type"] = kind
    if sender_name is not None:
        kw["sender_name"] = sender_name
    if reply_to is not None:
        kw["reply_to"] = reply_to
    if attachments:
        kw["attachments"] = attachments
    if parsed:
        for key in ("sender_is_bot", "markup", "thread_id", "edited_at", "reactions", "mentions"):
            if key in parsed:
                kw[key] = parsed[key]
    if ext:
        kw["extensions"] = ext
    return Message(**kw)


def _renamed(
    mid: str, seen: dict[str, int], where: str, policy: str, ctx: Context, loc: Location
) -> str:
    """A repeated message_id (EverCore's own team_chat sample repeats msg_0425): refused, or kept
    under ``<id>~2`` so no message is lost and importers that key on the id see two."""
    if policy == "reject":
        raise _fail(
            where,
            "message_id",
            f"duplicate message_id {mid!r} (first at {LIST_KEY}[{seen[mid]}]; "
            "-O duplicate_ids=rename keeps it under a new id)",
        )
    n = 2
    while f"{mid}~{n}" in seen:
        n += 1
    new = f"{mid}~{n}"
    ctx.warn(
        f"{loc}: {where}.message_id {mid!r} repeats {LIST_KEY}[{seen[mid]}]; read as {new!r} "
        "(later repeats likewise; -O duplicate_ids=reject refuses them)",
        key=f"cf-duplicate-{loc}",
    )
    return new


def _references(refs: Any, where: str) -> tuple[str | None, bool]:
    """``(reply_to, plain)``: the first referenced id, and whether the list says no more than
    ``[{"message_id": reply_to}]`` (else the list itself is kept)."""
    if refs is None or refs == []:
        return None, True
    if not isinstance(refs, list):
        raise _fail(where, "refer_list", f"expected an array, got {type(refs).__name__}")
    first: str | None = None
    for j, ref in enumerate(refs):
        if isinstance(ref, str):
            rid = ref
        elif isinstance(ref, dict) and isinstance(ref.get("message_id"), str):
            rid = ref["message_id"]
        else:
            raise _fail(
                where,
                f"refer_list[{j}]",
                "expected a message id string or an object with message_id",
            )
        if first is None:
            first = rid
    plain = len(refs) == 1 and isinstance(refs[0], dict) and len(refs[0]) == 1
    return first, plain
