"""``telegram``: Telegram Desktop's JSON chat exports, as a third-party memshift plugin.

Installed on its own (``pip install memshift-telegram``), this package registers the format
through the ``memshift`` entry-point group exactly as the built-in adapters do; memshift never
imports it by name. It reads a single chat's ``result.json`` ("Export chat history") and a whole
account's ``result.json`` ("Export Telegram data"), and writes one single-chat export per
conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl
from memshift.adapter import project_by_features
from memshift.model import AnyRecord, Attachment, Conversation, Message, Reaction
from memshift.sinks import Sink
from memshift.sources import Source
from pydantic import field_validator

from ._fields import (
    ACCOUNT_KEYS,
    CHAT_KEYS,
    DEFAULT_TYPE,
    MEDIA_EXTRA_SET,
    MESSAGE_KEYS,
    NS,
    PAID_EMOJI,
    REACTION_KEYS,
    SERVICE_KEYS,
    SKIPPED_DEFAULT,
    choose_local,
    conversation_type,
    epoch_text,
    is_skipped,
    tz_or_error,
    valid_entities,
)
from ._read import TelegramReader, result_documents
from ._write import TelegramWriter, floor_second, recent_for, sender_for, skipped_text

__all__ = ["TelegramAdapter", "TelegramReadOptions", "TelegramWriteOptions", "provide_adapters"]
__version__ = "0.1.0"


class TelegramReadOptions(Options):
    timezone: str | None = None
    """IANA zone of the computer that made the export (``Europe/Berlin``). Only needed for exports
    made before Telegram Desktop added ``date_unixtime`` (2021): their ``date`` is local time with
    no offset, and memshift will not guess the zone."""
    include_left_chats: bool = True
    """Read the ``left_chats`` section of a full-account export (chats you left)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            tz_or_error(value)
        return value


class TelegramWriteOptions(Options):
    timezone: str = "UTC"
    """Zone for the local ``date``/``edited`` strings of messages that do not carry their
    original ones (``date_unixtime`` always holds the exact instant)."""
    unknown_sender_id: str | None = None
    """``from_id`` for messages that have no sender (assistant sessions carry only a role).
    Without it such a message is written with its role (``assistant``, ``user``) as ``from_id``,
    with a warning."""
    missing_time: Literal["previous", "reject"] = "previous"
    """A message without a time gets the previous message's time (or the conversation's
    creation time), reported as a loss; ``reject`` refuses it. Telegram messages always have a
    date."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        tz_or_error(value)
        return value


_CHAT_TYPE = re.compile(
    rb'"type"\s*:\s*"(personal_chat|bot_chat|saved_messages|private_group|private_supergroup|'
    rb'public_supergroup|private_channel|public_channel|replies|verification_codes)"'
)


def _sniff_head(head: bytes) -> Sniff:
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not body.startswith(b"{"):
        return Sniff(0.0)
    if b'"date_unixtime"' in body or b'"text_entities"' in body:
        return Sniff(0.95, "Telegram Desktop message fields (date_unixtime, text_entities)")
    if b'"messages"' in body and _CHAT_TYPE.search(body[:4096]):
        return Sniff(0.85, "a chat object with a Telegram chat type and a message list")
    if b'"personal_information"' in body and b'"about"' in body:
        return Sniff(0.8, "a Telegram full-account export (personal_information)")
    return Sniff(0.0)


class TelegramAdapter(Adapter):
    name = "telegram"
    aliases = ("telegram-desktop", "tdesktop")
    description = "Telegram Desktop JSON export (result.json: one chat, or a whole account)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.GROUP,
            Feature.PERSONAL,
            Feature.CONVERSATION_NAMES,
            Feature.SENDER_NAMES,
            Feature.REPLIES,
            Feature.EDITS,
            Feature.ATTACHMENTS,
            Feature.REACTIONS,
            Feature.EVENTS,
        }
    )
    file_extensions = (".json",)
    output_layout = "dir"
    ordered_read = True  # Telegram Desktop writes each chat oldest first (the reader warns if not)
    needs_order = True
    ReadOptions = TelegramReadOptions
    WriteOptions = TelegramWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            obj = source.objects
            if isinstance(obj, dict) and (
                ("messages" in obj and "id" in obj) or "personal_information" in obj
            ):
                return Sniff(0.8, "a dict shaped like a Telegram result.json")
            return Sniff(0.0)
        if source.is_container:
            docs = result_documents(source)
            if not docs:
                return Sniff(0.0)
            found = _sniff_head(source.head(65536, docs[0]))
            if found.confidence:
                return Sniff(found.confidence, f"{docs[0]}: {found.reason}")
            return found
        return _sniff_head(source.head(65536))

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return TelegramReader(source, options, ctx).read()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        TelegramWriter(sink, options, ctx).write(records)

    # -- projection: exactly what a Telegram export keeps ----------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """Per record, plus the one stream-level rule: a message without a time takes the
        previous written message's time (or its conversation's creation time), as the writer
        does by default."""
        out: list[AnyRecord] = []
        last: datetime | None = None
        for record in records:
            if isinstance(record, Conversation):
                last = record.created_at
            elif isinstance(record, Message) and project_by_features(
                record, self.features, self.ext_namespace()
            ):
                if record.timestamp is None and last is not None:
                    record = record.model_copy(update={"timestamp": last})
                if record.timestamp is not None:
                    last = record.timestamp
            projected = self.project_record(record)
            if projected is not None:
                out.append(projected)
        return out

    def project_record(self, record: AnyRecord) -> AnyRecord | None:
        base = project_by_features(record, self.features, self.ext_namespace())
        if isinstance(base, Conversation):
            return _project_conversation(base)
        if isinstance(base, Message):
            return _project_message(base)
        return base


def _project_conversation(conv: Conversation) -> Conversation:
    ext = {
        k: v
        for k, v in conv.extensions.items()
        if k[len(NS) :] not in ACCOUNT_KEYS and k[len(NS) :] not in CHAT_KEYS - {"type"}
    }
    ctype = conv.type
    kept_type = ext.pop(NS + "type", None)
    if isinstance(kept_type, str):
        ctype = conversation_type(kept_type)
        if kept_type != DEFAULT_TYPE[ctype]:
            ext[NS + "type"] = kept_type
    return conv.model_copy(
        update={
            "type": ctype,
            "participants": (),  # an export has no member list
            "created_at": None,
            "provenance": None,
            "extensions": ext,
        }
    )


def _project_message(msg: Message) -> Message | None:
    if msg.timestamp is None:
        return None  # nothing earlier to borrow a time from: the writer rejects it
    ts = floor_second(msg.timestamp)
    service = msg.type == "event"
    if not service and msg.sender_id is None:
        msg = msg.model_copy(update={"sender_id": sender_for(msg, None)})
    attachments = tuple(_project_attachment(a) for a in msg.attachments[:1])
    reserved = SERVICE_KEYS if service else MESSAGE_KEYS
    ext: dict[str, Any] = {}
    for key, value in msg.extensions.items():
        field = key[len(NS) :]
        if field in reserved or (attachments and field in MEDIA_EXTRA_SET):
            continue
        ext[key] = value
    # The writer falls back to UTC (its default zone) for wall-clock strings it does not have.
    ext[NS + "date"] = choose_local(msg.extensions.get(NS + "date"), ts, UTC)
    edited_at = floor_second(msg.edited_at) if msg.edited_at is not None else None
    if edited_at is not None:
        ext[NS + "edited"] = choose_local(msg.extensions.get(NS + "edited"), edited_at, UTC)
    entities = msg.extensions.get(NS + "text_entities")
    if valid_entities(entities, msg.text):
        ext[NS + "text_entities"] = entities
    return msg.model_copy(
        update={
            "role": "user",
            "sender_name": None if service and msg.sender_id is None else msg.sender_name,
            "timestamp": ts,
            "timestamp_raw": epoch_text(ts),
            "edited_at": edited_at,
            "attachments": attachments,
            "reactions": tuple(_project_reaction(r) for r in msg.reactions),
            "extensions": ext,
        }
    )


def _project_attachment(att: Attachment) -> Attachment:
    photo = att.extensions.get(NS + "kind") == "photo"
    ext = {
        k: v
        for k, v in att.extensions.items()
        if k.startswith(NS) and k[len(NS) :] in MEDIA_EXTRA_SET
    }
    path = att.path
    if path is not None and is_skipped(path):
        ext[NS + "skipped"] = path
        path = None
    elif path is None:
        text = skipped_text(att)
        if text != SKIPPED_DEFAULT:
            ext[NS + "skipped"] = text
    if path is None and ext.get(NS + "skipped") == SKIPPED_DEFAULT:
        del ext[NS + "skipped"]
    if photo:
        ext[NS + "kind"] = "photo"
        return Attachment(path=path, size=att.size, extensions=ext)
    return Attachment(
        name=att.name, path=path, mime_type=att.mime_type, size=att.size, extensions=ext
    )


def _project_reaction(reaction: Reaction) -> Reaction:
    kept = reaction.extensions.get(NS + "type")
    kind = kept if isinstance(kept, str) else "emoji"
    ext: dict[str, Any] = {}
    if kind != "emoji":
        ext[NS + "type"] = kind
    recent = recent_for(reaction.extensions.get(NS + "recent"), reaction.users)
    if recent is not None and any(r.keys() - {"from_id"} for r in recent):
        ext[NS + "recent"] = recent
    for key, value in reaction.extensions.items():
        if key.startswith(NS) and key[len(NS) :] not in REACTION_KEYS:
            ext[key] = value
    return reaction.model_copy(
        update={"emoji": PAID_EMOJI if kind == "paid" else reaction.emoji, "extensions": ext}
    )


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [TelegramAdapter]
