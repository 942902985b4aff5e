"""What the reader, the writer and the projection of ``mem0`` must agree on.

Kept in one place because the round-trip property (``read(write(project(x))) == project(x)``)
only holds if all three make the same decisions: which participant is "the user", how a time is
spelled, which metadata keys are memshift's provenance and which are the user's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from memshift import timeutil
from memshift.model import Conversation, MemoryItem, Triple

#: Identity keys Mem0 drops from ``metadata`` (``_strip_identity_keys``, mem0ai 2.2.1).
IDENTITY_KEYS = frozenset({"user_id", "agent_id", "app_id", "run_id", "actor_id"})
SCOPE_KEYS = ("user_id", "agent_id", "run_id")

#: Provenance written into an add() payload's metadata: which source messages the call carries.
SOURCE_CONVERSATION = "source_conversation_id"
SOURCE_MESSAGE_IDS = "source_message_ids"
SOURCE_TIMESTAMPS = "source_timestamps"
SOURCE_SENDER_IDS = "source_sender_ids"
SOURCE_KEYS = frozenset(
    {SOURCE_CONVERSATION, SOURCE_MESSAGE_IDS, SOURCE_TIMESTAMPS, SOURCE_SENDER_IDS}
)

#: Memory-record keys the reader maps to canonical fields (everything else is ``mem0:<key>``).
RECORD_KEYS = frozenset(
    {
        "id",
        "memory",
        "user_id",
        "agent_id",
        "run_id",
        "categories",
        "metadata",
        "created_at",
        "updated_at",
        "timestamp",
    }
)
#: Extension names with a special meaning; never written back as top-level keys.
RAW_CREATED = "mem0:created_at_raw"
RAW_UPDATED = "mem0:updated_at_raw"
ROW_TIMESTAMP = "mem0:timestamp"
#: Keys that must never be produced from a generic extension (they would change what a line is).
NOT_GENERIC = RECORD_KEYS | {"messages", "created_at_raw", "updated_at_raw"}
#: add() payload keys handled by the writer itself.
PAYLOAD_KEYS = frozenset({"messages", "user_id", "agent_id", "run_id", "metadata", "timestamp"})

ROLES_IN = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
PLACEHOLDERS = frozenset({"conversation_id", "user"})


def mem0_time(dt: datetime) -> str:
    """The spelling Mem0 itself writes (``datetime.now(timezone.utc).isoformat()`` since mem0ai
    1.0.7): ``+00:00`` offset, microseconds only when non-zero."""
    return dt.astimezone(UTC).isoformat()


def time_text(dt: datetime, raw: Any) -> str:
    """The source's own spelling when it denotes exactly ``dt`` (a Pacific offset from an old
    Mem0, a ``Z`` suffix), else Mem0's spelling."""
    if isinstance(raw, str):
        try:
            if timeutil.parse_iso(raw) == dt:
                return raw
        except (timeutil.TimestampError, ValueError):
            pass
    return mem0_time(dt)


def epoch_seconds(dt: datetime) -> int:
    """Unix seconds, floored: Mem0's ``timestamp`` parameter is an int."""
    return timeutil.to_epoch_micros(dt) // 1_000_000


def human_id(conv: Conversation) -> str | None:
    """The person a conversation's memories belong to: the participant with role ``user``, else
    (in a personal conversation) the first participant who is neither a bot nor the assistant.
    A group channel has no single owner, so it gets None and memories are scoped by run."""
    for p in conv.participants:
        if p.role == "user":
            return p.id
    if conv.type == "personal":
        for p in conv.participants:
            if not p.is_bot and p.role != "assistant":
                return p.id
    return None


def check_template(value: str | None) -> str | None:
    if value is None:
        return None
    for name in _PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {{conversation_id}} or {{user}}")
    return value


def render(template: str | None, conv: Conversation) -> str | None:
    """Fill ``{conversation_id}`` / ``{user}``; None when the template is unset or names a value
    the conversation does not have."""
    if not template:
        return None
    values = {"conversation_id": conv.id, "user": human_id(conv)}
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(m.group(1))
        if value is None:
            missing = True
            return ""
        return value

    out = _PLACEHOLDER.sub(fill, template)
    return None if missing or not out else out


def conversation_scope(
    conv: Conversation, templates: Mapping[str, str | None], explicit: frozenset[str]
) -> dict[str, str]:
    """``user_id``/``agent_id``/``run_id`` for a conversation's add() payloads.

    A conversation read from Mem0 carries its own scope (``mem0:user_id`` …) and keeps it, so
    Mem0 -> Mem0 is the identity; an option given explicitly still wins."""
    own = {k: conv.extensions.get(f"mem0:{k}") for k in SCOPE_KEYS}
    has_own = any(isinstance(v, str) for v in own.values())
    scope: dict[str, str] = {}
    for key in SCOPE_KEYS:
        if key in explicit or not has_own:
            value = render(templates.get(key), conv)
        else:
            raw = own[key]
            value = raw if isinstance(raw, str) else None
        if value is not None:
            scope[key] = value
    return scope


def bad_entity_id(value: str) -> bool:
    """Mem0 trims ids and refuses empty ones or ones with whitespace inside."""
    trimmed = value.strip()
    return not trimmed or trimmed != value or any(c.isspace() for c in value)


def memory_text(item: MemoryItem) -> str:
    """A memory's text; a bare triple is spelled as a sentence."""
    if item.text:
        return item.text
    if item.triple is not None:
        return triple_text(item.triple)
    return ""


def triple_text(t: Triple) -> str:
    return f"{t.subject} {t.predicate} {t.object}"


def clean_metadata(md: Mapping[str, Any]) -> dict[str, Any]:
    """User metadata as Mem0 stores it: identity keys are dropped by Mem0, provenance keys are
    memshift's own."""
    return {k: v for k, v in md.items() if k not in IDENTITY_KEYS and k not in SOURCE_KEYS}
