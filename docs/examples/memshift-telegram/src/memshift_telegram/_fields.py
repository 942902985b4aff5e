"""What Telegram Desktop's JSON export calls things, shared by the reader, the writer and the
projection so that the three cannot drift apart.

Field names follow ``export_output_json.cpp`` in telegramdesktop/tdesktop. Every message field the
canonical model does not name travels as ``telegram:<field>`` with its raw JSON value, so the writer
can put it back where it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal, cast

from memshift.timeutil import TimestampError, to_epoch_micros, zone

NS = "telegram:"

#: Chat types Telegram Desktop writes, and which canonical type each is. ``replies`` collects
#: answers from many people, so it is a group.
PERSONAL_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages", "verification_codes"})
#: The chat type the writer uses when the record does not carry the original one.
DEFAULT_TYPE = {"personal": "personal_chat", "group": "private_group"}
#: Chats Telegram Desktop writes without a ``name`` key.
UNNAMED_TYPES = frozenset({"saved_messages", "replies", "verification_codes"})

#: Top-level keys of a full-account export (Settings -> Export Telegram data). Their presence
#: tells a full export from a single-chat one; only ``chats`` and ``left_chats`` hold messages.
ACCOUNT_KEYS = frozenset(
    {
        "about",
        "personal_information",
        "profile_pictures",
        "contacts",
        "frequent_contacts",
        "sessions",
        "web_sessions",
        "other_data",
        "chats",
        "left_chats",
    }
)
#: Chat-object keys the model names; any other key becomes a ``telegram:`` conversation extension.
CHAT_KEYS = frozenset({"name", "type", "id", "messages"})

#: Message fields the model names, for each message type. Everything else is an extension.
COMMON_KEYS = frozenset(
    {
        "id",
        "type",
        "date",
        "date_unixtime",
        "edited",
        "edited_unixtime",
        "text",
        "text_entities",
        "reply_to_message_id",
        "reactions",
        "photo",
        "photo_file_size",
        "file",
        "file_name",
        "file_size",
        "mime_type",
    }
)
MESSAGE_KEYS = COMMON_KEYS | {"from", "from_id"}
SERVICE_KEYS = COMMON_KEYS | {"actor", "actor_id"}

#: Media details that belong to the photo or file of a message (kept on the attachment).
MEDIA_EXTRA = (
    "thumbnail",
    "thumbnail_file_size",
    "media_type",
    "sticker_emoji",
    "performer",
    "title",
    "duration_seconds",
    "width",
    "height",
    "media_spoiler",
    "self_destruct_period_seconds",
)
MEDIA_EXTRA_SET = frozenset(MEDIA_EXTRA)

#: What Telegram Desktop writes instead of a path when it did not download a file. The reader
#: turns every such text into ``path=None`` and keeps any but this, the common one, as
#: ``telegram:skipped`` on the attachment.
SKIPPED_DEFAULT = "(File not included. Change data exporting settings to download.)"

#: Reaction keys the model names.
REACTION_KEYS = frozenset({"type", "count", "emoji", "document_id", "recent"})
#: Paid (Telegram Stars) reactions have no emoji; the app shows a star.
PAID_EMOJI = "\u2b50"

ConvType = Literal["group", "personal"]


def conversation_type(tg_type: str | None) -> ConvType:
    return "personal" if tg_type in PERSONAL_TYPES else "group"


def is_skipped(path: str) -> bool:
    """True for the parenthesised notes Telegram Desktop writes instead of a file path."""
    return path.startswith("(") and path.endswith(")")


def id_in(value: Any) -> str | None:
    """A Telegram id (an integer; a string from other tools) as the canonical string id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def id_out(value: str) -> int | str:
    """Write ids as the integers Telegram uses when they are integers; other formats' ids (Slack
    ``ts`` strings) stay strings rather than being replaced by made-up numbers."""
    body = value[1:] if value.startswith("-") else value
    if body.isdigit() and body.isascii() and str(int(value)) == value:
        return int(value)
    return value


def tz_or_error(name: str) -> tzinfo:
    try:
        tz: tzinfo = zone(name)
        return tz
    except TimestampError as exc:
        raise ValueError(str(exc)) from None


def epoch_text(dt: datetime) -> str:
    """``date_unixtime``: whole seconds since the epoch, as the decimal string Telegram writes."""
    return str(to_epoch_micros(dt) // 1_000_000)


def render_local(dt: datetime, tz: tzinfo) -> str:
    """``date``: wall-clock time in ``tz`` without an offset, the way Telegram Desktop writes it."""
    return dt.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")


def local_matches(local: Any, dt: datetime) -> bool:
    """Whether a kept ``date`` string can still belong to the instant ``dt``.

    The exporting computer's zone is unknown, so the test is that the wall-clock time differs
    from UTC by a real-world offset (a multiple of 15 minutes, at most 14 hours). A stale value
    (the timestamp was changed after reading) fails it and is re-rendered instead of written.
    """
    if not isinstance(local, str):
        return False
    try:
        parsed = datetime.fromisoformat(local)
    except ValueError:
        return False
    if parsed.tzinfo is not None:
        return parsed == dt
    offset = parsed - dt.astimezone(UTC).replace(tzinfo=None)
    return abs(offset) <= timedelta(hours=14) and offset.total_seconds() % 900 == 0


def choose_local(kept: Any, dt: datetime, tz: tzinfo) -> str:
    return cast(str, kept) if local_matches(kept, dt) else render_local(dt, tz)


def valid_entities(value: Any, text: str) -> bool:
    """A ``telegram:text_entities`` value the writer can use: Telegram entity objects whose
    texts add up to the message text, at least one of them not plain."""
    if not isinstance(value, list) or not value:
        return False
    parts: list[str] = []
    rich = False
    for entity in value:
        if not isinstance(entity, dict):
            return False
        kind, part = entity.get("type"), entity.get("text")
        if not isinstance(kind, str) or not isinstance(part, str):
            return False
        rich = rich or kind != "plain"
        parts.append(part)
    return rich and "".join(parts) == text
