"""What the ``zep`` reader, writer and projection must agree on: roles, time spellings, the
metadata rules Zep enforces, provenance keys, and how an over-long text is split."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from memshift import timeutil
from memshift.model import MemoryItem, Message

#: Zep role -> canonical role. ``norole`` and ``function`` are remembered in ``zep:role``.
ROLES_IN = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "norole": "user",
}
ROLE_EXT = "zep:role"
METADATA_EXT = "zep:metadata"

#: Provenance written into Zep ``metadata``: the source identity of a message or memory item,
#: the sender's id (Zep keeps only a display name), the memory type, and "k/n" for split parts.
SOURCE_ID = "source_id"
SOURCE_SENDER = "source_sender_id"
SOURCE_TYPE = "source_type"
SOURCE_PART = "source_part"
RESERVED = frozenset({SOURCE_ID, SOURCE_SENDER, SOURCE_TYPE, SOURCE_PART})

MAX_METADATA_KEYS = 10
MEMORY_TYPES = frozenset({"fact", "triple", "block", "document"})
DATA_TYPES = {
    "v3": frozenset({"text", "json", "message", "fact_triple"}),
    "v4": frozenset({"text", "json", "message"}),
}

#: Raw time spellings kept when they differ from the RFC 3339 form memshift writes (a
#: nanosecond fraction, a non-UTC offset): "bi-temporal fields are kept exactly".
RAW = {
    "created_at": "zep:created_at_raw",
    "valid_from": "zep:valid_from_raw",
    "valid_to": "zep:valid_to_raw",
}
EXPIRED_EXT = "zep:expired_at"

_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026][\"'\u201d\u2019)\]]*\s+|\n\s*")


def zep_time(dt: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, microseconds only when present."""
    return timeutil.format_iso(dt)


def time_text(dt: datetime, raw: Any) -> str:
    """The source's own spelling when it denotes exactly ``dt``, else :func:`zep_time`."""
    if isinstance(raw, str):
        try:
            if timeutil.parse_iso(raw) == dt:
                return raw
        except (timeutil.TimestampError, ValueError, OverflowError):
            pass
    return zep_time(dt)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value is not None


def metadata_ok(value: Any) -> bool:
    """Zep metadata values: strings, numbers, booleans, or arrays of those."""
    if isinstance(value, list):
        return all(_scalar(v) for v in value)
    return _scalar(value)


def zep_metadata(
    user: Mapping[str, Any] | None, reserved: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Metadata Zep accepts: at most 10 keys of scalar (or scalar-array) values. Provenance keys
    are always kept; user keys fill the remaining room in their order. Returns the metadata and
    the user keys that did not fit."""
    out: dict[str, Any] = {}
    dropped: list[str] = []
    room = MAX_METADATA_KEYS - len(reserved)
    for key, value in (user or {}).items():
        if key in RESERVED or not metadata_ok(value) or len(out) >= room:
            dropped.append(key)
            continue
        out[key] = value
    out.update(reserved)
    return out, dropped


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, after the last sentence end
    (or line break) in each window, else after the last space, else hard. Deterministic, and the
    pieces concatenate to the original exactly (whitespace stays with the piece before it)."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    start, n = 0, len(text)
    floor = max(limit // 4, 1)
    while n - start > limit:
        end = start + limit
        cut = -1
        for m in _SENTENCE_END.finditer(text, start, end):
            cut = m.end()
        if cut - start < floor:
            space = text.rfind(" ", start, end)
            cut = space + 1 if space - start >= floor else end
        parts.append(text[start:cut])
        start = cut
    parts.append(text[start:])
    return parts


def memory_text(item: MemoryItem) -> str:
    if item.text:
        return item.text
    if item.triple is not None:
        t = item.triple
        return f"{t.subject} {t.predicate} {t.object}"
    return ""


def out_role(msg: Message, api: str) -> str:
    """The Zep role for a message; ``norole``/``function`` come back when the source had them."""
    own = msg.extensions.get(ROLE_EXT)
    if own == "function" and msg.role == "tool":
        return "function"
    if own == "norole" and msg.role == "user" and api == "v3":
        return "norole"
    return msg.role


def role_ext(msg: Message, api: str) -> str | None:
    """What the reader will put back in ``zep:role`` for a written message."""
    role = out_role(msg, api)
    return role if role in ("norole", "function") else None


def reference_time(item: MemoryItem) -> tuple[datetime | None, Any]:
    """An episode's one time: when the fact became true, else when it was recorded, else when it
    was observed; with the raw spelling that goes with it."""
    if item.valid_from is not None:
        return item.valid_from, item.extensions.get(RAW["valid_from"])
    if item.created_at is not None:
        return item.created_at, item.extensions.get(RAW["created_at"])
    if item.observed_at is not None:
        return item.observed_at, None
    return None, None
