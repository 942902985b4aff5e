"""Reading EverOS v1 memory documents (group and personal ``add`` request bodies)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from memshift import Context, jsonio, timeutil
from memshift.errors import Location, ReadError
from memshift.jsondoc import Reopener, scan_header
from memshift.model import AnyRecord, Conversation, Message, Participant
from memshift.sources import Source

from ._common import (
    content_items_text,
    generated_message_id,
    parse_timestamp,
    plain_text_items,
)

NS = "everos:"
#: Top-level members each kind of document spells itself; the others travel in "everos:fields".
GROUP_OWN = frozenset({"group_id", "group_meta", "messages"})
PERSONAL_OWN = frozenset({"user_id", "session_id", "group_id", "messages"})
_META_KEYS = frozenset({"name", "description"})
MSG_KEYS = frozenset({"message_id", "role", "sender_id", "sender_name", "timestamp", "content"})
_ROLES = frozenset({"user", "assistant", "tool"})
_PART = re.compile(r"^(?P<base>.*)\.(?P<part>\d{4,})(?P<ext>\.json)$")


def member_order(name: str) -> tuple[str, int]:
    """``x.json`` before ``x.0002.json``: parts written by ``max_messages`` read in order."""
    m = _PART.match(name)
    if m is None:
        return (name, 1)
    return (m["base"] + m["ext"], int(m["part"]))


def document_members(source: Source) -> list[str]:
    names = [m for m in source.members() if m.lower().endswith(".json")]
    return sorted(names, key=member_order)


@dataclass
class _State:
    """Carries a conversation across consecutive documents (the parts of a split)."""

    key: tuple[str, str] | None = None
    seen: dict[str, int] = field(default_factory=dict)


class _Doc:
    """One document's conversation-level facts, checked once."""

    def __init__(self, header: dict[str, Any], loc: Location) -> None:
        group_id = header.get("group_id")
        user_id = header.get("user_id")
        session_id = header.get("session_id")
        meta = header.get("group_meta")
        if group_id is not None and not (isinstance(group_id, str) and group_id):
            raise ReadError("group_id: expected a non-empty string", loc)
        if user_id is not None and not (isinstance(user_id, str) and user_id):
            raise ReadError("user_id: expected a non-empty string", loc)
        if session_id is not None and not isinstance(session_id, str):
            raise ReadError("session_id: expected a string", loc)
        if meta is not None and not isinstance(meta, dict):
            raise ReadError("group_meta: expected an object", loc)
        if group_id is None and user_id is None:
            raise ReadError("neither group_id nor user_id: not an EverOS memories document", loc)
        self.group = group_id is not None
        self.user_id: str | None = user_id
        self.context_id: str = group_id if group_id is not None else user_id  # type: ignore[assignment]
        ext: dict[str, Any] = {}
        own = GROUP_OWN if self.group else PERSONAL_OWN
        fields = {k: v for k, v in header.items() if k not in own}
        if fields:
            ext[NS + "fields"] = fields
        if self.group:
            name, description, rest = split_meta(meta or {})
            if rest:
                ext[NS + "group_meta"] = rest
            self.conversation = Conversation(
                id=group_id,
                type="group",
                name=name,
                description=description,
                extensions=ext,
            )
        else:
            self.conversation = Conversation(
                id=session_id or user_id,
                type="personal",
                participants=(Participant(id=user_id, role="user"),),
                extensions=ext,
            )


def split_meta(meta: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """``group_meta`` as (name, description, everything else)."""
    name = meta.get("name")
    description = meta.get("description")
    rest = {k: v for k, v in meta.items() if k not in _META_KEYS or not isinstance(v, str)}
    return (
        name if isinstance(name, str) else None,
        description if isinstance(description, str) else None,
        rest,
    )


def read(source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
    state = _State()
    if source.kind == "objects":
        docs = source.objects if isinstance(source.objects, list) else [source.objects]
        for i, doc in enumerate(docs):
            loc = source.location(path=f"[{i}]")
            if not isinstance(doc, dict):
                raise ReadError(
                    f"expected an EverOS document (an object), got {type(doc).__name__}", loc
                )
            messages = doc.get("messages")
            if not isinstance(messages, list):
                raise ReadError("messages: expected an array", loc.child(f"[{i}].messages"))
            header = {k: v for k, v in doc.items() if k != "messages"}
            yield from _convert(
                header, iter(messages), state, options, ctx, source, None, f"[{i}]."
            )
        return
    members: list[str | None] = list(document_members(source)) if source.is_container else [None]
    for member in members:
        opener = Reopener(source, member)
        try:
            yield from _read_document(opener, source, member, state, options, ctx)
        finally:
            opener.close()


def _read_document(
    opener: Reopener,
    source: Source,
    member: str | None,
    state: _State,
    options: Any,
    ctx: Context,
) -> Iterator[AnyRecord]:
    loc = source.location(member)
    with opener.open() as fh:
        header = scan_header(fh, "messages", loc, stop_at_array=True)
    members = header.members
    if not header.complete and not ("group_id" in members and "group_meta" in members):
        # Members may follow the array (personal documents end with user_id): scan it all once
        # more, skipping the array event by event. A group document whose group_id and
        # group_meta come first needs nothing after it.
        with opener.open() as fh:
            header = scan_header(fh, "messages", loc, stop_at_array=False)
    if header.array == "absent":
        raise ReadError("missing messages: not an EverOS memories document", loc)
    if header.array == "other":
        raise ReadError("messages: expected an array", source.location(member, "messages"))
    with opener.open() as fh:
        items = jsonio.iter_items(fh, "messages.item", loc)
        yield from _convert(header.members, items, state, options, ctx, source, member, "")


def _convert(
    header: dict[str, Any],
    items: Iterator[Any],
    state: _State,
    options: Any,
    ctx: Context,
    source: Source,
    member: str | None,
    path: str,
) -> Iterator[AnyRecord]:
    doc_loc = source.location(member, path.rstrip(".") or None)
    doc = _Doc(header, doc_loc)
    conv = doc.conversation
    key = (conv.type, conv.id)
    if key != state.key:
        state.key = key
        state.seen = {}
        yield conv
    for i, raw in enumerate(items):
        where = f"{path}messages[{i}]"
        try:
            msg = _message(
                raw, doc, conv.id, state.seen, where, options.duplicate_ids, ctx, doc_loc
            )
        except (ReadError, ValueError) as exc:
            field_path = exc.location.path if isinstance(exc, ReadError) else None
            reason: str | BaseException = exc.message if isinstance(exc, ReadError) else exc
            ctx.reject(raw, reason, source.location(member, field_path or where))
            continue
        state.seen[msg.id] = i
        yield msg


def _fail(where: str, field_name: str, message: str) -> ReadError:
    return ReadError(message, Location(path=f"{where}.{field_name}"))


def _message(
    raw: Any,
    doc: _Doc,
    conv_id: str,
    seen: dict[str, int],
    where: str,
    policy: str,
    ctx: Context,
    loc: Location,
) -> Message:
    if not isinstance(raw, dict):
        raise ReadError(
            f"expected a message object, got {type(raw).__name__}", Location(path=where)
        )
    role = raw.get("role")
    if role not in _ROLES:
        raise _fail(where, "role", f"role must be 'user' or 'assistant', got {role!r}")
    ts_raw = raw.get("timestamp")
    try:
        ts = parse_timestamp(ts_raw)
    except timeutil.TimestampError as exc:
        raise _fail(where, "timestamp", str(exc)) from None
    content = raw.get("content")
    ext: dict[str, Any] = {}
    if isinstance(content, str) and content:
        text = content
    elif isinstance(content, list) and content:
        joined = content_items_text(content)
        if joined is None:
            raise _fail(where, "content", "content items need a type, and text items a text")
        text = joined
        if not plain_text_items(content):
            ext[NS + "content"] = content
    elif content in (None, "", []) and raw.get("tool_calls"):
        text = ""  # agent documents: an assistant turn that only calls tools
    else:
        raise _fail(where, "content", "content must be a non-empty string or array")
    message_id = raw.get("message_id")
    if message_id is None or message_id == "":
        stamp = int(ts_raw) if isinstance(ts_raw, float) and ts_raw.is_integer() else ts_raw
        message_id = generated_message_id(doc.context_id, stamp)
    elif not isinstance(message_id, str):
        raise _fail(where, "message_id", f"expected a string, got {message_id!r}")
    if message_id in seen:
        if policy == "reject":
            raise _fail(
                where,
                "message_id",
                f"duplicate message_id {message_id!r} (first at messages[{seen[message_id]}]; "
                "-O duplicate_ids=rename keeps it under a new id)",
            )
        n = 2
        while f"{message_id}~{n}" in seen:
            n += 1
        renamed = f"{message_id}~{n}"
        ctx.warn(
            f"{loc}: {where}.message_id {message_id!r} repeats messages[{seen[message_id]}]; "
            f"read as {renamed!r} (later repeats likewise; -O duplicate_ids=reject refuses them)",
            key=f"everos-duplicate-{loc}",
        )
        message_id = renamed
    sender_id = raw.get("sender_id")
    if sender_id is not None and not isinstance(sender_id, str):
        raise _fail(where, "sender_id", f"expected a string, got {sender_id!r}")
    if doc.group and not sender_id:
        raise _fail(where, "sender_id", "group messages need a sender_id")
    if not doc.group and role == "user" and not sender_id:
        sender_id = doc.user_id
    sender_name = raw.get("sender_name")
    if sender_name is not None and not isinstance(sender_name, str):
        raise _fail(where, "sender_name", f"expected a string, got {sender_name!r}")
    if not raw.keys() <= MSG_KEYS:
        ext[NS + "fields"] = {k: v for k, v in raw.items() if k not in MSG_KEYS}
    # Only values that differ from the model's defaults: each one given costs a validation.
    kw: dict[str, Any] = {
        "id": message_id,
        "conversation_id": conv_id,
        "role": role,
        "timestamp": ts,
        "timestamp_raw": ts_raw,
        "text": text,
    }
    if sender_id:
        kw["sender_id"] = sender_id
    if sender_name is not None:
        kw["sender_name"] = sender_name
    if ext:
        kw["extensions"] = ext
    return Message(**kw)
