"""One ChatGPT node's message as a canonical record: the per-message rules the reader, the
writer's consistency checks and the projection share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from memshift.model import Message
from memshift.timeutil import TimestampError, from_epoch_float_ms

from ._content import (
    DEFAULT_STATUS,
    NS,
    ROLES,
    is_number,
    is_plain,
    message_type,
    render_attachments,
    render_text,
    sender_id,
)

#: Message keys the reader maps; every other key travels as ``openai:<key>``.
MSG_KNOWN = frozenset(
    {
        "id", "author", "create_time", "update_time", "content", "status", "end_turn", "weight",
        "metadata", "recipient", "channel",
    }
)  # fmt: skip
#: Extension names the reader derives on messages (never written back as message keys).
MSG_DERIVED = frozenset(
    {
        "message_id", "content", "metadata", "author_metadata", "author_role", "status",
        "end_turn", "weight", "recipient", "channel", "update_time", "time_inferred",
    }
)  # fmt: skip

KNOWN_CONTENT = frozenset(
    {
        "text", "multimodal_text", "code", "execution_output", "thoughts", "reasoning_recap",
        "tether_browsing_display", "tether_quote", "sonic_webpage", "system_error",
        "user_editable_context", "model_editable_context",
    }
)  # fmt: skip


def epoch_time(value: Any, field: str) -> datetime:
    if not is_number(value):
        raise FieldError(field, f"not a Unix timestamp: {value!r}")
    try:
        return from_epoch_float_ms(value)
    except TimestampError as exc:
        raise FieldError(field, str(exc)) from None
    except OverflowError:  # 1e308 overflows the microsecond conversion in the core
        raise FieldError(field, f"timestamp out of range: {value!r}") from None


def convert_message(
    key: str,
    msg: Mapping[str, Any],
    cid: str,
    parent: str | None,
    inherited: tuple[datetime | None, str],
    active: bool,
    strip: bool,
    warn: Callable[..., None] | None = None,
) -> Message:
    """One node's message as a canonical record. Raises ``FieldError`` naming the bad field."""
    author = msg.get("author")
    if not isinstance(author, dict):
        raise FieldError("author", "missing author")
    role_raw = author.get("role")
    if not isinstance(role_raw, str):
        raise FieldError("author.role", "missing role")
    role = ROLES.get(role_raw.lower())
    if role is None:
        raise FieldError("author.role", f"unknown role {role_raw!r}")
    content = msg.get("content")
    if not isinstance(content, dict):
        problem = "missing content" if content is None else "expected an object"
        raise FieldError("content", problem)
    ct = content.get("content_type")
    if not isinstance(ct, str):
        raise FieldError("content.content_type", "missing content_type")
    if ct not in KNOWN_CONTENT and warn is not None:
        warn(
            f"unknown content_type {ct!r}: text left empty, content kept in openai:content",
            key=f"openai-content-{ct}",
        )
    metadata = msg.get("metadata")
    meta = metadata if isinstance(metadata, dict) else None
    recipient = msg.get("recipient")
    mtype = message_type(role, recipient, ct)
    text = render_text(content, strip)
    extra = msg.keys() - MSG_KNOWN
    ext: dict[str, Any] = {NS + k: msg[k] for k in msg if k in extra} if extra else {}
    raw_time = msg.get("create_time")
    timestamp: datetime | None
    if raw_time is None:
        timestamp, kind = inherited
        if timestamp is not None:
            ext[NS + "time_inferred"] = kind
    else:
        timestamp = epoch_time(raw_time, "create_time")
    mid = msg.get("id")
    if isinstance(mid, str) and mid != key:
        ext[NS + "message_id"] = mid
    if not is_plain(content, mtype, text):
        ext[NS + "content"] = content
    if metadata is not None and metadata != {}:
        ext[NS + "metadata"] = metadata
    am = author.get("metadata")
    if am is not None and am != {}:
        ext[NS + "author_metadata"] = am
    if role_raw != role:
        ext[NS + "author_role"] = role_raw
    status = msg.get("status")
    if status is not None and status != DEFAULT_STATUS:
        ext[NS + "status"] = status
    weight = msg.get("weight")
    if weight is not None and not (is_number(weight) and weight == 1.0):
        ext[NS + "weight"] = weight
    if recipient is not None and recipient != "all":
        ext[NS + "recipient"] = recipient
    for key_name in ("end_turn", "channel", "update_time"):
        if msg.get(key_name) is not None:
            ext[NS + key_name] = msg[key_name]
    author_name = author.get("name")
    sender_name = author_name if isinstance(author_name, str) else None
    return Message(
        id=key,
        conversation_id=cid,
        type=mtype,
        role=role,
        sender_id=sender_id(role, sender_name),
        sender_name=sender_name,
        timestamp=timestamp,
        timestamp_raw=raw_time,
        text=text,
        attachments=render_attachments(content, meta),
        parent_id=parent,
        active=active,
        extensions=ext,
    )


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
