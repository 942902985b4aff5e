"""ConversationFormat vocabulary and the mappings both directions (and the projection) share.

Sources: EverCore ``data_format/conversation/conversation_format.{py,md}`` (current) and
``data_format/group_chat/group_chat_format.py`` + ``run_memorize.py`` (legacy); see
``docs/formats/conversationformat.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from memshift import timeutil
from memshift.model import Attachment, Mention, Message, Participant, Reaction

NS = "conversationformat:"
VERSION = "1.0.0"
META_KEY = {"current": "session_meta", "legacy": "conversation_meta"}
#: Scene values per generation, by conversation type.
SCENE = {
    "current": {"group": "team", "personal": "solo"},
    "legacy": {"group": "group_chat", "personal": "assistant"},
}
SCENE_TYPE: dict[str, Literal["group", "personal"]] = {
    "team": "group",
    "group_chat": "group",
    "solo": "personal",
    "assistant": "personal",
}
TYPES = frozenset({"text", "image", "file", "audio", "video", "link", "system"})
MEDIA = frozenset({"image", "file", "audio", "video"})
ROLES = frozenset({"user", "assistant", "system", "tool"})
#: Message keys the format defines; anything else travels in "conversationformat:fields".
MESSAGE_KEYS = frozenset(
    {
        "message_id",
        "create_time",
        "sender",
        "sender_name",
        "role",
        "type",
        "content",
        "refer_list",
        "extra",
    }
)
META_KEYS = frozenset(
    {
        "name",
        "description",
        "scene",
        "scene_desc",
        "group_id",
        "created_at",
        "default_timezone",
        "timezone",
        "user_details",
        "tags",
    }
)
DETAIL_KEYS = frozenset({"full_name", "role", "custom_role", "email", "extra"})
#: Keys memshift keeps in a message's ``extra`` (the format's free object for "file name/size/type,
#: emoji reactions, edit history").
EXTRA_KEYS = frozenset(
    {
        "thread_id",
        "edited_at",
        "attachments",
        "reactions",
        "mentions",
        "markup",
        "role",
        "message_type",
        "sender_is_bot",
    }
)
PARTICIPANT_EXTRA_KEYS = frozenset(
    {"real_name", "display_name", "nick", "is_bot", "is_deleted", "timezone", "role"}
)
_BOT_HINTS = ("robot", "assistant", "bot")


def id_role(user_id: str) -> Literal["user", "assistant"]:
    """EverCore's own guess (``demo/extract_memory.py``): ids naming a robot, assistant or bot are
    the AI side."""
    low = user_id.lower()
    return "assistant" if any(h in low for h in _BOT_HINTS) else "user"


def api_role(role: str) -> Literal["user", "assistant"]:
    """The two roles ``user_details`` and messages may state; tool output speaks for the
    assistant, a system prompt for the user who set it up."""
    return "assistant" if role in ("assistant", "tool") else "user"


def media_type(att: Attachment) -> str:
    mime = (att.mime_type or "").split("/", 1)[0]
    return mime if mime in ("image", "audio", "video") else "file"


def media_content(att: Attachment) -> str:
    """``content`` of a file message: "text, or a URL for files"."""
    return att.url or att.path or att.name or att.id or ""


def derived_type(msg: Message) -> str:
    """The ``type`` written for a message unless a read file said otherwise."""
    if msg.type == "event":
        return "system"
    if not msg.text and msg.attachments:
        return media_type(msg.attachments[0])
    return "text"


def is_iso_with_offset(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 19
        and value[4:5] == "-"
        and value[10:11] in ("T", "t", " ")
        and (value.endswith(("Z", "z")) or value[-6:-5] in ("+", "-"))
    )


def create_time(ts: datetime, raw: Any) -> str:
    """The source's own spelling when it is ISO 8601 with an offset for the same instant (keeps
    ``+08:00``); else RFC 3339 UTC."""
    if is_iso_with_offset(raw):
        try:
            if timeutil.parse_iso(raw) == ts:
                return str(raw)
        except timeutil.TimestampError:
            pass
    return timeutil.format_iso(ts)


# -- message extra ------------------------------------------------------------------------------


def attachment_obj(a: Attachment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("id", "name", "url", "path", "mime_type", "size"):
        value = getattr(a, key)
        if value is not None:
            out[key] = value
    return out


def message_extra(msg: Message) -> dict[str, Any]:
    """What the canonical message has beyond the format's own fields, in ``extra``."""
    extra: dict[str, Any] = {}
    if msg.role in ("system", "tool"):
        extra["role"] = msg.role
    if msg.type in ("tool_call", "tool_result", "reasoning"):
        extra["message_type"] = msg.type
    if msg.thread_id is not None:
        extra["thread_id"] = msg.thread_id
    if msg.edited_at is not None:
        extra["edited_at"] = timeutil.format_iso(msg.edited_at)
    if msg.attachments:
        extra["attachments"] = [attachment_obj(a) for a in msg.attachments]
    if msg.reactions:
        extra["reactions"] = [
            {"emoji": r.emoji, "count": r.count, **({"users": list(r.users)} if r.users else {})}
            for r in msg.reactions
        ]
    if msg.mentions:
        extra["mentions"] = [
            {"id": m.id, **({"name": m.name} if m.name is not None else {}), "type": m.type}
            for m in msg.mentions
        ]
    if msg.markup is not None:
        extra["markup"] = msg.markup
    if msg.sender_is_bot is not None:
        extra["sender_is_bot"] = msg.sender_is_bot
    rest = msg.extensions.get(NS + "extra")
    if isinstance(rest, dict):
        for k, v in rest.items():
            extra.setdefault(k, v)
    return extra


def parse_message_extra(extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fields for Message, leftovers)``. A known key whose value does not have memshift's shape
    (another tool's ``reactions``) stays in the leftovers untouched."""
    out: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in extra.items():
        if key not in EXTRA_KEYS:
            rest[key] = value
            continue
        try:
            parsed = _parse_extra_value(key, value)
        except (ValidationError, ValueError, TypeError, timeutil.TimestampError):
            parsed = None
        if parsed is None:
            rest[key] = value
        else:
            out[key] = parsed
    return out, rest


def _parse_extra_value(key: str, value: Any) -> Any:
    if key in ("thread_id", "markup"):
        return value if isinstance(value, str) else None
    if key == "role":
        return value if value in ("system", "tool") else None
    if key == "message_type":
        return value if value in ("tool_call", "tool_result", "reasoning") else None
    if key == "sender_is_bot":
        return value if isinstance(value, bool) else None
    if key == "edited_at":
        return timeutil.parse_iso(value) if is_iso_with_offset(value) else None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return None
    if key == "attachments":
        return tuple(Attachment.model_validate(v) for v in value)
    if key == "reactions":
        return tuple(Reaction.model_validate(v) for v in value)
    return tuple(Mention.model_validate(v) for v in value)


# -- user_details --------------------------------------------------------------------------------


def detail_obj(p: Participant, role: str) -> dict[str, Any]:
    """One ``user_details`` entry."""
    detail: dict[str, Any] = {}
    if p.name is not None:
        detail["full_name"] = p.name
    detail["role"] = role
    if p.job_title is not None:
        detail["custom_role"] = p.job_title
    if p.email is not None:
        detail["email"] = p.email
    fields = p.extensions.get(NS + "fields")
    if isinstance(fields, dict):
        for k, v in fields.items():
            if k not in DETAIL_KEYS:
                detail.setdefault(k, v)
    extra: dict[str, Any] = {}
    for key in ("real_name", "display_name", "nick", "timezone"):
        value = getattr(p, key)
        if value is not None:
            extra[key] = value
    if p.is_bot:
        extra["is_bot"] = True
    if p.is_deleted:
        extra["is_deleted"] = True
    if p.role in ("system", "tool"):
        extra["role"] = p.role
    rest = p.extensions.get(NS + "extra")
    if isinstance(rest, dict):
        for k, v in rest.items():
            extra.setdefault(k, v)
    if extra:
        detail["extra"] = extra
    return detail


def participant_role(p: Participant, first_message_role: str | None) -> str:
    """The role ``user_details`` states: the participant's own, else a bot is an assistant, else
    the role it first spoke in, else EverCore's id heuristic."""
    if p.role is not None:
        return api_role(p.role)
    if p.is_bot:
        return "assistant"
    if first_message_role is not None:
        return api_role(first_message_role)
    return id_role(p.id)
