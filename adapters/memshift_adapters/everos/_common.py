"""Rules of the EverOS v1 ingest API that both directions (and the projection) must agree on.

Sources: EverCore ``api_specs/dtos/memory.py`` (``MessageItem``, ``PersonalAddRequest``,
``GroupAddRequest``), ``request_converter.py`` and ``id_generator.py``; see
``docs/formats/everos.md``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from memshift import timeutil
from memshift.model import Attachment, Conversation, Message, Participant

#: The server reserves ids starting with ``gen_`` for the ones it generates.
GEN_PREFIX = "gen_"
#: What memshift puts in front of a source id that happens to start with ``gen_``.
REWRITE_PREFIX = "memshift_"
#: ``session_id`` value the server reserves for "no session".
RESERVED_SESSION = "-1"
#: ``from_timestamp`` reads values below this as seconds, not milliseconds.
SECONDS_BELOW = 10**12
MAX_MESSAGES = 500

Mode = Literal["auto", "group", "personal"]


def safe_id(value: str) -> str:
    """The id as sent: the server refuses ``gen_…`` for group, sender and message ids."""
    return REWRITE_PREFIX + value if value.startswith(GEN_PREFIX) else value


def safe_session(value: str) -> str:
    return REWRITE_PREFIX + value if value == RESERVED_SESSION else value


def generated_message_id(context_id: str, timestamp_ms: object) -> str:
    """The id the server gives a message sent without one (``id_generator.generate_message_id``),
    so a document read here names its messages as EverOS will."""
    digest = hashlib.md5(f"{context_id}_{timestamp_ms}".encode()).hexdigest()[:12]
    return f"gen_msg_{digest}"


def parse_timestamp(value: Any) -> datetime:
    """``messages[].timestamp``: Unix milliseconds; values below 1e12 are seconds, as the server
    reads them. Integral floats and digit strings are accepted like pydantic's lax ``int``."""
    if isinstance(value, bool) or value is None:
        raise timeutil.TimestampError(f"not a Unix timestamp: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise timeutil.TimestampError(f"not a Unix timestamp: {value!r}")
        value = int(text)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise timeutil.TimestampError(f"not a Unix timestamp: {value!r}")
        if value.is_integer():
            value = int(value)
    if not isinstance(value, (int, float)):
        raise timeutil.TimestampError(f"not a Unix timestamp: {value!r}")
    if value <= 0:
        raise timeutil.TimestampError(f"timestamp must be a positive Unix time, got {value!r}")
    if value < SECONDS_BELOW:
        if isinstance(value, float):
            return timeutil.from_epoch_float_ms(value)
        return timeutil.from_epoch_seconds(value)
    return timeutil.from_epoch_ms(round(value))


def resolve_mode(mode: Mode, conv: Conversation) -> Literal["group", "personal"]:
    return conv.type if mode == "auto" else mode


def participant_owner(conv: Conversation) -> str | None:
    """The conversation's declared human: the first participant with role ``user``."""
    for p in conv.participants:
        if p.role == "user":
            return p.id
    return None


def fallback_owner(conv: Conversation, taken: set[str]) -> tuple[str, bool]:
    """The owner when nobody is declared and nobody spoke as user: the first participant that is
    neither a bot nor an assistant, else the conversation id (``True``: the caller should say
    so). Ids already sent as an assistant's ``sender_id`` are passed over, because the server
    refuses an assistant whose sender_id equals user_id."""
    for p in conv.participants:
        if not p.is_bot and p.role is None and safe_id(p.id) not in taken:
            return safe_id(p.id), False
    owner = safe_id(conv.id)
    while owner in taken:
        owner += "_user"
    return owner, True


def names_of(participants: Sequence[Participant]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in participants:
        if p.name is not None and p.id not in out:
            out[p.id] = p.name
    return out


def attachment_label(att: Attachment) -> str:
    return att.name or att.url or att.path or att.id or "file"


def attachments_text(atts: Sequence[Attachment]) -> str:
    """What an attachment-only message says in ``content`` (the API refuses empty content)."""
    labels = ", ".join(attachment_label(a) for a in atts)
    return f"[attachment: {labels}]" if len(atts) == 1 else f"[attachments: {labels}]"


PLACEHOLDER = "[empty message]"


def content_text(
    msg: Message, empty: Literal["skip", "placeholder", "reject"]
) -> tuple[str | None, str | None]:
    """``(content, why)``: the content to send, or None and the reason the message is left out.
    ``why`` is ``"attachments"`` when attachment names stand in for empty text."""
    if msg.text:
        return msg.text, None
    if msg.attachments:
        return attachments_text(msg.attachments), "attachments"
    if empty == "placeholder":
        return PLACEHOLDER, "placeholder"
    return None, "empty"


def content_items_text(items: Sequence[Any]) -> str | None:
    """The text of a ContentItem list (``{"type": "text", "text"}``, legacy ``content``); None if
    an item is malformed."""
    parts: list[str] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            return None
        if item["type"] == "text":
            text = item.get("text", item.get("content"))
            if not isinstance(text, str):
                return None
            parts.append(text)
    return "\n".join(parts)


def plain_text_items(items: Sequence[Any]) -> bool:
    """A ContentItem list that says no more than a plain string would."""
    if len(items) != 1:
        return False
    item = items[0]
    return isinstance(item, dict) and item.get("type") == "text" and len(item) == 2


def map_role(
    role: str,
    system_role: Literal["user", "assistant", "skip"],
    tool_role: Literal["user", "assistant", "skip"],
) -> str:
    if role in ("user", "assistant"):
        return role
    return system_role if role == "system" else tool_role
